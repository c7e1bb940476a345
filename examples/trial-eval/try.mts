import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createModel, selectBackend } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { loadCEval, loadCMMLU, evaluateMultipleChoice, perplexity, reportMarkdown, questionPrompt } from "@batgpt/eval";

await selectBackend({ log: false });
const corpus = [
  "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
  "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
  "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
  "水稻是中国南方主要的粮食作物，小麦则多种植于北方。",
];
const tok = await trainBpe(corpus, { vocabSize: 400, minFrequency: 1 });
const model = createModel({ hidden_size: 32, n_head: 2, ffn_hidden_size: 48, n_layer: 2, max_seq_len: 256 }, { tokenizer: tok, seed: 1 });

const text = corpus.join("\n");
const ppl = await perplexity(model, tok, text);
console.log("PPL", JSON.stringify(ppl, null, 1));
const longText = corpus.join("").repeat(10);
const ppl2 = await perplexity(model, tok, longText, { window: 64, stride: 16 });
console.log("PPL long window=64 stride=16", ppl2.forward?.perplexity, ppl2.backward?.perplexity, ppl2.forward?.bitsPerByte);
console.log("PPL forward only", JSON.stringify(await perplexity(model, tok, text, { directions: ["forward"] })));

// C-Eval layout
const dir = join(import.meta.dirname, "data", "myexam");
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, "val"), { recursive: true });
mkdirSync(join(dir, "dev"), { recursive: true });
writeFileSync(join(dir, "val", "poetry_val.csv"),
  'id,question,A,B,C,D,answer\n' +
  '0,床前明月光的下一句？,疑是地上霜,低头思故乡,举头望明月,春眠不觉晓,A\n' +
  '1,"下列哪句出自《静夜思》，且为第三句？",举头望明月,花落知多少,黄河入海流,处处闻啼鸟,A\n' +
  '2,"阅读诗句：\n白日依山尽\n下一句是？",更上一层楼,黄河入海流,欲穷千里目,夜来风雨声,B\n' +
  '3,“春眠不觉晓”的作者是？,李白,杜甫,孟浩然,王之涣,C\n');
writeFileSync(join(dir, "dev", "poetry_dev.csv"),
  'id,question,A,B,C,D,answer,explanation\n' +
  '0,"举头望明月，下一句？",疑是地上霜,低头思故乡,床前明月光,花落知多少,B,"因为,是"\n' +
  '1,夜来风雨声的下一句？,处处闻啼鸟,花落知多少,春眠不觉晓,更上一层楼,B,\n' +
  '2,欲穷千里目的下一句？,更上一层楼,黄河入海流,白日依山尽,低头思故乡,A,\n');
writeFileSync(join(dir, "val", "crops_val.csv"),
  'id,question,A,B,C,D,answer\n' +
  '0,中国南方主要粮食作物是？,水稻,小麦,玉米,高粱,A\n' +
  '1,北方多种植？,水稻,小麦,甘蔗,茶叶,B\n');
writeFileSync(join(dir, "dev", "crops_dev.csv"),
  'id,question,A,B,C,D,answer\n' +
  '0,水稻喜欢？,干旱,水,沙漠,冰雪,B\n' +
  '1,小麦属于？,粮食作物,经济作物,蔬菜,水果,A\n');

const exam = loadCEval(dir, { names: { poetry: "诗词", crops: "农作物" }, categories: { poetry: ["Humanities"], crops: ["Other"] } });
console.log("exam:", exam.name, exam.split, exam.categories, exam.subjects.map((s: any) => [s.key, s.name, s.categories, s.questions.length, s.dev.length]));
console.log("question 2 parsed:", JSON.stringify(exam.subjects.find((s: any) => s.key === "poetry")!.questions[2]));
const r0 = await evaluateMultipleChoice(model, tok, exam);
console.log(reportMarkdown(r0));
const r2 = await evaluateMultipleChoice(model, tok, exam, { shots: 2 });
console.log(reportMarkdown(r2));
console.log("JSON keys:", Object.keys(r2));
console.log(JSON.stringify(r2, null, 1).slice(0, 3000));
const p = questionPrompt(exam, "poetry", 2, { shots: 2 });
console.log("PROMPT keys", Object.keys(p));
console.log("----\n" + p.text + "\n----");

// CMMLU layout
const cdir = join(import.meta.dirname, "data", "cmmlu");
rmSync(cdir, { recursive: true, force: true });
mkdirSync(join(cdir, "dev"), { recursive: true });
mkdirSync(join(cdir, "test"), { recursive: true });
writeFileSync(join(cdir, "dev", "agronomy.csv"),
  ',Question,A,B,C,D,Answer\n0,水稻喜欢？,干旱,水,沙漠,冰雪,B\n1,小麦属于？,粮食作物,经济作物,蔬菜,水果,A\n');
writeFileSync(join(cdir, "test", "agronomy.csv"),
  ',Question,A,B,C,D,Answer\n0,中国南方主要粮食作物是？,水稻,小麦,玉米,高粱,A\n1,"北方多种植，哪种？",水稻,小麦,甘蔗,茶叶,B\n');
const cm = loadCMMLU(cdir);
console.log("cmmlu:", cm.name, cm.split, cm.subjects.map((s: any) => [s.key, s.name, s.categories, s.questions.length, s.dev.length]));
console.log("----\n" + questionPrompt(cm, "agronomy", 0, { shots: 1 }).text + "\n----");
const rc = await evaluateMultipleChoice(model, tok, cm, { shots: 1 });
console.log(reportMarkdown(rc));

import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createModel, selectBackend } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { loadCEval, loadCMMLU, evaluateMultipleChoice, questionPrompt, reportMarkdown } from "@batgpt/eval";
await selectBackend({ log: false });
const tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
const model = createModel({ hidden_size: 16, n_head: 2, ffn_hidden_size: 24, n_layer: 1, max_seq_len: 256 }, { tokenizer: tok, seed: 1 });
const base = join(import.meta.dirname, "data", "more"); rmSync(base, { recursive: true, force: true });
const H = "id,question,A,B,C,D,answer\n";
async function attempt(label: string, f: () => unknown) {
  try { const r = await f(); console.log(`[${label}] OK`, typeof r === "string" ? r : JSON.stringify(r)?.slice(0, 600)); }
  catch (e: any) { console.log(`[${label}] ${e?.constructor?.name}: ${e?.message}`); }
}
// empty answers in test
const t = join(base, "t"); mkdirSync(join(t, "test"), { recursive: true }); mkdirSync(join(t, "dev"), { recursive: true });
writeFileSync(join(t, "test", "s_test.csv"), H + "0,问一,甲,乙,丙,丁,\n1,问二,甲,乙,丙,丁,\n");
writeFileSync(join(t, "dev", "s_dev.csv"), H + "0,问一,甲,乙,丙,丁,A\n");
await attempt("load test empty answers", () => loadCEval(t, { split: "test" }).subjects[0].questions.map(q => q.answer));
await attempt("eval test empty answers", () => evaluateMultipleChoice(model, tok, loadCEval(t, { split: "test" })));
await attempt("prompt test empty answers", () => questionPrompt(loadCEval(t, { split: "test" }), "s", 0, { shots: 1 }).text);
// mixed: one answer empty in val
const m = join(base, "m"); mkdirSync(join(m, "val"), { recursive: true });
writeFileSync(join(m, "val", "s_val.csv"), H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁,\n");
await attempt("load val with one empty answer", () => loadCEval(m).subjects[0].questions.map(q => q.answer));
await attempt("eval val with one empty answer", () => evaluateMultipleChoice(model, tok, loadCEval(m)));
// answer with space
const sp = join(base, "sp"); mkdirSync(join(sp, "val"), { recursive: true });
writeFileSync(join(sp, "val", "s_val.csv"), H + "0,问一,甲,乙,丙,丁, B \n");
await attempt("answer ' B '", () => loadCEval(sp).subjects[0].questions[0].answer);
// BOM + CRLF, files directly in dir, 3 choices
const b = join(base, "b"); mkdirSync(b, { recursive: true });
writeFileSync(join(b, "s_val.csv"), "\uFEFFID,Question,A,B,C,Answer\r\n0,问一,甲,乙,丙,C\r\n");
writeFileSync(join(b, "s_dev.csv"), "\uFEFFid,question,a,b,c,answer\r\n0,\"问\r\n二\",甲,乙,丙,B\r\n");
await attempt("BOM CRLF flat 3 choices", async () => { const e = loadCEval(b); return [e.subjects[0].letters, e.subjects[0].dev[0].question, questionPrompt(e, "s", 0, { shots: 1 }).text]; });
// no categories: counted in average?
const n = join(base, "n"); mkdirSync(join(n, "val"), { recursive: true });
writeFileSync(join(n, "val", "a_val.csv"), H + "0,问一,甲,乙,丙,丁,A\n");
writeFileSync(join(n, "val", "b_val.csv"), H + "0,问一,甲,乙,丙,丁,B\n");
await attempt("no categories report", async () => reportMarkdown(await evaluateMultipleChoice(model, tok, loadCEval(n, { categories: { a: ["STEM"] } }))));
// a real CEVAL subject key gets its name automatically?
const r = join(base, "r"); mkdirSync(join(r, "val"), { recursive: true });
writeFileSync(join(r, "val", "computer_network_val.csv"), H + "0,问一,甲,乙,丙,丁,A\n");
await attempt("ceval real key", () => loadCEval(r).subjects.map(s => [s.key, s.name, s.categories]));
// a category not in the benchmark list
await attempt("unknown category", async () => reportMarkdown(await evaluateMultipleChoice(model, tok, loadCEval(n, { categories: { a: ["STEMM"], b: ["STEM"] } }))));
// questionPrompt with tokenizer vs evaluation drops
const q = join(base, "q"); mkdirSync(join(q, "val"), { recursive: true }); mkdirSync(join(q, "dev"), { recursive: true });
const long = "很长的问题".repeat(12);
writeFileSync(join(q, "val", "s_val.csv"), H + `0,${long},甲,乙,丙,丁,A\n`);
writeFileSync(join(q, "dev", "s_dev.csv"), H + `0,${long},甲,乙,丙,丁,A\n1,短,甲,乙,丙,丁,B\n2,${long}二,甲,乙,丙,丁,C\n`);
const eq = loadCEval(q);
await attempt("qp no tokenizer", () => { const p = questionPrompt(eq, "s", 0, { shots: 3 }); return [p.shots, p.shotsDropped, tok.encode(p.text).length]; });
await attempt("qp tokenizer", () => { const p = questionPrompt(eq, "s", 0, { shots: 3, tokenizer: tok }); return [p.shots, p.shotsDropped, tok.encode(p.text).length]; });
await attempt("qp tokenizer maxLength", () => { const p = questionPrompt(eq, "s", 0, { shots: 3, tokenizer: tok, maxLength: 256 }); return [p.shots, p.shotsDropped, tok.encode(p.text).length]; });
await attempt("eval", async () => { const rep = await evaluateMultipleChoice(model, tok, eq, { shots: 3 }); return [rep.shotsDropped, rep.truncated, rep.subjects[0].shots, rep.subjects[0].headerDropped]; });
await attempt("eval ml 40", async () => { const rep = await evaluateMultipleChoice(model, tok, eq, { shots: 3, maxLength: 40 }); return reportMarkdown(rep) + JSON.stringify([rep.shotsDropped, rep.truncated, rep.subjects[0].shots, rep.subjects[0].headerDropped]); });
await attempt("ml 10000", async () => { const rep = await evaluateMultipleChoice(model, tok, eq, { shots: 3, maxLength: 10000 }); return [rep.maxLength, rep.shotsDropped, rep.truncated]; });

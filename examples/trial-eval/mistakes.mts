import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createModel, selectBackend } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { loadCEval, loadCMMLU, evaluateMultipleChoice, questionPrompt, parseQuestionsCsv } from "@batgpt/eval";

await selectBackend({ log: false });
const tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
const model = createModel({ hidden_size: 16, n_head: 2, ffn_hidden_size: 24, n_layer: 1, max_seq_len: 256 }, { tokenizer: tok, seed: 1 });
const base = join(import.meta.dirname, "data", "bad");
rmSync(base, { recursive: true, force: true });
const H = "id,question,A,B,C,D,answer\n";
const good = H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁,B\n";
function mk(name: string, val: string, dev = good) {
  const d = join(base, name);
  mkdirSync(join(d, "val"), { recursive: true }); mkdirSync(join(d, "dev"), { recursive: true });
  writeFileSync(join(d, "val", "s_val.csv"), val);
  writeFileSync(join(d, "dev", "s_dev.csv"), dev);
  return d;
}
async function attempt(label: string, f: () => unknown) {
  try { const r = await f(); console.log(`[${label}] NO ERROR`, typeof r === "object" ? JSON.stringify(r)?.slice(0, 300) : r); }
  catch (e: any) { console.log(`[${label}] ${e?.constructor?.name}: ${e?.message}` + (e?.file !== undefined ? ` {file:${e.file}, line:${e.line}}` : "") + (e?.field !== undefined ? ` {field:${e.field}}` : "")); }
}
const L = (d: string, o: any = {}) => loadCEval(d, o);
await attempt("missing field", () => L(mk("missing", H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,B\n")));
await attempt("extra field", () => L(mk("extra", H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁,戊,B\n")));
await attempt("unclosed quote", () => L(mk("unclosed", H + "0,问一,甲,乙,丙,丁,A\n1,\"问二,甲,乙,丙,丁,B\n2,问三,甲,乙,丙,丁,C\n")));
await attempt("quote mid-field", () => L(mk("midquote", H + "0,问一,甲,乙,丙,丁,A\n1,问\"二\",甲,乙,丙,丁,B\n")));
await attempt("answer E", () => L(mk("ansE", H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁,E\n")));
await attempt("answer lowercase b", () => L(mk("ansb", H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁,b\n")));
await attempt("answer ' B'", () => L(mk("ansspace", H + "0,问一,甲,乙,丙,丁,A\n1,问二,甲,乙,丙,丁, B\n")));
await attempt("missing column D", () => L(mk("nocolD", "id,question,A,B,C,answer\n0,问一,甲,乙,丙,A\n")));
await attempt("missing answer column", () => L(mk("noans", "id,question,A,B,C,D\n0,问一,甲,乙,丙,丁\n")));
await attempt("empty file", () => L(mk("emptyfile", "")));
await attempt("header only", () => L(mk("headeronly", H)));
await attempt("missing dir", () => L(join(base, "does-not-exist")));
mkdirSync(join(base, "emptydir"), { recursive: true });
await attempt("empty dir", () => L(join(base, "emptydir")));
await attempt("names for unknown subject", () => L(mk("names", good), { names: { typo: "错" } }));
await attempt("no categories given", async () => { const b = L(mk("nocat", good)); return b.subjects.map(s => [s.key, s.name, s.categories]); });
await attempt("bad dev row", () => L(mk("baddev", good, H + "0,问一,甲,乙,丙,丁,Z\n")));
const d = mk("ok", good);
const exam = L(d);
await attempt("shots > dev", () => evaluateMultipleChoice(model, tok, exam, { shots: 5 }));
await attempt("questionPrompt shots > dev", () => questionPrompt(exam, "s", 0, { shots: 5 }).text);
await attempt("questionPrompt unknown subject", () => questionPrompt(exam, "nope", 0));
await attempt("questionPrompt bad index", () => questionPrompt(exam, "s", 9));
await attempt("shots -1", () => evaluateMultipleChoice(model, tok, exam, { shots: -1 }));
await attempt("shots 1.5", () => evaluateMultipleChoice(model, tok, exam, { shots: 1.5 }));
await attempt("scoring x", () => evaluateMultipleChoice(model, tok, exam, { scoring: ["x"] as any }));
await attempt("scoring []", () => evaluateMultipleChoice(model, tok, exam, { scoring: [] }));
await attempt("unknown option shot", () => evaluateMultipleChoice(model, tok, exam, { shot: 2 } as any));
await attempt("maxLength 0", () => evaluateMultipleChoice(model, tok, exam, { maxLength: 0 }));
await attempt("maxLength 10000", () => evaluateMultipleChoice(model, tok, exam, { maxLength: 10000 }));
// split without answers
const t = join(base, "testsplit"); mkdirSync(join(t, "test"), { recursive: true }); mkdirSync(join(t, "dev"), { recursive: true });
writeFileSync(join(t, "test", "s_test.csv"), "id,question,A,B,C,D\n0,问一,甲,乙,丙,丁\n");
writeFileSync(join(t, "test", "s2_test.csv"), H + "0,问一,甲,乙,丙,丁,\n");
writeFileSync(join(t, "dev", "s_dev.csv"), good);
await attempt("load test split default (val missing)", () => L(t));
await attempt("load test split", () => L(t, { split: "test" }).subjects.map(s => [s.key, s.questions.map(q => q.answer)]));
await attempt("evaluate test split", async () => evaluateMultipleChoice(model, tok, L(t, { split: "test" })));
await attempt("perplexity empty text", async () => (await import("@batgpt/eval")).perplexity(model, tok, ""));
await attempt("perplexity stride 0", async () => (await import("@batgpt/eval")).perplexity(model, tok, "床前明月光", { stride: 0 }));
await attempt("perplexity window 1000", async () => (await import("@batgpt/eval")).perplexity(model, tok, "床前明月光", { window: 1000 }));
await attempt("perplexity directions [up]", async () => (await import("@batgpt/eval")).perplexity(model, tok, "床前明月光", { directions: ["up"] as any }));
// CMMLU mistakes
const c = join(base, "cmmlu"); mkdirSync(join(c, "test"), { recursive: true }); mkdirSync(join(c, "dev"), { recursive: true });
writeFileSync(join(c, "test", "agronomy.csv"), ",Question,A,B,C,D,Answer\n0,问一,甲,乙,丙,丁,A\n");
writeFileSync(join(c, "dev", "agronomy.csv"), ",Question,A,B,C,D,Answer\n0,问一,甲,乙,丙,丁,A\n");
writeFileSync(join(c, "test", "my_subject.csv"), ",Question,A,B,C,D,Answer\n0,问一,甲,乙,丙,丁,A\n");
await attempt("cmmlu unknown subject key, no dev", () => loadCMMLU(c).subjects.map(s => [s.key, s.name, s.categories, s.dev.length]));
await attempt("cmmlu subjects filter typo", () => loadCMMLU(c, { subjects: ["agronmy"] }).subjects.map(s => s.key));
await attempt("ceval file pointed at CMMLU dir", () => L(c).subjects.map(s => s.key));

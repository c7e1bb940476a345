/**
 * `npm run demo`: the BatGPT recipe end to end on a laptop, on the embedded default
 * backend, in minutes. Each stage prints what it learned; the last line is JSON.
 *
 * Stages so far: 1. tokenizer. (Pretraining, SFT, preference data, reward model, PPO-ptx
 * and evaluation join as their packages land; see the numbered examples.)
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareCorpus, readDocuments, type CorpusDocument } from "@batgpt/datasets";
import { Tokenizer, trainBpe } from "@batgpt/tokenizer";
import { progress } from "./lib/progress.js";
import { printTokenizerReport } from "./lib/tokenizer-report.js";

const runDir = fileURLToPath(new URL("../runs/demo/", import.meta.url));
mkdirSync(runDir, { recursive: true });
console.log("BatGPT.js demo — the recipe on a laptop\n");

// Stage 0: a small slice of the default corpus (poems in Simplified characters + Brown prose).
const prep = progress("corpus", "docs");
const corpus = await prepareCorpus({
  maxChineseBytes: 6_000_000,
  maxEnglishBytes: 2_000_000,
  onProgress: (e) => prep.update(e.done, e.total, { step: e.stage }),
});
prep.stop();
const { train } = corpus.manifest.splits;
console.log(`[corpus] ${(train.bytes / 1e6).toFixed(1)} MB of training text (${train.zh.documents} Chinese, ${train.en.documents} English documents)`);

// Stage 1: the tokenizer.
console.log("\n[1/1] tokenizer: byte-level BPE, 8192 ids");
const bar = progress("train", "merges");
const t0 = performance.now();
async function* trainTexts() {
  for await (const doc of readDocuments(corpus.train.jsonl)) yield doc.text;
}
const trained = await trainBpe(trainTexts(), {
  vocabSize: 8192,
  onProgress: (p) => bar.update(p.merges, p.targetMerges),
});
bar.stop();
const trainSeconds = (performance.now() - t0) / 1000;
const tokenizerPath = join(runDir, "tokenizer.json");
await trained.save(tokenizerPath);
const tok = await Tokenizer.load(tokenizerPath);
console.log(`saved ${tokenizerPath}`);
const heldOut: CorpusDocument[] = [];
for await (const doc of readDocuments(corpus.val.jsonl)) heldOut.push(doc);
const report = printTokenizerReport(tok, heldOut, trainSeconds, train.bytes);

console.log(JSON.stringify({ stage: "tokenizer", ...report }));

/**
 * `npm run demo`: the BatGPT recipe end to end on a laptop, on the embedded default
 * backend, in minutes. Each stage prints what it learned; the last line is JSON.
 *
 * Stages so far: 1. tokenizer, 2. bidirectional pretraining. (SFT, preference data, reward
 * model, PPO-ptx and evaluation join as their packages land; see the numbered examples.)
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareCorpus, readDocuments, type CorpusDocument } from "@batgpt/datasets";
import { Tokenizer, trainBpe } from "@batgpt/tokenizer";
import { countParameters, createModel, generate, selectBackend, TokenFile, tokenizeToFile, train as pretrain } from "@batgpt/core";
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
console.log("\n[1/2] tokenizer: byte-level BPE, 8192 ids");
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


// Stage 2: bidirectional pretraining of a tiny model on the same corpus.
console.log("\n[2/2] pretraining: one model reads forward (<|l2r|>) and backward (<|r2l|>)");
const backend = await selectBackend();
await tokenizeToFile(trainTexts(), tok, join(runDir, "train.bin"));
async function* valTexts() {
  for (const d of heldOut) yield d.text;
}
await tokenizeToFile(valTexts(), tok, join(runDir, "val.bin"));
const trainFile = await TokenFile.open(join(runDir, "train.bin"));
const valFile = await TokenFile.open(join(runDir, "val.bin"));
const model = createModel({ hidden_size: 64, n_layer: 2, n_head: 4, ffn_hidden_size: 172, max_seq_len: 48 }, { tokenizer: tok, seed: 1 });
console.log(`model: ${(countParameters(model.config) / 1e6).toFixed(2)}M parameters on ${backend.name}; ${trainFile.length} training tokens`);
const steps = Number(process.env.BATGPT_DEMO_STEPS ?? 300);
const run = await pretrain({
  model,
  tokenizer: tok,
  train: trainFile,
  validation: valFile,
  steps,
  batchSize: 8,
  seqLen: 48,
  lr: 3e-3,
  warmupSteps: 10,
  evalEvery: steps / 2,
  evalWindows: 32,
  checkpointDir: join(runDir, "pretrained"),
  onEval: (e) => console.log(`  step ${e.step}: validation loss forward ${e.valLossForward.toFixed(3)}, backward ${e.valLossBackward.toFixed(3)} (uniform guess: ${Math.log(tok.vocabSize).toFixed(2)})`),
});
const last = run.evals.at(-1)!;
const fwd = await generate(model, tok, "明月", { temperature: 0.8, topP: 0.8, maxNewTokens: 16, seed: 1 });
const bwd = await generate(model, tok, "明月", { direction: "backward", temperature: 0.8, topP: 0.8, maxNewTokens: 16, seed: 1 });
console.log(`  forward  from "明月": 明月${fwd.text}`);
console.log(`  backward to "明月":   ${bwd.text}明月`);
console.log(`  (${Math.round(run.tokensPerSec)} positions/s; checkpoint in ${join(runDir, "pretrained")})`);
model.dispose();

console.log(
  JSON.stringify({
    ...report,
    pretrainSteps: steps,
    valLossForward: Math.round(last.valLossForward * 1000) / 1000,
    valLossBackward: Math.round(last.valLossBackward * 1000) / 1000,
    backend: backend.name,
  }),
);

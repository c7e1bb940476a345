/**
 * # 02 — Pretrain a small bidirectional BatGPT on classical poetry
 *
 * BatGPT's pretraining is bidirectional autoregression: one network, one set of weights,
 * reads each window left to right after `<|l2r|>` (predicting every next token) and right to
 * left after `<|r2l|>` (predicting every previous token). The loss is the sum of both.
 *
 * This script pretrains a small model on the default corpus for a few minutes on the CPU,
 * shows the validation loss falling in both directions, compares the forward loss with a
 * forward-only model trained on the same data with the same seed for the same number of steps,
 * then generates forward (continue a line) and backward (write the line before a line).
 *
 * Run: `npm run example:02`. The last line of output is JSON with the headline numbers.
 * `BATGPT_STEPS=1000 npm run example:02` trains longer.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createModel, generate, selectBackend, TokenFile, tokenizeToFile, train, countParameters, type EvalMetrics } from "@batgpt/core";
import { prepareCorpus, readDocuments } from "@batgpt/datasets";
import { trainBpe } from "@batgpt/tokenizer";

const steps = Number(process.env.BATGPT_STEPS ?? 400);
const runDir = fileURLToPath(new URL("../runs/02-pretrain/", import.meta.url));
mkdirSync(runDir, { recursive: true });

// ## 1. Backend, corpus and tokenizer
// wasm is the embedded default; @tensorflow/tfjs-node(-gpu) is used instead when installed.
const backend = await selectBackend();
const corpus = await prepareCorpus({ maxChineseBytes: 4_000_000, maxEnglishBytes: 1_000_000 });
async function* texts(path: string) {
  for await (const d of readDocuments(path)) yield d.text;
}
const tok = await trainBpe(texts(corpus.train.jsonl), { vocabSize: 4096 });
console.log(`tokenizer: ${tok.vocabSize} ids, trained on ${(corpus.manifest.splits.train.bytes / 1e6).toFixed(1)} MB`);

// ## 2. Token files
// Documents are joined with <|eos|> into one stream of ids stored as Uint16 on disk; training
// reads random windows from it with the seeded generator.
await tokenizeToFile(texts(corpus.train.jsonl), tok, join(runDir, "train.bin"));
await tokenizeToFile(texts(corpus.val.jsonl), tok, join(runDir, "val.bin"));
const trainFile = await TokenFile.open(join(runDir, "train.bin"));
const valFile = await TokenFile.open(join(runDir, "val.bin"));
console.log(`train ${trainFile.length} tokens, validation ${valFile.length} tokens`);

// ## 3. The model
// The official BatGPT architecture (RMSNorm, rotary on half of each head, SwiGLU, QKV bias,
// untied head) at a laptop size.
const config = { hidden_size: 128, n_layer: 4, n_head: 4, ffn_hidden_size: 344, max_seq_len: 64 };
const knobs = { steps, batchSize: 8, seqLen: 64, lr: 3e-3, warmupSteps: 20, evalEvery: Math.max(1, Math.floor(steps / 5)), evalWindows: 64, seed: 1 };
const bidirectional = createModel(config, { tokenizer: tok, seed: 1 });
console.log(`model: ${(countParameters(bidirectional.config) / 1e6).toFixed(2)}M parameters, backend ${backend.name}`);

// ## 4. Pretrain both directions
console.log(`\npretraining bidirectionally for ${steps} steps (loss = CE forward + CE backward)`);
const printEval = (label: string) => (e: EvalMetrics) =>
  console.log(`  ${label} step ${String(e.step).padStart(4)}: val loss forward ${e.valLossForward.toFixed(3)}, backward ${e.valLossBackward.toFixed(3)}`);
const bi = await train({ ...knobs, model: bidirectional, tokenizer: tok, train: trainFile, validation: valFile, metricsPath: join(runDir, "bidirectional.jsonl"), checkpointDir: join(runDir, "checkpoint"), onEval: printEval("bidirectional") });

// ## 5. The same budget of steps, forward only
// Same data order, same seed, same initial weights: only the loss differs (weights 1, 0).
console.log(`\nthe same ${steps} steps for a forward-only model (loss = CE forward)`);
const forwardOnly = createModel({ ...config, loss_weight_backward: 0 }, { tokenizer: tok, seed: 1 });
const fo = await train({ ...knobs, model: forwardOnly, train: trainFile, validation: valFile, metricsPath: join(runDir, "forward-only.jsonl"), onEval: printEval("forward-only ") });

const biLast = bi.evals.at(-1)!;
const foLast = fo.evals.at(-1)!;
console.log("\nvalidation loss (nats per token) after", steps, "steps:");
console.log(`  bidirectional  forward ${biLast.valLossForward.toFixed(3)}  backward ${biLast.valLossBackward.toFixed(3)}`);
console.log(`  forward-only   forward ${foLast.valLossForward.toFixed(3)}  backward ${foLast.valLossBackward.toFixed(3)} (never trained to read backward)`);
console.log(`  the backward objective ${biLast.valLossForward <= foLast.valLossForward ? "helped" : "cost"} the forward loss ${Math.abs(biLast.valLossForward - foLast.valLossForward).toFixed(3)} nats at equal steps (it also did twice the work per step)`);

// ## 6. Generate in both directions
const sampling = { maxNewTokens: 24, temperature: 0.8, topP: 0.8, seed: 7 };
const fwd = await generate(bidirectional, tok, "床前明月光，", sampling);
console.log(`\nforward  (continue "床前明月光，"): 床前明月光，${fwd.text}`);
const bwd = await generate(bidirectional, tok, "低头思故乡。", { ...sampling, direction: "backward" });
console.log(`backward (what comes before "低头思故乡。"): ${bwd.text}低头思故乡。`);

console.log(
  JSON.stringify({
    valLossFwd: round(biLast.valLossForward),
    valLossBwd: round(biLast.valLossBackward),
    forwardOnlyValLoss: round(foLast.valLossForward),
    steps,
    tokensPerSec: Math.round(bi.tokensPerSec),
    backend: backend.name,
  }),
);
bidirectional.dispose();
forwardOnly.dispose();

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

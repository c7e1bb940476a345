/**
 * `npm run demo`: the BatGPT recipe end to end on a laptop, on the embedded default
 * backend, in minutes. It runs the numbered examples' steps in order, each at a demo size, into
 * `runs/demo/<example>/`; each stage prints what it learned; the last line is JSON.
 *
 * Stages so far: 1. tokenizer (01), 2. bidirectional pretraining (02). (SFT, preference data,
 * reward model, PPO-ptx and evaluation join as their examples land: one more call here each.)
 */
import { tokenizer } from "./01-tokenizer.js";
import { pretrain } from "./02-pretrain.js";
import { runDir, RUNS_DIR } from "./lib/runs.js";

const demoDir = runDir("demo", RUNS_DIR);
console.log("BatGPT.js demo — the recipe on a laptop\n");

// Stage 1: a tokenizer on a small slice of the default corpus (poems in Simplified characters +
// Brown prose), as example 01 trains on all of it.
console.log("[1/2] tokenizer: byte-level BPE, 8192 ids (example 01)");
const tok = await tokenizer({ vocabSize: 8192, maxChineseBytes: 6_000_000, maxEnglishBytes: 2_000_000, dir: runDir("01-tokenizer", demoDir) });

// Stage 2: bidirectional pretraining of a tiny model on the same corpus, without example 02's
// forward-only comparison.
console.log("\n[2/2] pretraining: one model reads forward (<|l2r|>) and backward (<|r2l|>) (example 02)");
const steps = Number(process.env.BATGPT_DEMO_STEPS ?? 300);
const pre = await pretrain({
  tokenizer: tok,
  model: { hidden_size: 64, n_layer: 2, n_head: 4, ffn_hidden_size: 172, max_seq_len: 48 },
  steps,
  warmupSteps: 10,
  evals: 2,
  evalWindows: 32,
  compareForwardOnly: false,
  dir: runDir("02-pretrain", demoDir),
});

console.log(
  JSON.stringify({
    ...tok.report,
    pretrainSteps: pre.headline.steps,
    valLossForward: pre.headline.valLossFwd,
    valLossBackward: pre.headline.valLossBwd,
    backend: pre.headline.backend,
  }),
);

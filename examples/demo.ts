/**
 * `npm run demo`: the BatGPT recipe end to end on a laptop, on the embedded default
 * backend, in minutes. It runs the numbered examples' steps in order, each at a demo size, into
 * `runs/demo/<example>/`; each stage prints what it learned; the last line is JSON.
 *
 * Stages so far: 1. tokenizer (01), 2. bidirectional pretraining (02) on regular verse, on
 * every core. (SFT, preference data, reward model, PPO-ptx and evaluation join as their examples
 * land: one more call here each.)
 */
import { resolveWorkers } from "@batgpt/core";
import { tokenizer } from "./01-tokenizer.js";
import { pretrain, VERSE_TOKENIZER } from "./02-pretrain.js";
import { runDir, RUNS_DIR } from "./lib/runs.js";

resolveWorkers(); // a bad BATGPT_WORKERS fails now, not after the first stage
const demoDir = runDir("demo", RUNS_DIR);
console.log("BatGPT.js demo — the recipe on a laptop\n");

// Stage 1: a byte-level BPE tokenizer of 2048 ids on the regular-verse subset (Tang and Song
// quatrains and regulated verse, each with its title and form, 41 MB), as example 02 uses.
console.log("[1/2] tokenizer: byte-level BPE, 2048 ids, on regular verse (example 01)");
const tok = await tokenizer({ ...VERSE_TOKENIZER, dir: runDir("01-tokenizer", demoDir) });

// Stage 2: bidirectional pretraining on its five-character quatrains (五言绝句) with example 02's
// model, a third of its steps and no forward-only comparison. The form rate: of 50 poems written
// from held-out titles as 五言绝句, the share with four lines of five Han characters, ，and 。 in
// place, and nothing after.
console.log("\n[2/2] pretraining: one model reads forward (<|l2r|>) and backward (<|r2l|>) (example 02)");
const steps = Number(process.env.BATGPT_DEMO_STEPS ?? 400);
const pre = await pretrain({
  tokenizer: tok,
  steps,
  evals: 2,
  evalWindows: 32,
  compareForwardOnly: false,
  dir: runDir("02-pretrain", demoDir),
});
console.log(`\npretraining: form rate ${pre.headline.formRate} after ${steps} steps (${pre.headline.trainSeconds} s on ${pre.headline.workers} replica(s))`);

console.log(
  JSON.stringify({
    ...tok.report,
    pretrainSteps: pre.headline.steps,
    valLossForward: pre.headline.valLossFwd,
    valLossBackward: pre.headline.valLossBwd,
    formRate: pre.headline.formRate,
    pretrainSeconds: pre.headline.trainSeconds,
    workers: pre.headline.workers,
    backend: pre.headline.backend,
  }),
);

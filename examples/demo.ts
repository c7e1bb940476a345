/**
 * `npm run demo`: the BatGPT recipe end to end on a laptop, on the embedded default
 * backend, in minutes. It runs the numbered examples' steps in order, each at a demo size, into
 * `runs/demo/<example>/`; each stage prints what it learned; the last line is JSON.
 *
 * Stages so far: 1. tokenizer (01), 2. bidirectional pretraining (02) on regular verse, on
 * every core, 3. instruction tuning (03), 4. preference pairs, an AI judge and the reward model
 * (04), 5. PPO-ptx against that reward model, and plain PPO to compare (05), 6. parameter growth:
 * a small model grown into a bigger one, against the bigger one from scratch at equal FLOPs (06),
 * 7. evaluation: perplexity both ways and a verse exam in the C-Eval layout, prompted and scored
 * as C-Eval is, for the pretrained, SFT and PPO models (07).
 */
import { join } from "node:path";
import { resolveWorkers } from "@batgpt/core";
import { tokenizer } from "./01-tokenizer.js";
import { pretrain, VERSE_TOKENIZER } from "./02-pretrain.js";
import { sft } from "./03-sft.js";
import { reward } from "./04-reward.js";
import { ppo } from "./05-ppo.js";
import { growth } from "./06-growth.js";
import { evaluateModels } from "./07-eval.js";
import { runDir, RUNS_DIR } from "./lib/runs.js";

resolveWorkers(); // a bad BATGPT_WORKERS fails now, not after the first stage
const demoDir = runDir("demo", RUNS_DIR);
console.log("BatGPT.js demo — the recipe on a laptop\n");

// Stage 1: a byte-level BPE tokenizer of 2048 ids on the regular-verse subset (Tang and Song
// quatrains and regulated verse, each with its title and form, 41 MB), as example 02 uses.
console.log("[1/7] tokenizer: byte-level BPE, 2048 ids, on regular verse (example 01)");
const tok = await tokenizer({ ...VERSE_TOKENIZER, dir: runDir("01-tokenizer", demoDir) });

// Stage 2: bidirectional pretraining on its five-character quatrains (五言绝句) with example 02's
// model, a third of its steps and no forward-only comparison, in windows of 64 tokens (16 a step:
// the same 1024 tokens as example 02's 4 windows of 256, but at this few steps shorter windows
// learn the form sooner; the model keeps its 256 positions for stage 3). The form rate: of 50 poems written
// from held-out titles as 五言绝句, the share with four lines of five Han characters, ，and 。 in
// place, and nothing after.
console.log("\n[2/7] pretraining: one model reads forward (<|l2r|>) and backward (<|r2l|>) (example 02)");
const steps = Number(process.env.BATGPT_DEMO_STEPS ?? 400);
const pre = await pretrain({
  tokenizer: tok,
  steps,
  batchSize: 16,
  seqLen: 64,
  evals: 2,
  evalWindows: 32,
  compareForwardOnly: false,
  dir: runDir("02-pretrain", demoDir),
});
console.log(`\npretraining: form rate ${pre.headline.formRate} after ${steps} steps (${pre.headline.trainSeconds} s on ${pre.headline.workers} replica(s))`);

// Stage 3: instruction tuning of that model (example 03) with fewer steps and conversations:
// continue a poem, the line before a line (backward), quatrains on titles, multi-turn follow-ups,
// in the BatGPT chat format, packed, the loss on the answers; measured before and after on
// held-out prompts.
console.log("\n[3/7] instruction tuning: chat-formatted verse tasks, the loss on the answer (example 03)");
const tuned = await sft({
  pretrained: pre,
  steps: Number(process.env.BATGPT_DEMO_SFT_STEPS ?? 300),
  samples: 4000,
  heldOut: 24,
  dir: runDir("03-sft", demoDir),
});
const t = tuned.headline;
console.log(`\ninstruction tuning: answer loss ${t.answerLossBefore} → ${t.answerLossAfter} nats/token, form rate on held-out titles ${t.formRateBefore} → ${t.formRateAfter} (${t.trainSeconds} s)`);

// Stage 4: preference pairs on the verse task (constructed ones with known labels, and pairs of
// sampled answers judged by the SFT model in both orders), and the reward model: the SFT trunk and
// a `score` head, measured on constructed pairs from held-out poems.
console.log("\n[4/7] preferences and the reward model: constructed pairs, an AI judge, a scalar head (example 04)");
const rm = await reward({
  tuned,
  steps: Number(process.env.BATGPT_DEMO_RM_STEPS ?? 200),
  pairs: 1600,
  heldOut: 24,
  judgePrompts: 48,
  dir: runDir("04-reward", demoDir),
});
const h = rm.headline;
console.log(`
reward model: held-out accuracy ${h.heldOutAccuracyBefore} → ${h.heldOutAccuracy} (chance 0.5); the AI judge agrees with the labels on ${h.judgeAgreement}, the same in both orders on ${h.judgeConsistency} (${h.trainSeconds} s)`);

// Stage 5: PPO-ptx: the SFT policy against that reward model, with a KL penalty to the SFT policy
// and the pretraining loss mixed in, then the same run without the pretraining loss; the form
// rate (measured by code) shows whether a higher reward is a better poem.
console.log("\n[5/7] PPO-ptx: the SFT policy against the reward model, with and without the pretraining loss (example 05)");
const rl = await ppo({
  pretrained: pre,
  tuned,
  rewarded: rm,
  iterations: Number(process.env.BATGPT_DEMO_PPO_ITERATIONS ?? 12),
  rolloutBatchSize: 16,
  formSamples: 24,
  dir: runDir("05-ppo", demoDir),
});
const p = rl.headline;
console.log(
  `\nPPO-ptx: reward ${p.rewardStart} → ${p.rewardEnd} (KL ${p.klEnd} nats), form rate ${p.formRateBefore} → ${p.formRateAfter}, pretraining-corpus loss ${p.ptxLossBefore} → ${p.ptxLossWith}; ` +
    `without ptx: reward → ${p.rewardEndWithout}, form rate → ${p.formRateAfterWithout}, corpus loss → ${p.ptxLossWithout} (${p.trainSeconds} s)`,
);

// Stage 6: parameter growth. A small model (hidden 64, 2 layers) trains half the steps, grows into
// twice the width and depth computing the same function, and trains on; the bigger model from
// scratch gets the same training FLOPs. Example 06 runs 10x the steps.
console.log("\n[6/7] growth: a small model grown (width and depth x2, function kept) against the target from scratch at equal FLOPs (example 06)");
const g = await growth({ tokenizer: tok, steps: Number(process.env.BATGPT_DEMO_GROWTH_STEPS ?? 60), dir: runDir("06-growth", demoDir) });
console.log(
  `\ngrowth: logits kept within ${g.maxLogitDiff.toExponential(1)}; val loss grown ${g.grownFinalLoss} vs scratch ${g.scratchFinalLoss} at equal FLOPs; ` +
    (g.savingPercent === null ? "the grown run did not reach scratch's final loss" : `${g.savingPercent}% of the FLOPs saved`) + ` (${g.trainSeconds} s)`,
);

// Stage 7: evaluation (example 07). The three models of stages 2, 3 and 5 on held-out verse:
// perplexity read forward and backward, and an exam in the C-Eval layout (which line follows /
// precedes a given line, which ordering of a line is the poet's, four choices) with C-Eval's own prompt, 0- and 3-shot, scored by the
// answer letter and by each choice's log-likelihood. Example 07 asks 5x the questions.
console.log("\n[7/7] evaluation: perplexity both ways and a verse exam in the C-Eval layout, for the pretrained, SFT and PPO models (example 07)");
const e = await evaluateModels({ pretrained: pre, sftCheckpoint: tuned.paths.checkpoint, ppoCheckpoint: join(rl.dir, "checkpoint"), questions: 40, perplexityTokens: 4096, dir: runDir("07-eval", demoDir) });
const choiceAcc = Object.fromEntries(Object.entries(e.models).map(([name, m]) => [name, m.choice0]));
console.log(
  `\nevaluation: pretrained perplexity forward ${e.models.pretrained!.perplexityForward}, backward ${e.models.pretrained!.perplexityBackward}; ` +
    `exam accuracy by choice log-likelihood, 0-shot: ${Object.entries(choiceAcc).map(([n, a]) => `${n} ${(100 * a).toFixed(1)}%`).join(", ")} (chance 25%) (${e.evalSeconds} s)`,
);

console.log(
  JSON.stringify({
    ...tok.report,
    pretrainSteps: pre.headline.steps,
    valLossForward: pre.headline.valLossFwd,
    valLossBackward: pre.headline.valLossBwd,
    formRate: pre.headline.formRate,
    pretrainSeconds: pre.headline.trainSeconds,
    sftSteps: t.steps,
    answerLossBefore: t.answerLossBefore,
    answerLossAfter: t.answerLossAfter,
    sftFormRateBefore: t.formRateBefore,
    sftFormRateAfter: t.formRateAfter,
    nextLineMatchAfter: t.nextLineMatchAfter,
    prevLineMatchAfter: t.prevLineMatchAfter,
    sftSeconds: t.trainSeconds,
    rewardAccuracyBefore: h.heldOutAccuracyBefore,
    rewardAccuracy: h.heldOutAccuracy,
    judgeAgreement: h.judgeAgreement,
    judgeConsistency: h.judgeConsistency,
    rewardSeconds: h.trainSeconds,
    ppoRewardStart: p.rewardStart,
    ppoRewardEnd: p.rewardEnd,
    ppoKlEnd: p.klEnd,
    ptxLossWith: p.ptxLossWith,
    ptxLossWithout: p.ptxLossWithout,
    ppoFormRateBefore: p.formRateBefore,
    ppoFormRateAfter: p.formRateAfter,
    ppoSeconds: p.trainSeconds,
    growthMaxLogitDiff: g.maxLogitDiff,
    growthSavingPercent: g.savingPercent,
    evalPerplexityForward: e.models.pretrained!.perplexityForward,
    evalPerplexityBackward: e.models.pretrained!.perplexityBackward,
    evalChoiceAcc: choiceAcc,
    growthSeconds: g.trainSeconds,
    workers: pre.headline.workers,
    backend: pre.headline.backend,
  }),
);

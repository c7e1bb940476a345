/**
 * # 06 — Grow a small trained model into a bigger one, and measure what it saves
 *
 * BatGPT trains its large model starting from the knowledge of a smaller pretrained one. This
 * script trains a small bidirectional model on regular verse, grows it (twice the width: hidden
 * size, MLP and heads; twice the depth) into the target size with @batgpt/growth, which keeps the
 * function exactly at the moment of growth, and trains on. Then it trains the target size from
 * scratch with the same total training FLOPs, and compares the validation loss against the
 * cumulative FLOPs spent. The **saving** is how much less compute the grown run needed to reach
 * the loss the scratch run ended at: `1 − FLOPs(grown reaches it) / FLOPs(scratch total)`.
 * Papers report 25–55 % at BERT and GPT sizes (bert2BERT, LiGO, MSG, G_stack); at this size the
 * number is whatever it comes out as, printed, and null when the grown run never got there.
 *
 * Run: `npm run example:06` (about 7 minutes on 2 cores). It trains its tokenizer with example
 * 01's step on the verse subset (`runs/01-tokenizer-verse/`, reused when it matches) and writes
 * `runs/06-growth/`: both runs' checkpoints and metrics, `curves.json` (every evaluation) and
 * `loss-vs-flops.svg` (the plot, made with Vega-Lite). The last line of output is JSON with the
 * headline numbers. `--steps N` sets the grown run's steps (half of them at the small size).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { countParameters, createModel, loadCheckpoint, resolveWorkers, selectBackend, TokenFile, tokenizeToFile, train, type BatGPTConfigInput, type EvalRecord } from "@batgpt/core";
import { readDocuments } from "@batgpt/datasets";
import { growModel, maxLogitDiff, targetConfig, trainingFlopsPerStep, trainProgressive } from "@batgpt/growth";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { tokenizer, type TokenizerOutput } from "./01-tokenizer.js";
import { VERSE_TOKENIZER } from "./02-pretrain.js";
import { isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";

const NAME = "06-growth";

/** The headline numbers (the keys of the JSON line). */
export interface GrowthHeadline {
  /** Largest |logit difference| between the trained small model and its grown copy, both directions, on validation windows. */
  maxLogitDiff: number;
  /** Percent of the scratch run's FLOPs the grown run saved reaching the scratch run's final loss; null if it did not reach it. */
  savingPercent: number | null;
  /** Final validation loss of the grown run (nats per token, mean of the two directions). */
  grownFinalLoss: number;
  /** Final validation loss of the scratch run, same units. */
  scratchFinalLoss: number;
  smallParams: number;
  targetParams: number;
  grownSteps: number;
  scratchSteps: number;
  /** Training FLOPs of each run (equal up to one step). */
  grownFlops: number;
  scratchFlops: number;
  trainSeconds: number;
  workers: number;
  backend: string;
}

/** One point of a loss curve. */
interface CurvePoint {
  run: "grown" | "scratch";
  step: number;
  /** Cumulative training FLOPs. */
  flops: number;
  /** Validation loss, nats per token, mean of forward and backward. */
  loss: number;
}

const meanLoss = (e: EvalRecord) => (e["eval/loss_forward"]! + e["eval/loss_backward"]!) / 2;

/** Train small → grow → train, and the target from scratch at equal FLOPs; compare. */
export async function growth(options: { steps?: number; dir?: string; workers?: number | "auto"; tokenizer?: TokenizerOutput } = {}): Promise<GrowthHeadline> {
  const { dir = runDir(NAME), workers = "auto" } = options;
  const steps = options.steps ?? 600;
  // ## 1. Backend, tokenizer and token files
  // The same verse data as example 02 (five-character quatrains), at 64-token windows.
  const backend = await selectBackend();
  const replicas = resolveWorkers(workers);
  const { tok, corpus } = options.tokenizer ?? (await tokenizer({ ...VERSE_TOKENIZER, dir: runDir("01-tokenizer-verse"), reuse: true }));
  startRun(dir, ["scratch.jsonl", "curves.json", "loss-vs-flops.svg"]);
  for (const d of ["grown", "scratch"]) rmSync(join(dir, d), { recursive: true, force: true });
  async function* poems(path: string) {
    for await (const d of readDocuments(path)) if (d.form === "五言绝句") yield d.text;
  }
  await tokenizeToFile(poems(corpus.train.jsonl), tok, join(dir, "train.bin"));
  await tokenizeToFile(poems(corpus.val.jsonl), tok, join(dir, "val.bin"));
  const trainFile = await TokenFile.open(join(dir, "train.bin"));
  const valFile = await TokenFile.open(join(dir, "val.bin"));

  // ## 2. The sizes
  // Small: hidden 64, 4 heads, SwiGLU 172, 2 layers. Target: twice the width and the depth.
  // The target keeps the head size's rotated dimensions and the vocabulary (growth checks that).
  const small: BatGPTConfigInput = { hidden_size: 64, n_head: 4, ffn_hidden_size: 172, n_layer: 2, max_seq_len: 64 };
  const target: BatGPTConfigInput = { hidden_size: 128, n_head: 8, ffn_hidden_size: 344, n_layer: 4 };
  const knobs = { batchSize: 16, seqLen: 64, lr: 3e-3, warmupSteps: 30, evalWindows: 48, seed: 1, workers, progress: "auto" as const };
  const evalEvery = Math.max(1, Math.floor(steps / 12));
  const growAt = Math.floor(steps / 2);
  const smallModel = createModel(small, { tokenizer: tok, seed: 1 });
  const grownConfig = targetConfig(smallModel.config, target);
  console.log(`small ${(countParameters(smallModel.config) / 1e6).toFixed(2)}M parameters → target ${(countParameters(grownConfig) / 1e6).toFixed(2)}M; backend ${backend.name}, ${replicas} replica(s)`);

  // ## 3. Grown run: small for `growAt` steps, grown once (width ×2 and depth ×2), then the rest
  // trainProgressive runs core's trainer per stage on one cosine schedule; the growth resets AdamW.
  const t0 = performance.now();
  const grownRun = await trainProgressive(
    { model: smallModel, tokenizer: tok, data: trainFile, validation: valFile },
    { ...knobs, steps, evalEvery, checkpointDir: join(dir, "grown"), target, growEvery: growAt, growBy: 2 },
  );
  const stages = grownRun.stages;
  // The function at the moment of growth: grow the stage-0 checkpoint again the same way (stage 1
  // used seed growth.seed + 1) and compare its logits on validation windows with the small model's.
  const trained = (await loadCheckpoint(stages[0]!.checkpointDir)).model;
  const regrown = growModel(trained, stages[1]!.config, { seed: 1 }).model;
  const windows = Array.from({ length: 4 }, (_, i) => Array.from(valFile.tokens.subarray(i * 500, i * 500 + 48)));
  const diff = maxLogitDiff(trained, regrown, windows);
  trained.dispose();
  regrown.dispose();
  grownRun.model.dispose();
  console.log(`growth at step ${growAt}: max |logit difference| ${diff.toExponential(2)} (both directions, ${windows.length} validation windows)`);

  // ## 4. Scratch run: the target size from random weights, with the grown run's total FLOPs
  const grownFlops = stages.reduce((f, s) => f + (s.endStep - s.startStep) * s.flopsPerStep, 0);
  const perStep = trainingFlopsPerStep(stages.at(-1)!.config, { batchSize: knobs.batchSize, seqLen: knobs.seqLen, directions: 2 });
  const scratchSteps = Math.round(grownFlops / perStep);
  const scratchModel = createModel(grownConfig, { tokenizer: tok, seed: 1 });
  const scratchRun = await train(
    { model: scratchModel, tokenizer: tok, data: trainFile, validation: valFile },
    { ...knobs, steps: scratchSteps, evalEvery: Math.max(1, Math.round(scratchSteps / 12)), metricsPath: join(dir, "scratch.jsonl"), checkpointDir: join(dir, "scratch") },
  );
  scratchModel.dispose();
  const trainSeconds = (performance.now() - t0) / 1000;

  // ## 5. Loss against FLOPs, and the saving
  const curves: CurvePoint[] = [
    ...grownRun.evals.map((e) => ({ run: "grown" as const, step: e.step, flops: e.flops, loss: meanLoss(e) })),
    ...scratchRun.evals.map((e) => ({ run: "scratch" as const, step: e.step, flops: e.step * perStep, loss: meanLoss(e) })),
  ];
  const scratchFinal = meanLoss(scratchRun.evals.at(-1)!);
  const grownFinal = meanLoss(grownRun.evals.at(-1)!);
  const reached = curves.find((p) => p.run === "grown" && p.loss <= scratchFinal);
  const scratchFlops = scratchSteps * perStep;
  const savingPercent = reached ? round(100 * (1 - reached.flops / scratchFlops), 1) : null;
  for (const p of curves) console.log(`  ${p.run.padEnd(7)} step ${String(p.step).padStart(4)}  ${(p.flops / 1e12).toFixed(2)} TFLOP  val loss ${p.loss.toFixed(3)}`);
  console.log(
    reached
      ? `the grown run reached the scratch run's final loss ${scratchFinal.toFixed(3)} at ${(reached.flops / 1e12).toFixed(2)} of ${(scratchFlops / 1e12).toFixed(2)} TFLOP: ${savingPercent}% saved (resolution: one evaluation, every ${evalEvery} steps)`
      : `the grown run did not reach the scratch run's final loss ${scratchFinal.toFixed(3)} (it ended at ${grownFinal.toFixed(3)}): no saving at this size`,
  );
  writeFileSync(join(dir, "curves.json"), JSON.stringify(curves, null, 1) + "\n");
  const spec = vegaLite.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Validation loss vs training FLOPs: grown at step ${growAt} vs the target from scratch`,
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: curves.map((p) => ({ ...p, tflops: p.flops / 1e12 })) },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "tflops", type: "quantitative", title: "cumulative training FLOPs (×10¹²)" },
          y: { field: "loss", type: "quantitative", title: "validation loss (nats/token, mean of both directions)", scale: { zero: false } },
          color: { field: "run", type: "nominal" },
        },
      },
      {
        data: { values: [{ tflops: stages[1]!.startStep * stages[0]!.flopsPerStep / 1e12 }] },
        mark: { type: "rule", strokeDash: [4, 4], color: "gray" },
        encoding: { x: { field: "tflops", type: "quantitative" } },
      },
    ],
  } as vegaLite.TopLevelSpec).spec;
  const svg = await new vega.View(vega.parse(spec), { renderer: "none" }).toSVG();
  writeFileSync(join(dir, "loss-vs-flops.svg"), svg);
  console.log(`plot: ${join(dir, "loss-vs-flops.svg")}`);

  const headline: GrowthHeadline = {
    maxLogitDiff: Number(diff.toExponential(2)),
    savingPercent,
    grownFinalLoss: round(grownFinal),
    scratchFinalLoss: round(scratchFinal),
    smallParams: countParameters(stages[0]!.config),
    targetParams: countParameters(stages.at(-1)!.config),
    grownSteps: steps,
    scratchSteps,
    grownFlops,
    scratchFlops,
    trainSeconds: Math.round(trainSeconds),
    workers: replicas,
    backend: backend.name,
  };
  await writeManifest(dir, {
    example: NAME,
    config: { small, target, knobs: { ...knobs, steps, growAt, evalEvery }, tokenizer: VERSE_TOKENIZER },
    headline,
    files: { curves: "curves.json", plot: "loss-vs-flops.svg", grown: "grown", scratch: "scratch" },
    finishedAt: new Date().toISOString(),
  });
  return headline;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { steps: { type: "string" } } });
  const headline = await growth({ steps: Number(values.steps ?? process.env.BATGPT_STEPS ?? 600) });
  console.log(JSON.stringify(headline));
}

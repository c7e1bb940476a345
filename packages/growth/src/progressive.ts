/**
 * Progressive growth on the shared trainer: train, grow every `growEvery` steps until the target
 * size, and go on training, as one run with one learning-rate schedule (Gong et al. 2019's
 * progressive stacking; Shen et al. 2022's staged training). Each stage is core's `train` on its
 * own checkpoint directory; a growth writes the grown model as a checkpoint whose trainer state
 * carries the step and the data position on, with zeroed optimizer moments (the optimizer is
 * reset, see the README), so the next stage resumes from it and an interrupted run resumes exactly.
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  ConfigError, flopsPerToken, loadCheckpoint, parseOptions, readCheckpoint, resolveCheckpointDir, saveCheckpoint, train,
  type BatGPTConfig, type BatGPTConfigInput, type BatGPTModel, type EvalRecord, type StepRecord, type TrainConfig, type TrainObjects,
} from "@batgpt/core";
import { z } from "zod";
import { growModel } from "./grow.js";
import { growOptionsSchema, GrowthError, targetConfig } from "./plan.js";

/** The growth knobs of {@link trainProgressive}; the rest of its config is core's `train` config. */
export const progressiveOptionsSchema = z
  .object({
    /** The final size: fields left out are the starting model's. Width grows at the first growth, depth step by step. */
    target: z.record(z.string(), z.unknown()),
    /** Grow after every this many steps (global steps), until the target is reached. */
    growEvery: z.number().int().positive(),
    /** Blocks added at each growth: a number, or `"double"` (default: the depth doubles each time, as stacking does). */
    growBy: z.union([z.number().int().positive(), z.literal("double")]).default("double"),
    /** How each growth initialises the new units and blocks (see `growOptionsSchema`); stage s uses seed `seed + s`. */
    growth: growOptionsSchema.default(growOptionsSchema.parse({})),
  })
  .strict();

/** What {@link trainProgressive} takes: core's `train` config (with `checkpointDir` required) and the growth knobs. */
export type ProgressiveConfig = TrainConfig & z.input<typeof progressiveOptionsSchema>;

/** One stage of a progressive run: one model size over a range of global steps. */
export interface ProgressiveStage {
  /** 0 for the starting model. */
  index: number;
  config: BatGPTConfig;
  /** First global step of the stage (the steps before it were taken at smaller sizes). */
  startStep: number;
  /** Last global step of the stage. */
  endStep: number;
  /** Where the stage's checkpoint is. */
  checkpointDir: string;
  /** Training FLOPs of one optimizer step at this size (see {@link trainingFlopsPerStep}). */
  flopsPerStep: number;
}

/**
 * Training FLOPs of one optimizer step: `batchSize · gradAccumulation · seqLen` tokens, each
 * costing core's `flopsPerToken(config, seqLen).training` (forward + backward ≈ 3 × forward,
 * Kaplan et al. 2020's 6N plus attention) once per direction trained (twice for the
 * bidirectional loss, once with `lossWeightBackward: 0`). Units: FLOPs.
 */
export function trainingFlopsPerStep(config: BatGPTConfig, run: { batchSize: number; seqLen: number; gradAccumulation?: number; directions: 1 | 2 }): number {
  return run.batchSize * (run.gradAccumulation ?? 1) * run.seqLen * flopsPerToken(config, run.seqLen).training * run.directions;
}

/** Cumulative training FLOPs of a progressive run at global `step` (FLOPs). */
export function flopsAtStep(stages: readonly ProgressiveStage[], step: number): number {
  let total = 0;
  for (const s of stages) total += Math.max(0, Math.min(step, s.endStep) - s.startStep) * s.flopsPerStep;
  return total;
}

/**
 * The stages of a progressive run: the sizes and the global steps each covers.
 *
 * @throws {GrowthError} when the target cannot be grown into; {@link ConfigError} when `steps`
 *   ends before the last growth.
 */
export function progressiveStages(source: BatGPTConfig, config: { steps: number; target: BatGPTConfigInput; growEvery: number; growBy?: number | "double" }, checkpointDir = "."): Omit<ProgressiveStage, "flopsPerStep">[] {
  const final = targetConfig(source, config.target);
  if (final.n_layer < source.n_layer) throw new GrowthError(`grow: n_layer ${final.n_layer} is smaller than the source's ${source.n_layer}; growth only adds units`);
  const configs: BatGPTConfig[] = [source];
  let depth = source.n_layer;
  const widthChanges = JSON.stringify({ ...final, n_layer: 0 }) !== JSON.stringify({ ...source, n_layer: 0 });
  while (depth < final.n_layer || (configs.length === 1 && widthChanges)) {
    depth = Math.min(final.n_layer, config.growBy === undefined || config.growBy === "double" ? 2 * depth : depth + config.growBy);
    configs.push(targetConfig(source, { ...config.target, n_layer: depth }));
  }
  const growths = configs.length - 1;
  if (growths * config.growEvery >= config.steps) {
    throw new ConfigError(`trainProgressive: ${growths} growth(s) every ${config.growEvery} steps need more than ${growths * config.growEvery} steps; steps is ${config.steps}`);
  }
  return configs.map((c, i) => ({
    index: i,
    config: c,
    startStep: i * config.growEvery,
    endStep: i === growths ? config.steps : (i + 1) * config.growEvery,
    checkpointDir: join(checkpointDir, `stage-${i}`),
  }));
}

/** What {@link trainProgressive} returns. */
export interface ProgressiveResult {
  /** The final model (the caller disposes it; it is not the model passed in unless no growth happened). */
  model: BatGPTModel;
  stages: ProgressiveStage[];
  /** The steps trained in this call (a resumed call lacks the earlier ones; the metrics log has them all). */
  history: StepRecord[];
  /** The evaluations of this call, each with its stage and the cumulative training FLOPs at its step. */
  evals: (EvalRecord & { stage: number; flops: number })[];
}

/**
 * Train with progressive growth: the model trains until step `growEvery`, grows (width to the
 * target's, depth by `growBy`), and trains on, until the target size and then to `steps`. One
 * warmup + cosine schedule spans all `steps`; at each growth the optimizer moments start from zero.
 * Stage s checkpoints in `<checkpointDir>/stage-<s>`; with `resume`, a call picks up at the last
 * stage that has a checkpoint and resumes it exactly.
 *
 * @param objects core's `train` objects (`model` is the starting model; it is trained in place in stage 0).
 * @throws {ConfigError} for bad knobs (also a missing `checkpointDir`), {@link GrowthError} for a
 *   target that cannot be grown into, and whatever core's `train` throws.
 */
export async function trainProgressive(objects: TrainObjects, config: ProgressiveConfig): Promise<ProgressiveResult> {
  if (typeof config !== "object" || config === null) throw new ConfigError("trainProgressive takes (objects, config)");
  const { target, growEvery, growBy, growth, ...trainConfig } = config;
  const o = parseOptions(progressiveOptionsSchema, { target, growEvery, ...(growBy !== undefined ? { growBy } : {}), ...(growth !== undefined ? { growth } : {}) }, "progressive growth options");
  if (trainConfig.checkpointDir === undefined) throw new ConfigError("trainProgressive: checkpointDir is required (each growth is written there, and a run resumes from it)");
  if (trainConfig.stopAt !== undefined) throw new ConfigError("trainProgressive: stopAt is not supported (each stage stops at its growth)");
  const stagesBase = progressiveStages(objects.model.config, { steps: trainConfig.steps, target: o.target as BatGPTConfigInput, growEvery: o.growEvery, growBy: o.growBy }, trainConfig.checkpointDir);
  const seqLen = trainConfig.seqLen ?? objects.model.config.max_seq_len;
  const directions = (trainConfig.lossWeightForward ?? 1) > 0 && (trainConfig.lossWeightBackward ?? 1) > 0 ? 2 : 1;
  const stages: ProgressiveStage[] = stagesBase.map((s) => ({
    ...s,
    flopsPerStep: trainingFlopsPerStep(s.config, { batchSize: trainConfig.batchSize ?? 8, seqLen, gradAccumulation: trainConfig.gradAccumulation ?? 1, directions }),
  }));

  // with resume, start at the last stage that has a checkpoint
  let first = 0;
  if (trainConfig.resume) {
    for (let i = stages.length - 1; i > 0; i--) {
      if ((await resolveCheckpointDir(stages[i]!.checkpointDir)) !== undefined) {
        first = i;
        break;
      }
    }
  }
  const history: StepRecord[] = [];
  const evals: ProgressiveResult["evals"] = [];
  let model = objects.model;
  try {
    for (let i = first; i < stages.length; i++) {
      const stage = stages[i]!;
      if (i > 0 && i === first) {
        model = (await loadCheckpoint(stage.checkpointDir)).model;
      } else if (i > 0) {
        const grown = growModel(model, stage.config, { ...o.growth, seed: o.growth.seed + i });
        if (model !== objects.model) model.dispose();
        model = grown.model;
        await saveGrown(stages[i - 1]!, stage, model, objects);
      }
      const r = await train(
        { ...objects, model, callbacks: { ...objects.callbacks, onStep: (m) => { history.push(m); objects.callbacks?.onStep?.(m); } } },
        { ...trainConfig, checkpointDir: stage.checkpointDir, resume: i > 0 || (trainConfig.resume ?? false), ...(i < stages.length - 1 ? { stopAt: stage.endStep } : {}) },
      );
      for (const e of r.evals) evals.push({ ...e, stage: i, flops: flopsAtStep(stages, e.step) });
    }
  } catch (err) {
    if (model !== objects.model) model.dispose();
    throw err;
  }
  return { model, stages, history, evals };
}

/**
 * Write the freshly grown model as stage `next`'s checkpoint: the previous stage's step and data
 * position, zero optimizer moments (`optimizerSteps` 0, so AdamW's bias correction starts over).
 */
async function saveGrown(prev: ProgressiveStage, next: ProgressiveStage, model: BatGPTModel, objects: TrainObjects): Promise<void> {
  const done = await readCheckpoint(prev.checkpointDir);
  for (const t of done.weights.values()) t.dispose();
  for (const t of done.optimizer?.values() ?? []) t.dispose();
  const state = done.state as { step?: unknown; data?: unknown } | undefined;
  if (state?.step !== prev.endStep) {
    throw new GrowthError(`trainProgressive: ${prev.checkpointDir} is at step ${String(state?.step)}, not at the growth step ${prev.endStep}`);
  }
  const optimizer = new Map<string, tf.Tensor>();
  for (const [name, v] of model.params) {
    optimizer.set(`${name}.m`, tf.zeros(v.shape));
    optimizer.set(`${name}.v`, tf.zeros(v.shape));
  }
  try {
    await saveCheckpoint(next.checkpointDir, {
      model,
      ...(objects.tokenizer ? { tokenizer: objects.tokenizer } : {}),
      optimizer,
      state: { step: prev.endStep, data: state.data, optimizerSteps: 0, grownFrom: prev.checkpointDir },
    });
  } finally {
    for (const t of optimizer.values()) t.dispose();
  }
}

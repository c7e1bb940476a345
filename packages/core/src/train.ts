/**
 * The training loop: bidirectional loss, AdamW with warmup + cosine, global-norm clipping,
 * gradient accumulation, validation in both directions, atomic checkpoints with everything
 * needed to resume exactly (weights, optimizer moments, data position, RNG), a NaN guard,
 * progress on a terminal and JSON lines otherwise.
 */
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { createProgress, progressModeSchema } from "@batgpt/utils";
import { z } from "zod";
import { assignWeights, CHECKPOINT_FILES, CheckpointError, readCheckpoint, resolveCheckpointDir, saveCheckpoint } from "./checkpoint.js";
import { TokenDataError, WindowLoader, validationBatches, validationWindowCount, type LoaderState, type TokenFile } from "./data.js";
import type { Direction } from "./bidirectional.js";
import type { BatGPTModel } from "./model.js";
import { AdamW, GradAccumulator, clipGradNorm, disposeGrads, globalNorm, gradsByName, type GradMap } from "./optimizer.js";
import { ConfigError, parseOptions } from "./options.js";
import { Rng } from "./rng.js";
import { makeSchedule } from "./schedule.js";
import { TrainingError } from "./trainer.js";

/** Training knobs (everything but the model and data), validated with zod. */
export const trainConfigSchema = z
  .object({
    /** Optimizer steps to run (the total, counting steps done before a resume). */
    steps: z.number().int().positive(),
    /** Stop at this step (checkpointing there) while keeping the schedule of `steps`; resume later with `resume`. */
    stopAt: z.number().int().positive().optional(),
    /** Sequences per micro-batch. */
    batchSize: z.number().int().positive().default(8),
    /** Tokens per sequence (default: the model's max_seq_len). */
    seqLen: z.number().int().min(2).optional(),
    /** Micro-batches summed into one optimizer step. */
    gradAccumulation: z.number().int().positive().default(1),
    /** Peak learning rate. */
    lr: z.number().positive().default(3e-4),
    /** Linear warmup steps (default: a tenth of the steps, at most 100). */
    warmupSteps: z.number().int().nonnegative().optional(),
    /** The cosine ends at lr · minLrRatio. */
    minLrRatio: z.number().min(0).max(1).default(0.1),
    weightDecay: z.number().min(0).default(0.1),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95),
    /** Clip the global gradient norm to this (0 = off). */
    clipNorm: z.number().min(0).default(1),
    /** Validate every N steps (0 = only at the end when a validation file is given). */
    evalEvery: z.number().int().nonnegative().default(0),
    /** Validation windows per evaluation. */
    evalWindows: z.number().int().positive().default(32),
    /** Where checkpoints go (one directory, replaced atomically). */
    checkpointDir: z.string().optional(),
    /** Save every N steps (0 = only at the end). */
    checkpointEvery: z.number().int().nonnegative().default(0),
    /**
     * Continue from `checkpointDir` (or, when a save was interrupted, the complete `<dir>.old-…`
     * it left; see `resolveCheckpointDir`). No checkpoint there: start at step 0. A checkpoint
     * without trainer state is refused rather than overwritten.
     */
    resume: z.boolean().default(false),
    /** Seed of the data order. */
    seed: z.number().int().default(0),
    /** Random windows, or epochs over a shuffled set of non-overlapping windows. */
    dataMode: z.enum(["random", "epoch"]).default("random"),
    /** Append one JSON line per step and per evaluation here. */
    metricsPath: z.string().optional(),
    /** Show progress (default: a bar when stderr is a terminal, JSON lines every few seconds otherwise). */
    progress: progressModeSchema.default("auto"),
  })
  .strict();

export type TrainConfig = z.input<typeof trainConfigSchema>;

/** The model, its data and the knobs. */
export interface TrainOptions extends TrainConfig {
  model: BatGPTModel;
  /** Saved into checkpoints. */
  tokenizer?: Tokenizer;
  train: TokenFile;
  validation?: TokenFile;
  /** Called after every optimizer step. */
  onStep?: (m: StepMetrics) => void;
  /** Called after every evaluation. */
  onEval?: (m: EvalMetrics) => void;
}

/** What one optimizer step measured. */
export interface StepMetrics {
  step: number;
  loss: number;
  lossForward?: number;
  lossBackward?: number;
  lr: number;
  /** Global L2 norm of the gradient before clipping. */
  gradNorm: number;
  /** Positions the network processed in this step (tokens × directions trained). */
  tokens: number;
  tokensPerSec: number;
  elapsedSec: number;
}

/** Validation losses (mean cross-entropy, nats per token) in both directions. */
export interface EvalMetrics {
  step: number;
  valLossForward: number;
  valLossBackward: number;
}

/** What a run returns. */
export interface TrainResult {
  /** The step the run ended at. */
  step: number;
  history: StepMetrics[];
  evals: EvalMetrics[];
  /** Mean positions per second over the steps of this run. */
  tokensPerSec: number;
}

export { TrainingError };

interface TrainerState {
  step: number;
  loader: LoaderState;
  optimizerSteps: number;
  seed: number;
}

/**
 * Mean validation loss (cross-entropy, nats per token) in one direction over up to `windows`
 * windows of `seqLen` tokens.
 *
 * @throws ConfigError for a direction other than `"forward"` / `"backward"`.
 * @throws TokenDataError when the file has no window of `seqLen` tokens, or ids outside the model's vocabulary.
 */
export function evaluate(model: BatGPTModel, file: TokenFile, seqLen: number, batchSize: number, windows: number, direction: Direction): number {
  if (direction !== "forward" && direction !== "backward") {
    throw new ConfigError(`evaluate: direction must be "forward" or "backward", got ${JSON.stringify(direction)}`);
  }
  checkVocab(model, file, "validation");
  let sum = 0;
  let n = 0;
  for (const batch of validationBatches(file, { seqLen, batchSize, maxWindows: windows })) {
    const loss = tf.tidy(() => model.directionLoss(batch.ids, batch.batch, batch.seqLen, direction).dataSync()[0]!);
    sum += loss * batch.batch;
    n += batch.batch;
  }
  if (n === 0) throw new TokenDataError(`the validation file ${file.path ?? "(in memory)"} has no window of ${seqLen} tokens (it holds ${file.length})`);
  return sum / n;
}

/** A token file whose vocabulary is larger than the model's can hold ids the model cannot embed. */
function checkVocab(model: BatGPTModel, file: TokenFile, role: string): void {
  if (file.vocabSize > model.config.vocab_size) {
    throw new TokenDataError(
      `the ${role} file ${file.path ?? "(in memory)"} was written for a vocabulary of ${file.vocabSize} ids but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
}

/** Train a model. See {@link TrainConfig} for the knobs. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, tokenizer, onStep, onEval } = options;
  const { train: trainFile, validation } = options;
  const knobs: Record<string, unknown> = { ...options };
  for (const k of ["model", "tokenizer", "train", "validation", "onStep", "onEval"]) delete knobs[k];
  const cfg = parseOptions(trainConfigSchema, knobs, "training options");
  const seqLen = cfg.seqLen ?? model.config.max_seq_len;
  if (seqLen > model.config.max_seq_len) throw new ConfigError(`invalid training options: seqLen ${seqLen} is longer than the model's max_seq_len ${model.config.max_seq_len}`);
  const warmupSteps = Math.min(cfg.warmupSteps ?? Math.min(100, Math.floor(cfg.steps / 10)), cfg.steps);
  const schedule = makeSchedule({ peak: cfg.lr, warmupSteps, totalSteps: cfg.steps, minRatio: cfg.minLrRatio });
  // data that cannot serve the whole run is refused before the first step, not after the last
  checkVocab(model, trainFile, "train");
  if (validation) {
    checkVocab(model, validation, "validation");
    if (validationWindowCount(validation, { seqLen, batchSize: cfg.batchSize, maxWindows: cfg.evalWindows }) === 0) {
      throw new TokenDataError(`the validation file ${validation.path ?? "(in memory)"} has no window of ${seqLen} tokens (it holds ${validation.length})`);
    }
  }
  const loader = new WindowLoader(trainFile, { seqLen, batchSize: cfg.batchSize, mode: cfg.dataMode, rng: new Rng(cfg.seed) });
  const vars = [...model.params.values()].filter((v) => v.trainable);
  if (vars.length === 0) throw new ConfigError("every parameter of the model is frozen: nothing to train");
  // the one locator every reader uses: <dir>, or the <dir>.old-… an interrupted save left
  const resumeDir = cfg.resume && cfg.checkpointDir ? await resolveCheckpointDir(cfg.checkpointDir) : undefined;
  if (resumeDir !== undefined && !existsSync(join(resumeDir, CHECKPOINT_FILES.state))) {
    // resuming would start from step 0 and save over a checkpoint that cannot be resumed: refuse
    throw new CheckpointError(
      `${join(resumeDir, CHECKPOINT_FILES.state)} is missing: ${resumeDir} holds a checkpoint without trainer state, so it cannot be resumed ` +
        "(to train from its weights, load it with loadCheckpoint and train into another checkpointDir)",
    );
  }
  // made last, so an error above leaks no optimizer moments
  const optimizer = new AdamW(model.params, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay });
  const directions = (model.config.loss_weight_forward > 0 ? 1 : 0) + (model.config.loss_weight_backward > 0 ? 1 : 0);

  let step = 0;
  if (resumeDir !== undefined) {
    let ckpt: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
    try {
      ckpt = await readCheckpoint(resumeDir);
      const file = (name: string) => join(resumeDir, name);
      const fail = (name: string, what: string, err: unknown) =>
        new CheckpointError(`${file(name)}: ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      // check and load everything before changing the model, so a failed resume leaves it as it was
      const state = (ckpt.state ?? {}) as Partial<TrainerState>;
      const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
      if (!isCount(state.step) || !isCount(state.optimizerSteps)) {
        throw new CheckpointError(`${file(CHECKPOINT_FILES.state)}: "step" and "optimizerSteps" must be integers >= 0 to resume, got ${JSON.stringify(state.step)} and ${JSON.stringify(state.optimizerSteps)}`);
      }
      if (!ckpt.optimizer) throw new CheckpointError(`${file(CHECKPOINT_FILES.optimizer)} is missing: cannot resume without the optimizer moments`);
      try {
        loader.restore(state.loader as LoaderState);
      } catch (err) {
        throw fail(CHECKPOINT_FILES.state, "the saved data position does not fit this run", err);
      }
      try {
        optimizer.loadState(ckpt.optimizer, state.optimizerSteps);
      } catch (err) {
        throw fail(CHECKPOINT_FILES.optimizer, "does not fit this model", err);
      }
      try {
        assignWeights(model.params, ckpt.weights);
      } catch (err) {
        throw fail(CHECKPOINT_FILES.model, "does not fit this model", err);
      }
      step = state.step;
    } catch (err) {
      optimizer.dispose();
      throw err;
    } finally {
      for (const t of ckpt?.weights.values() ?? []) t.dispose();
      for (const t of ckpt?.optimizer?.values() ?? []) t.dispose();
    }
  }

  const save = async (): Promise<void> => {
    if (!cfg.checkpointDir) return;
    const state: TrainerState = { step, loader: loader.state(), optimizerSteps: optimizer.stepCount, seed: cfg.seed };
    await saveCheckpoint(cfg.checkpointDir, {
      model,
      ...(tokenizer ? { tokenizer } : {}),
      optimizer: optimizer.state(),
      state: state as unknown as Record<string, unknown>,
    });
  };

  const log = (record: Record<string, unknown>): void => {
    if (!cfg.metricsPath) return;
    mkdirSync(dirname(cfg.metricsPath), { recursive: true });
    appendFileSync(cfg.metricsPath, `${JSON.stringify(record)}\n`);
  };

  const progress = await createProgress("train", { mode: cfg.progress, total: cfg.steps, start: step, unit: "steps" });

  const history: StepMetrics[] = [];
  const evals: EvalMetrics[] = [];
  const runEval = (): void => {
    if (!validation) return;
    const m: EvalMetrics = {
      step,
      valLossForward: evaluate(model, validation, seqLen, cfg.batchSize, cfg.evalWindows, "forward"),
      valLossBackward: evaluate(model, validation, seqLen, cfg.batchSize, cfg.evalWindows, "backward"),
    };
    evals.push(m);
    log({ type: "eval", ...m });
    onEval?.(m);
    progress.log({ type: "eval", ...m });
  };

  const accumulator = cfg.gradAccumulation > 1 ? new GradAccumulator() : undefined;
  const runStart = performance.now();
  let runTokens = 0;
  try {
    const end = Math.min(cfg.steps, cfg.stopAt ?? cfg.steps);
    while (step < end) {
      const t0 = performance.now();
      const lr = schedule(step);
      let lossSum = 0;
      let fwdSum = 0;
      let bwdSum = 0;
      let grads: GradMap | undefined;
      for (let micro = 0; micro < cfg.gradAccumulation; micro++) {
        const batch = loader.nextBatch();
        let parts: (tf.Scalar | undefined)[] = [];
        const { value, grads: named } = tf.variableGrads(() => {
          const r = model.loss(batch.ids, batch.batch, batch.seqLen);
          parts = [r.forward ? tf.keep(r.forward) : undefined, r.backward ? tf.keep(r.backward) : undefined];
          return r.loss;
        }, vars);
        const loss = (await value.data())[0]!;
        value.dispose();
        fwdSum += parts[0] ? (await parts[0].data())[0]! : 0;
        bwdSum += parts[1] ? (await parts[1].data())[0]! : 0;
        parts.forEach((p) => p?.dispose());
        const g = gradsByName(model.params, named);
        if (!Number.isFinite(loss)) {
          disposeGrads(g);
          throw new TrainingError(
            `the loss became ${loss} at step ${step + 1}; training stopped` +
              (cfg.checkpointDir ? ` and the last good checkpoint in ${cfg.checkpointDir} was left as it was` : "") +
              " (try a lower lr or a smaller clipNorm)",
          );
        }
        lossSum += loss;
        if (accumulator) accumulator.add(g);
        else grads = g;
      }
      if (accumulator) {
        grads = accumulator.mean();
        accumulator.reset();
      }
      let gradNorm: number;
      if (cfg.clipNorm > 0) {
        const clipped = clipGradNorm(grads!, cfg.clipNorm);
        grads = clipped.grads;
        gradNorm = clipped.norm;
      } else {
        gradNorm = globalNorm(grads!);
      }
      if (!Number.isFinite(gradNorm)) {
        // a finite loss can still overflow in the backward pass; one such step turns every weight to NaN
        disposeGrads(grads!);
        throw new TrainingError(
          `the gradient norm became ${gradNorm} at step ${step + 1} (loss ${(lossSum / cfg.gradAccumulation).toPrecision(4)}); training stopped` +
            (cfg.checkpointDir ? ` and the last good checkpoint in ${cfg.checkpointDir} was left as it was` : "") +
            " (try a lower lr or a smaller clipNorm)",
        );
      }
      optimizer.step(grads!, lr);
      disposeGrads(grads!);
      step++;
      const dt = (performance.now() - t0) / 1000;
      const tokens = cfg.batchSize * seqLen * cfg.gradAccumulation * directions;
      runTokens += tokens;
      const k = cfg.gradAccumulation;
      const m: StepMetrics = {
        step,
        loss: lossSum / k,
        ...(model.config.loss_weight_forward > 0 ? { lossForward: fwdSum / k } : {}),
        ...(model.config.loss_weight_backward > 0 ? { lossBackward: bwdSum / k } : {}),
        lr,
        gradNorm,
        tokens,
        tokensPerSec: tokens / dt,
        elapsedSec: (performance.now() - runStart) / 1000,
      };
      history.push(m);
      log({ type: "step", ...m });
      onStep?.(m);
      progress.update(
        step,
        cfg.steps,
        { loss: m.loss.toFixed(3), fwd: m.lossForward?.toFixed(3) ?? "-", bwd: m.lossBackward?.toFixed(3) ?? "-", "tok/s": Math.round(m.tokensPerSec) },
        { line: { type: "step", ...m, of: cfg.steps }, force: step === end },
      );
      if (cfg.evalEvery > 0 && step % cfg.evalEvery === 0) runEval();
      if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) await save();
    }
    if (validation && (cfg.evalEvery === 0 || step % cfg.evalEvery !== 0)) runEval();
    if (cfg.checkpointEvery === 0 || step % cfg.checkpointEvery !== 0) await save();
  } finally {
    progress.stop();
    accumulator?.dispose();
    optimizer.dispose();
  }
  const secs = (performance.now() - runStart) / 1000;
  return { step, history, evals, tokensPerSec: runTokens / secs };
}

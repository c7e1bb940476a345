/**
 * The shared trainer: the one training loop that every stage of the recipe reuses, as TRL's
 * trainers share `transformers.Trainer`. A stage brings three things:
 *
 * - an {@link Objective}: the loss of a batch (and named parts to log);
 * - a {@link DataSource}: the next batch, and a position that can be saved and restored, so a
 *   resumed run reads exactly the batches it would have read;
 * - optionally an `evaluate` function, run every `evalEvery` steps and at the end.
 *
 * The trainer owns everything else: AdamW, the warmup + cosine schedule, gradient accumulation,
 * global-norm clipping, the NaN guard (a non-finite loss or gradient norm stops the run before
 * the update, leaving the last checkpoint as it was), atomic checkpoints with the optimizer
 * moments and the data position, exact resume (through `resolveCheckpointDir`, so an interrupted
 * save is found), progress (a bar on a terminal, JSON lines otherwise) and the metrics log.
 *
 * Metric names follow the field: `loss`, `grad_norm` (before clipping), `learning_rate`,
 * `tokens_per_second`; an objective adds its own (`loss/forward`); evaluation adds `eval/…`.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { createProgress, pathExists, progressModeSchema } from "@batgpt/utils";
import { z } from "zod";
import { assignWeights, CHECKPOINT_FILES, CheckpointError, readCheckpoint, resolveCheckpointDir, saveCheckpoint } from "./checkpoint.js";
import type { BatGPTModel } from "./model.js";
import { AdamW, clipGradNorm, disposeGrads, globalNorm, OPTIMIZER_DEFAULTS } from "./optimizer.js";
import { ConfigError, parseOptions } from "./options.js";
import { ReplicaPool, resolveWorkers, shardGradients, workersSchema, type ReplicaSpec, type Shard } from "./replicas.js";
import { makeSchedule } from "./schedule.js";

/**
 * The knobs every stage shares (TRL's `TrainingArguments` habit: each documented where it is
 * declared, with its default there). A stage extends it with `trainerConfigSchema.extend({…})`.
 */
export const trainerConfigSchema = z
  .object({
    /** Optimizer steps to run (the total, counting steps done before a resume). */
    steps: z.number().int().positive(),
    /** Stop at this step (checkpointing there) while keeping the schedule of `steps`; resume later with `resume`. */
    stopAt: z.number().int().positive().optional(),
    /** Micro-batches whose gradients are averaged into one optimizer step. */
    gradAccumulation: z.number().int().positive().default(1),
    /** Peak learning rate (AdamW's, reached after warmup). */
    lr: z.number().positive().default(OPTIMIZER_DEFAULTS.lr),
    /** Linear warmup steps (default: a tenth of the steps, at most 100). */
    warmupSteps: z.number().int().nonnegative().optional(),
    /** The cosine ends at `lr · minLrRatio`. */
    minLrRatio: z.number().min(0).max(1).default(0.1),
    /** AdamW's decoupled weight decay (Loshchilov & Hutter 2019), on linear and embedding weights only. */
    weightDecay: z.number().min(0).default(OPTIMIZER_DEFAULTS.weightDecay),
    /** AdamW's decay of the first moment. */
    beta1: z.number().min(0).lt(1).default(OPTIMIZER_DEFAULTS.beta1),
    /** AdamW's decay of the second moment. */
    beta2: z.number().min(0).lt(1).default(OPTIMIZER_DEFAULTS.beta2),
    /** Clip the global gradient norm to this (0: no clipping; `grad_norm` is logged either way). */
    clipNorm: z.number().min(0).default(1),
    /** Evaluate every N steps (0: only at the end, when there is an `evaluate`). */
    evalEvery: z.number().int().nonnegative().default(0),
    /** Where checkpoints go (one directory, replaced atomically). */
    checkpointDir: z.string().optional(),
    /** Save every N steps (0: only at the end). */
    checkpointEvery: z.number().int().nonnegative().default(0),
    /**
     * Continue from `checkpointDir` (or, when a save was interrupted, the complete `<dir>.old-…`
     * it left; see `resolveCheckpointDir`). No checkpoint there: start at step 0. A checkpoint
     * without trainer state is refused rather than overwritten.
     */
    resume: z.boolean().default(false),
    /** Append one JSON line per step and per evaluation here. */
    metricsPath: z.string().optional(),
    /** Show progress: a bar on a terminal, JSON lines every few seconds otherwise (`"auto"`). */
    progress: progressModeSchema.default("auto"),
    /**
     * Data-parallel replicas, counting this thread: N − 1 worker threads each compute the
     * gradient of their share of every batch and apply the same update (replicas.ts). `"auto"`:
     * `BATGPT_WORKERS`, else the number of cores (1 on tfjs-node, which is multi-threaded
     * itself), and 1 when the objective cannot run in a worker (it has no `split` and
     * `replica`). 1 trains in this thread only.
     */
    workers: workersSchema.default("auto"),
  })
  .strict();

/** The shared knobs as a user passes them. */
export type TrainerConfig = z.input<typeof trainerConfigSchema>;

/** What the trainer hands {@link DataSource.next}: the model being trained and its replicas. */
export interface DataContext {
  /** The model being trained, with the weights of the steps so far. */
  model: BatGPTModel;
  /**
   * The run's replicas, holding the same weights: `replicas.generate(prompts, …)` samples on
   * every worker at once (it needs the trainer's `tokenizer`); PPO's rollouts use it.
   */
  replicas: ReplicaPool;
}

/** A batch source whose position is saved in checkpoints, so resume is exact. */
export interface DataSource<B> {
  /**
   * The next batch. It may be made from the model being trained (PPO samples its batches from
   * the policy), so it gets the model and its replicas, and may be async.
   */
  next(context: DataContext): B | Promise<B>;
  /**
   * True when the source has nothing more to train on: the run stops there (evaluating and
   * checkpointing as at its last step) even before `steps`. Asked before every step; without
   * it the run always takes `steps` steps.
   */
  done?(): boolean;
  /** The position, as plain JSON. */
  state(): unknown;
  /**
   * Go back to a position from {@link DataSource.state}.
   *
   * @throws when the state does not fit this source (the trainer reports it as a CheckpointError).
   */
  restore(state: unknown): void;
}

/** What an objective computes for one batch. */
export interface ObjectiveOutput {
  /** The scalar to minimise. */
  loss: tf.Scalar;
  /** Named scalars to log (e.g. `loss/forward`), averaged over accumulated micro-batches. */
  metrics?: Record<string, tf.Scalar>;
}

/** What a stage trains for. */
export interface Objective<B> {
  /**
   * The loss of `batch`. Called inside `tf.variableGrads`: build every tensor from the model's
   * parameters; the trainer disposes what it returns.
   */
  loss(model: BatGPTModel, batch: B): ObjectiveOutput;
  /** Tokens in a batch (for `tokens_per_second`). */
  tokens(batch: B): number;
  /**
   * Cut a batch into at most `parts` shards for data-parallel replicas, each with its weight in
   * the batch's loss, so that `loss(batch) = Σ wᵢ · loss(shardᵢ) / Σ wᵢ` (for a mean over
   * tokens, wᵢ is the shard's token count). Needed, with `replica`, to train on several workers.
   */
  split?(batch: B, parts: number): { batch: B; weight: number }[];
  /** How a worker thread builds this same objective (a module URL, an export, JSON options). */
  replica?: ReplicaSpec;
}

/** The objects a run trains with (the knobs are the separate {@link TrainerConfig}). */
export interface TrainerObjects<B> {
  model: BatGPTModel;
  data: DataSource<B>;
  objective: Objective<B>;
  /** Saved into checkpoints. */
  tokenizer?: Tokenizer;
  /** More text files for every checkpoint (e.g. SFT's `tokenizer_config.json`); see `CheckpointParts.files`. */
  checkpointFiles?: Record<string, string>;
  /**
   * Extra evaluation: named numbers (`eval/…`), run every `evalEvery` steps and at the end.
   * `replicas` holds the run's replicas with the current weights: `replicas.generate(prompts, …)`
   * samples on every worker at once (it needs `tokenizer`).
   */
  evaluate?: (model: BatGPTModel, context: { replicas: ReplicaPool }) => Record<string, number> | Promise<Record<string, number>>;
  callbacks?: {
    /** After every optimizer step. */
    onStep?: (m: StepRecord) => void;
    /** After every evaluation. */
    onEval?: (m: EvalRecord) => void;
  };
}

/** What one optimizer step measured (the objective's metrics join these keys). */
export interface StepRecord {
  step: number;
  /** Mean loss over the step's micro-batches. */
  loss: number;
  learning_rate: number;
  /** Global L2 norm of the gradient before clipping. */
  grad_norm: number;
  /** Tokens this step trained on (the objective counts them). */
  tokens: number;
  tokens_per_second: number;
  elapsed_seconds: number;
  [metric: string]: number;
}

/** One evaluation: the step and the numbers `evaluate` returned. */
export interface EvalRecord {
  step: number;
  [metric: string]: number;
}

/** What a run returns. */
export interface TrainerResult {
  /** The step the run ended at. */
  step: number;
  history: StepRecord[];
  evals: EvalRecord[];
  /** Mean tokens per second over the steps of this run. */
  tokensPerSecond: number;
  /** Data-parallel replicas the run used (1: this thread only). */
  workers: number;
}

/** Training stopped for a reason the user must see (a non-finite loss or gradient). */
export class TrainingError extends Error {
  override name = "TrainingError";
}

interface TrainerState {
  step: number;
  data: unknown;
  optimizerSteps: number;
}

/**
 * Run the shared training loop. See the module comment for what a stage brings and what the
 * trainer does.
 *
 * @throws ConfigError for bad knobs (also `resume` or `stopAt` without `checkpointDir`) or a model with nothing trainable.
 * @throws CheckpointError when `resume` finds a checkpoint that does not fit the run.
 * @throws TrainingError when the loss or the gradient norm stops being finite.
 */
export async function runTrainer<B>(objects: TrainerObjects<B>, config: TrainerConfig): Promise<TrainerResult> {
  const cfg = parseOptions(trainerConfigSchema, config, "trainer config");
  // without a directory, resume would quietly start at step 0 and stopAt would lose the run
  for (const knob of ["resume", "stopAt"] as const) {
    if (cfg[knob] && cfg.checkpointDir === undefined) throw new ConfigError(`invalid trainer config: ${knob} needs checkpointDir (where the run's checkpoint is)`);
  }
  const { model, data, objective, tokenizer, evaluate } = objects;
  const { onStep, onEval } = objects.callbacks ?? {};
  const warmupSteps = Math.min(cfg.warmupSteps ?? Math.min(100, Math.floor(cfg.steps / 10)), cfg.steps);
  const schedule = makeSchedule({ peak: cfg.lr, warmupSteps, totalSteps: cfg.steps, minRatio: cfg.minLrRatio });
  const trainable = [...model.params].filter(([, v]) => v.trainable).map(([name]) => name);
  const vars = trainable.map((name) => model.params.get(name)!);
  if (vars.length === 0) throw new ConfigError("every parameter of the model is frozen: nothing to train");
  const parallel = objective.split !== undefined && objective.replica !== undefined;
  if (!parallel && typeof cfg.workers === "number" && cfg.workers > 1) {
    const missing = (["split", "replica"] as const).filter((k) => objective[k] === undefined).join(" and ");
    throw new ConfigError(`workers: ${cfg.workers} needs an objective that can run in worker threads (with split and replica); this one has no ${missing} (see "The same objective on every core" in docs/guides/extending.md), or use workers: 1`);
  }
  const workers = parallel ? resolveWorkers(cfg.workers) : 1;
  const resumeDir = cfg.resume && cfg.checkpointDir ? await resolveCheckpointDir(cfg.checkpointDir) : undefined;
  if (resumeDir !== undefined && !(await pathExists(join(resumeDir, CHECKPOINT_FILES.state)))) {
    throw new CheckpointError(
      `${join(resumeDir, CHECKPOINT_FILES.state)} is missing: ${resumeDir} holds a checkpoint without trainer state, so it cannot be resumed ` +
        "(to train from its weights, load it with loadCheckpoint and train into another checkpointDir)",
    );
  }
  // made last, so an error above leaks no optimizer moments
  const optimizer = new AdamW(model.params, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay });

  let step = 0;
  if (resumeDir !== undefined) {
    try {
      step = await resume(resumeDir, model, optimizer, data);
    } catch (err) {
      optimizer.dispose();
      throw err;
    }
  }

  const save = async (): Promise<void> => {
    if (!cfg.checkpointDir) return;
    const state: TrainerState = { step, data: data.state(), optimizerSteps: optimizer.stepCount };
    await saveCheckpoint(cfg.checkpointDir, {
      model,
      ...(tokenizer ? { tokenizer } : {}),
      ...(objects.checkpointFiles ? { files: objects.checkpointFiles } : {}),
      optimizer: optimizer.state(),
      state: state as unknown as Record<string, unknown>,
    });
  };
  const log = (record: Record<string, unknown>): void => {
    if (!cfg.metricsPath) return;
    mkdirSync(dirname(cfg.metricsPath), { recursive: true });
    appendFileSync(cfg.metricsPath, `${JSON.stringify(record)}\n`);
  };
  let pool: ReplicaPool;
  try {
    pool = await ReplicaPool.start(
      model,
      { workers, ...(tokenizer ? { tokenizer } : {}) },
      workers > 1 ? { objective: objective.replica!, optimizer, trainable } : undefined,
    );
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  const progress = await createProgress(workers > 1 ? `train ×${workers}` : "train", { mode: cfg.progress, total: cfg.steps, start: step, unit: "steps" });
  const history: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const runEval = async (): Promise<void> => {
    if (!evaluate) return;
    const m: EvalRecord = { step, ...(await evaluate(model, { replicas: pool })) };
    evals.push(m);
    log({ type: "eval", ...m });
    onEval?.(m);
    progress.log({ type: "eval", ...m });
  };

  const runStart = performance.now();
  let runTokens = 0;
  const stopped = (what: string, detail = ""): TrainingError =>
    new TrainingError(
      `${what} at step ${step + 1}${detail}; training stopped` +
        (cfg.checkpointDir ? ` and the last good checkpoint in ${cfg.checkpointDir} was left as it was` : "") +
        " (try a lower lr or a smaller clipNorm)",
    );
  try {
    const end = Math.min(cfg.steps, cfg.stopAt ?? cfg.steps);
    while (step < end && !data.done?.()) {
      const t0 = performance.now();
      const lr = schedule(step);
      let tokens = 0;
      // each micro-batch (or, with workers, each shard of one) carries its share of the step's loss
      const shards: Shard<B>[][] = Array.from({ length: workers }, () => []);
      let dealt = 0;
      for (let micro = 0; micro < cfg.gradAccumulation; micro++) {
        const batch = await data.next({ model, replicas: pool });
        tokens += objective.tokens(batch);
        if (workers > 1) dealt = deal(objective.split!(batch, workers), shards, cfg.gradAccumulation, dealt);
        else shards[0]!.push({ batch, coef: 1 / cfg.gradAccumulation });
      }
      // Σ coef·∇loss over every shard of every replica: the mean gradient over the micro-batches
      const r = workers > 1 ? await pool.gradients(objective, shards) : await shardGradients(model, objective, vars, shards[0]!);
      let grads = r.grads;
      if (!Number.isFinite(r.loss)) {
        disposeGrads(grads);
        throw stopped(`the loss became ${r.loss}`);
      }
      let gradNorm: number;
      if (cfg.clipNorm > 0) {
        const clipped = clipGradNorm(grads, cfg.clipNorm);
        grads = clipped.grads;
        gradNorm = clipped.norm;
      } else {
        gradNorm = globalNorm(grads);
      }
      if (!Number.isFinite(gradNorm)) {
        // a finite loss can still overflow in the backward pass; one such step turns every weight to NaN
        disposeGrads(grads);
        throw stopped(`the gradient norm became ${gradNorm}`, ` (loss ${r.loss.toPrecision(4)})`);
      }
      try {
        if (workers > 1) await pool.step(grads, lr);
        else optimizer.step(grads, lr);
      } finally {
        disposeGrads(grads);
      }
      step++;
      const dt = (performance.now() - t0) / 1000;
      runTokens += tokens;
      const m: StepRecord = {
        step,
        loss: r.loss,
        ...r.metrics,
        learning_rate: lr,
        grad_norm: gradNorm,
        tokens,
        tokens_per_second: tokens / dt,
        elapsed_seconds: (performance.now() - runStart) / 1000,
      };
      history.push(m);
      log({ type: "step", ...m });
      onStep?.(m);
      const shown: Record<string, string | number> = { loss: m.loss.toFixed(3) };
      for (const name of Object.keys(r.metrics)) shown[name] = m[name]!.toFixed(3);
      shown["tok/s"] = Math.round(m.tokens_per_second);
      progress.update(step, cfg.steps, shown, { line: { type: "step", ...m, of: cfg.steps }, force: step === end });
      if (cfg.evalEvery > 0 && step % cfg.evalEvery === 0) await runEval();
      if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) await save();
    }
    if (evaluate && (cfg.evalEvery === 0 || step % cfg.evalEvery !== 0)) await runEval();
    if (cfg.checkpointEvery === 0 || step % cfg.checkpointEvery !== 0) await save();
  } finally {
    progress.stop();
    await pool.close();
    optimizer.dispose();
  }
  const secs = (performance.now() - runStart) / 1000;
  return { step, history, evals, tokensPerSecond: runTokens / secs, workers };
}

/**
 * Deal a micro-batch's shards to the replicas in turn, going on from where the step's previous
 * micro-batch stopped (so small micro-batches still reach every replica), each with its share
 * `wⱼ / (W · gradAccumulation)` of the step's loss. Shards of weight 0 carry nothing and are
 * skipped. Returns the number of shards dealt so far in the step.
 *
 * @throws TrainingError when the shards' weights do not sum to a finite number > 0.
 */
function deal<B>(parts: { batch: B; weight: number }[], shards: Shard<B>[][], gradAccumulation: number, dealt: number): number {
  const total = parts.reduce((s, p) => s + p.weight, 0);
  if (!(total > 0) || !Number.isFinite(total) || parts.some((p) => !(p.weight >= 0))) {
    throw new TrainingError(`the objective's split gave shard weights [${parts.map((p) => p.weight).join(", ")}]: each must be >= 0 and their sum finite and > 0`);
  }
  for (const p of parts) {
    if (p.weight > 0) shards[dealt++ % shards.length]!.push({ batch: p.batch, coef: p.weight / (total * gradAccumulation) });
  }
  return dealt;
}

/**
 * Load weights, optimizer moments and the data position from `dir`; everything is checked
 * before the model changes, so a failed resume leaves it as it was. Returns the step.
 */
async function resume<B>(dir: string, model: BatGPTModel, optimizer: AdamW, data: DataSource<B>): Promise<number> {
  let ckpt: Awaited<ReturnType<typeof readCheckpoint>> | undefined;
  try {
    ckpt = await readCheckpoint(dir);
    const file = (name: string) => join(dir, name);
    const fail = (name: string, what: string, err: unknown) =>
      new CheckpointError(`${file(name)}: ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    const state = (ckpt.state ?? {}) as Partial<TrainerState>;
    const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!isCount(state.step) || !isCount(state.optimizerSteps)) {
      throw new CheckpointError(
        `${file(CHECKPOINT_FILES.state)}: "step" and "optimizerSteps" must be integers >= 0 to resume, got ${JSON.stringify(state.step)} and ${JSON.stringify(state.optimizerSteps)}`,
      );
    }
    if (!ckpt.optimizer) throw new CheckpointError(`${file(CHECKPOINT_FILES.optimizer)} is missing: cannot resume without the optimizer moments`);
    try {
      data.restore(state.data);
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
    return state.step;
  } finally {
    for (const t of ckpt?.weights.values() ?? []) t.dispose();
    for (const t of ckpt?.optimizer?.values() ?? []) t.dispose();
  }
}

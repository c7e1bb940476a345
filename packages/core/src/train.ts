/**
 * Pretraining (BatGPT §2, bidirectional autoregressive): the weighted two-way language-modelling
 * loss of bidirectional.ts on windows of a token file, run by the shared trainer (trainer.ts),
 * with validation in both directions. It is the first use of the trainer: later stages bring
 * their own objective and data source the same way.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { z } from "zod";
import type { Direction, DirectionWeights } from "./bidirectional.js";
import { TokenDataError, WindowLoader, splitTokenBatch, validationBatches, validationWindowCount, type LoaderState, type TokenBatch, type TokenFile } from "./data.js";
import type { BatGPTModel } from "./model.js";
import { ConfigError, parseOptions } from "./options.js";
import type { ReplicaPool } from "./replicas.js";
import { Rng } from "./rng.js";
import { runTrainer, trainerConfigSchema, type EvalRecord, type Objective, type StepRecord, type TrainerObjects, type TrainerResult } from "./trainer.js";

export { TrainingError } from "./trainer.js";

/** Pretraining knobs: the shared trainer's plus the data and the two-way loss weights. */
export const trainConfigSchema = trainerConfigSchema
  .extend({
    /** Sequences per micro-batch. */
    batchSize: z.number().int().positive().default(8),
    /** Tokens per sequence (default: the model's max_seq_len). */
    seqLen: z.number().int().min(2).optional(),
    /** Validation windows per evaluation (in each direction). */
    evalWindows: z.number().int().positive().default(32),
    /** Seed of the data order (which windows, in which order). */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
    /** Random windows, or epochs over a shuffled set of non-overlapping windows. */
    dataMode: z.enum(["random", "epoch"]).default("random"),
    /** Weight of the forward (next-token) cross-entropy in the loss. */
    lossWeightForward: z.number().nonnegative().default(1),
    /** Weight of the backward (previous-token) cross-entropy; 0 trains an ordinary causal LM (half the work). */
    lossWeightBackward: z.number().nonnegative().default(1),
  })
  .strict()
  .refine((c) => c.lossWeightForward + c.lossWeightBackward > 0, { path: ["lossWeightForward"], message: "at least one direction must have a positive loss weight" });

/** Pretraining knobs as a user passes them. */
export type TrainConfig = z.input<typeof trainConfigSchema>;

/** The objects pretraining works with (the knobs are {@link TrainConfig}). */
export interface TrainObjects {
  model: BatGPTModel;
  /** The training tokens. */
  data: TokenFile;
  /** Held-out tokens, scored in both directions at each evaluation. */
  validation?: TokenFile;
  /** Saved into checkpoints. */
  tokenizer?: Tokenizer;
  /**
   * More numbers for each evaluation (e.g. `eval/form_rate` from samples), merged with the
   * validation losses; `replicas.generate` samples on every worker (see the shared trainer).
   */
  evaluate?: TrainerObjects<TokenBatch>["evaluate"];
  callbacks?: {
    onStep?: (m: StepRecord) => void;
    onEval?: (m: EvalRecord) => void;
  };
}

/**
 * The bidirectional language-modelling objective: `loss = w_fwd · CE_forward + w_bwd · CE_backward`
 * (nats per token), logging `loss/forward` and `loss/backward`. `tokens` counts tokens, not
 * tokens × directions.
 */
export function languageModelingObjective(weights: DirectionWeights): Objective<TokenBatch> {
  return {
    // each shard's loss is a mean over its tokens, so its weight is its token count
    split: (batch, parts) => splitTokenBatch(batch, parts).map((b) => ({ batch: b, weight: b.batch * b.seqLen })),
    replica: { module: import.meta.url, export: "languageModelingObjective", options: { forward: weights.forward, backward: weights.backward } },
    loss(model, batch) {
      const r = model.loss(batch, weights);
      const metrics: Record<string, tf.Scalar> = {};
      if (r.forward) metrics["loss/forward"] = r.forward;
      if (r.backward) metrics["loss/backward"] = r.backward;
      return { loss: r.loss, metrics };
    },
    tokens: (batch) => batch.batch * batch.seqLen,
  };
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
  checkValidation(model, file, seqLen, batchSize, windows);
  let sum = 0;
  let n = 0;
  for (const batch of validationBatches(file, { seqLen, batchSize, maxWindows: windows })) {
    const loss = tf.tidy(() => model.directionLoss(batch, direction).dataSync()[0]!);
    sum += loss * batch.batch;
    n += batch.batch;
  }
  return sum / n;
}

/** A validation file must fit the model's vocabulary and hold at least one window of `seqLen` tokens. */
function checkValidation(model: BatGPTModel, file: TokenFile, seqLen: number, batchSize: number, windows: number): void {
  checkVocab(model, file, "validation");
  if (validationWindowCount(file, { seqLen, batchSize, maxWindows: windows }) === 0) {
    throw new TokenDataError(`the validation file ${file.path ?? "(in memory)"} has no window of ${seqLen} tokens (it holds ${file.length})`);
  }
}

/** A token file whose vocabulary is larger than the model's can hold ids the model cannot embed. */
function checkVocab(model: BatGPTModel, file: TokenFile, role: string): void {
  if (file.vocabSize > model.config.vocab_size) {
    throw new TokenDataError(
      `the ${role} file ${file.path ?? "(in memory)"} was written for a vocabulary of ${file.vocabSize} ids but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
}

/**
 * Pretrain a model: `train({ model, data, validation, tokenizer, evaluate, callbacks }, config)`.
 * Each step logs `loss`, `loss/forward`, `loss/backward`, `grad_norm`, `learning_rate`,
 * `tokens_per_second`; each evaluation `eval/loss_forward` and `eval/loss_backward` (with a
 * validation file) and whatever `evaluate` returns. With `workers` > 1 (the default on a machine
 * with several cores) the steps run data-parallel over worker threads (replicas.ts).
 *
 * @throws ConfigError for bad knobs; TokenDataError for data that cannot serve the run (checked
 *   before the first step); CheckpointError for a resume that does not fit; TrainingError when
 *   the loss or the gradient norm stops being finite.
 */
export async function train(objects: TrainObjects, config: TrainConfig): Promise<TrainerResult> {
  if (config === undefined || typeof objects !== "object" || objects === null || !("data" in objects)) {
    throw new ConfigError("train takes the objects and the knobs apart: train({ model, data, validation, tokenizer, callbacks }, { steps, batchSize, … })");
  }
  const cfg = parseOptions(trainConfigSchema, config, "training options");
  const { model, data: file, validation, tokenizer, callbacks, evaluate: extra } = objects;
  const seqLen = cfg.seqLen ?? model.config.max_seq_len;
  if (seqLen > model.config.max_seq_len) throw new ConfigError(`invalid training options: seqLen ${seqLen} is longer than the model's max_seq_len ${model.config.max_seq_len}`);
  // data that cannot serve the whole run is refused before the first step, not after the last
  checkVocab(model, file, "train");
  if (validation) checkValidation(model, validation, seqLen, cfg.batchSize, cfg.evalWindows);
  const loader = new WindowLoader(file, { seqLen, batchSize: cfg.batchSize, mode: cfg.dataMode, rng: new Rng(cfg.seed) });
  const { batchSize, evalWindows, seed: _seed, dataMode: _mode, seqLen: _seqLen, lossWeightForward, lossWeightBackward, ...trainerConfig } = cfg;
  return runTrainer(
    {
      model,
      data: { next: () => loader.nextBatch(), state: () => loader.state(), restore: (s) => loader.restore(s as LoaderState) },
      objective: languageModelingObjective({ forward: lossWeightForward, backward: lossWeightBackward }),
      ...(tokenizer ? { tokenizer } : {}),
      ...(validation || extra
        ? {
            evaluate: async (m: BatGPTModel, context: { replicas: ReplicaPool }) => ({
              ...(validation
                ? {
                    "eval/loss_forward": evaluate(m, validation, seqLen, batchSize, evalWindows, "forward"),
                    "eval/loss_backward": evaluate(m, validation, seqLen, batchSize, evalWindows, "backward"),
                  }
                : {}),
              ...(extra ? await extra(m, context) : {}),
            }),
          }
        : {}),
      ...(callbacks ? { callbacks } : {}),
    },
    trainerConfig,
  );
}

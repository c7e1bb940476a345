/**
 * Supervised fine-tuning on core's shared trainer: {@link sftObjective} on batches of formatted
 * samples, with the answer loss on a held-out split at each evaluation (`eval/loss`, nats per
 * answer token, TRL's name), worker replicas, checkpoints and exact resume as in pretraining.
 * Checkpoints also hold `tokenizer_config.json` with the chat template (Hugging Face layout).
 */
import * as tf from "@tensorflow/tfjs-core";
import { runTrainer, trainerConfigSchema, type BatGPTModel, type Direction, type EvalRecord, type StepRecord, type TrainerObjects, type TrainerResult } from "@batgpt/core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { formatIssues } from "@batgpt/utils";
import { z } from "zod";
import type { FormattedSample } from "./format.js";
import { answerLoss, answerTokens, padBatch, SftDataSource, sftObjective, type SftBatch } from "./objective.js";
import { SftDataError } from "./read.js";
import { tokenizerConfigJson } from "./template.js";

/** SFT knobs: the shared trainer's plus the batches and the reading direction. */
export const sftConfigSchema = trainerConfigSchema
  .extend({
    /** Samples a batch. */
    batchSize: z.number().int().positive().default(8),
    /** Seed of the sample order. */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
    /** Tokens a row: padded rows' length (default: each batch's longest sample); packed rows' length (required with `packing`). */
    seqLen: z.number().int().min(2).optional(),
    /** Pack several whole samples into each row, each read on its own (TRL's `packing`); `batchSize` then counts rows. */
    packing: z.boolean().default(false),
    /**
     * The direction samples are read in when they do not say (`FormattedSample.direction`;
     * `"backward"` trains the model to write what precedes). Backward samples mixed with forward
     * ones are read backward, in batches of their own, interleaved.
     */
    direction: z.enum(["forward", "backward"]).default("forward"),
  })
  .strict();

/** SFT knobs as a user passes them. */
export type SftConfig = z.input<typeof sftConfigSchema>;

/** The objects SFT works with (the knobs are {@link SftConfig}). */
export interface SftObjects {
  model: BatGPTModel;
  /** Formatted training samples (`formatConversation`). */
  train: readonly FormattedSample[];
  /** Held-out samples: their answer loss is `eval/loss` at each evaluation. */
  validation?: readonly FormattedSample[];
  /** Saved into checkpoints; its `<|pad|>` pads the rows. */
  tokenizer: Tokenizer;
  /**
   * The chat template the samples were formatted with (a name of `CHAT_TEMPLATES` or a Jinja
   * string; default `"batgpt"`): checkpoints carry it in `tokenizer_config.json`.
   */
  chatTemplate?: string;
  /** More numbers for each evaluation (e.g. form rate from samples), merged with `eval/loss`. */
  evaluate?: TrainerObjects<SftBatch>["evaluate"];
  callbacks?: { onStep?: (m: StepRecord) => void; onEval?: (m: EvalRecord) => void };
}

/**
 * The answer loss of `samples` (nats per answer token), in batches of `batchSize`: the sum of
 * every answer token's negative log-likelihood over the number of answer tokens. Each sample is
 * read in its own direction (`FormattedSample.direction`), else in `direction`.
 *
 * @throws {SftDataError} when the samples hold no answer token.
 */
export function evaluateAnswerLoss(model: BatGPTModel, samples: readonly FormattedSample[], padId: number, batchSize = 8, direction: Direction = "forward"): number {
  let sum = 0;
  let n = 0;
  for (const d of ["forward", "backward"] as const) {
    const group = samples.filter((s) => (s.direction ?? direction) === d);
    for (let i = 0; i < group.length; i += batchSize) {
      const batch = padBatch(group.slice(i, i + batchSize), padId);
      const k = answerTokens(batch);
      if (k === 0) continue;
      sum += tf.tidy(() => answerLoss(model, batch, d).dataSync()[0]!) * k;
      n += k;
    }
  }
  if (n === 0) throw new SftDataError("evaluateAnswerLoss: the samples hold no answer token");
  return sum / n;
}

/**
 * Fine-tune `model` on formatted samples. Each step logs `loss` (answer loss, nats per answer
 * token), `grad_norm`, `learning_rate`, `tokens_per_second`; each evaluation `eval/loss` on
 * `validation` and whatever `evaluate` returns.
 *
 * @throws {SftDataError} for no training samples, a tokenizer without `<|pad|>`, `packing`
 *   without `seqLen`, a `seqLen` or a sample longer than the model's `max_seq_len`; and what
 *   core's `runTrainer` throws (ConfigError, CheckpointError, TrainingError).
 */
export async function trainSft(objects: SftObjects, config: SftConfig): Promise<TrainerResult> {
  const parsed = sftConfigSchema.safeParse(config);
  if (!parsed.success) throw new SftDataError(formatIssues("SFT config", parsed.error), { cause: parsed.error });
  const { batchSize, seed, seqLen, direction, packing, ...trainerConfig } = parsed.data;
  if (packing && seqLen === undefined) throw new SftDataError("SFT config: packing needs seqLen, the length of a packed row");
  const { model, train, validation, tokenizer, evaluate, callbacks, chatTemplate = "batgpt" } = objects;
  if (train.length === 0) throw new SftDataError("trainSft: no training samples");
  if (!tokenizer.specialTokens.has("<|pad|>")) throw new SftDataError("trainSft: the tokenizer has no <|pad|> token to pad rows with");
  const padId = tokenizer.specialTokenId("<|pad|>");
  // a sample longer than the model's context would fail at the first step that meets it
  const maxLen = model.config.max_seq_len;
  if (seqLen !== undefined && seqLen > maxLen) throw new SftDataError(`SFT config: seqLen ${seqLen} is longer than the model's max_seq_len ${maxLen}`);
  for (const [name, set] of [["training", train], ["validation", validation ?? []]] as const) {
    const i = set.findIndex((s) => s.ids.length > maxLen);
    if (i >= 0) throw new SftDataError(`trainSft: ${name} sample ${i} has ${set[i]!.ids.length} tokens, more than the model's max_seq_len ${maxLen} (format it with maxLength)`);
  }
  return runTrainer(
    {
      model,
      tokenizer,
      checkpointFiles: { "tokenizer_config.json": `${JSON.stringify(tokenizerConfigJson(chatTemplate, model.config.max_seq_len), null, 2)}\n` },
      data: new SftDataSource(train, { batchSize, padId, seed, packing, ...(seqLen !== undefined ? { seqLen } : {}) }),
      objective: sftObjective({ direction }),
      ...(validation || evaluate
        ? {
            evaluate: async (m, context) => ({
              ...(validation && validation.length > 0 ? { "eval/loss": evaluateAnswerLoss(m, validation, padId, batchSize, direction) } : {}),
              ...(evaluate ? await evaluate(m, context) : {}),
            }),
          }
        : {}),
      ...(callbacks ? { callbacks } : {}),
    },
    trainerConfig,
  );
}

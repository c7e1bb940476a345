/**
 * Training the reward model on core's shared trainer, evaluating it on held-out pairs, scoring
 * responses, and the saved reward model: a core checkpoint with the `score` head, Hugging Face's
 * `tokenizer_config.json` (the chat template it reads responses in) and `reward_config.json`
 * (the head, and the reward's mean and standard deviation over the training responses, which PPO
 * uses to normalise).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { loadCheckpoint, resolveCheckpointDir, runTrainer, trainerConfigSchema, type BatGPTModel, type EvalRecord, type StepRecord, type TrainerObjects, type TrainerResult } from "@batgpt/core";
import { templateSource, tokenizerConfigJson, type Tokenizer } from "@batgpt/tokenizer";
import { formatIssues, writeFileAtomic } from "@batgpt/utils";
import { z } from "zod";
import { batchLoss, encodePairs, encodeResponse, padRows, PairDataSource, REWARD_HEAD, rewardBatch, rewardObjective, rowRewards, type EncodedPair, type PreferenceExample, type RewardBatch } from "./model.js";
import { conversationSchema, RewardDataError, type Message } from "./records.js";

/** Reward-model knobs: the shared trainer's, plus the batches and TRL's loss options. */
export const rewardConfigSchema = trainerConfigSchema
  .extend({
    /** Pairs a batch (each pair is two rows). */
    batchSize: z.number().int().positive().default(8),
    /** Seed of the pair order and of a new head's weights. */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
    /** Most tokens of a rendered response (default: the model's `max_seq_len`); longer pairs are left out, as TRL's `max_length` does. Rows are padded to each batch's longest response. */
    maxLength: z.number().int().min(2).optional(),
    /** TRL's `center_rewards_coefficient`: adds λ·mean((r_c + r_r)²) (0: off, TRL's default). */
    centerRewardsCoefficient: z.number().min(0).default(0),
    /** Chat template responses are rendered with (a name or Jinja; default `"batgpt"`, as SFT). */
    template: z.string().default("batgpt"),
  })
  .strict();

/** Reward-model knobs as a user passes them. */
export type RewardConfig = z.input<typeof rewardConfigSchema>;

/** The objects a reward run works with (the knobs are {@link RewardConfig}). */
export interface RewardObjects {
  /** The trunk to train, usually loaded from an SFT checkpoint; a `score` head is added when it has none. */
  model: BatGPTModel;
  tokenizer: Tokenizer;
  /** Training pairs in any of TRL's four preference shapes (`toPreferencePairs` gives them). */
  train: readonly PreferenceExample[];
  /** Held-out pairs: `eval/loss` and `eval/rewards/*` at each evaluation. */
  validation?: readonly PreferenceExample[];
  /** More numbers for each evaluation. */
  evaluate?: TrainerObjects<RewardBatch>["evaluate"];
  callbacks?: { onStep?: (m: StepRecord) => void; onEval?: (m: EvalRecord) => void };
}

/** The reward's statistics over a set of responses (arbitrary units of the head). */
export interface RewardStats {
  mean: number;
  std: number;
  /** Responses scored. */
  count: number;
}

/** What {@link trainRewardModel} returns: the trainer's result and what it measured after. */
export interface RewardTrainResult extends TrainerResult {
  /** Mean and standard deviation of the reward over every training response (chosen and rejected). */
  stats: RewardStats;
  /** Training and validation pairs left out for being longer than `maxLength` / `max_seq_len`. */
  tooLong: { train: number; validation: number };
}

/** Held-out metrics of {@link evaluatePairs}, with TRL's names. */
export interface PairMetrics {
  /** Mean pairwise loss (nats). */
  loss: number;
  "rewards/accuracy": number;
  "rewards/margin": number;
  "rewards/chosen": number;
  "rewards/rejected": number;
}

/** `reward_config.json`: how to read and normalise a saved reward model. */
export interface RewardModelConfig {
  head: string;
  reward_mean: number;
  reward_std: number;
  /** Responses the statistics were measured on. */
  reward_count: number;
}

/**
 * The pairwise loss and TRL's reward metrics over `pairs`, in batches of `batchSize` pairs,
 * weighted by pairs (so they are means over every pair).
 *
 * @throws {RewardDataError} for no pairs.
 */
export function evaluatePairs(model: BatGPTModel, pairs: readonly EncodedPair[], padId: number, batchSize = 8, head = REWARD_HEAD): PairMetrics {
  if (pairs.length === 0) throw new RewardDataError("evaluatePairs: no pairs");
  const sums = { loss: 0, "rewards/accuracy": 0, "rewards/margin": 0, "rewards/chosen": 0, "rewards/rejected": 0 };
  for (let i = 0; i < pairs.length; i += batchSize) {
    const batch = rewardBatch(pairs.slice(i, i + batchSize), padId);
    const out = tf.tidy(() => {
      const { loss, metrics } = batchLoss(model, batch, { head });
      return Object.fromEntries(Object.entries({ loss, ...metrics }).map(([k, t]) => [k, t.dataSync()[0]!]));
    });
    for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += out[k]! * batch.pairs;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / pairs.length])) as unknown as PairMetrics;
}

/** Rewards of encoded responses (each a row of ids as {@link encodeResponse} gives it), in batches. */
function rewardsOf(model: BatGPTModel, rows: readonly number[][], padId: number, batchSize: number, head: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    const r = rowRewards(model, padRows(rows.slice(i, i + batchSize), padId), head);
    out.push(...r.dataSync());
    r.dispose();
  }
  return out;
}

/** Mean and (population) standard deviation of the rewards of the responses of `pairs`. */
export function rewardStats(model: BatGPTModel, pairs: readonly EncodedPair[], padId: number, batchSize = 16, head = REWARD_HEAD): RewardStats {
  const r = rewardsOf(model, pairs.flatMap((p) => [p.chosen, p.rejected]), padId, batchSize, head);
  if (r.length === 0) throw new RewardDataError("rewardStats: no pairs");
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
  return { mean, std, count: r.length };
}

function padIdOf(tok: Tokenizer): number {
  if (!tok.specialTokens.has("<|pad|>")) throw new RewardDataError("the tokenizer has no <|pad|> token to pad rows with");
  return tok.specialTokenId("<|pad|>");
}

/**
 * Train a reward model on preference pairs. Each step logs `loss` (the pairwise loss, nats),
 * `rewards/chosen`, `rewards/rejected`, `rewards/margin`, `rewards/accuracy` (TRL's names) and
 * the shared trainer's `grad_norm`, `learning_rate`, `tokens_per_second`; each evaluation
 * `eval/loss` and `eval/rewards/*` on `validation`. A model without a `score` head gets one (a
 * bias-free scalar, as Hugging Face's). After training, the reward's mean and standard deviation
 * over the training responses are measured and, with `checkpointDir`, written to the checkpoint's
 * `reward_config.json`.
 *
 * @throws {RewardDataError} for a bad config, no training pairs (also when every pair is too
 *   long), a tokenizer without `<|pad|>`, or a bad pair; and what core's `runTrainer` throws.
 */
export async function trainRewardModel(objects: RewardObjects, config: RewardConfig): Promise<RewardTrainResult> {
  const parsed = rewardConfigSchema.safeParse(config);
  if (!parsed.success) throw new RewardDataError(formatIssues("reward config", parsed.error), { cause: parsed.error });
  const { batchSize, seed, maxLength, centerRewardsCoefficient, template, ...trainerConfig } = parsed.data;
  const { model, tokenizer: tok, evaluate, callbacks } = objects;
  const padId = padIdOf(tok);
  templateSource(template);
  const enc = (set: readonly PreferenceExample[]) => encodePairs(model, tok, set, { template, ...(maxLength !== undefined ? { maxLength } : {}) });
  const train = enc(objects.train);
  const validation = objects.validation && objects.validation.length > 0 ? enc(objects.validation) : undefined;
  if (train.pairs.length === 0) {
    throw new RewardDataError(objects.train.length === 0 ? "trainRewardModel: no training pairs" : `trainRewardModel: every one of the ${objects.train.length} training pairs is longer than ${maxLength ?? model.config.max_seq_len} tokens`);
  }
  if (!(REWARD_HEAD in model.config.heads)) model.addHead(REWARD_HEAD, { outputs: 1, bias: false }, { seed });
  const result = await runTrainer(
    {
      model,
      tokenizer: tok,
      checkpointFiles: { "tokenizer_config.json": `${JSON.stringify(tokenizerConfigJson(template, model.config.max_seq_len), null, 2)}\n` },
      data: new PairDataSource(train.pairs, { batchSize, padId, seed }),
      objective: rewardObjective({ centerRewardsCoefficient }),
      ...(validation || evaluate
        ? {
            evaluate: async (m, context) => ({
              ...(validation && validation.pairs.length > 0 ? evalRecord(evaluatePairs(m, validation.pairs, padId, batchSize)) : {}),
              ...(evaluate ? await evaluate(m, context) : {}),
            }),
          }
        : {}),
      ...(callbacks ? { callbacks } : {}),
    },
    trainerConfig,
  );
  const stats = rewardStats(model, train.pairs, padId);
  if (trainerConfig.checkpointDir !== undefined) {
    const dir = (await resolveCheckpointDir(trainerConfig.checkpointDir)) ?? trainerConfig.checkpointDir;
    const file: RewardModelConfig = { head: REWARD_HEAD, reward_mean: stats.mean, reward_std: stats.std, reward_count: stats.count };
    await writeFileAtomic(join(dir, "reward_config.json"), `${JSON.stringify(file, null, 2)}\n`);
  }
  return { ...result, stats, tooLong: { train: train.tooLong.length, validation: validation?.tooLong.length ?? 0 } };
}

/** `eval/loss` and `eval/rewards/*`. */
function evalRecord(m: PairMetrics): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [`eval/${k}`, v]));
}

/** Options of {@link score}. */
export interface ScoreOptions {
  /** Chat template (default `"batgpt"`; a loaded reward model's own is in `RewardModel.chatTemplate`). */
  template?: string;
  /** Responses a forward pass. Default 16. */
  batchSize?: number;
  /** Subtract this mean and divide by this standard deviation (a saved model's `stats`). */
  normalize?: Pick<RewardStats, "mean" | "std">;
}

/**
 * The reward of each `responses[i]` to `prompts[i]` (a user's text or a conversation ending with
 * the user's message), batched; normalised with `options.normalize` when given.
 *
 * @throws {RewardDataError} for arrays of different lengths, a response longer than the model's
 *   context, a tokenizer without `<|pad|>`, or a message with a special token's text.
 */
export function score(model: BatGPTModel, tok: Tokenizer, prompts: readonly (string | readonly Message[])[], responses: readonly string[], options: ScoreOptions = {}): number[] {
  if (!Array.isArray(prompts) || !Array.isArray(responses)) throw new RewardDataError("score: prompts and responses must be arrays (one prompt a response)");
  if (prompts.length !== responses.length) throw new RewardDataError(`score: ${prompts.length} prompts but ${responses.length} responses`);
  for (const [i, p] of prompts.entries()) {
    const ok = typeof p === "string" ? true : conversationSchema.safeParse(p);
    if (ok !== true && !ok.success) throw new RewardDataError(`score: ${formatIssues(`prompts[${i}]`, ok.error)}`);
  }
  const template = options.template ?? "batgpt";
  const rows = responses.map((r, i) => {
    const ids = encodeResponse(model, tok, prompts[i]!, r, { template });
    if (ids.length > model.config.max_seq_len) throw new RewardDataError(`score: response ${i} is ${ids.length} tokens with its prompt, longer than the model's max_seq_len ${model.config.max_seq_len}`);
    return ids;
  });
  const r = rewardsOf(model, rows, padIdOf(tok), options.batchSize ?? 16, REWARD_HEAD);
  const n = options.normalize;
  return n ? r.map((x) => (x - n.mean) / (n.std > 0 ? n.std : 1)) : r;
}

/** A saved reward model, ready to {@link score} with. */
export interface RewardModel {
  model: BatGPTModel;
  tokenizer: Tokenizer;
  /** The Jinja source of the chat template it reads responses in (`tokenizer_config.json`). */
  chatTemplate: string;
  /** The reward over its training responses (`reward_config.json`). */
  stats: RewardStats;
}

/**
 * Load a reward model written by {@link trainRewardModel} (`checkpointDir`).
 *
 * @throws CheckpointError (core) for a checkpoint that does not read; {@link RewardDataError} when
 *   it has no `score` head, no tokenizer, or no `reward_config.json` / `tokenizer_config.json`.
 */
export async function loadRewardModel(dir: string): Promise<RewardModel> {
  const { model, tokenizer } = await loadCheckpoint(dir);
  const fail = (why: string) => {
    model.dispose();
    return new RewardDataError(`${dir}: ${why}`);
  };
  if (!tokenizer) throw fail("no tokenizer.json");
  if (!(REWARD_HEAD in model.config.heads)) throw fail(`the model has no ${REWARD_HEAD} head: not a reward model`);
  const found = (await resolveCheckpointDir(dir)) ?? dir;
  const json = async (name: string) => {
    try {
      return JSON.parse(await readFile(join(found, name), "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw fail(`cannot read ${name}: ${(err as Error).message}`);
    }
  };
  const rc = await json("reward_config.json");
  const tc = await json("tokenizer_config.json");
  const mean = rc.reward_mean, std = rc.reward_std, count = rc.reward_count;
  if (typeof mean !== "number" || typeof std !== "number" || typeof count !== "number") throw fail("reward_config.json lacks reward_mean, reward_std or reward_count");
  if (typeof tc.chat_template !== "string") throw fail("tokenizer_config.json has no chat_template");
  return { model, tokenizer, chatTemplate: tc.chat_template, stats: { mean, std, count } };
}

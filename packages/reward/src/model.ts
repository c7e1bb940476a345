/**
 * The reward model: the trunk plus a scalar head (`score`, Hugging Face's name for the head of a
 * sequence-classification reward model), read at the last token of prompt + response, and its
 * pairwise loss (InstructGPT, Ouyang et al. 2022, eq. 1; BatGPT §3.3):
 *
 *     loss = −log σ(r_chosen − r_rejected − margin) + λ · (r_chosen + r_rejected)²
 *
 * with TRL's optional `margin` column (Llama 2 §3.2.2) and TRL's reward-centring term
 * (`center_rewards_coefficient` λ, Eisenstein et al. 2023), both as `RewardTrainer` computes them.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng, type BatGPTModel, type DataSource, type Objective, type RngState, type TokenBatch } from "@batgpt/core";
import { linear } from "@batgpt/core/ops";
import { applyChatTemplate, TokenizerError, type Tokenizer } from "@batgpt/tokenizer";
import { formatIssues } from "@batgpt/utils";
import { z } from "zod";
import { conversationSchema, messageSchema, RewardDataError, type Message, type PreferencePair } from "./records.js";

/** The shape of a {@link PreferenceExample}: TRL's four preference shapes, checked before encoding. */
const side = z.union([z.string(), z.array(messageSchema).min(1)]);
const preferenceExampleSchema = z.union([
  z.object({ prompt: z.union([z.string(), conversationSchema]), chosen: side, rejected: side, margin: z.number().finite().optional() }),
  z.object({ chosen: side, rejected: side, margin: z.number().finite().optional() }),
]);

/** The head the reward is read from (Hugging Face's `AutoModelForSequenceClassification` calls it `score`). */
export const REWARD_HEAD = "score";

/**
 * A preference pair to train on: any of TRL's four preference shapes (`toPreferencePairs` gives
 * them): explicit prompt `{prompt, chosen, rejected}` or implicit `{chosen, rejected}`, standard
 * (strings) or conversational (messages). Explicit and conversational pairs are rendered with the
 * chat template; an implicit standard pair's texts are read as they are (as TRL tokenizes them).
 */
export type PreferenceExample = PreferencePair;

/** A pair as token ids: each the direction token, then the rendered prompt + response. */
export interface EncodedPair {
  chosen: number[];
  rejected: number[];
  margin: number;
}

/** Options of {@link encodeResponse} and {@link encodePairs}. */
export interface EncodeOptions {
  /** Chat template: a name of `CHAT_TEMPLATES` or a Jinja string (default `"batgpt"`, as SFT). */
  template?: string;
}

/**
 * The ids the reward model reads for one response: the forward direction token, then the
 * conversation `prompt` + the assistant's `response` rendered with the chat template (so the
 * last token is the template's end of turn, `<|eot|>` in the BatGPT format) — the reward is read
 * there, as Hugging Face reads a reward model at the last non-padding token.
 *
 * @throws {RewardDataError} for a message that holds a special token's text (only the template
 *   writes those), or a template that refuses the conversation.
 */
export function encodeResponse(model: BatGPTModel, tok: Tokenizer, prompt: string | readonly Message[], response: string | readonly Message[], options: EncodeOptions = {}): number[] {
  const asMessages = (x: string | readonly Message[], role: "user" | "assistant"): Message[] => (typeof x === "string" ? [{ role, content: x }] : [...x]);
  return encodeMessages(model, tok, [...asMessages(prompt, "user"), ...asMessages(response, "assistant")], options);
}

/** The direction token and the rendered conversation (see {@link encodeResponse}). */
function encodeMessages(model: BatGPTModel, tok: Tokenizer, messages: readonly Message[], options: EncodeOptions): number[] {
  for (const [i, m] of messages.entries()) {
    for (const special of tok.specialTokens.keys()) {
      if (m.content.includes(special)) throw new RewardDataError(`${i === messages.length - 1 ? "the response" : `prompt message ${i}`} holds the special token ${special}, which only the template may write`);
    }
  }
  let text: string;
  try {
    text = applyChatTemplate(messages, { template: options.template ?? "batgpt" });
  } catch (err) {
    if (err instanceof TokenizerError) throw new RewardDataError(err.message, { cause: err });
    throw err;
  }
  return [model.startToken("forward"), ...tok.encode(text, { allowedSpecial: "all" })];
}

/**
 * Encode preference pairs. A pair whose chosen or rejected ids are longer than `maxLength`
 * (default: the model's `max_seq_len`) is left out and its index reported, as TRL's
 * `RewardTrainer` filters by `max_length`: a reward read from a cut response would not be its.
 *
 * @throws {RewardDataError} as {@link encodeResponse}, naming the pair.
 */
export function encodePairs(model: BatGPTModel, tok: Tokenizer, examples: readonly PreferenceExample[], options: EncodeOptions & { maxLength?: number } = {}): { pairs: EncodedPair[]; tooLong: number[] } {
  const maxLength = Math.min(options.maxLength ?? Infinity, model.config.max_seq_len);
  const pairs: EncodedPair[] = [];
  const tooLong: number[] = [];
  if (!Array.isArray(examples)) throw new RewardDataError(`encodePairs: the pairs must be an array, got ${typeof examples}`);
  for (const [i, e] of examples.entries()) {
    const shape = preferenceExampleSchema.safeParse(e);
    if (!shape.success || ("prompt" in e && typeof e.chosen !== typeof e.rejected)) {
      throw new RewardDataError(shape.success ? `pair ${i}: chosen and rejected must both be text or both be messages` : `pair ${i}: ${formatIssues("preference pair (TRL: prompt?, chosen, rejected)", shape.error)}`);
    }
    let chosen: number[], rejected: number[];
    try {
      [chosen, rejected] = [e.chosen, e.rejected].map((side) => {
        if ("prompt" in e) return encodeResponse(model, tok, e.prompt, side, options);
        if (typeof side !== "string") return encodeMessages(model, tok, side, options);
        // an implicit standard pair: the text as it is, as TRL tokenizes it
        return [model.startToken("forward"), ...tok.encode(side)];
      }) as [number[], number[]];
    } catch (err) {
      if (err instanceof RewardDataError) throw new RewardDataError(`pair ${i}: ${err.message}`, { cause: err });
      throw err;
    }
    if (chosen.length > maxLength || rejected.length > maxLength) tooLong.push(i);
    else pairs.push({ chosen, rejected, margin: e.margin ?? 0 });
  }
  return { pairs, tooLong };
}

/**
 * A batch of pairs: rows `0…P−1` hold the chosen responses and rows `P…2P−1` the rejected ones,
 * right-padded to `seqLen`; `last[r]` is the position of row r's last token, where its reward is
 * read. Reading forward, the padding after it changes nothing.
 */
export interface RewardBatch extends TokenBatch {
  /** P, the pairs (`batch` = 2P rows). */
  pairs: number;
  /** `[2P]`: the position of each row's last token. */
  last: Int32Array;
  /** `[P]`: TRL's margin of each pair. */
  margin: Float32Array;
}

/**
 * Pad pairs into a {@link RewardBatch} of `seqLen` tokens a row (default: the longest).
 *
 * @throws {RewardDataError} for no pairs, an empty response, or one longer than `seqLen`.
 */
export function rewardBatch(pairs: readonly EncodedPair[], padId: number, seqLen?: number): RewardBatch {
  if (pairs.length === 0) throw new RewardDataError("rewardBatch: no pairs");
  const rows = padRows([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], padId, seqLen);
  return { ...rows, pairs: pairs.length, margin: Float32Array.from(pairs, (p) => p.margin) };
}

/**
 * Encoded responses right-padded into rows of `seqLen` tokens (default: the longest), with each
 * row's last position, where its reward is read.
 *
 * @throws {RewardDataError} for an empty response or one longer than `seqLen`.
 */
export function padRows(rows: readonly (readonly number[])[], padId: number, seqLen?: number): Pick<RewardBatch, "ids" | "batch" | "seqLen" | "last"> {
  const T = seqLen ?? Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(padId);
  const last = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    if (r.length === 0 || r.length > T) throw new RewardDataError(`rewardBatch: a response of ${r.length} tokens does not fit rows of ${T}`);
    ids.set(r, i * T);
    last[i] = r.length - 1;
  });
  return { ids, batch: rows.length, seqLen: T, last };
}

/**
 * The reward of every row of `batch`: the `head` output at the row's last token, `[rows]`
 * (arbitrary units; the loss only sees differences). The rows are read as they are (their first
 * id is the direction token); the hidden states at the last tokens are picked with a one-hot
 * `[rows, rows·T]` matmul, so the gradient stays on the fast 2-D path.
 *
 * @throws ConfigError (core) when the model has no such head.
 */
export function rowRewards(model: BatGPTModel, batch: Pick<RewardBatch, "ids" | "batch" | "seqLen" | "last">, head = REWARD_HEAD): tf.Tensor1D {
  const { ids, batch: R, seqLen: T, last } = batch;
  return tf.tidy(() => {
    const hidden = model.hidden(ids as Int32Array, R, T).hidden; // [R·T, H]
    const pick = new Float32Array(R * R * T);
    for (let r = 0; r < R; r++) pick[r * R * T + r * T + last[r]!] = 1;
    const atLast = linear(tf.tensor2d(pick, [R, R * T]), hidden); // [R, H]
    return model.headOutput(head, atLast).reshape([R]) as tf.Tensor1D;
  });
}

/** Options of {@link pairwiseLoss} and {@link rewardObjective}. */
export interface PairwiseLossOptions {
  /** TRL's `center_rewards_coefficient` λ: adds `λ · mean((r_c + r_r)²)`, keeping rewards near 0 (default 0: off). */
  centerRewardsCoefficient?: number;
}

/**
 * The pairwise loss of rewards `[P]` of chosen and rejected responses: `mean(−log σ(r_c − r_r −
 * margin)) + λ · mean((r_c + r_r)²)` (TRL `RewardTrainer.compute_loss`), in nats, and the metrics
 * TRL logs: `rewards/chosen`, `rewards/rejected` (means), `rewards/margin` (mean of r_c − r_r) and
 * `rewards/accuracy` (share of pairs with r_c > r_r).
 */
export function pairwiseLoss(chosen: tf.Tensor1D, rejected: tf.Tensor1D, margin?: tf.Tensor1D, options: PairwiseLossOptions = {}): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
  const diff = tf.sub(chosen, rejected);
  const shifted = margin ? tf.sub(diff, margin) : diff;
  let loss = tf.mean(tf.softplus(tf.neg(shifted))) as tf.Scalar; // −log σ(x) = softplus(−x)
  const lambda = options.centerRewardsCoefficient ?? 0;
  if (lambda > 0) loss = tf.add(loss, tf.mul(lambda, tf.mean(tf.square(tf.add(chosen, rejected))))) as tf.Scalar;
  return {
    loss,
    metrics: {
      "rewards/chosen": tf.mean(chosen) as tf.Scalar,
      "rewards/rejected": tf.mean(rejected) as tf.Scalar,
      "rewards/margin": tf.mean(diff) as tf.Scalar,
      "rewards/accuracy": tf.mean(tf.cast(tf.greater(diff, 0), "float32")) as tf.Scalar,
    },
  };
}

/** The chosen and rejected rewards `[P]` of a batch and its loss (inside the caller's tidy). */
export function batchLoss(model: BatGPTModel, batch: RewardBatch, options: PairwiseLossOptions & { head?: string } = {}): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
  const r = rowRewards(model, batch, options.head);
  const P = batch.pairs;
  return pairwiseLoss(r.slice(0, P), r.slice(P, P), tf.tensor1d(batch.margin), options);
}

/** Rows `[from, to)` of the pairs of a batch, chosen and rejected together. */
function pairRows(batch: RewardBatch, from: number, to: number): RewardBatch {
  const { pairs: P, seqLen: T } = batch;
  const take = (a: Int32Array, width: number) => {
    const out = new Int32Array(2 * (to - from) * width);
    out.set(a.subarray(from * width, to * width), 0);
    out.set(a.subarray((P + from) * width, (P + to) * width), (to - from) * width);
    return out;
  };
  return { ids: take(batch.ids as Int32Array, T), batch: 2 * (to - from), seqLen: T, pairs: to - from, last: take(batch.last, 1), margin: batch.margin.slice(from, to) };
}

/**
 * The reward model's objective for core's `runTrainer` ({@link batchLoss}), worker replicas
 * included: a batch is split by pairs, each shard weighted by its pairs, so the shards' weighted
 * mean is the batch's loss (the centring term is a mean over pairs too).
 */
export function rewardObjective(options: PairwiseLossOptions & { head?: string } = {}): Objective<RewardBatch> {
  const o = { centerRewardsCoefficient: options.centerRewardsCoefficient ?? 0, head: options.head ?? REWARD_HEAD };
  return {
    loss: (model, batch) => batchLoss(model, batch, o),
    tokens: (batch) => batch.batch * batch.seqLen,
    split: (batch, parts) => {
      const n = Math.min(parts, batch.pairs);
      return Array.from({ length: n }, (_, i) => {
        const from = Math.floor((i * batch.pairs) / n);
        const to = Math.floor(((i + 1) * batch.pairs) / n);
        return { batch: pairRows(batch, from, to), weight: to - from };
      });
    },
    replica: { module: import.meta.url, export: "rewardObjective", options: o },
  };
}

/** Where a {@link PairDataSource} stands: the epoch's order comes from the generator's state at its start. */
export interface PairSourceState {
  epoch: number;
  position: number;
  rng: RngState;
}

/**
 * Epochs over encoded pairs in a seeded order, `batchSize` pairs a batch (padded to the batch's
 * longest response, or `seqLen`). Its position (`state`/`restore`) makes a resumed run read the
 * same batches.
 */
export class PairDataSource implements DataSource<RewardBatch> {
  private rng: Rng;
  private epochStart: RngState;
  private order: number[] = [];
  private position = 0;
  private epoch = 0;

  /** @throws {RewardDataError} for no pairs or a batch size that is not an integer ≥ 1. */
  constructor(
    private readonly pairs: readonly EncodedPair[],
    private readonly options: { batchSize: number; padId: number; seed?: number; seqLen?: number },
  ) {
    if (pairs.length === 0) throw new RewardDataError("PairDataSource: no pairs");
    if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new RewardDataError(`PairDataSource: batchSize must be an integer >= 1, got ${options.batchSize}`);
    this.rng = new Rng(options.seed ?? 0);
    this.epochStart = this.rng.state();
    this.shuffle();
  }

  private shuffle(): void {
    this.epochStart = this.rng.state();
    this.order = this.rng.shuffle(this.pairs.map((_, i) => i));
    this.position = 0;
  }

  next(): RewardBatch {
    const picked: EncodedPair[] = [];
    while (picked.length < this.options.batchSize) {
      if (this.position === this.order.length) {
        this.epoch++;
        this.shuffle();
      }
      picked.push(this.pairs[this.order[this.position++]!]!);
    }
    return rewardBatch(picked, this.options.padId, this.options.seqLen);
  }

  /** `{ epoch, position, rng }`. */
  state(): PairSourceState {
    return { epoch: this.epoch, position: this.position, rng: this.epochStart };
  }

  /** @throws {RewardDataError} for a state that does not fit these pairs. */
  restore(state: unknown): void {
    const s = state as Partial<PairSourceState> | null;
    if (!s || !Number.isSafeInteger(s.epoch) || !Number.isSafeInteger(s.position) || s.position! < 0 || s.position! > this.pairs.length || !s.rng) {
      throw new RewardDataError(`PairDataSource.restore: not a position of this source: ${JSON.stringify(state)}`);
    }
    this.rng = Rng.fromState(s.rng);
    this.shuffle();
    this.epoch = s.epoch!;
    this.position = s.position!;
  }
}

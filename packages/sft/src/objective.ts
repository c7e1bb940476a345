/**
 * The SFT loss and its batches: formatted samples right-padded into rows, and the mean negative
 * log-likelihood of the answer tokens (nats per answer token), BatGPT §3.2's "loss on the answer".
 * The objective runs on core's shared trainer, worker replicas included: a batch is split by rows
 * and each shard weighs its answer tokens, so N replicas give the gradient of the whole batch.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng, splitTokenBatch, type BatGPTModel, type DataSource, type Direction, type Objective, type RngState, type TokenBatch } from "@batgpt/core";
import { SftDataError } from "./read.js";
import type { FormattedSample } from "./format.js";

/** Rows of token ids with their loss mask: `lossMask[i]` is 1 on an answer token of `ids[i]`. */
export interface SftBatch extends TokenBatch {
  /** `batch × seqLen`, row-major, 1 where the loss is taken (answer tokens), 0 on prompt and padding. */
  lossMask: Float32Array;
}

/**
 * Right-pad samples into one batch of `seqLen` tokens a row (default: the longest sample). Padding
 * comes after a sample, so causal attention never lets a real token see it, and its mask is 0.
 *
 * @throws {SftDataError} for no samples, or a sample longer than `seqLen`.
 */
export function padBatch(samples: readonly FormattedSample[], padId: number, seqLen?: number): SftBatch {
  if (samples.length === 0) throw new SftDataError("padBatch: no samples");
  const T = seqLen ?? Math.max(...samples.map((s) => s.ids.length));
  const B = samples.length;
  const ids = new Int32Array(B * T).fill(padId);
  const lossMask = new Float32Array(B * T);
  samples.forEach((s, b) => {
    if (s.ids.length > T) throw new SftDataError(`padBatch: a sample of ${s.ids.length} tokens does not fit rows of ${T} (format it with maxLength)`);
    ids.set(s.ids, b * T);
    lossMask.set(s.lossMask, b * T);
  });
  return { ids, lossMask, batch: B, seqLen: T };
}

/** The answer tokens of a batch: Σ lossMask. */
export function answerTokens(batch: SftBatch): number {
  let n = 0;
  for (const m of batch.lossMask) n += m;
  return n;
}

/**
 * Mean negative log-likelihood of the answer tokens (nats per answer token): `−Σ mask·log p / Σ mask`,
 * from core's `tokenLogProbs`, reading `direction`. A scalar tensor, inside the caller's tidy.
 *
 * @throws {SftDataError} when the batch has no answer token.
 */
export function answerLoss(model: BatGPTModel, batch: SftBatch, direction: Direction = "forward"): tf.Scalar {
  const n = answerTokens(batch);
  if (n === 0) throw new SftDataError("answerLoss: the batch has no answer token (every lossMask entry is 0)");
  const lp = model.tokenLogProbs(batch, direction);
  const mask = tf.tensor2d(batch.lossMask, [batch.batch, batch.seqLen]);
  return tf.div(tf.neg(tf.sum(tf.mul(lp, mask))), n) as tf.Scalar;
}

/**
 * The SFT objective for core's `runTrainer`: {@link answerLoss} in `direction` (default forward),
 * logged as `loss`; `tokens` counts every row position. It can run on worker replicas (`split`
 * by rows, weighted by answer tokens; `replica`).
 */
export function sftObjective(options: { direction?: Direction } = {}): Objective<SftBatch> {
  const direction = options.direction ?? "forward";
  return {
    loss: (model, batch) => ({ loss: answerLoss(model, batch, direction) }),
    tokens: (batch) => batch.batch * batch.seqLen,
    split: (batch, parts) => {
      // core's row split for the ids, the same rows of the mask
      let from = 0;
      return splitTokenBatch(batch, parts).map((rows) => {
        const T = batch.seqLen;
        const shard: SftBatch = { ...rows, lossMask: batch.lossMask.slice(from * T, (from + rows.batch) * T) };
        from += rows.batch;
        return { batch: shard, weight: answerTokens(shard) };
      });
    },
    replica: { module: import.meta.url, export: "sftObjective", options: { direction } },
  };
}

/** The position of an {@link SftDataSource}: the epoch's order comes from the generator's state at its start. */
interface SftSourceState {
  epoch: number;
  position: number;
  rng: RngState;
}

/**
 * Epochs over formatted samples in a seeded order, `batchSize` samples a batch, padded with
 * {@link padBatch}; its position (`state`/`restore`) makes a resumed run read the same batches.
 */
export class SftDataSource implements DataSource<SftBatch> {
  private rng: Rng;
  private epochStart: RngState;
  private order: number[] = [];
  private position = 0;
  private epoch = 0;

  /**
   * @throws {SftDataError} for no samples, or a batch size that is not an integer ≥ 1.
   */
  constructor(
    private readonly samples: readonly FormattedSample[],
    private readonly options: { batchSize: number; padId: number; seqLen?: number; seed?: number },
  ) {
    if (samples.length === 0) throw new SftDataError("SftDataSource: no samples");
    if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new SftDataError(`SftDataSource: batchSize must be an integer >= 1, got ${options.batchSize}`);
    this.rng = new Rng(options.seed ?? 0);
    this.epochStart = this.rng.state();
    this.shuffle();
  }

  private shuffle(): void {
    this.epochStart = this.rng.state();
    this.order = this.rng.shuffle(this.samples.map((_, i) => i));
    this.position = 0;
  }

  next(): SftBatch {
    const picked: FormattedSample[] = [];
    while (picked.length < this.options.batchSize) {
      if (this.position === this.order.length) {
        this.epoch++;
        this.shuffle();
      }
      picked.push(this.samples[this.order[this.position++]!]!);
    }
    return padBatch(picked, this.options.padId, this.options.seqLen);
  }

  state(): unknown {
    return { epoch: this.epoch, position: this.position, rng: this.epochStart } satisfies SftSourceState;
  }

  /** @throws {SftDataError} for a state that does not fit these samples. */
  restore(state: unknown): void {
    const s = state as Partial<SftSourceState> | null;
    if (!s || !Number.isSafeInteger(s.epoch) || !Number.isSafeInteger(s.position) || s.position! < 0 || s.position! > this.samples.length || !s.rng) {
      throw new SftDataError(`SftDataSource.restore: not a position of this source: ${JSON.stringify(state)}`);
    }
    this.rng = Rng.fromState(s.rng);
    this.shuffle();
    this.epoch = s.epoch!;
    this.position = s.position!;
  }
}

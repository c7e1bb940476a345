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
  /** The direction its samples are read in (`FormattedSample.direction`); absent: the objective's. */
  direction?: Direction;
}

/** Segment id of the padding at the end of a row: its own run, so no real token ever attends to it. */
const PAD_SEGMENT = -1;

/**
 * Right-pad samples into one batch of `seqLen` tokens a row (default: the longest sample), one
 * sample a row. Padding has mask 0 and is its own segment (`segmentIds`: 0 on the sample, −1 on
 * the padding), so it is never attended — not even reading backward, where it would otherwise be
 * read first.
 *
 * @throws {SftDataError} for no samples, a sample longer than `seqLen`, or samples of different
 *   directions (a batch is read in one direction).
 */
export function padBatch(samples: readonly FormattedSample[], padId: number, seqLen?: number): SftBatch {
  if (samples.length === 0) throw new SftDataError("padBatch: no samples");
  const T = seqLen ?? Math.max(...samples.map((s) => s.ids.length));
  return rowsBatch(
    samples.map((s) => [s]),
    padId,
    T,
    "padBatch",
  );
}

/**
 * Pack samples into `rows` rows of `seqLen` tokens, in order, next-fit: a sample goes into the
 * current row while it fits, else starts the next row (samples are never cut). Each sample is its
 * own segment (`segmentIds` 0, 1, … within a row; −1 on the padding that ends a row), so the model
 * reads each one as if it were alone (see core's `TokenBatch.segmentIds`): same positions, same
 * direction token, no attention across samples, and the loss mask of each sample kept.
 *
 * @returns the batch and how many of `samples` it holds (the rest did not fit in `rows` rows).
 * @throws {SftDataError} for no samples, `rows` < 1, a sample longer than `seqLen`, or samples of
 *   different directions (a batch is read in one direction).
 */
export function packBatch(samples: readonly FormattedSample[], padId: number, seqLen: number, rows = Infinity): { batch: SftBatch; used: number } {
  if (samples.length === 0) throw new SftDataError("packBatch: no samples");
  if (!(rows >= 1)) throw new SftDataError(`packBatch: rows must be >= 1, got ${rows}`);
  const packer = new RowPacker(seqLen, rows, "packBatch");
  let used = 0;
  while (used < samples.length && packer.add(samples[used]!)) used++;
  return { batch: rowsBatch(packer.rows, padId, seqLen, "packBatch"), used };
}

/** Next-fit of whole samples into at most `maxRows` rows of `seqLen` tokens. */
class RowPacker {
  readonly rows: FormattedSample[][] = [[]];
  private fill = 0;

  constructor(
    private readonly seqLen: number,
    private readonly maxRows: number,
    private readonly who: string,
  ) {}

  /**
   * Put `s` at the end of the last row, or open a new row; false (and nothing added) when all rows are taken.
   *
   * @throws {SftDataError} for a sample longer than a row.
   */
  add(s: FormattedSample): boolean {
    const n = s.ids.length;
    if (n > this.seqLen) throw new SftDataError(`${this.who}: a sample of ${n} tokens does not fit rows of ${this.seqLen} (format it with maxLength)`);
    if (this.fill + n > this.seqLen) {
      if (this.rows.length === this.maxRows) return false;
      this.rows.push([]);
      this.fill = 0;
    }
    this.rows.at(-1)!.push(s);
    this.fill += n;
    return true;
  }
}

/** Rows of samples laid end to end, each row padded to `T`, with segment ids and the loss mask. */
function rowsBatch(rows: readonly (readonly FormattedSample[])[], padId: number, T: number, who: string): SftBatch {
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const lossMask = new Float32Array(B * T);
  const segmentIds = new Int32Array(B * T).fill(PAD_SEGMENT);
  const directions = new Set(rows.flat().map((s) => s.direction ?? "default"));
  if (directions.size > 1) throw new SftDataError(`${who}: the samples are read in different directions (${[...directions].join(", ")}); a batch is read in one`);
  const direction = rows.flat().find((s) => s.direction !== undefined)?.direction;
  rows.forEach((row, b) => {
    let at = b * T;
    row.forEach((s, k) => {
      if (at + s.ids.length > (b + 1) * T) throw new SftDataError(`${who}: a sample of ${s.ids.length} tokens does not fit rows of ${T} (format it with maxLength)`);
      ids.set(s.ids, at);
      lossMask.set(s.lossMask, at);
      segmentIds.fill(k, at, at + s.ids.length);
      at += s.ids.length;
    });
  });
  return { ids, lossMask, batch: B, seqLen: T, segmentIds, ...(direction ? { direction } : {}) };
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
 * The SFT objective for core's `runTrainer`: {@link answerLoss} in the batch's own direction
 * (`SftBatch.direction`, from its samples), else in `direction` (default forward), logged as
 * `loss`; `tokens` counts every row position. It can run on worker replicas (`split` by rows,
 * weighted by answer tokens; `replica`).
 */
export function sftObjective(options: { direction?: Direction } = {}): Objective<SftBatch> {
  const direction = options.direction ?? "forward";
  return {
    loss: (model, batch) => ({ loss: answerLoss(model, batch, batch.direction ?? direction) }),
    tokens: (batch) => batch.batch * batch.seqLen,
    split: (batch, parts) => {
      // core's row split for the ids, the same rows of the mask
      let from = 0;
      return splitTokenBatch(batch, parts).map((rows) => {
        const T = batch.seqLen;
        const shard: SftBatch = { ...rows, lossMask: batch.lossMask.slice(from * T, (from + rows.batch) * T), ...(batch.direction ? { direction: batch.direction } : {}) };
        from += rows.batch;
        return { batch: shard, weight: answerTokens(shard) };
      });
    },
    replica: { module: import.meta.url, export: "sftObjective", options: { direction } },
  };
}

/** Where one pool's seeded order stands: the epoch's order comes from the generator's state at its start. */
interface PoolState {
  epoch: number;
  position: number;
  rng: RngState;
}

/** Samples in a seeded order, epoch after epoch. */
class SampleOrder {
  private rng: Rng;
  private epochStart: RngState;
  private order: number[] = [];
  position = 0;
  epoch = 0;

  constructor(
    private readonly samples: readonly FormattedSample[],
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.epochStart = this.rng.state();
    this.shuffle();
  }

  private shuffle(): void {
    this.epochStart = this.rng.state();
    this.order = this.rng.shuffle(this.samples.map((_, i) => i));
    this.position = 0;
  }

  /** How far through its epochs (1.5: half-way through the second). */
  get progress(): number {
    return this.epoch + this.position / this.samples.length;
  }

  /** The sample at the current position, opening the next epoch at the end of this one. */
  peek(): FormattedSample {
    if (this.position === this.order.length) {
      this.epoch++;
      this.shuffle();
    }
    return this.samples[this.order[this.position]!]!;
  }

  state(): PoolState {
    return { epoch: this.epoch, position: this.position, rng: this.epochStart };
  }

  restore(s: Partial<PoolState> | undefined, who: string, state: unknown): void {
    if (!s || !Number.isSafeInteger(s.epoch) || !Number.isSafeInteger(s.position) || s.position! < 0 || s.position! > this.samples.length || !s.rng) {
      throw new SftDataError(`${who}: not a position of this source: ${JSON.stringify(state)}`);
    }
    this.rng = Rng.fromState(s.rng);
    this.shuffle();
    this.epoch = s.epoch!;
    this.position = s.position!;
  }
}

/** Options of {@link SftDataSource}. */
export interface SftDataSourceOptions {
  /** Rows a batch: samples a row when padding, rows of packed samples when packing. */
  batchSize: number;
  padId: number;
  /** Tokens a row (default when padding: each batch's longest sample; required when packing). */
  seqLen?: number;
  /** Seed of the sample order. */
  seed?: number;
  /** Pack several samples into a row ({@link packBatch}) instead of one a row ({@link padBatch}). */
  packing?: boolean;
}

/**
 * Epochs over formatted samples in a seeded order, `batchSize` rows a batch: one sample a row,
 * padded ({@link padBatch}), or with `packing` as many whole samples a row as fit
 * ({@link packBatch}; a sample that does not fit in the last row opens the next batch). Its
 * position (`state`/`restore`) makes a resumed run read the same batches.
 *
 * Samples of both directions (forward ones and backward samples, `FormattedSample.direction`)
 * are kept in two pools, each in its own seeded order, and a batch comes from one pool: the one
 * least far through its epochs, so both are read in proportion to their sizes, interleaved.
 */
export class SftDataSource implements DataSource<SftBatch> {
  private readonly pools: { order: SampleOrder }[];

  /**
   * @throws {SftDataError} for no samples, a batch size that is not an integer ≥ 1, packing
   *   without `seqLen`, or (packing) a sample longer than `seqLen`.
   */
  constructor(
    samples: readonly FormattedSample[],
    private readonly options: SftDataSourceOptions,
  ) {
    if (samples.length === 0) throw new SftDataError("SftDataSource: no samples");
    if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new SftDataError(`SftDataSource: batchSize must be an integer >= 1, got ${options.batchSize}`);
    if (options.packing) {
      if (options.seqLen === undefined) throw new SftDataError("SftDataSource: packing needs seqLen (the length of a packed row)");
      const long = samples.findIndex((s) => s.ids.length > options.seqLen!);
      if (long >= 0) throw new SftDataError(`SftDataSource: sample ${long} has ${samples[long]!.ids.length} tokens, more than a packed row of seqLen ${options.seqLen} (format it with maxLength)`);
    }
    const seed = options.seed ?? 0;
    const byDirection = [samples.filter((s) => s.direction !== "backward"), samples.filter((s) => s.direction === "backward")].filter((p) => p.length > 0);
    this.pools = byDirection.map((p, i) => ({ order: new SampleOrder(p, seed + i) }));
  }

  next(): SftBatch {
    const { batchSize, padId, seqLen, packing } = this.options;
    const { order } = this.pools.reduce((a, b) => (b.order.progress < a.order.progress ? b : a));
    if (!packing) {
      const picked: FormattedSample[] = [];
      while (picked.length < batchSize) {
        picked.push(order.peek());
        order.position++;
      }
      return padBatch(picked, padId, seqLen);
    }
    // packing: whole samples while they fit into batchSize rows; the first that does not opens the next batch
    const packer = new RowPacker(seqLen!, batchSize, "SftDataSource");
    while (packer.add(order.peek())) order.position++;
    return rowsBatch(packer.rows, padId, seqLen!, "SftDataSource");
  }

  /** Each pool's position: `{ pools: [{ epoch, position, rng }, …] }` (forward first). */
  state(): unknown {
    return { pools: this.pools.map((p) => p.order.state()) };
  }

  /** @throws {SftDataError} for a state that does not fit these samples. */
  restore(state: unknown): void {
    const pools = (state as { pools?: unknown } | null)?.pools;
    if (!Array.isArray(pools) || pools.length !== this.pools.length) throw new SftDataError(`SftDataSource.restore: not a position of this source: ${JSON.stringify(state)}`);
    this.pools.forEach((p, i) => p.order.restore(pools[i] as Partial<PoolState>, "SftDataSource.restore", state));
  }
}

/**
 * Bidirectional autoregression, the idea of BatGPT (arXiv 2307.00360, §2): one network reads a
 * sequence forward, predicting each next token, and reversed, predicting each previous token,
 * with the same weights. The released BatGPT code is left-to-right only, so how a direction is
 * *marked* is ours to design; it is a **scheme**, chosen by the config knob `direction_scheme`:
 *
 * - `"token"` (default): each row starts with a direction token, `<|l2r|>` or `<|r2l|>`. The
 *   trunk is exactly the official architecture, so checkpoints load in the official PyTorch code.
 * - `"embedding"`: each row starts with `<|bos|>` and a learned direction vector
 *   (`model.direction_embeddings.weight`, `[2, hidden]`, row 0 forward, row 1 backward) is added
 *   to the token embedding at every position. One extra tensor, not in the official model.
 *
 * Both build a direction's input and targets the same way ({@link directionalInput}) and train on
 * the weighted two-way loss ({@link bidirectionalLoss}):
 * `loss = w_fwd · CE_forward + w_bwd · CE_backward`.
 *
 * A new scheme is one more entry in {@link DIRECTION_SCHEMES} and one value of the knob.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatGPTConfig } from "./config.js";
import type { ParamSpec } from "./params.js";

/** Which way the model reads: `"forward"` predicts each next token, `"backward"` each previous one. */
export type Direction = "forward" | "backward";

/** Both directions, in the order of the rows of `model.direction_embeddings.weight`. */
export const DIRECTIONS: readonly Direction[] = ["forward", "backward"];

/** How the trunk is told which way it reads. */
export interface DirectionScheme {
  /** The value of the `direction_scheme` config knob. */
  readonly name: "token" | "embedding";
  /**
   * The first input id of every row read in `direction`.
   *
   * @throws Error naming the config field when the config lacks the id (create the model with `{ tokenizer }`).
   */
  startToken(config: BatGPTConfig, direction: Direction): number;
  /** Parameters this scheme adds to the trunk (none for the token scheme). */
  parameters(config: BatGPTConfig): ParamSpec[];
  /**
   * The token embeddings `[N, hidden]` of a pass read in `direction`, marked as this scheme marks
   * them (returned unchanged by the token scheme). `param` looks up the scheme's parameters.
   */
  mark(x: tf.Tensor2D, direction: Direction, param: (name: string) => tf.Tensor): tf.Tensor2D;
}

function requireId(config: BatGPTConfig, field: "l2r_token_id" | "r2l_token_id" | "bos_token_id"): number {
  const id = config[field];
  if (id === undefined) throw new Error(`the config has no ${field}: create the model with { tokenizer } or set it in the config`);
  return id;
}

/** The learned direction vectors of the `"embedding"` scheme. */
export const DIRECTION_EMBEDDINGS = "model.direction_embeddings.weight";

/** The schemes by the name the `direction_scheme` knob takes. */
export const DIRECTION_SCHEMES: Readonly<Record<DirectionScheme["name"], DirectionScheme>> = {
  token: {
    name: "token",
    startToken: (c, d) => requireId(c, d === "forward" ? "l2r_token_id" : "r2l_token_id"),
    parameters: () => [],
    mark: (x) => x,
  },
  embedding: {
    name: "embedding",
    startToken: (c) => requireId(c, "bos_token_id"),
    parameters: (c) => [{ name: DIRECTION_EMBEDDINGS, shape: [2, c.hidden_size], kind: "embedding" }],
    mark: (x, d, param) => {
      const row = tf.slice(param(DIRECTION_EMBEDDINGS) as tf.Tensor2D, [DIRECTIONS.indexOf(d), 0], [1, -1]);
      return tf.add(x, row) as tf.Tensor2D;
    },
  },
};

/** The scheme a config selects. */
export function directionScheme(config: BatGPTConfig): DirectionScheme {
  return DIRECTION_SCHEMES[config.direction_scheme];
}

/**
 * The input the model reads for `ids` `[B, T]` (row-major) in `direction`: the scheme's start
 * token, then the sequence (reversed when reading backward) without its last token; the targets
 * are the sequence itself in that reading order. Position t of the input predicts target t.
 *
 * With `segmentIds` `[B·T]` (packing: a run of equal consecutive ids in a row is one sample; see
 * `TokenBatch.segmentIds`), every sample is read on its own: in reading order each sample starts
 * with the start token and its inputs shift inside the sample only. `segments` then gives, in
 * reading order, each position's sample index within its row (0, 1, …) for the attention mask and
 * the positions ({@link packedPositions}).
 *
 * @throws Error when `segmentIds` does not hold `batch × seqLen` entries.
 */
export function directionalInput(
  ids: Int32Array,
  batch: number,
  seqLen: number,
  direction: Direction,
  startToken: number,
  segmentIds?: Int32Array,
): { input: Int32Array; targets: Int32Array; segments?: Int32Array } {
  if (segmentIds !== undefined && segmentIds.length !== batch * seqLen) {
    throw new Error(`segmentIds has ${segmentIds.length} entries, expected batch ${batch} × seqLen ${seqLen}`);
  }
  const input = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen);
  const segments = segmentIds ? new Int32Array(batch * seqLen) : undefined;
  for (let b = 0; b < batch; b++) {
    const row = b * seqLen;
    const at = (t: number) => (direction === "forward" ? row + t : row + seqLen - 1 - t);
    for (let t = 0; t < seqLen; t++) targets[row + t] = ids[at(t)]!;
    input[row] = startToken;
    for (let t = 1; t < seqLen; t++) {
      const starts = segmentIds !== undefined && segmentIds[at(t)] !== segmentIds[at(t - 1)];
      if (segments) segments[row + t] = segments[row + t - 1]! + (starts ? 1 : 0);
      input[row + t] = starts ? startToken : targets[row + t - 1]!;
    }
  }
  return segments ? { input, targets, segments } : { input, targets };
}

/**
 * Each position's place inside its sample, `[B·T]` int32, from reading-order `segments` (as
 * {@link directionalInput} returns them): 0 at each sample's first token, counting up to its end,
 * so a packed sample gets the rotary positions it would have alone in a row.
 */
export function packedPositions(segments: Int32Array, batch: number, seqLen: number): Int32Array {
  const positions = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const row = b * seqLen;
    for (let t = 1; t < seqLen; t++) positions[row + t] = segments[row + t] === segments[row + t - 1] ? positions[row + t - 1]! + 1 : 0;
  }
  return positions;
}

/** The three numbers of a bidirectional loss. */
export interface BidirectionalLoss {
  /** The weighted sum that training minimises. */
  loss: tf.Scalar;
  /** Mean cross-entropy reading forward, nats per token (undefined when its weight is 0). */
  forward?: tf.Scalar;
  /** Mean cross-entropy reading backward, nats per token (undefined when its weight is 0). */
  backward?: tf.Scalar;
}

/** The loss weight of each direction (≥ 0, not both 0). */
export interface DirectionWeights {
  forward: number;
  backward: number;
}

/**
 * `loss = weights.forward · CE_forward + weights.backward · CE_backward`, skipping a direction
 * whose weight is 0 (so a forward-only baseline does half the work). `directionLoss` computes the
 * mean cross-entropy of one direction.
 *
 * @throws Error when both weights are 0 or one is negative or not finite.
 */
export function bidirectionalLoss(directionLoss: (direction: Direction) => tf.Scalar, weights: DirectionWeights): BidirectionalLoss {
  for (const d of DIRECTIONS) {
    if (!(Number.isFinite(weights[d]) && weights[d] >= 0)) throw new Error(`loss weight of the ${d} direction must be a finite number ≥ 0, got ${weights[d]}`);
  }
  if (weights.forward + weights.backward === 0) throw new Error("at least one direction must have a positive loss weight");
  const out: Partial<BidirectionalLoss> = {};
  let total: tf.Scalar | undefined;
  for (const d of DIRECTIONS) {
    if (weights[d] === 0) continue;
    const ce = directionLoss(d);
    out[d] = ce;
    const term = tf.mul(ce, weights[d]) as tf.Scalar;
    total = total ? (tf.add(total, term) as tf.Scalar) : term;
  }
  return { ...out, loss: total! };
}

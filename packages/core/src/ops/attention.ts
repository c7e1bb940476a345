/**
 * Causal grouped-query attention: q [B, T, H, D], k and v [B, S, KV, D] (S ≥ T) → [B·T, H·D].
 *
 * tfjs-wasm runs batched and transposed matmuls on a naive loop, about 10× slower than plain 2-D
 * matmuls (XNNPACK), so the "pieces" formulation cuts the operands with `splitRows` (kernels.ts)
 * into one plain 2-D matrix per (batch, KV head) group and multiplies those; the g = H/KV query
 * heads of a group are stacked as rows, so K/V are never repeated. Small problems (groups of
 * fewer than 16 query rows, i.e. decoding with a KV cache) lose to the per-piece overhead, so they
 * and every backend other than wasm use the "batched" formulation (3-D `matMul`s), with the same
 * custom gradient.
 *
 * The backward pass never transposes a score-sized tensor (dKᵀ = (scale·Q)ᵀ · dS and
 * dVᵀ = dOᵀ · P per group; the softmax backward uses δ = rowsum(dO ⊙ O) rather than
 * rowsum(dP ⊙ P)). Masks are a precomputed additive −1e9 bias (causal [T, S], cached for S = T;
 * key mask [B, 1, 1, S]) broadcast onto the scores, then `tf.softmax` (no `tf.where`, no `tf.exp`).
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `attention.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { splitRows } from "./kernels.js";

/** Which formulation {@link causalAttentionWith} uses. */
export type AttentionImpl = "pieces" | "batched";

/** Additive mask value: exp(−1e9 − max) is exactly 0 in float32. */
const MASKED = -1e9;

/** Kept causal biases, most recently used last; at most {@link MAX_CACHED_BIASES} stay alive. */
const causalBiases = new Map<string, tf.Tensor2D>();
const MAX_CACHED_BIASES = 4;

const staleBiases: tf.Tensor2D[] = [];

/** [T, S] additive causal bias: 0 where key s ≤ S − T + t, −1e9 above. Cached (kept) when S = T. */
function causalBias(t: number, s: number): tf.Tensor2D {
  while (staleBiases.length > 0) staleBiases.pop()!.dispose();
  const key = `${t}x${s}`;
  const cached = causalBiases.get(key);
  if (cached !== undefined && !cached.isDisposed) {
    causalBiases.delete(key);
    causalBiases.set(key, cached);
    return cached;
  }
  const a = new Float32Array(t * s);
  for (let i = 0; i < t; i++) a.fill(MASKED, i * s + s - t + i + 1, (i + 1) * s);
  const bias = tf.tensor2d(a, [t, s]);
  if (t !== s) return bias;
  causalBiases.set(key, tf.keep(bias));
  while (causalBiases.size > MAX_CACHED_BIASES) {
    const [oldest, tensor] = causalBiases.entries().next().value as [string, tf.Tensor2D];
    causalBiases.delete(oldest);
    // a bias handed out in this tidy scope may still be in use; dispose it at the next call
    staleBiases.push(tensor);
  }
  return bias;
}

/**
 * The block-diagonal causal bias of packed rows, `[B, 1, T, T]`: 0 where key j ≤ query i and both
 * lie in the same sample of the row, −1e9 elsewhere, so a sample never attends to its neighbour.
 * `segments` `[B·T]` (row-major, in reading order) holds each position's sample index within its
 * row, as `directionalInput` returns it; a sample is a run of equal consecutive entries.
 *
 * @throws Error when `segments` does not hold `batch × seqLen` entries.
 */
export function packedCausalBias(segments: Int32Array, batch: number, seqLen: number): tf.Tensor4D {
  if (segments.length !== batch * seqLen) throw new Error(`packedCausalBias: ${segments.length} segment ids for [${batch}, ${seqLen}] tokens`);
  const a = new Float32Array(batch * seqLen * seqLen).fill(MASKED);
  for (let b = 0; b < batch; b++) {
    const row = b * seqLen;
    let first = 0;
    for (let i = 0; i < seqLen; i++) {
      if (i > 0 && segments[row + i] !== segments[row + i - 1]) first = i;
      a.fill(0, (row + i) * seqLen + first, (row + i) * seqLen + i + 1);
    }
  }
  return tf.tensor4d(a, [batch, 1, seqLen, seqLen]);
}

/** What masks the scores besides causality: left padding of keys, or packed samples. */
export interface AttentionMasks {
  /** `[B, S]`: 1 = real token, 0 = padding (never attended). */
  keyMask?: tf.Tensor2D;
  /** `[B, 1, T, T]` from {@link packedCausalBias}; replaces the plain causal bias (needs S = T). */
  packedBias?: tf.Tensor4D;
}

/** The bias added to scores [B, H, T, S]: [T, S], or [B, 1, T, S] with a key mask or packing; undefined if none. */
function scoreBias(b: number, t: number, s: number, masks: AttentionMasks): tf.Tensor | undefined {
  const { keyMask, packedBias } = masks;
  const causal = packedBias ?? (t > 1 ? causalBias(t, s) : undefined);
  if (keyMask === undefined) return causal;
  const pad = tf.reshape(tf.mul(tf.sub(1, tf.cast(keyMask, "float32")), MASKED), [b, 1, 1, s]);
  return causal === undefined ? pad : tf.add(causal, pad);
}

/**
 * With a key mask, a query may see no real key at all (a left-padded position); its output is
 * defined as 0. Returns [B, 1, T, 1]: 1 where query t of batch b sees at least one real key.
 */
function queriesWithKeys(b: number, t: number, s: number, keyMask: tf.Tensor2D | undefined): tf.Tensor | undefined {
  if (keyMask === undefined) return undefined;
  const seen = tf.slice(tf.cumsum(tf.cast(keyMask, "float32"), 1), [0, s - t], [b, t]);
  return tf.reshape(tf.cast(tf.greater(seen, 0.5), "float32"), [b, 1, t, 1]);
}

/** Softmax of the masked scores [B, H, T, S]; rows of queries without a visible key are 0. */
function attentionWeights(scores: tf.Tensor, dm: Dims, masks: AttentionMasks): tf.Tensor {
  const bias = scoreBias(dm.b, dm.t, dm.s, masks);
  const p = tf.softmax(bias === undefined ? scores : tf.add(scores, bias));
  const keep = queriesWithKeys(dm.b, dm.t, dm.s, masks.keyMask);
  return keep === undefined ? p : tf.mul(p, keep);
}

interface Dims {
  b: number;
  t: number;
  s: number;
  h: number;
  kv: number;
  d: number;
  /** Query heads per KV head. */
  g: number;
  /** Groups = B·KV. */
  groups: number;
  /** Rows per group = g·T. */
  rows: number;
  scale: number;
}

function dims(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, masks: AttentionMasks): Dims {
  const { keyMask, packedBias } = masks;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new Error(`causalAttention: q, k, v must be 4-D, got [${q.shape}], [${k.shape}], [${v.shape}]`);
  }
  const [b, t, h, d] = q.shape;
  const [kb, s, kv, kd] = k.shape;
  if (!tf.util.arraysEqual(k.shape, v.shape)) throw new Error(`causalAttention: k [${k.shape}] and v [${v.shape}] differ`);
  if (kb !== b || kd !== d) throw new Error(`causalAttention: k [${k.shape}] does not match q [${q.shape}]`);
  if (s < t) throw new Error(`causalAttention: ${s} keys for ${t} queries (need S ≥ T)`);
  if (h % kv !== 0) throw new Error(`causalAttention: ${h} query heads are not a multiple of ${kv} KV heads`);
  if (keyMask !== undefined && (keyMask.rank !== 2 || keyMask.shape[0] !== b || keyMask.shape[1] !== s)) {
    throw new Error(`causalAttention: keyMask must be [${b}, ${s}], got [${keyMask.shape}]`);
  }
  if (packedBias !== undefined && !tf.util.arraysEqual(packedBias.shape, [b, 1, t, s])) {
    throw new Error(`causalAttention: packedBias must be [${b}, 1, ${t}, ${t}] (packing needs S = T), got [${packedBias.shape}]`);
  }
  const g = h / kv;
  return { b, t, s, h, kv, d, g, groups: b * kv, rows: g * t, scale: 1 / Math.sqrt(d) };
}

/** q [B, T, H, D] → [B, H, T, D] (= [groups, rows, D] in memory), times `scale`. */
function headsFirst(x: tf.Tensor4D, scale = 1): tf.Tensor4D {
  const y = tf.transpose(x, [0, 2, 1, 3]);
  return scale === 1 ? y : tf.mul(y, scale);
}

/** [B, H, T, D] → the output layout [B·T, H·D]. */
function toOutput(o: tf.Tensor, dm: Dims): tf.Tensor2D {
  return tf.reshape(tf.transpose(tf.reshape(o, [dm.b, dm.h, dm.t, dm.d]), [0, 2, 1, 3]), [dm.b * dm.t, dm.h * dm.d]);
}

/** δ = rowsum(dO ⊙ O) per (b, h, t) as [B·H·T, 1], the softmax-backward term Σ_s P·dP. */
function deltaRows(dy: tf.Tensor2D, o: tf.Tensor2D, dm: Dims): tf.Tensor2D {
  const per = tf.sum(tf.reshape(tf.mul(dy, o), [dm.b, dm.t, dm.h, dm.d]), -1);
  return tf.reshape(tf.transpose(per, [0, 2, 1]), [dm.b * dm.h * dm.t, 1]);
}

function products(a: tf.Tensor2D[], b: tf.Tensor2D[]): tf.Tensor2D[] {
  return a.map((x, i) => tf.matMul(x, b[i]!));
}

function piecesAttention(dm: Dims, masks: AttentionMasks): (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor2D {
  const { b, t, s, h, kv, d, groups: n, rows: r, scale } = dm;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [q, k, v] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const save = args[3] as tf.GradSaveFunc;
    const qp = splitRows<tf.Rank.R2>(headsFirst(q, scale), n, [r, d]);
    const kTp = splitRows<tf.Rank.R2>(tf.transpose(k, [0, 2, 3, 1]), n, [d, s]);
    const vp = splitRows<tf.Rank.R2>(headsFirst(v), n, [s, d]);
    const p = attentionWeights(tf.reshape(tf.concat(products(qp, kTp)), [b, h, t, s]), dm, masks);
    const o = toOutput(tf.concat(products(splitRows<tf.Rank.R2>(p, n, [r, s]), vp)), dm);
    save([q, k, v, p, o]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [qs, ks, vs, ps, os] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
        const dO = headsFirst(tf.reshape(dy, [b, t, h, d]));
        const dOp = splitRows<tf.Rank.R2>(dO, n, [r, d]);
        const dOTp = splitRows<tf.Rank.R2>(tf.transpose(tf.reshape(dO, [n, r, d]), [0, 2, 1]), n, [d, r]);
        const pp = splitRows<tf.Rank.R2>(ps, n, [r, s]);
        const dP = tf.concat(products(dOp, splitRows<tf.Rank.R2>(tf.transpose(vs, [0, 2, 3, 1]), n, [d, s])));
        const dS = tf.mul(tf.reshape(ps, [n * r, s]), tf.sub(dP, deltaRows(dy, os, dm)));
        const dSp = splitRows<tf.Rank.R2>(dS, n, [r, s]);
        const dQ = tf.mul(tf.concat(products(dSp, splitRows<tf.Rank.R2>(headsFirst(ks), n, [s, d]))), scale);
        const qTp = splitRows<tf.Rank.R2>(tf.transpose(tf.reshape(headsFirst(qs, scale), [n, r, d]), [0, 2, 1]), n, [d, r]);
        const dKT = tf.concat(products(qTp, dSp));
        const dVT = tf.concat(products(dOTp, pp));
        return [
          tf.transpose(tf.reshape(dQ, [b, h, t, d]), [0, 2, 1, 3]),
          tf.transpose(tf.reshape(dKT, [b, kv, d, s]), [0, 3, 1, 2]),
          tf.transpose(tf.reshape(dVT, [b, kv, d, s]), [0, 3, 1, 2]),
        ];
      },
    };
  });
  return (q, k, v) => f(q, k, v) as tf.Tensor2D;
}

function batchedAttention(dm: Dims, masks: AttentionMasks): (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor2D {
  const { b, t, s, h, kv, d, groups: n, rows: r, scale } = dm;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [q, k, v] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const save = args[3] as tf.GradSaveFunc;
    const qh = tf.reshape(headsFirst(q, scale), [n, r, d]);
    const kh = tf.reshape(headsFirst(k), [n, s, d]);
    const vh = tf.reshape(headsFirst(v), [n, s, d]);
    const p = tf.reshape(attentionWeights(tf.reshape(tf.matMul(qh, kh, false, true), [b, h, t, s]), dm, masks), [n, r, s]);
    const o = toOutput(tf.matMul(p, vh), dm);
    save([q, k, v, p, o]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [qs, ks, vs, ps, os] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor3D, tf.Tensor2D];
        const dO = tf.reshape(headsFirst(tf.reshape(dy, [b, t, h, d])), [n, r, d]);
        const dP = tf.matMul(dO, tf.reshape(headsFirst(vs), [n, s, d]), false, true);
        const dS = tf.mul(ps, tf.sub(dP, tf.reshape(deltaRows(dy, os, dm), [n, r, 1])));
        const dQ = tf.mul(tf.matMul(dS, tf.reshape(headsFirst(ks), [n, s, d])), scale);
        const dK = tf.matMul(dS, tf.reshape(headsFirst(qs, scale), [n, r, d]), true, false);
        const dV = tf.matMul(ps, dO, true, false);
        return [
          tf.transpose(tf.reshape(dQ, [b, h, t, d]), [0, 2, 1, 3]),
          tf.transpose(tf.reshape(dK, [b, kv, s, d]), [0, 2, 1, 3]),
          tf.transpose(tf.reshape(dV, [b, kv, s, d]), [0, 2, 1, 3]),
        ];
      },
    };
  });
  return (q, k, v) => f(q, k, v) as tf.Tensor2D;
}

/**
 * The formulation {@link causalAttention} picks: "pieces" on wasm when a group has at least 16
 * query rows (g·T ≥ 16), else "batched".
 */
export function chooseAttentionImpl(q: tf.Tensor4D, k: tf.Tensor4D): AttentionImpl {
  const [, t, h] = q.shape;
  const kv = k.shape[2];
  return tf.getBackend() === "wasm" && (h / kv) * t >= 16 ? "pieces" : "batched";
}

/** {@link causalAttention} with an explicit formulation (both give the same values and gradients). */
export function causalAttentionWith(impl: AttentionImpl, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, masks: tf.Tensor2D | AttentionMasks = {}): tf.Tensor2D {
  const m: AttentionMasks = masks instanceof tf.Tensor ? { keyMask: masks as tf.Tensor2D } : masks;
  const dm = dims(q, k, v, m);
  return (impl === "pieces" ? piecesAttention : batchedAttention)(dm, m)(q, k, v);
}

/**
 * Causal grouped-query attention: q [B, T, H, D], k and v [B, S, KV, D] with S ≥ T → [B·T, H·D]
 * (the [B, T, H·D] output flattened, ready for the output projection).
 *
 * Query t sits at absolute position S − T + t and sees keys 0..S−T+t (S = T is ordinary causal
 * training; S > T is decoding with a KV cache). Query head h uses KV head ⌊h / (H/KV)⌋, without
 * repeating K/V. `keyMask` [B, S] (1 = real token, 0 = padding) keeps padded keys from ever being
 * attended (left-padded batched generation); a query whose every visible key is masked outputs 0
 * (with zero gradient). `masks` is that key mask, or `{ keyMask?, packedBias? }` where
 * `packedBias` ({@link packedCausalBias}) keeps packed samples apart. Scores are scaled by 1/√D.
 * Differentiable w.r.t. q, k and v with a custom gradient that recomputes nothing and uses only
 * plain 2-D matmuls on wasm.
 *
 * @throws Error for shapes that do not fit together.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, masks?: tf.Tensor2D | AttentionMasks): tf.Tensor2D {
  return causalAttentionWith(chooseAttentionImpl(q, k), q, k, v, masks);
}

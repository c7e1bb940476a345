/**
 * Rotary position embeddings in the official BatGPT layout, x [B, T, nHeads, D] → same shape: the
 * first `rotDim` dimensions of each head are rotated as interleaved pairs (x[2i], x[2i+1]) by the
 * angle `p·θ_i`, `θ_i = base^(−2i/rotDim)`, and the remaining dimensions pass through.
 *
 * `out = x ⊙ C + (x · P) ⊙ S`, where C and S hold cos and sin duplicated per pair (1 and 0 on the
 * pass-through dimensions) and P is the constant signed pair swap ((x·P)[2i] = −x[2i+1],
 * (x·P)[2i+1] = x[2i]). The only product is one plain 2-D matmul with K = N = headDim, and the
 * custom gradient is `dy ⊙ C − (dy ⊙ S) · P` (Pᵀ = −P), so no gradient is computed for the
 * constant P; splitting even and odd dimensions apart with tfjs's default gradient is far slower
 * on wasm.
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `rope.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Rotary tables for positions 0..maxSeq−1: `cos` and `sin`, each a Float32Array of shape
 * [maxSeq, headDim] (row-major) with the value of pair i duplicated at 2i and 2i+1, and cos = 1,
 * sin = 0 on dimensions ≥ rotDim. Make tensors of them once:
 * `tf.tensor2d(cos, [maxSeq, headDim])`.
 */
export function rotaryTables(maxSeq: number, headDim: number, rotDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(maxSeq) || maxSeq <= 0) throw new Error(`rotaryTables: maxSeq must be a positive integer, got ${maxSeq}`);
  if (!Number.isInteger(headDim) || headDim <= 0) throw new Error(`rotaryTables: headDim must be a positive integer, got ${headDim}`);
  if (!Number.isInteger(rotDim) || rotDim <= 0 || rotDim % 2 !== 0 || rotDim > headDim) {
    throw new Error(`rotaryTables: rotDim must be a positive even integer ≤ headDim ${headDim}, got ${rotDim}`);
  }
  if (!(base > 0)) throw new Error(`rotaryTables: base must be positive, got ${base}`);
  const cos = new Float32Array(maxSeq * headDim).fill(1);
  const sin = new Float32Array(maxSeq * headDim);
  const half = rotDim / 2;
  for (let i = 0; i < half; i++) {
    const theta = Math.pow(base, (-2 * i) / rotDim);
    for (let p = 0; p < maxSeq; p++) {
      const c = Math.cos(p * theta);
      const s = Math.sin(p * theta);
      const o = p * headDim + 2 * i;
      cos[o] = c;
      cos[o + 1] = c;
      sin[o] = s;
      sin[o + 1] = s;
    }
  }
  return { cos, sin };
}

const pairSwaps = new Map<number, tf.Tensor2D>();

/**
 * The constant [D, D] signed pair swap P: (x·P)[2i] = −x[2i+1], (x·P)[2i+1] = x[2i]
 * (P is antisymmetric, so Pᵀ = −P). Created once per D and kept.
 */
export function pairSwapMatrix(d: number): tf.Tensor2D {
  const cached = pairSwaps.get(d);
  if (cached !== undefined && !cached.isDisposed) return cached;
  const m = new Float32Array(d * d);
  for (let i = 0; 2 * i + 1 < d; i++) {
    m[(2 * i + 1) * d + 2 * i] = -1;
    m[2 * i * d + 2 * i + 1] = 1;
  }
  const t = tf.keep(tf.tensor2d(m, [d, d]));
  pairSwaps.set(d, t);
  return t;
}

/**
 * Rotate `x` [B, T, nHeads, D] at positions start..start+T−1, given the tables as tensors
 * [maxSeq, D] (see {@link rotaryTables}): `out[2i] = x[2i]·cos − x[2i+1]·sin`,
 * `out[2i+1] = x[2i+1]·cos + x[2i]·sin`. `start` may instead be every token's own position,
 * `[B·T]` row-major (packed samples, whose positions restart at 0; see `packedPositions`).
 *
 * Custom gradient (w.r.t. `x` only): `dx = dy ⊙ C − ((dy ⊙ S) · P)`.
 *
 * @throws Error for a shape mismatch or a position outside the tables.
 */
export function applyRotary(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, start: number | Int32Array): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`applyRotary: x must be [B, T, nHeads, D], got [${x.shape}]`);
  const [b, t, h, d] = x.shape;
  if (cos.rank !== 2 || cos.shape[1] !== d || !tf.util.arraysEqual(cos.shape, sin.shape)) {
    throw new Error(`applyRotary: cos and sin must be [maxSeq, ${d}], got [${cos.shape}] and [${sin.shape}]`);
  }
  const maxSeq = cos.shape[0];
  if (typeof start === "number") {
    if (!Number.isInteger(start) || start < 0 || start + t > maxSeq) {
      throw new Error(`applyRotary: positions ${start}..${start + t - 1} are outside the tables' 0..${maxSeq - 1}`);
    }
  } else {
    if (start.length !== b * t) throw new Error(`applyRotary: ${start.length} positions for [${b}, ${t}] tokens`);
    const bad = start.findIndex((p) => p < 0 || p >= maxSeq);
    if (bad >= 0) throw new Error(`applyRotary: position ${start[bad]} of token ${bad} is outside the tables' 0..${maxSeq - 1}`);
  }
  /** The rows of a table for these positions: [T, 1, D], or [B, T, 1, D] per token. */
  const rows = (table: tf.Tensor2D): tf.Tensor =>
    typeof start === "number" ? tf.reshape(tf.slice(table, [start, 0], [t, d]), [t, 1, d]) : tf.reshape(tf.gather(table, tf.tensor1d(start, "int32")), [b, t, 1, d]);
  const p = pairSwapMatrix(d);
  const m = b * t * h;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor4D;
    const c = rows(cos);
    const s = rows(sin);
    const save = args[1] as tf.GradSaveFunc;
    save([c, s]);
    const xp = tf.reshape(tf.matMul(tf.reshape(xs, [m, d]), p), [b, t, h, d]);
    return {
      value: tf.add(tf.mul(xs, c), tf.mul(xp, s)) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [cs, ss] = saved as [tf.Tensor, tf.Tensor];
        const dys = tf.reshape(tf.mul(dy, ss), [m, d]) as tf.Tensor2D;
        return tf.sub(tf.mul(dy, cs), tf.reshape(tf.matMul(dys, p), [b, t, h, d]));
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * RMSNorm (pre-norm of every block and the final `ln_f`): `x · rsqrt(mean(x²) + eps) · w`,
 * x [N, H], w [H] → [N, H].
 *
 * Statistics broadcast (never `tile`, whose gradient is thousands of tiny slices). The custom
 * gradient saves the per-row scale and sums `dw` over rows as a plain matmul, because tfjs's
 * default gradient reduces `dw` over axis 0, which the wasm backend does by transposing first.
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `rmsnorm.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { sumRows } from "./linear.js";

/**
 * RMSNorm over the last axis: x [N, H], w [H] → [N, H].
 *
 * Custom gradient, with `r = rsqrt(mean(x²) + eps)` per row, `x̂ = x·r`, `g = dy·w`:
 * `dx = r · (g − x̂ · mean(g · x̂))`, `dw = Σ_rows dy · x̂`.
 */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 1 || x.shape[1] !== w.shape[0]) {
    throw new Error(`rmsNorm: x must be [N, H] and w [H], got [${x.shape}] and [${w.shape}]`);
  }
  if (!(eps >= 0)) throw new Error(`rmsNorm: eps must be ≥ 0, got ${eps}`);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor2D;
    const ws = args[1] as tf.Tensor1D;
    const save = args[2] as tf.GradSaveFunc;
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xs), -1, true), eps));
    save([xs, ws, r]);
    return {
      value: tf.mul(tf.mul(xs, r), ws) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xv, wv, rs] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
        const xhat = tf.mul(xv, rs) as tf.Tensor2D;
        const g = tf.mul(dy, wv) as tf.Tensor2D;
        const m = tf.mean(tf.mul(g, xhat), -1, true);
        const dx = tf.mul(rs, tf.sub(g, tf.mul(xhat, m)));
        const dw = sumRows(tf.mul(dy, xhat) as tf.Tensor2D);
        return [dx, dw];
      },
    };
  });
  return f(x, w) as tf.Tensor2D;
}

/** The same function with tfjs's default gradient, kept for the benchmark and the tests. */
export function rmsNormDefaultGrad(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w);
}

/**
 * The dense layer every projection goes through, x [N, in] · w [in, out] (+ b [out]) → [N, out],
 * with a gradient made only of plain 2-D matmuls.
 *
 * tfjs's own `matMul` gradient multiplies with the transpose flags, which tfjs-wasm runs on a naive
 * loop, about 10× slower than a plain `matMul(a, b)` (XNNPACK). So the gradient transposes its
 * operands explicitly and multiplies them without flags, and sums the bias gradient as
 * `ones[1, N] · dy` (`tf.sum(dy, 0)` transposes `dy` first).
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `linear.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Σ over rows of a 2-D tensor as a plain matmul: [N, K] → [K]. */
export function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  const [n, k] = x.shape;
  return tf.reshape(tf.matMul(tf.ones([1, n]), x), [k]);
}

const linearNoBias = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w] = args as [tf.Tensor2D, tf.Tensor2D];
  (args[2] as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.matMul(x, w) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
});

const linearBias = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  (args[3] as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy), sumRows(dy)];
    },
  };
});

/**
 * `x · w (+ b)`: x [N, in], w [in, out], b [out] → [N, out].
 *
 * Custom gradient: `dx = dy · transpose(w)`, `dw = transpose(x) · dy`, `db = Σ_rows dy`, all plain
 * 2-D matmuls on explicitly transposed operands (no transpose flags), which keeps the backward
 * pass on the fast XNNPACK path of the wasm backend.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2) throw new Error(`linear: x and w must be 2-D, got [${x.shape}] and [${w.shape}]`);
  if (x.shape[1] !== w.shape[0]) throw new Error(`linear: x [${x.shape}] does not match w [${w.shape}]`);
  if (b === undefined) return linearNoBias(x, w) as tf.Tensor2D;
  if (b.rank !== 1 || b.shape[0] !== w.shape[1]) throw new Error(`linear: bias [${b.shape}] does not match w [${w.shape}]`);
  return linearBias(x, w, b) as tf.Tensor2D;
}

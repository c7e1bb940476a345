/**
 * The language-model losses: weighted mean cross-entropy (logits [N, V], int32 targets [N],
 * weights [N] → scalar) and per-row target log-probabilities (→ [N]).
 *
 * Numerically stable without an `exp` pass (wasm's `Exp` is a scalar loop, much slower than its
 * XNNPACK `Softmax`): with `m = max(x)` and `p = softmax(x)`, the largest probability is
 * `p_max = 1 / Σ exp(x − m)`, so `log p(t) = (x_t − m) + log(p_max)`, a log-sum-exp whose terms
 * are all finite (`p_max ≥ 1/V`). The gradients are fused: `(softmax − onehot)` scaled per row,
 * the one-hot part added sparsely (`addAtColumns`).
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `cross-entropy.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { addAtColumns, pickColumns } from "./kernels.js";

function checkArgs(name: string, logits: tf.Tensor2D, targets: tf.Tensor1D): void {
  if (logits.rank !== 2) throw new Error(`${name}: logits must be [N, V], got [${logits.shape}]`);
  if (targets.rank !== 1 || targets.dtype !== "int32" || targets.shape[0] !== logits.shape[0]) {
    throw new Error(`${name}: targets must be int32 [${logits.shape[0]}], got ${targets.dtype} [${targets.shape}]`);
  }
}

/** `log softmax(x)[t]` per row and the softmax itself (for the gradient). */
function logProbsAndSoftmax(x: tf.Tensor2D, targets: tf.Tensor1D): { logp: tf.Tensor1D; p: tf.Tensor2D } {
  const p = tf.softmax(x);
  const logp = tf.add(tf.sub(pickColumns(x, targets), tf.max(x, -1)), tf.log(tf.max(p, -1))) as tf.Tensor1D;
  return { logp, p };
}

/**
 * Mean cross-entropy of `logits` [N, V] against int32 `targets` [N] with per-row `weights` [N]
 * (0 = ignore the row): `Σ w·ce / Σ w`, and 0 when every weight is 0.
 *
 * Differentiable w.r.t. `logits` only; fused custom gradient `(softmax − onehot) · w / Σw`.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  checkArgs("crossEntropy", logits, targets);
  if (weights.rank !== 1 || weights.shape[0] !== logits.shape[0]) {
    throw new Error(`crossEntropy: weights must be [${logits.shape[0]}], got [${weights.shape}]`);
  }
  const n = logits.shape[0];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const w = tf.cast(weights, "float32");
    const denom = tf.maximum(tf.sum(w), 1e-30);
    const { logp, p } = logProbsAndSoftmax(x, targets);
    save([p, w, denom, targets]);
    return {
      value: tf.div(tf.neg(tf.sum(tf.mul(w, logp))), denom) as tf.Scalar,
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const [ps, ws, ds, ts] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Scalar, tf.Tensor1D];
        const scale = tf.mul(tf.div(ws, ds), dy) as tf.Tensor1D;
        return addAtColumns(tf.mul(ps, tf.reshape(scale, [n, 1])) as tf.Tensor2D, ts, tf.neg(scale));
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/**
 * `log p(target)` per row: `logits` [N, V], int32 `targets` [N] → [N].
 *
 * Differentiable w.r.t. `logits`; custom gradient `dy · (onehot − softmax)` per row.
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  checkArgs("tokenLogProbs", logits, targets);
  const n = logits.shape[0];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const { logp, p } = logProbsAndSoftmax(x, targets);
    save([p, targets]);
    return {
      value: logp,
      gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
        const [ps, ts] = saved as [tf.Tensor2D, tf.Tensor1D];
        return addAtColumns(tf.mul(ps, tf.reshape(tf.neg(dy), [n, 1])) as tf.Tensor2D, ts, dy);
      },
    };
  });
  return f(logits) as tf.Tensor1D;
}

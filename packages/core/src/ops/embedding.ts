/**
 * Embedding lookup with a gradient that works on every backend: table [V, H], int32 ids [N] →
 * [N, H].
 *
 * tfjs's `gather` gradient needs `UnsortedSegmentSum`, which the wasm backend lacks (it throws),
 * and wasm's `gather` itself is slow. So the forward copies rows and the backward scatter-adds the
 * rows of `dy` into a zero table, both in JS over the backend's memory (see `kernels.ts`); on the
 * tensorflow backend the backward is `tf.unsortedSegmentSum`.
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `embedding.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { gatherRows, scatterAddRows } from "./kernels.js";

/**
 * Rows of `table` [V, H] at `ids` (int32 [N]) → [N, H].
 *
 * Custom gradient (w.r.t. `table` only): `dtable[v] = Σ_{i: ids[i] = v} dy[i]`, a [V, H] tensor.
 * An id outside [0, V) is an error that names it.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (table.rank !== 2) throw new Error(`embedding: table must be 2-D, got [${table.shape}]`);
  if (ids.rank !== 1 || ids.dtype !== "int32") throw new Error(`embedding: ids must be int32 [N], got ${ids.dtype} [${ids.shape}]`);
  const rows = table.shape[0];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const t = args[0] as tf.Tensor2D;
    (args[1] as tf.GradSaveFunc)([ids]);
    return {
      value: gatherRows(t, ids),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => scatterAddRows(dy, saved[0] as tf.Tensor1D, rows),
    };
  });
  return f(table) as tf.Tensor2D;
}

/**
 * The SwiGLU gate of the MLP: `silu(gate) ⊙ up` with `silu(x) = x · σ(x)`; gate, up [N, F] → [N, F].
 *
 * The custom gradient (9 elementwise passes, σ computed once) is no faster than tfjs's default
 * gradient on wasm; it is kept for its fixed op count and finite-difference test.
 *
 * Measurements (timings, alternatives tried, command, machine): bench/README.md, section
 * "Measured facts behind the ops (src/ops)", subsection `swiglu.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * SwiGLU: `silu(gate) ⊙ up`, both [N, F] → [N, F].
 *
 * Custom gradient with `s = σ(gate)` saved from the forward pass:
 * `dgate = dy · up · (s + silu(gate) · (1 − s))`, `dup = dy · silu(gate)`.
 */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  if (gate.rank !== 2 || !tf.util.arraysEqual(gate.shape, up.shape)) {
    throw new Error(`swiglu: gate and up must be the same [N, F] shape, got [${gate.shape}] and [${up.shape}]`);
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const gt = args[0] as tf.Tensor2D;
    const u = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    const s = tf.sigmoid(gt);
    const silu = tf.mul(gt, s);
    save([u, s, silu]);
    return {
      value: tf.mul(silu, u) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [us, ss, sl] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dup = tf.mul(dy, sl);
        const dgate = tf.mul(tf.mul(dy, us), tf.add(ss, tf.sub(sl, tf.mul(sl, ss))));
        return [dgate, dup];
      },
    };
  });
  return f(gate, up) as tf.Tensor2D;
}

/** The same function with tfjs's default gradient, kept for the benchmark and the tests. */
export function swigluDefaultGrad(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

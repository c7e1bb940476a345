/**
 * The measured peak of the active backend: FLOP/s of a plain 2-D `tf.matMul(a, b)` (no transpose
 * flags — the fast path on wasm) at the model's main matmul shapes. MFU is reported against this.
 */
import * as tf from "@tensorflow/tfjs-core";
import { median } from "./timing.js";

/** One timed shape. */
export interface MatmulShapeResult {
  /** `[m, k] × [k, n]`. */
  m: number;
  k: number;
  n: number;
  /** Median milliseconds of one matmul, output read back. */
  ms: number;
  gflops: number;
}

/** What {@link matmulPeak} measured. */
export interface MatmulPeak {
  shapes: MatmulShapeResult[];
  /** Total FLOPs over total time of the shapes (each shape once): the FLOP-weighted mean. */
  weightedGflops: number;
  /** The fastest shape. */
  maxGflops: number;
}

/**
 * Time `2·m·k·n` FLOPs of `tf.matMul(a, b)` for each `[m, k, n]`: one warm-up, then the median of
 * `repeats` runs. The wasm and cpu backends run a kernel synchronously, so the call has finished
 * the product when it returns; on any other backend each run also reads the output back.
 */
export function matmulPeak(shapes: readonly (readonly [number, number, number])[], repeats = 5): MatmulPeak {
  const sync = tf.getBackend() === "wasm" || tf.getBackend() === "cpu";
  const out: MatmulShapeResult[] = [];
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k], 0, 1, "float32", 1);
    const b = tf.randomNormal([k, n], 0, 1, "float32", 2);
    const times: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      if (!sync) c.dataSync();
      const dt = performance.now() - t0;
      c.dispose();
      if (i > 0) times.push(dt);
    }
    a.dispose();
    b.dispose();
    out.push(shapeResult(m, k, n, median(times)));
  }
  return summarize(out);
}

function shapeResult(m: number, k: number, n: number, ms: number): MatmulShapeResult {
  return { m, k, n, ms: Math.round(ms * 100) / 100, gflops: Math.round(((2 * m * k * n) / (ms / 1000) / 1e9) * 100) / 100 };
}

function summarize(shapes: MatmulShapeResult[]): MatmulPeak {
  let flops = 0;
  let secs = 0;
  for (const s of shapes) {
    flops += 2 * s.m * s.k * s.n;
    secs += s.ms / 1000;
  }
  return { shapes, weightedGflops: flops / secs / 1e9, maxGflops: Math.max(...shapes.map((s) => s.gflops)) };
}

/**
 * Several rounds of {@link matmulPeak} over the same shapes combined: per shape the fastest
 * round's median. On a shared machine a round can be slowed by other load; the peak is what the
 * backend can do.
 */
export function bestOf(rounds: readonly MatmulPeak[]): MatmulPeak {
  const first = rounds[0];
  if (!first) throw new Error("bestOf needs at least one round");
  return summarize(first.shapes.map((s, i) => shapeResult(s.m, s.k, s.n, Math.min(...rounds.map((r) => r.shapes[i]!.ms)))));
}

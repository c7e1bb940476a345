/**
 * Shared helpers of the ops tests (not a test file): a seeded generator, naive reference
 * implementations in plain JS (float64), and a finite-difference gradient check.
 */
import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";

/** mulberry32: a small seeded generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` normal(0, scale) values from `rand`. */
export function randn(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** `n` integers in [0, hi). */
export function randInts(n: number, hi: number, rand: () => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * hi);
  return out;
}

/** Product of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A float input of a gradient check: its shape and values. */
export interface Input {
  shape: number[];
  values: Float32Array;
}

/** Options of {@link gradCheck}. */
export interface GradCheckOptions {
  /** Step of the central difference. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Coordinates checked per input (all when the input is smaller). */
  coords?: number;
  seed?: number;
}

/**
 * Compare `tf.grads` of `sum(f(xs) ⊙ r)` (r a fixed random projection) with central differences
 * in float32 inputs, the projection summed in float64. Checks up to `coords` coordinates of every
 * input; returns the largest error seen.
 */
export function gradCheck(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Input[], options: GradCheckOptions = {}): number {
  const { eps = 1e-2, atol = 2e-3, rtol = 1e-2, coords = 24, seed = 7 } = options;
  const rand = rng(seed);
  const make = (vals: Float32Array[]) => vals.map((v, i) => tf.tensor(v, inputs[i]!.shape));
  const outShape = tf.tidy(() => f(...make(inputs.map((i) => i.values))).shape);
  const r = randn(size(outShape), rand);
  const loss = (vals: Float32Array[]): number => {
    const out = tf.tidy(() => f(...make(vals)).dataSync());
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i]! * r[i]!;
    return s;
  };
  const analytic = tf.tidy(() => {
    const xs = make(inputs.map((i) => i.values));
    const rt = tf.tensor(r, outShape);
    const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), rt)))(xs);
    return gs.map((g) => Float32Array.from(g.dataSync()));
  });
  let worst = 0;
  inputs.forEach((inp, k) => {
    const n = inp.values.length;
    const picks = n <= coords ? [...Array(n).keys()] : Array.from({ length: coords }, () => Math.floor(rand() * n));
    const ana = analytic[k]!;
    for (const j of picks) {
      const plus = inputs.map((i) => Float32Array.from(i.values));
      const minus = inputs.map((i) => Float32Array.from(i.values));
      plus[k]![j]! += eps;
      minus[k]![j]! -= eps;
      const num = (loss(plus) - loss(minus)) / (2 * eps);
      const err = Math.abs(num - ana[j]!);
      worst = Math.max(worst, err);
      if (err > atol + rtol * Math.abs(ana[j]!)) {
        throw new Error(`gradient of input ${k} at ${j}: analytic ${ana[j]}, numeric ${num}`);
      }
    }
  });
  return worst;
}

/** Plain JS softmax in float64. */
export function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * Naive causal GQA attention in float64 loops: q [B,T,H,D], k/v [B,S,KV,D] (flat arrays),
 * optional keyMask [B,S] → [B·T, H·D] flat.
 */
export function refAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: { b: number; t: number; s: number; h: number; kv: number; d: number },
  keyMask?: ArrayLike<number>,
): Float64Array {
  const { b, t, s, h, kv, d } = dims;
  const g = h / kv;
  const out = new Float64Array(b * t * h * d);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const kh = Math.floor(hi / g);
      for (let ti = 0; ti < t; ti++) {
        const pos = s - t + ti;
        const scores: number[] = [];
        const keys: number[] = [];
        for (let si = 0; si <= pos; si++) {
          if (keyMask !== undefined && keyMask[bi * s + si] === 0) continue;
          let dot = 0;
          for (let di = 0; di < d; di++) dot += q[((bi * t + ti) * h + hi) * d + di]! * k[((bi * s + si) * kv + kh) * d + di]!;
          scores.push(dot / Math.sqrt(d));
          keys.push(si);
        }
        if (keys.length === 0) continue;
        const p = softmax(scores);
        for (let di = 0; di < d; di++) {
          let acc = 0;
          keys.forEach((si, j) => {
            acc += p[j]! * v[((bi * s + si) * kv + kh) * d + di]!;
          });
          out[((bi * t + ti) * h + hi) * d + di] = acc;
        }
      }
    }
  }
  return out;
}

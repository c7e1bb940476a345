/**
 * cpu and wasm agree on every op's forward value and gradient (max abs diff ≤ 1e-4), and running
 * forward + backward repeatedly inside tf.tidy leaves the tensor count unchanged.
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { selectBackend } from "../src/backend.js";
import {
  applyRotary,
  causalAttention,
  causalAttentionWith,
  crossEntropy,
  embedding,
  linear,
  rmsNorm,
  rotaryTables,
  swiglu,
  tokenLogProbs,
} from "../src/ops/index.js";
import { maxAbsDiff, randInts, randn, rng, size } from "./ops-helpers.js";

/** An op under test: float inputs (differentiated), and a function of their tensors. */
interface Case {
  name: string;
  inputs: Array<{ shape: number[]; values: Float32Array }>;
  /** Builds the op's output from the float inputs; may create its own constant tensors. */
  f: (...xs: tf.Tensor[]) => tf.Tensor;
}

const rand = rng(21);
const inp = (shape: number[], scale = 1) => ({ shape, values: randn(size(shape), rand, scale) });
const ids = randInts(24, 50, rand);
const targets = randInts(12, 40, rand);
const weights = Float32Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? 0 : 1 + (i % 3)));
const tables = rotaryTables(32, 8, 4, 10000);
const mask = Float32Array.from({ length: 2 * 16 }, (_, i) => (i < 3 || (i >= 16 && i < 17) ? 0 : 1));

const cases: Case[] = [
  { name: "linear", inputs: [inp([12, 16]), inp([16, 24]), inp([24])], f: (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D) },
  { name: "linear without bias", inputs: [inp([12, 16]), inp([16, 24])], f: (x, w) => linear(x as tf.Tensor2D, w as tf.Tensor2D) },
  { name: "embedding", inputs: [inp([50, 8])], f: (t) => embedding(t as tf.Tensor2D, tf.tensor1d(ids, "int32")) },
  { name: "rmsNorm", inputs: [inp([12, 16]), inp([16])], f: (x, w) => rmsNorm(x as tf.Tensor2D, w as tf.Tensor1D, 1e-5) },
  {
    name: "applyRotary",
    inputs: [inp([2, 5, 3, 8])],
    f: (x) => applyRotary(x as tf.Tensor4D, tf.tensor2d(tables.cos, [32, 8]), tf.tensor2d(tables.sin, [32, 8]), 7),
  },
  { name: "swiglu", inputs: [inp([12, 20], 2), inp([12, 20])], f: (g, u) => swiglu(g as tf.Tensor2D, u as tf.Tensor2D) },
  {
    name: "crossEntropy",
    inputs: [inp([12, 40], 3)],
    f: (l) => crossEntropy(l as tf.Tensor2D, tf.tensor1d(targets, "int32"), tf.tensor1d(weights)),
  },
  { name: "tokenLogProbs", inputs: [inp([12, 40], 3)], f: (l) => tokenLogProbs(l as tf.Tensor2D, tf.tensor1d(targets, "int32")) },
  {
    name: "causalAttention (GQA, auto: pieces on wasm, batched on cpu)",
    inputs: [inp([2, 16, 4, 8]), inp([2, 16, 2, 8]), inp([2, 16, 2, 8])],
    f: (q, k, v) => causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D),
  },
  {
    name: "causalAttention (key mask, pieces)",
    inputs: [inp([2, 16, 4, 8]), inp([2, 16, 1, 8]), inp([2, 16, 1, 8])],
    f: (q, k, v) => causalAttentionWith("pieces", q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, tf.tensor2d(mask, [2, 16])),
  },
  {
    name: "causalAttention (KV cache S > T, batched)",
    inputs: [inp([2, 3, 4, 8]), inp([2, 9, 2, 8]), inp([2, 9, 2, 8])],
    f: (q, k, v) => causalAttentionWith("batched", q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D),
  },
];

/** Value and gradients of sum(f(xs) ⊙ r) as plain arrays. */
function evaluate(c: Case): Float32Array[] {
  let out: Float32Array[] = [];
  tf.tidy(() => {
    const xs = c.inputs.map((i) => tf.tensor(i.values, i.shape));
    const y = c.f(...xs);
    const r = tf.tensor(randn(y.size, rng(3)), y.shape);
    const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.f(...a), r)))(xs);
    out = [y, ...gs].map((t) => Float32Array.from(t.dataSync()));
  });
  return out;
}

describe("cpu and wasm agree", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    await selectBackend({ backend: "cpu", log: false });
    const onCpu = evaluate(c);
    await selectBackend({ backend: "wasm", log: false });
    const onWasm = evaluate(c);
    expect(onWasm.length).toBe(onCpu.length);
    onCpu.forEach((a, i) => expect(maxAbsDiff(a, onWasm[i]!)).toBeLessThanOrEqual(1e-4));
  });
});

describe.each(["wasm", "cpu"] as const)("no tensor leaks on %s", (backend) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s: forward + backward ×5 inside tf.tidy", async (_name, c) => {
    await selectBackend({ backend, log: false });
    const xs = c.inputs.map((i) => tf.tensor(i.values, i.shape));
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(c.f(...a)))(xs);
        return grads.reduce((acc: tf.Tensor, g) => tf.add(acc, tf.sum(g)), value).dataSync();
      });
    step(); // creates the cached constants (pair-swap matrix, causal bias) once
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    // forward alone (no tape) leaks nothing either
    for (let i = 0; i < 3; i++) tf.tidy(() => c.f(...xs).dataSync());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(xs);
  });
});

/**
 * Finite-difference checks of every custom gradient in src/ops, on wasm and on cpu.
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { selectBackend } from "../src/backend.js";
import {
  applyRotary,
  causalAttentionWith,
  crossEntropy,
  embedding,
  linear,
  packedCausalBias,
  rmsNorm,
  rotaryTables,
  swiglu,
  tokenLogProbs,
} from "../src/ops/index.js";
import type { AttentionImpl } from "../src/ops/index.js";
import { gradCheck, randInts, randn, rng } from "./ops-helpers.js";

describe.each(["wasm", "cpu"] as const)("custom gradients match finite differences on %s", (backend) => {
  const use = () => selectBackend({ backend, log: false });
  const rand = rng(11);
  const inp = (shape: number[], scale = 1) => ({ shape, values: randn(shape.reduce((a, b) => a * b, 1), rand, scale) });

  it("linear, with and without bias", async () => {
    await use();
    const x = inp([5, 4]);
    const w = inp([4, 3]);
    const b = inp([3]);
    gradCheck((xs, ws) => linear(xs as tf.Tensor2D, ws as tf.Tensor2D), [x, w]);
    gradCheck((xs, ws, bs) => linear(xs as tf.Tensor2D, ws as tf.Tensor2D, bs as tf.Tensor1D), [x, w, b]);
  });

  it("embedding (repeated ids accumulate)", async () => {
    await use();
    const ids = tf.tensor1d([2, 0, 2, 4, 2], "int32");
    gradCheck((t) => embedding(t as tf.Tensor2D, ids), [inp([6, 3])]);
    ids.dispose();
  });

  it("rmsNorm", async () => {
    await use();
    gradCheck((x, w) => rmsNorm(x as tf.Tensor2D, w as tf.Tensor1D, 1e-5), [inp([4, 6]), inp([6])], { eps: 3e-3 });
  });

  it("applyRotary (partial rotation, offset start)", async () => {
    await use();
    const { cos, sin } = rotaryTables(10, 6, 4, 10000);
    const c = tf.tensor2d(cos, [10, 6]);
    const s = tf.tensor2d(sin, [10, 6]);
    gradCheck((x) => applyRotary(x as tf.Tensor4D, c, s, 3), [inp([2, 3, 2, 6])]);
    // every token at its own position (packed samples)
    gradCheck((x) => applyRotary(x as tf.Tensor4D, c, s, Int32Array.from([0, 1, 0, 4, 0, 1])), [inp([2, 3, 2, 6])]);
    tf.dispose([c, s]);
  });

  it("swiglu", async () => {
    await use();
    gradCheck((g, u) => swiglu(g as tf.Tensor2D, u as tf.Tensor2D), [inp([3, 5], 2), inp([3, 5])]);
  });

  it("crossEntropy (some rows weighted 0)", async () => {
    await use();
    const targets = tf.tensor1d([1, 6, 0, 3], "int32");
    const weights = tf.tensor1d([1, 0, 2, 0.5]);
    gradCheck((l) => crossEntropy(l as tf.Tensor2D, targets, weights), [inp([4, 7], 2)]);
    tf.dispose([targets, weights]);
  });

  it("tokenLogProbs", async () => {
    await use();
    const targets = tf.tensor1d([1, 6, 0], "int32");
    gradCheck((l) => tokenLogProbs(l as tf.Tensor2D, targets), [inp([3, 7], 2)]);
    targets.dispose();
  });

  describe.each(["pieces", "batched"] as AttentionImpl[])("causalAttention (%s)", (impl) => {
    const attn = (mask?: tf.Tensor2D) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
      causalAttentionWith(impl, q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, mask);

    it("multi-head, S = T", async () => {
      await use();
      gradCheck(attn(), [inp([2, 4, 2, 3]), inp([2, 4, 2, 3]), inp([2, 4, 2, 3])], { coords: 16 });
    });

    it("grouped-query (H=4, KV=2) with S > T", async () => {
      await use();
      gradCheck(attn(), [inp([1, 3, 4, 4]), inp([1, 5, 2, 4]), inp([1, 5, 2, 4])], { coords: 16 });
    });

    it("multi-query (KV=1) with a key mask", async () => {
      await use();
      const mask = tf.tensor2d([0, 1, 1, 1, 1, 0, 0, 1, 1, 1], [2, 5]);
      gradCheck(attn(mask), [inp([2, 5, 2, 3]), inp([2, 5, 1, 3]), inp([2, 5, 1, 3])], { coords: 16 });
      mask.dispose();
    });

    it("packed samples (block-diagonal causal bias)", async () => {
      await use();
      const bias = packedCausalBias(Int32Array.from([0, 0, 1, 1, 1, 0, 1, 1, 2, 2]), 2, 5);
      gradCheck(
        (q, k, v) => causalAttentionWith(impl, q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { packedBias: bias }),
        [inp([2, 5, 4, 3]), inp([2, 5, 2, 3]), inp([2, 5, 2, 3])],
        { coords: 16 },
      );
      bias.dispose();
    });
  });

  it("gradCheck itself notices a wrong gradient", async () => {
    await use();
    const wrong = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const x = args[0] as tf.Tensor;
      return { value: tf.square(x), gradFunc: (dy: tf.Tensor) => tf.mul(dy, x) };
    });
    expect(() => gradCheck((x) => wrong(x), [inp([3])])).toThrow(/gradient of input 0/);
  });
});

describe("integer inputs", () => {
  it("embedding and the losses reject float ids", async () => {
    await selectBackend({ backend: "wasm", log: false });
    const rand = rng(3);
    tf.tidy(() => {
      const table = tf.tensor2d(randn(12, rand), [4, 3]);
      const logits = tf.tensor2d(randn(8, rand), [2, 4]);
      expect(() => embedding(table, tf.tensor1d([1, 2]))).toThrow(/int32/);
      expect(() => crossEntropy(logits, tf.tensor1d([1, 2]), tf.ones([2]))).toThrow(/int32/);
      expect(() => tokenLogProbs(logits, tf.tensor1d(Float32Array.from(randInts(2, 4, rand))))).toThrow(/int32/);
    });
  });
});

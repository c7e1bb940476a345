/**
 * Values of every op against plain JS references (float64 loops), on wasm; plus the properties
 * attention must have (causality, GQA head mapping, key mask) and the input checks.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../src/backend.js";
import {
  applyRotary,
  causalAttention,
  causalAttentionWith,
  chooseAttentionImpl,
  crossEntropy,
  embedding,
  linear,
  rmsNorm,
  rotaryTables,
  swiglu,
  tokenLogProbs,
} from "../src/ops/index.js";
import type { AttentionImpl } from "../src/ops/index.js";
import { maxAbsDiff, randInts, randn, refAttention, rng, softmax } from "./ops-helpers.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
});

const rand = rng(5);

describe("linear", () => {
  it("matches x·w + b", () => {
    const [n, i, o] = [3, 4, 5];
    const x = randn(n * i, rand);
    const w = randn(i * o, rand);
    const b = randn(o, rand);
    const ref = new Float64Array(n * o);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < o; c++) {
        let acc = b[c]!;
        for (let k = 0; k < i; k++) acc += x[r * i + k]! * w[k * o + c]!;
        ref[r * o + c] = acc;
      }
    }
    const got = tf.tidy(() => linear(tf.tensor2d(x, [n, i]), tf.tensor2d(w, [i, o]), tf.tensor1d(b)).dataSync());
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
    const noBias = tf.tidy(() => linear(tf.tensor2d(x, [n, i]), tf.tensor2d(w, [i, o])).dataSync());
    expect(maxAbsDiff(noBias, ref.map((v, j) => v - b[j % o]!))).toBeLessThan(1e-5);
  });

  it("names mismatched shapes", () => {
    tf.tidy(() => {
      expect(() => linear(tf.zeros([2, 3]), tf.zeros([4, 5]))).toThrow(/does not match/);
      expect(() => linear(tf.zeros([2, 3]), tf.zeros([3, 5]), tf.zeros([4]))).toThrow(/bias/);
    });
  });
});

describe("embedding", () => {
  it("looks rows up and rejects ids outside the table", () => {
    const table = randn(5 * 3, rand);
    const ids = [4, 0, 4, 2];
    const got = tf.tidy(() => embedding(tf.tensor2d(table, [5, 3]), tf.tensor1d(ids, "int32")).dataSync());
    expect(Array.from(got)).toEqual(ids.flatMap((id) => Array.from(table.subarray(id * 3, id * 3 + 3))));
    expect(() => tf.tidy(() => embedding(tf.tensor2d(table, [5, 3]), tf.tensor1d([1, 5], "int32")))).toThrow(/id 5 at position 1/);
  });

  it("scatter-adds the gradient of repeated ids", () => {
    const g = tf.tidy(() => {
      const dy = tf.tensor2d([1, 2, 10, 20, 100, 200], [3, 2]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, tf.tensor1d([1, 3, 1], "int32")), dy)))(tf.zeros([4, 2])).dataSync();
    });
    expect(Array.from(g)).toEqual([0, 0, 101, 202, 0, 0, 10, 20]);
  });
});

describe("rmsNorm", () => {
  it("matches x · rsqrt(mean(x²) + eps) · w", () => {
    const [n, h, eps] = [3, 6, 1e-5];
    const x = randn(n * h, rand);
    const w = randn(h, rand);
    const ref = new Float64Array(n * h);
    for (let r = 0; r < n; r++) {
      let ms = 0;
      for (let j = 0; j < h; j++) ms += x[r * h + j]! ** 2 / h;
      for (let j = 0; j < h; j++) ref[r * h + j] = (x[r * h + j]! / Math.sqrt(ms + eps)) * w[j]!;
    }
    const got = tf.tidy(() => rmsNorm(tf.tensor2d(x, [n, h]), tf.tensor1d(w), eps).dataSync());
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
  });
});

describe("rotary", () => {
  it("tables hold cos/sin of p·θ_i duplicated per pair, identity past rotDim", () => {
    const { cos, sin } = rotaryTables(3, 6, 4, 100);
    // θ_0 = 1, θ_1 = 100^(−2/4) = 0.1
    const row = (a: Float32Array, p: number) => Array.from(a.subarray(p * 6, p * 6 + 6));
    expect(row(cos, 0)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(row(sin, 0)).toEqual([0, 0, 0, 0, 0, 0]);
    const c2 = row(cos, 2);
    const s2 = row(sin, 2);
    const want = [Math.cos(2), Math.cos(2), Math.cos(0.2), Math.cos(0.2), 1, 1];
    const wantS = [Math.sin(2), Math.sin(2), Math.sin(0.2), Math.sin(0.2), 0, 0];
    expect(maxAbsDiff(c2, want)).toBeLessThan(1e-7);
    expect(maxAbsDiff(s2, wantS)).toBeLessThan(1e-7);
    expect(() => rotaryTables(4, 6, 3, 1e4)).toThrow(/rotDim/);
    expect(() => rotaryTables(4, 6, 8, 1e4)).toThrow(/rotDim/);
  });

  it("rotates a hand-made example by the official formula", () => {
    // headDim 4, rotDim 2 (the official n_elem = head_dim / 2): pair (x0, x1) turns by p·1, x2, x3 pass
    const { cos, sin } = rotaryTables(4, 4, 2, 10000);
    const got = tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 1, 2, 3, 4], [1, 2, 1, 4]);
      return applyRotary(x, tf.tensor2d(cos, [4, 4]), tf.tensor2d(sin, [4, 4]), 1).dataSync();
    });
    const [c1, s1, c2, s2] = [Math.cos(1), Math.sin(1), Math.cos(2), Math.sin(2)];
    const want = [1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3, 4, 1 * c2 - 2 * s2, 2 * c2 + 1 * s2, 3, 4];
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
  });

  it("matches the pairwise formula on random heads at an offset", () => {
    const [b, t, h, d, rot, start, maxSeq] = [2, 3, 2, 8, 6, 2, 8];
    const { cos, sin } = rotaryTables(maxSeq, d, rot, 10000);
    const x = randn(b * t * h * d, rand);
    const ref = new Float64Array(x.length);
    for (let bi = 0; bi < b; bi++) {
      for (let ti = 0; ti < t; ti++) {
        const p = start + ti;
        for (let hi = 0; hi < h; hi++) {
          const o = ((bi * t + ti) * h + hi) * d;
          for (let j = 0; j < d; j++) ref[o + j] = x[o + j]!;
          for (let i = 0; i < rot / 2; i++) {
            const th = p * Math.pow(10000, (-2 * i) / rot);
            const [x0, x1] = [x[o + 2 * i]!, x[o + 2 * i + 1]!];
            ref[o + 2 * i] = x0 * Math.cos(th) - x1 * Math.sin(th);
            ref[o + 2 * i + 1] = x1 * Math.cos(th) + x0 * Math.sin(th);
          }
        }
      }
    }
    const got = tf.tidy(() =>
      applyRotary(tf.tensor4d(x, [b, t, h, d]), tf.tensor2d(cos, [maxSeq, d]), tf.tensor2d(sin, [maxSeq, d]), start).dataSync(),
    );
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
    expect(() =>
      tf.tidy(() => applyRotary(tf.tensor4d(x, [b, t, h, d]), tf.tensor2d(cos, [maxSeq, d]), tf.tensor2d(sin, [maxSeq, d]), 6)),
    ).toThrow(/outside the tables/);
  });
});

describe("swiglu", () => {
  it("matches silu(gate) · up", () => {
    const g = randn(12, rand, 3);
    const u = randn(12, rand);
    const ref = Array.from(g, (x, i) => (x / (1 + Math.exp(-x))) * u[i]!);
    const got = tf.tidy(() => swiglu(tf.tensor2d(g, [3, 4]), tf.tensor2d(u, [3, 4])).dataSync());
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
  });
});

describe("cross-entropy and token log-probs", () => {
  const [n, v] = [5, 9];
  const logits = randn(n * v, rand, 3);
  const targets = Array.from(randInts(n, v, rand));
  const logp = (l: ArrayLike<number>, row: number, t: number) => {
    const xs = Array.from({ length: v }, (_, j) => l[row * v + j]!);
    const m = Math.max(...xs);
    return xs[t]! - m - Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
  };

  it("tokenLogProbs is log softmax at the target", () => {
    const got = tf.tidy(() => tokenLogProbs(tf.tensor2d(logits, [n, v]), tf.tensor1d(targets, "int32")).dataSync());
    expect(maxAbsDiff(got, targets.map((t, r) => logp(logits, r, t)))).toBeLessThan(1e-5);
  });

  it("crossEntropy is the weighted mean, zero weights ignore rows, all-zero weights give 0", () => {
    const w = [1, 0, 2, 0.5, 0];
    const want = -targets.reduce((a, t, r) => a + w[r]! * logp(logits, r, t), 0) / 3.5;
    const run = (ws: number[]) =>
      tf.tidy(() => crossEntropy(tf.tensor2d(logits, [n, v]), tf.tensor1d(targets, "int32"), tf.tensor1d(ws)).dataSync()[0]!);
    expect(run(w)).toBeCloseTo(want, 5);
    // the value does not depend on the logits of ignored rows
    const changed = Float32Array.from(logits);
    changed.fill(50, 1 * v, 2 * v);
    const again = tf.tidy(() => crossEntropy(tf.tensor2d(changed, [n, v]), tf.tensor1d(targets, "int32"), tf.tensor1d(w)).dataSync()[0]!);
    expect(again).toBeCloseTo(want, 5);
    expect(Math.abs(run([0, 0, 0, 0, 0]))).toBe(0);
    const g = tf.tidy(() =>
      tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, tf.tensor1d(targets, "int32"), tf.zeros([n])))(tf.tensor2d(logits, [n, v])).dataSync(),
    );
    expect(g.every((x) => x === 0)).toBe(true);
  });

  it("is stable for huge logits (log-sum-exp) and its gradient is (softmax − onehot)·w/Σw", () => {
    const big = Float32Array.from(logits, (x) => x * 1000);
    const w = [1, 1, 1, 1, 1];
    const val = tf.tidy(() => crossEntropy(tf.tensor2d(big, [n, v]), tf.tensor1d(targets, "int32"), tf.tensor1d(w)).dataSync()[0]!);
    const want = -targets.reduce((a, t, r) => a + logp(big, r, t), 0) / n;
    expect(Number.isFinite(val)).toBe(true);
    expect(Math.abs(val - want) / want).toBeLessThan(1e-5);
    const g = tf.tidy(() =>
      tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, tf.tensor1d(targets, "int32"), tf.tensor1d(w)))(tf.tensor2d(logits, [n, v])).dataSync(),
    );
    const ref: number[] = [];
    for (let r = 0; r < n; r++) {
      const p = softmax(Array.from(logits.subarray(r * v, (r + 1) * v)));
      p.forEach((pj, j) => ref.push((pj - (j === targets[r] ? 1 : 0)) / n));
    }
    expect(maxAbsDiff(g, ref)).toBeLessThan(1e-6);
  });

  it("names a target outside the vocabulary", () => {
    expect(() => tf.tidy(() => tokenLogProbs(tf.tensor2d(logits, [n, v]), tf.tensor1d([0, 1, 2, 3, 9], "int32")))).toThrow(/target 9 at position 4/);
  });
});

describe.each(["pieces", "batched"] as AttentionImpl[])("causalAttention (%s)", (impl) => {
  const run = (
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    dm: { b: number; t: number; s: number; h: number; kv: number; d: number },
    mask?: number[],
  ) =>
    tf.tidy(() =>
      causalAttentionWith(
        impl,
        tf.tensor4d(q, [dm.b, dm.t, dm.h, dm.d]),
        tf.tensor4d(k, [dm.b, dm.s, dm.kv, dm.d]),
        tf.tensor4d(v, [dm.b, dm.s, dm.kv, dm.d]),
        mask === undefined ? undefined : tf.tensor2d(mask, [dm.b, dm.s]),
      ).dataSync(),
    );
  const inputs = (dm: { b: number; t: number; s: number; h: number; kv: number; d: number }) => ({
    q: randn(dm.b * dm.t * dm.h * dm.d, rand),
    k: randn(dm.b * dm.s * dm.kv * dm.d, rand),
    v: randn(dm.b * dm.s * dm.kv * dm.d, rand),
  });

  it.each([
    ["multi-head, S = T", { b: 2, t: 5, s: 5, h: 2, kv: 2, d: 4 }],
    ["grouped-query", { b: 2, t: 4, s: 4, h: 4, kv: 2, d: 3 }],
    ["multi-query", { b: 1, t: 6, s: 6, h: 3, kv: 1, d: 4 }],
    ["decoding with a KV cache (S > T)", { b: 2, t: 2, s: 7, h: 4, kv: 2, d: 4 }],
    ["one new token", { b: 3, t: 1, s: 5, h: 2, kv: 1, d: 4 }],
  ])("%s matches the naive reference", (_name, dm) => {
    const { q, k, v } = inputs(dm);
    expect(maxAbsDiff(run(q, k, v, dm), refAttention(q, k, v, dm))).toBeLessThan(1e-5);
  });

  it("is causal: changing a future key or value never changes an earlier output", () => {
    const dm = { b: 1, t: 6, s: 6, h: 4, kv: 2, d: 4 };
    const { q, k, v } = inputs(dm);
    const base = run(q, k, v, dm);
    const cut = 3; // change keys/values at positions ≥ 3
    const k2 = Float32Array.from(k);
    const v2 = Float32Array.from(v);
    for (let i = cut * dm.kv * dm.d; i < k.length; i++) {
      k2[i] = k2[i]! + 5;
      v2[i] = v2[i]! - 7;
    }
    const after = run(q, k2, v2, dm);
    const row = dm.h * dm.d;
    expect(Array.from(after.subarray(0, cut * row))).toEqual(Array.from(base.subarray(0, cut * row)));
    expect(maxAbsDiff(after.subarray(cut * row), base.subarray(cut * row))).toBeGreaterThan(1e-2);
  });

  it("maps query head h to KV head ⌊h / (H/KV)⌋", () => {
    const dm = { b: 1, t: 3, s: 3, h: 4, kv: 2, d: 2 };
    const { q, k, v } = inputs(dm);
    const base = run(q, k, v, dm);
    const v2 = Float32Array.from(v);
    for (let s = 0; s < dm.s; s++) for (let j = 0; j < dm.d; j++) v2[(s * dm.kv + 1) * dm.d + j]! += 3; // KV head 1
    const after = run(q, k, v2, dm);
    for (let t = 0; t < dm.t; t++) {
      for (let h = 0; h < dm.h; h++) {
        const o = (t * dm.h + h) * dm.d;
        const delta = maxAbsDiff(after.subarray(o, o + dm.d), base.subarray(o, o + dm.d));
        if (h < 2) expect(delta).toBe(0);
        else expect(delta).toBeCloseTo(3, 5); // attention weights sum to 1: every output moves by 3
      }
    }
  });

  it("never attends a masked key; a left-padded row equals the unpadded run", () => {
    const dm = { b: 2, t: 5, s: 5, h: 2, kv: 1, d: 3 };
    const { q, k, v } = inputs(dm);
    const mask = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    const got = run(q, k, v, dm, mask);
    expect(maxAbsDiff(got, refAttention(q, k, v, dm, mask))).toBeLessThan(1e-5);
    // masked keys' contents do not matter
    const k2 = Float32Array.from(k);
    const v2 = Float32Array.from(v);
    for (let i = 0; i < 2 * dm.d; i++) {
      k2[i] = 100;
      v2[i] = -100;
    }
    expect(Array.from(run(q, k2, v2, dm, mask))).toEqual(Array.from(got));
    // fully masked queries (positions 0 and 1 of batch 0) output 0
    expect(Array.from(got.subarray(0, 2 * dm.h * dm.d)).every((x) => x === 0)).toBe(true);
    // batch 0 positions 2..4 equal a run on the 3 real tokens alone
    const sub = { b: 1, t: 3, s: 3, h: 2, kv: 1, d: 3 };
    const alone = run(q.subarray(2 * 6, 5 * 6), k.subarray(2 * 3, 5 * 3), v.subarray(2 * 3, 5 * 3), sub);
    expect(maxAbsDiff(got.subarray(2 * 6, 5 * 6), alone)).toBeLessThan(1e-6);
  });

  it("decodes with a KV cache over left-padded rows (S > T with a key mask)", () => {
    const dm = { b: 3, t: 2, s: 6, h: 4, kv: 2, d: 3 };
    const { q, k, v } = inputs(dm);
    const mask = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1];
    expect(maxAbsDiff(run(q, k, v, dm, mask), refAttention(q, k, v, dm, mask))).toBeLessThan(1e-5);
  });
});

describe("causalAttention", () => {
  it("picks pieces on wasm for training-sized groups and batched for single tokens", () => {
    tf.tidy(() => {
      expect(chooseAttentionImpl(tf.zeros([2, 16, 4, 8]) as tf.Tensor4D, tf.zeros([2, 16, 4, 8]) as tf.Tensor4D)).toBe("pieces");
      expect(chooseAttentionImpl(tf.zeros([2, 1, 4, 8]) as tf.Tensor4D, tf.zeros([2, 9, 4, 8]) as tf.Tensor4D)).toBe("batched");
    });
  });

  it("names inconsistent shapes", () => {
    tf.tidy(() => {
      const q = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
      expect(() => causalAttention(q, tf.zeros([1, 3, 2, 2]) as tf.Tensor4D, tf.zeros([1, 3, 2, 2]) as tf.Tensor4D)).toThrow(/S ≥ T/);
      expect(() => causalAttention(q, tf.zeros([1, 4, 3, 2]) as tf.Tensor4D, tf.zeros([1, 4, 3, 2]) as tf.Tensor4D)).toThrow(/multiple/);
      expect(() => causalAttention(q, tf.zeros([1, 4, 2, 2]) as tf.Tensor4D, tf.zeros([1, 4, 2, 2]) as tf.Tensor4D, tf.ones([1, 3]) as tf.Tensor2D)).toThrow(
        /keyMask/,
      );
    });
  });
});

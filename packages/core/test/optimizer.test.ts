import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../src/backend.js";
import { resolveConfig } from "../src/config.js";
import { AdamW, GradAccumulator, clipGradNorm, decayFromSpecs, disposeGrads, globalNorm, gradsByName, type GradMap } from "../src/optimizer.js";
import { parameterSpecs } from "../src/params.js";
import { Rng } from "../src/rng.js";

beforeAll(async () => {
  await selectBackend({ backend: "cpu", log: false });
});

const shapes: Record<string, number[]> = { w: [3, 4], b: [4], norm: [4] };

function makeParams(seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  const m = new Map<string, tf.Variable>();
  for (const [name, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    m.set(name, tf.variable(tf.tensor(rng.normals(size), shape), true));
  }
  return m;
}

function readParams(params: Map<string, tf.Variable>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [n, p] of params) out[n] = p.dataSync() as Float32Array;
  return out;
}

function disposeParams(params: Map<string, tf.Variable>): void {
  for (const p of params.values()) p.dispose();
}

/** Plain-JS AdamW in float64. */
class RefAdamW {
  m: Record<string, Float64Array> = {};
  v: Record<string, Float64Array> = {};
  t = 0;
  constructor(
    public w: Record<string, Float64Array>,
    private o: { beta1: number; beta2: number; eps: number; wd: number; decay: (n: string) => boolean },
  ) {
    for (const [n, a] of Object.entries(w)) {
      this.m[n] = new Float64Array(a.length);
      this.v[n] = new Float64Array(a.length);
    }
  }
  step(g: Record<string, Float64Array>, lr: number): void {
    this.t++;
    const { beta1, beta2, eps } = this.o;
    for (const [n, w] of Object.entries(this.w)) {
      const m = this.m[n]!;
      const v = this.v[n]!;
      const gn = g[n]!;
      const wd = this.o.decay(n) ? this.o.wd : 0;
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * gn[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * gn[i]! ** 2;
        const mh = m[i]! / (1 - beta1 ** this.t);
        const vh = v[i]! / (1 - beta2 ** this.t);
        w[i] = w[i]! - lr * (mh / (Math.sqrt(vh) + eps) + wd * w[i]!);
      }
    }
  }
}

/** Gradient of ½‖w − target‖² at the reference weights, rounded to float32. */
function quadGrads(w: Record<string, Float64Array>, step: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [n, a] of Object.entries(w)) {
    out[n] = Float32Array.from(a, (x, i) => x - Math.sin(i + step * 0.7) * 0.5);
  }
  return out;
}

function toGradMap(g: Record<string, Float32Array>): GradMap {
  return new Map(Object.entries(g).map(([n, a]) => [n, tf.tensor(a, shapes[n]!)]));
}

describe("AdamW", () => {
  it("matches a plain-JS reference for several steps (1e-6), with decay only on rank-2 weights by default", () => {
    const params = makeParams(1);
    const init = readParams(params);
    const ref = new RefAdamW(
      Object.fromEntries(Object.entries(init).map(([n, a]) => [n, Float64Array.from(a)])),
      { beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1, decay: (n) => n === "w" },
    );
    const opt = new AdamW(params);
    expect([...params.keys()].filter((n) => opt.decays(n))).toEqual(["w"]);
    for (let s = 0; s < 8; s++) {
      const lr = 0.01 * (1 + s / 4);
      const g = quadGrads(ref.w, s);
      ref.step(Object.fromEntries(Object.entries(g).map(([n, a]) => [n, Float64Array.from(a)])), lr);
      const gm = toGradMap(g);
      opt.step(gm, lr);
      disposeGrads(gm);
    }
    expect(opt.stepCount).toBe(8);
    const got = readParams(params);
    for (const n of Object.keys(shapes)) {
      const want = ref.w[n]!;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[n]![i]! - want[i]!)).toBeLessThan(1e-6);
    }
    opt.dispose();
    disposeParams(params);
  });

  it("applies no decay to excluded parameters (Set, predicate, specs)", () => {
    const zeroGrads = () => new Map(Object.entries(shapes).map(([n, s]) => [n, tf.zeros(s)] as [string, tf.Tensor]));
    for (const decay of [new Set(["b"]), (n: string) => n === "b"]) {
      const params = makeParams(2);
      const before = readParams(params);
      const opt = new AdamW(params, { weightDecay: 0.5, decay });
      const g = zeroGrads();
      opt.step(g, 0.1);
      disposeGrads(g);
      const after = readParams(params);
      // zero gradients: the Adam part is 0, only decay moves a weight
      expect(after.w).toEqual(before.w);
      expect(after.norm).toEqual(before.norm);
      for (let i = 0; i < 4; i++) expect(after.b![i]).toBeCloseTo(before.b![i]! * (1 - 0.1 * 0.5), 6);
      opt.dispose();
      disposeParams(params);
    }
    const specs = parameterSpecs(resolveConfig({ hidden_size: 16, n_head: 2, n_layer: 1, ffn_hidden_size: 24, vocab_size: 50 }));
    const set = decayFromSpecs(specs);
    expect(set.has("model.word_embeddings.weight")).toBe(true);
    expect(set.has("model.encoder.layers.0.self_attention.query_proj.weight")).toBe(true);
    expect(set.has("model.encoder.layers.0.self_attention.query_proj.bias")).toBe(false);
    expect(set.has("model.encoder.layers.0.input_layernorm.weight")).toBe(false);
    expect(set.has("model.encoder.ln_f.weight")).toBe(false);
    // the default rank rule agrees with the spec kinds
    for (const s of specs) expect(set.has(s.name)).toBe(s.shape.length >= 2);
  });

  it("validates options and gradients with clear errors", () => {
    const params = makeParams(3);
    expect(() => new AdamW(params, { beta2: 1 })).toThrow(/beta2/);
    expect(() => new AdamW(params, { decay: new Set(["nope"]) })).toThrow(/decay.*nope/);
    expect(() => new AdamW(params, { decay: 3 as never })).toThrow(/decay/);
    const opt = new AdamW(params);
    const bad = new Map([["w", tf.zeros([4, 3])]]);
    expect(() => opt.step(bad)).toThrow(/w has shape \[4, 3\]/);
    const unknown = new Map([["x", tf.zeros([1])]]);
    expect(() => opt.step(unknown)).toThrow(/unknown parameter x/);
    expect(opt.stepCount).toBe(0);
    disposeGrads(bad);
    disposeGrads(unknown);
    opt.dispose();
    disposeParams(params);
  });

  it("save/load state continues identically", () => {
    const pa = makeParams(4);
    const a = new AdamW(pa, { lr: 0.02 });
    const gradsAt = (s: number): GradMap =>
      new Map(Object.entries(shapes).map(([n, sh]) => [n, tf.tensor(new Rng(100 + s).normals(sh.reduce((x, y) => x * y, 1)), sh)] as [string, tf.Tensor]));
    for (let s = 0; s < 3; s++) {
      const g = gradsAt(s);
      a.step(g);
      disposeGrads(g);
    }
    // a checkpoint: copy values out, as a file would
    const saved = new Map([...a.state()].map(([k, t]) => [k, { data: t.dataSync().slice(), shape: t.shape }]));
    expect([...saved.keys()].sort()).toEqual(["b.m", "b.v", "norm.m", "norm.v", "w.m", "w.v"]);
    const pb = new Map([...pa].map(([n, p]) => [n, tf.variable(tf.tensor(p.dataSync().slice(), p.shape), true)]));
    const b = new AdamW(pb, { lr: 0.02 });
    const loaded = new Map([...saved].map(([k, v]) => [k, tf.tensor(v.data, v.shape)] as [string, tf.Tensor]));
    b.loadState(loaded, a.stepCount);
    disposeGrads(loaded); // the optimizer does not need the caller's tensors
    for (let s = 3; s < 6; s++) {
      const g = gradsAt(s);
      a.step(g);
      b.step(g);
      disposeGrads(g);
    }
    expect(b.stepCount).toBe(6);
    const ra = readParams(pa);
    const rb = readParams(pb);
    for (const n of Object.keys(shapes)) expect(rb[n]).toEqual(ra[n]);

    const missing = new Map([...b.state()].filter(([k]) => k !== "w.v"));
    expect(() => b.loadState(missing, 1)).toThrow(/missing w\.v/);
    a.dispose();
    b.dispose();
    disposeParams(pa);
    disposeParams(pb);
  });
});

describe("clipGradNorm", () => {
  const values = (seed: number) => Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, new Rng(seed).normals(s.reduce((x, y) => x * y, 1), 2)]));
  const jsNorm = (v: Record<string, Float32Array>) => Math.sqrt(Object.values(v).reduce((acc, a) => acc + a.reduce((x, y) => x + y * y, 0), 0));

  it("computes the global norm and scales as plain JS does; owns its input", () => {
    const v = values(5);
    const norm = jsNorm(v);
    const start = tf.memory().numTensors;
    const g = toGradMap(v);
    expect(globalNorm(g)).toBeCloseTo(norm, 4);
    const res = clipGradNorm(g, 1);
    expect(res.clipped).toBe(true);
    expect(Math.abs(res.norm - norm) / norm).toBeLessThan(1e-6);
    for (const t of g.values()) expect(t.isDisposed).toBe(true);
    const coef = 1 / (norm + 1e-6);
    for (const [n, t] of res.grads) {
      const got = t.dataSync();
      const want = v[n]!;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]! * coef)).toBeLessThan(1e-6);
    }
    expect(globalNorm(res.grads)).toBeCloseTo(1, 5);
    disposeGrads(res.grads);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("returns the same tensors when under the limit", () => {
    const v = values(6);
    const g = toGradMap(v);
    const res = clipGradNorm(g, jsNorm(v) * 2);
    expect(res.clipped).toBe(false);
    for (const [n, t] of res.grads) expect(t).toBe(g.get(n));
    disposeGrads(res.grads);
    expect(() => clipGradNorm(new Map(), 0)).toThrow(/maxNorm/);
  });
});

describe("GradAccumulator", () => {
  let x: tf.Tensor;
  let y: tf.Tensor;
  beforeAll(() => {
    const rng = new Rng(7);
    x = tf.tensor(rng.normals(8 * 3), [8, 3]);
    y = tf.tensor(rng.normals(8 * 2), [8, 2]);
  });

  /**
   * A linear model y = xW + b with loss mean((xW + b − y)²); its gradients written out
   * (2/N·xᵀr and 2/N·Σr over rows, with r the residual, averaged also over the outputs),
   * handed over as tf.variableGrads would: keyed by the tfjs variable names.
   */
  const linear = () => {
    const params = new Map([
      ["w", tf.variable(tf.tensor(new Rng(8).normals(6), [3, 2]), true)],
      ["b", tf.variable(tf.tensor(new Rng(9).normals(2), [2]), true)],
    ]);
    const w = params.get("w")!;
    const b = params.get("b")!;
    const grads = (xs: tf.Tensor, ys: tf.Tensor): GradMap => {
      const named = tf.tidy(() => {
        const r = tf.sub(tf.add(tf.matMul(xs as tf.Tensor2D, w as tf.Tensor2D), b), ys);
        const scale = 2 / r.size;
        return { [w.name]: tf.mul(tf.matMul(xs as tf.Tensor2D, r as tf.Tensor2D, true, false), scale), [b.name]: tf.mul(tf.sum(r, 0), scale) };
      });
      return gradsByName(params, named);
    };
    return { params, grads };
  };

  it("the mean over equal micro-batches equals the full-batch gradient", () => {
    const { params, grads } = linear();
    const full = grads(x, y);
    const acc = new GradAccumulator();
    for (let k = 0; k < 4; k++) {
      const xs = tf.slice(x, [2 * k, 0], [2, 3]);
      const ys = tf.slice(y, [2 * k, 0], [2, 2]);
      acc.add(grads(xs, ys));
      xs.dispose();
      ys.dispose();
    }
    expect(acc.count).toBe(4);
    const mean = acc.mean();
    for (const [n, t] of full) {
      const a = t.dataSync();
      const b = mean.get(n)!.dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    }
    disposeGrads(full);
    disposeGrads(mean);
    acc.dispose();
    disposeParams(params);
  });

  it("a training loop keeps the tensor count flat over 20 steps", () => {
    const { params, grads } = linear();
    const opt = new AdamW(params, { lr: 0.01 });
    const acc = new GradAccumulator();
    const halves = [
      [tf.slice(x, [0, 0], [4, 3]), tf.slice(y, [0, 0], [4, 2])],
      [tf.slice(x, [4, 0], [4, 3]), tf.slice(y, [4, 0], [4, 2])],
    ] as const;
    const counts: number[] = [];
    const norms: number[] = [];
    for (let s = 0; s < 20; s++) {
      for (const [xs, ys] of halves) acc.add(grads(xs, ys));
      const { grads: clipped, norm } = clipGradNorm(acc.mean(), 0.5);
      acc.reset();
      opt.step(clipped, 0.05);
      disposeGrads(clipped);
      norms.push(norm);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    expect(norms[19]!).toBeLessThan(norms[0]!);
    for (const pair of halves) for (const t of pair) t.dispose();
    opt.dispose();
    disposeParams(params);
  });

  it("gradsByName refuses a variable that is not a parameter", () => {
    const { params } = linear();
    const other = tf.variable(tf.zeros([2]), true);
    const start = tf.memory().numTensors;
    const g = { [params.get("b")!.name]: tf.ones([2]), [other.name]: tf.ones([2]) };
    expect(() => gradsByName(params, g)).toThrow(/not one of the parameters/);
    expect(tf.memory().numTensors).toBe(start);
    other.dispose();
    disposeParams(params);
  });
});

import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { createModel, selectBackend, TokenFile, type BatGPTModel, type TokenBatch } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { minibatch, policyForward, ppoLoss, ppoObjective, VALUE_HEAD, type PpoMinibatch, type RolloutRow } from "../src/index.js";

const opts = { clipRange: 0.2, clipRangeValue: 0.2, vfCoef: 0.1, entropyCoef: 0 };
let tok: Tokenizer;
let model: BatGPTModel;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["甲乙丙丁甲乙丙丁乙乙甲丙丁丁", "abc abd abe"], { vocabSize: 270, minFrequency: 1 });
  model = createModel({ hidden_size: 16, n_layer: 1, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 24, max_seq_len: 16 }, { tokenizer: tok, seed: 3 });
  model.addHead(VALUE_HEAD, { outputs: 1, bias: true }, { seed: 4 });
});

/** A minibatch of one row of 3 tokens whose last 2 are the response. */
function oneRow(advantage: number, oldLogProbs: [number, number]): PpoMinibatch {
  return {
    ids: Int32Array.from([100, 101, 102]),
    batch: 1,
    seqLen: 3,
    mask: Float32Array.from([0, 1, 1]),
    oldLogProbs: Float32Array.from([0, ...oldLogProbs]),
    oldValues: Float32Array.from([0, 0.5, 0.5]),
    advantages: Float32Array.from([0, advantage, advantage]),
    returns: Float32Array.from([0, 1, 1]),
  };
}

describe("ppoLoss", () => {
  const lossAt = (logProbs: number[], batch: PpoMinibatch) =>
    tf.tidy(() => {
      const lp = tf.tensor1d(logProbs);
      const g = tf.grad((x: tf.Tensor) => ppoLoss({ logProbs: x as tf.Tensor1D, values: tf.tensor1d([0, 0.5, 0.5]), entropy: tf.zeros([3]) as tf.Tensor1D }, batch, opts).metrics["loss/policy"]!)(lp);
      const out = ppoLoss({ logProbs: lp, values: tf.tensor1d([0, 0.5, 0.5]), entropy: tf.zeros([3]) as tf.Tensor1D }, batch, opts);
      return { loss: out.metrics["loss/policy"]!.dataSync()[0]!, grad: Array.from(g.dataSync()), clipfrac: out.metrics["policy/clipfrac"]!.dataSync()[0]! };
    });
  it("is flat outside the clip range on the side the advantage pushes to, and −A·ρ inside", () => {
    const b = oneRow(1, [-1, -1]);
    // ρ = e^0.5 and e^1 > 1.2: clipped at 1.2, no gradient
    const a = lossAt([0, -0.5, -0.5], b);
    const c = lossAt([0, 0, 0], b);
    expect(a.loss).toBeCloseTo(-1.2, 5);
    expect(c.loss).toBeCloseTo(-1.2, 5);
    expect(a.grad.every((x) => x === 0)).toBe(true);
    expect(a.clipfrac).toBe(1);
    // inside the range: −A·ρ with gradient −A·ρ/n per token
    const inside = lossAt([0, -1.1, -0.9], b);
    expect(inside.loss).toBeCloseTo(-(Math.exp(-0.1) + Math.exp(0.1)) / 2, 5);
    expect(inside.grad[1]).toBeCloseTo(-Math.exp(-0.1) / 2, 5);
    expect(inside.grad[0]).toBeCloseTo(0, 12);
    // a negative advantage is clipped below 1 − ε
    const neg = lossAt([0, -3, -3], oneRow(-1, [-1, -1]));
    expect(neg.loss).toBeCloseTo(0.8, 5);
    expect(neg.grad.every((x) => x === 0)).toBe(true);
  });
  it("clips the value loss around the old value (TRL's clipped value loss)", () => {
    const b = oneRow(1, [-1, -1]);
    const v = tf.tidy(() => ppoLoss({ logProbs: tf.tensor1d([0, -1, -1]), values: tf.tensor1d([0, 2, 2]), entropy: tf.zeros([3]) as tf.Tensor1D }, b, opts).metrics["loss/value"]!.dataSync()[0]!);
    // vpred 2, clipped to 0.7; max((2 − 1)², (0.7 − 1)²) = 1; ½ · 1
    expect(v).toBeCloseTo(0.5, 5);
  });
});

describe("ppoObjective", () => {
  const rows: RolloutRow[] = [
    { ids: [100, 101, 102, 103], logProbs: [-5, -5], values: [0.1, 0.2], advantages: [1, -0.5], returns: [1, 0.5] },
    { ids: [100, 104, 105], logProbs: [-5, -6], values: [0, 0.3], advantages: [-1, 0.5], returns: [0.2, 0.1] },
    { ids: [101, 106, 107, 108, 109], logProbs: [-5, -4, -5], values: [0.4, 0.1, 0], advantages: [0.3, 0.2, 0.1], returns: [0, 0, 1] },
  ];
  const ptx: TokenBatch = { ids: Int32Array.from(TokenFile.fromTokens(Uint32Array.from({ length: 12 }, (_, i) => 100 + (i % 7)), 300).tokens), batch: 2, seqLen: 6 };
  const value = (o: ReturnType<typeof ppoObjective>, batch: Parameters<typeof o.loss>[1]) =>
    tf.tidy(() => {
      const out = o.loss(model, batch);
      return { loss: out.loss.dataSync()[0]!, metrics: Object.fromEntries(Object.entries(out.metrics ?? {}).map(([k, v]) => [k, v.dataSync()[0]!])) };
    });
  it("with γ_ptx = γ_sft = 0 is plain PPO (a ptx batch only adds its metric)", () => {
    const mb = minibatch(rows, 0);
    const plain = tf.tidy(() => ppoLoss(policyForward(model, mb), mb, opts).loss.dataSync()[0]!);
    const o = ppoObjective({ ...opts, ptxCoef: 0, sftCoef: 0 });
    const r = value(o, { ppo: mb, ptx });
    expect(r.loss).toBeCloseTo(plain, 6);
    expect(r.metrics["loss/ptx"]).toBeGreaterThan(0);
    const withPtx = value(ppoObjective({ ...opts, ptxCoef: 0.5, sftCoef: 0 }), { ppo: mb, ptx });
    expect(withPtx.loss).toBeCloseTo(plain + 0.5 * r.metrics["loss/ptx"]!, 5);
  });
  it("split into shards gives the same loss and metrics as the whole batch (for worker replicas)", () => {
    const o = ppoObjective({ ...opts, ptxCoef: 0.5, sftCoef: 0 });
    const batch = { ppo: minibatch(rows, 0), ptx };
    const whole = value(o, batch);
    const shards = o.split!(batch, 2);
    const total = shards.reduce((s, x) => s + x.weight, 0);
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (const s of shards) {
      const r = value(o, s.batch);
      loss += (s.weight / total) * r.loss;
      for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + (s.weight / total) * v;
    }
    expect(loss).toBeCloseTo(whole.loss, 5);
    for (const k of ["loss/policy", "loss/value", "policy/approxkl", "loss/ptx"]) expect(metrics[k]).toBeCloseTo(whole.metrics[k]!, 5);
  });
});

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, createModel, loadCheckpoint, Rng, saveCheckpoint, selectBackend, type BatGPTModel } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { grow, growModel, GrowthError, maxLogitDiff, planGrowth, targetConfig } from "../src/index.js";
import { randomIds, trainedLikeModel } from "./helpers.js";

let source: BatGPTModel;
const ids = randomIds(new Rng(5), 3, 10);
const small = { hidden_size: 16, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 20, n_layer: 2 };
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  source = trainedLikeModel(small, 7);
});
afterAll(() => {
  source.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const diffAfter = (target: Parameters<typeof growModel>[1], options: Parameters<typeof growModel>[2] = {}) => {
  const { model, plan } = growModel(source, target, options);
  try {
    return { diff: maxLogitDiff(source, model, ids), plan };
  } finally {
    model.dispose();
  }
};

describe("noise and stacking change the function, by a measured amount", () => {
  it("noise: the logit change is > 0 and grows with its standard deviation; the plan says the function is not kept", () => {
    const target = { hidden_size: 32, n_head: 8, num_heads_per_kv: 4, ffn_hidden_size: 40, n_layer: 3 };
    const exact = diffAfter(target, { width: "duplicate" });
    const a = diffAfter(target, { width: "duplicate", noise: 1e-4 });
    const b = diffAfter(target, { width: "duplicate", noise: 1e-2 });
    expect(exact.diff).toBeLessThan(1e-4);
    expect(exact.plan.preservesFunction).toBe(true);
    expect(a.plan.preservesFunction).toBe(false);
    expect(a.diff).toBeGreaterThan(exact.diff);
    expect(b.diff).toBeGreaterThan(10 * a.diff);
  });

  it("stack: an exact copy of a trained block is not the identity, so the logits move", () => {
    const r = diffAfter({ n_layer: 4 }, { depth: "stack", positions: "top" });
    expect(r.plan.preservesFunction).toBe(false);
    expect(r.plan.blocks.map((b) => [b.from, b.init])).toEqual([[0, "grown"], [1, "grown"], [0, "stack"], [1, "stack"]]);
    expect(r.diff).toBeGreaterThan(1e-2);
  });
});

describe("the plan", () => {
  it("keeps the source units first and maps new ones as asked", () => {
    const zero = planGrowth(source.config, { hidden_size: 32, n_head: 8, num_heads_per_kv: 4, ffn_hidden_size: 23 });
    expect([...zero.mlpUnits.source]).toEqual([...Array.from({ length: 20 }, (_, i) => i), -1, -1, -1]);
    expect(zero.residualScale).toBeCloseTo(Math.sqrt(2), 12);
    // 4 query heads over 2 KV heads (groups of 2) into 8 over 4 (groups of 2): each group keeps its KV head
    expect([...zero.kvHeads.source]).toEqual([0, 1, -1, -1]);
    expect([...zero.queryHeads.source]).toEqual([0, 1, 2, 3, -1, -1, -1, -1]);
    const dup = planGrowth(source.config, { ffn_hidden_size: 23 }, { width: "duplicate" });
    expect([...dup.mlpUnits.source].slice(20)).toEqual([0, 1, 2]);
    expect([...dup.mlpUnits.copies].slice(0, 4)).toEqual([2, 2, 2, 1]);
  });

  it("fewer query heads per KV head: each source KV head is copied so its queries still read it", () => {
    // 4 query heads over 1 KV head (group of 4) into 8 over 4 (groups of 2): KV head 0 copied twice
    const s = trainedLikeModel({ hidden_size: 16, n_head: 4, num_heads_per_kv: 1, ffn_hidden_size: 8, n_layer: 1 }, 3);
    try {
      const plan = planGrowth(s.config, { hidden_size: 32, n_head: 8, num_heads_per_kv: 4 });
      expect([...plan.kvHeads.source]).toEqual([0, 0, -1, -1]);
      expect([...plan.queryHeads.source]).toEqual([0, 1, 2, 3, -1, -1, -1, -1]);
      const { model } = growModel(s, { hidden_size: 32, n_head: 8, num_heads_per_kv: 4 });
      expect(maxLogitDiff(s, model, ids)).toBeLessThan(1e-4);
      model.dispose();
    } finally {
      s.dispose();
    }
  });

  it("explicit positions put the new blocks there, each a copy of the trained block below it", () => {
    const plan = planGrowth(source.config, { n_layer: 5 }, { positions: [0, 2, 4] });
    expect(plan.blocks.map((b) => [b.from, b.init])).toEqual([[0, "copy"], [0, "grown"], [0, "copy"], [1, "grown"], [1, "copy"]]);
    expect(diffAfter({ n_layer: 5 }, { positions: [0, 2, 4], depth: "identity" }).diff).toBeLessThan(1e-4);
  });

  it("duplicated MLP units are equal copies with split outgoing weights", () => {
    const { model } = growModel(source, { ffn_hidden_size: 25 }, { width: "duplicate" });
    try {
      const up = (m: BatGPTModel) => m.params.get("model.encoder.layers.0.mlp.dense_h_to_4h.weight:up")!.arraySync() as number[][];
      const down = (m: BatGPTModel) => m.params.get("model.encoder.layers.0.mlp.dense_4h_to_h.weight")!.arraySync() as number[][];
      const c0 = up(model).map((row) => row[0]!);
      const c20 = up(model).map((row) => row[20]!);
      expect(c20).toEqual(c0);
      const src = down(source)[0]!;
      for (const [i, v] of down(model)[0]!.entries()) expect(v).toBeCloseTo(src[i]! / 2, 6);
      expect(down(model)[20]).toEqual(down(model)[0]);
    } finally {
      model.dispose();
    }
  });
});

describe("bad targets and options are refused with the field named", () => {
  const cases: [string, Parameters<typeof planGrowth>[1], Parameters<typeof planGrowth>[2], RegExp, typeof GrowthError | typeof ConfigError][] = [
    ["a smaller MLP", { ffn_hidden_size: 10 }, {}, /ffn_hidden_size 10 is smaller than the source's 20/, GrowthError],
    ["fewer layers", { n_layer: 1 }, {}, /n_layer 1 is smaller/, GrowthError],
    ["more heads without a wider stream", { n_head: 8, num_heads_per_kv: 4 }, {}, /head dimension \(hidden_size \/ n_head\) 2 is smaller than the source's 4 \(hidden_size 16 \/ n_head 8\); give hidden_size with n_head, e.g. hidden_size 32/, GrowthError],
    ["a new vocabulary", { vocab_size: 30 }, {}, /vocab_size must stay 24/, GrowthError],
    ["a changed epsilon", { layer_norm_epsilon: 1e-3 }, {}, /layer_norm_epsilon must stay/, GrowthError],
    ["tying changed", { tie_word_embeddings: true }, {}, /tie_word_embeddings must stay false/, GrowthError],
    ["other heads", { heads: { score: { outputs: 1 } } }, {}, /heads must be the source's/, GrowthError],
    ["rotary dimensions changed", { hidden_size: 32, n_head: 4, rotary_fraction: 1 }, {}, /rotates 8 dimensions of each head, the source 2; .*rotary_fraction 2\/8 keeps it/, GrowthError],
    ["fewer KV heads", { hidden_size: 32, n_head: 8, num_heads_per_kv: 1 }, {}, /num_heads_per_kv 1 is smaller than the source's 2/, GrowthError],
    ["bad positions", { n_layer: 4 }, { positions: [1, 1] }, /positions must be 2 distinct block indices below n_layer 4/, GrowthError],
    ["positions out of range", { n_layer: 3 }, { positions: [3] }, /positions must be 1 distinct/, GrowthError],
    ["an unknown option", {}, { widht: "zero" } as never, /widht/, ConfigError],
    ["negative noise", {}, { noise: -1 }, /noise/, ConfigError],
    ["an invalid target", { hidden_size: 18 }, {}, /grow: target .*hidden_size/, ConfigError],
  ];
  for (const [what, target, options, message, kind] of cases) {
    it(what, () => {
      let thrown: unknown;
      try {
        planGrowth(source.config, target, options);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(kind);
      expect((thrown as Error).message).toMatch(message);
    });
  }

  it("9 query heads over 3 KV heads cannot become 10 over 5 (each group of 3 needs 2 KV heads of groups of 2)", () => {
    const s = { ...source.config, hidden_size: 36, n_head: 9, num_heads_per_kv: 3 };
    expect(() => planGrowth(s, { hidden_size: 40, n_head: 10, num_heads_per_kv: 5 })).toThrow(/raise num_heads_per_kv to at least 6/);
    expect(planGrowth(s, { hidden_size: 48, n_head: 12, num_heads_per_kv: 6 }).kvHeads.source.length).toBe(6);
  });

  it("targetConfig keeps the rotated dimensions and the head layout when only the width is given", () => {
    const t = targetConfig(source.config, { hidden_size: 32, n_head: 4 });
    expect(t.rotary_fraction).toBe(0.25); // source: head dim 4, rotary_fraction 0.5 → 2 rotated; target head dim 8 keeps 2
    expect(t.num_heads_per_kv).toBe(2);
    expect(targetConfig(source.config, { n_layer: 6 })).toEqual({ ...source.config, n_layer: 6 });
  });
});

describe("grow(checkpoint, targetConfig, options)", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await trainBpe(["甲乙丙丁甲乙丙丁乙乙甲丙丁丁", "abc abd abe"], { vocabSize: 270, minFrequency: 1 });
  });

  it("reads a checkpoint directory, writes the grown one with the tokenizer, and it loads with the same logits", async () => {
    const text = [tok.encode("甲乙丙丁 abc")];
    const base = createModel({ hidden_size: 16, n_head: 2, ffn_hidden_size: 24, n_layer: 1, max_seq_len: 16 }, { tokenizer: tok, seed: 1 });
    tf.dispose(base.logits(text)); // core caches its RoPE and causal-mask tables once per size
    const before = tf.memory().numTensors;
    const dir = tempDir("grow-src-");
    const out = join(tempDir("grow-out-"), "grown");
    await saveCheckpoint(dir, { model: base, tokenizer: tok });
    const r = await grow(dir, { hidden_size: 32, n_head: 4, ffn_hidden_size: 48, n_layer: 2 }, { outputDir: out });
    expect(r.tokenizer?.vocabSize).toBe(tok.vocabSize);
    expect(r.plan.preservesFunction).toBe(true);
    const loaded = await loadCheckpoint(out);
    try {
      expect(loaded.model.config).toEqual(r.model.config);
      expect(loaded.tokenizer?.encode("甲乙丙丁 abc")).toEqual(text[0]);
      expect(maxLogitDiff(base, loaded.model, text)).toBeLessThan(1e-4);
      expect(maxLogitDiff(r.model, loaded.model, text)).toBe(0);
    } finally {
      loaded.model.dispose();
      r.model.dispose();
    }
    // the source loaded from disk inside grow() was freed too
    expect(tf.memory().numTensors).toBe(before);
    base.dispose();
  });

  it("takes a model in memory and leaves it as it was; writes nothing without outputDir", async () => {
    const before = tf.memory().numTensors;
    const w0 = source.params.get("model.encoder.ln_f.weight")!.dataSync().slice();
    const r = await grow(source, { n_layer: 3, hidden_size: 24, n_head: 6, num_heads_per_kv: 3 });
    expect(r.tokenizer).toBeUndefined();
    expect(source.params.get("model.encoder.ln_f.weight")!.dataSync()).toEqual(w0);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a failed growth leaves no tensors and no output directory", async () => {
    const before = tf.memory().numTensors;
    const out = join(tempDir("grow-fail-"), "grown");
    await expect(grow(source, { ffn_hidden_size: 4 }, { outputDir: out })).rejects.toThrow(GrowthError);
    expect(existsSync(out)).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a checkpoint that is neither a directory nor a model", async () => {
    await expect(grow(42 as never, {})).rejects.toThrow(/checkpoint must be a checkpoint directory/);
    await expect(grow(source, {}, { outputDir: "" })).rejects.toThrow(/outputDir must be a directory path/);
  });
});

describe("tensor hygiene", () => {
  it("growModel leaves the tensor count flat once the grown model is disposed", () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { model } = growModel(source, { hidden_size: 32, n_head: 8, num_heads_per_kv: 4, n_layer: 4 }, { width: i % 2 ? "duplicate" : "zero", noise: i * 1e-3 });
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

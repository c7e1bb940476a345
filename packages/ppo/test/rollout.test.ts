import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { createModel, ReplicaPool, selectBackend, type BatGPTModel } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { makeRollout, VALUE_HEAD } from "../src/index.js";

let tok: Tokenizer;
let model: BatGPTModel;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["甲乙丙丁甲乙丙丁乙乙甲丙丁丁 abc abd", "abe 甲乙"], { vocabSize: 280, minFrequency: 1 });
  model = createModel({ hidden_size: 32, n_layer: 2, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 48, max_seq_len: 32 }, { tokenizer: tok, seed: 5 });
  model.addHead(VALUE_HEAD, { outputs: 1, bias: true }, { seed: 6 });
});

describe("makeRollout", () => {
  it("recomputes the sampler's log-probabilities of every response token (prompts of different lengths), and the reference's equal the policy's for a copy", async () => {
    const pool = await ReplicaPool.start(model, { workers: 1, tokenizer: tok });
    const ref = model.clone();
    const prompts = ["甲", "abc 乙丙", "丁丁丁 abd"];
    const roll = () =>
      makeRollout(pool, model, ref, ({ responses }) => responses.map((x) => x.length), prompts, prompts, tok.specialTokenId("<|pad|>"), {
        maxNewTokens: 7, temperature: 1, topK: 0, topP: 1, stopTokens: [], seed: 3, beta: 0.1, klEstimator: "k1", gamma: 1, lambda: 0.95, whitenAdvantages: true, whitenRewards: false, scoreClip: 5, generateBatchSize: 2, forwardBatchSize: 2,
      });
    await roll(); // the first call builds core's cached constants (masks, tables)
    const before = tf.memory().numTensors;
    const r = await roll();
    expect(tf.memory().numTensors).toBe(before);
    r.rows.forEach((row, i) => {
      const g = r.generations[i]!;
      expect(row.ids).toEqual([...g.promptIds, ...g.ids]);
      expect(row.logProbs).toHaveLength(g.ids.length);
      row.logProbs.forEach((lp, t) => expect(lp).toBeCloseTo(g.logProbs[t]!, 4));
    });
    expect(r.stats["objective/kl"]).toBeCloseTo(0, 5);
    await pool.close();
    ref.dispose();
  });
});

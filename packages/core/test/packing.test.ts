/**
 * Packing: several samples in one row, each read as if it were alone (TokenBatch.segmentIds).
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { trainBpe } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { directionalInput, packedPositions } from "../src/bidirectional.js";
import { splitTokenBatch, type TokenBatch } from "../src/data.js";
import { createModel } from "../src/model.js";
import { applyRotary, causalAttentionWith, packedCausalBias, rotaryTables } from "../src/ops/index.js";
import { packSequences, PAD_SEGMENT } from "../src/packing.js";
import { Rng } from "../src/rng.js";

describe("packed inputs", () => {
  it("directionalInput restarts every sample with the start token, in both reading orders", () => {
    const ids = Int32Array.from([10, 11, 12, 20, 21, 99]);
    const segmentIds = Int32Array.from([7, 7, 7, 3, 3, 5]);
    expect(directionalInput(ids, 1, 6, "forward", 1, segmentIds)).toEqual({
      input: Int32Array.from([1, 10, 11, 1, 20, 1]),
      targets: Int32Array.from([10, 11, 12, 20, 21, 99]),
      segments: Int32Array.from([0, 0, 0, 1, 1, 2]),
    });
    expect(directionalInput(ids, 1, 6, "backward", 2, segmentIds)).toEqual({
      input: Int32Array.from([2, 2, 21, 2, 12, 11]),
      targets: Int32Array.from([99, 21, 20, 12, 11, 10]),
      segments: Int32Array.from([0, 1, 1, 2, 2, 2]),
    });
    // a run of equal ids is one sample: the same id further on is a new sample
    expect(directionalInput(Int32Array.from([5, 6, 7]), 1, 3, "forward", 1, Int32Array.from([0, 1, 0])).input).toEqual(Int32Array.from([1, 1, 1]));
    expect(() => directionalInput(ids, 1, 6, "forward", 1, Int32Array.from([0]))).toThrow(/segmentIds has 1 entries, expected batch 1 × seqLen 6/);
  });

  it("packedPositions count from 0 in each sample and each row", () => {
    expect(packedPositions(Int32Array.from([0, 0, 0, 1, 1, 0, 1, 1, 1, 1]), 2, 5)).toEqual(Int32Array.from([0, 1, 2, 0, 1, 0, 0, 1, 2, 3]));
  });

  it("packedCausalBias lets a query see the earlier keys of its own sample only", async () => {
    await selectBackend({ backend: "cpu", log: false });
    const bias = packedCausalBias(Int32Array.from([0, 0, 1, 1]), 1, 4);
    const M = -1e9;
    expect(bias.shape).toEqual([1, 1, 4, 4]);
    expect(Array.from(bias.dataSync())).toEqual([0, M, M, M, 0, 0, M, M, M, M, 0, M, M, M, 0, 0]);
    bias.dispose();
    expect(() => packedCausalBias(Int32Array.from([0, 0]), 1, 4)).toThrow(/2 segment ids for \[1, 4\]/);
  });

  it("applyRotary checks per-token positions", async () => {
    await selectBackend({ backend: "cpu", log: false });
    const { cos, sin } = rotaryTables(4, 4, 4, 10000);
    tf.tidy(() => {
      const [c, s] = [tf.tensor2d(cos, [4, 4]), tf.tensor2d(sin, [4, 4])];
      const x = tf.ones([1, 2, 1, 4]) as tf.Tensor4D;
      expect(() => applyRotary(x, c, s, Int32Array.from([0]))).toThrow(/1 positions for \[1, 2\] tokens/);
      expect(() => applyRotary(x, c, s, Int32Array.from([0, 4]))).toThrow(/position 4 of token 1 is outside the tables' 0..3/);
      // positions [2, 3] per token equal start 2
      expect(Array.from(applyRotary(x, c, s, Int32Array.from([2, 3])).dataSync())).toEqual(Array.from(applyRotary(x, c, s, 2).dataSync()));
    });
  });

  it("packSequences lays sequences end to end, next-fit, with per-row segment ids and padded row ends", () => {
    const { batch, placements } = packSequences([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]], 5, 99);
    expect(batch.batch).toBe(2);
    expect(Array.from(batch.ids)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(batch.segmentIds)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 1]);
    expect(placements).toEqual([
      { row: 0, start: 0, length: 3 },
      { row: 0, start: 3, length: 2 },
      { row: 1, start: 0, length: 4 },
      { row: 1, start: 4, length: 1 },
    ]);
    const padded = packSequences([[1, 2], [3, 4]], 3, 99).batch;
    expect(Array.from(padded.ids)).toEqual([1, 2, 99, 3, 4, 99]);
    expect(Array.from(padded.segmentIds)).toEqual([0, 0, PAD_SEGMENT, 0, 0, PAD_SEGMENT]);
    expect(() => packSequences([[1, 2, 3, 4]], 3)).toThrow(/sequence 0 has 4 tokens, more than a row of 3/);
    expect(() => packSequences([[1], []], 3)).toThrow(/sequence 1 is empty/);
    expect(() => packSequences([], 3)).toThrow(/no sequences/);
  });

  it("splitTokenBatch carries the segment ids of each shard's rows", () => {
    const batch: TokenBatch = { ids: Int32Array.from([1, 2, 3, 4, 5, 6]), batch: 3, seqLen: 2, segmentIds: Int32Array.from([0, 1, 0, 0, 0, 1]) };
    const parts = splitTokenBatch(batch, 2);
    expect(parts.map((p) => Array.from(p.segmentIds!))).toEqual([[0, 1, 0, 0], [0, 1]]);
    expect(splitTokenBatch({ ids: batch.ids, batch: 3, seqLen: 2 }, 2)[0]!.segmentIds).toBeUndefined();
  });
});

const tiny = { hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 32 };

describe.each([
  ["wasm", "token"],
  ["cpu", "token"],
  ["wasm", "embedding"],
] as const)("a packed batch on %s (%s scheme)", (backend, scheme) => {
  it("gives every sample the log-probabilities and gradient it has alone, with a flat tensor count", async () => {
    await selectBackend({ backend, log: false });
    const tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
    const model = createModel({ ...tiny, direction_scheme: scheme }, { tokenizer: tok, seed: 4 });
    const rng = new Rng(9);
    const lengths = [5, 9, 3, 7, 11, 2, 6];
    const samples = lengths.map((n) => Array.from({ length: n }, () => rng.int(tok.vocabSize)));
    // T = 16: groups of g·T = 32 ≥ 16 query rows, so wasm takes the "pieces" attention
    const { batch: packed, placements } = packSequences(samples, 16, 0);
    expect(packed.batch).toBe(4);
    expect(placements.map((p) => [p.row, p.start])).toEqual([[0, 0], [0, 5], [1, 0], [1, 3], [2, 0], [2, 11], [3, 0]]);
    const names = ["model.encoder.layers.0.self_attention.key_proj.weight", "model.word_embeddings.weight"];
    const vars = names.map((n) => model.params.get(n)!);
    const gradOf = (f: () => tf.Scalar) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(f, vars);
        return vars.map((v) => Float32Array.from(grads[v.name]!.dataSync()));
      });
    const mask = Float32Array.from(packed.segmentIds!, (g) => (g >= 0 ? 1 : 0));
    for (const direction of ["forward", "backward"] as const) {
      // the packed pass keeps no tensor (its bias is built per pass, unlike the cached causal ones)
      const before = tf.memory().numTensors;
      const lp = tf.tidy(() => model.tokenLogProbs(packed, direction).dataSync());
      const gp = gradOf(() => tf.sum(tf.mul(model.tokenLogProbs(packed, direction), tf.tensor2d(mask, [packed.batch, 16]))));
      expect(tf.memory().numTensors).toBe(before);
      samples.forEach((s, i) => {
        const { row, start } = placements[i]!;
        const alone = tf.tidy(() => model.tokenLogProbs({ ids: Int32Array.from(s), batch: 1, seqLen: s.length }, direction).dataSync());
        for (let j = 0; j < s.length; j++) expect(Math.abs(lp[row * 16 + start + j]! - alone[j]!)).toBeLessThan(1e-5);
      });
      // the gradient of the packed sum is the sum of the samples' gradients
      const ga = gradOf(() => tf.addN(samples.map((s) => tf.sum(model.tokenLogProbs({ ids: Int32Array.from(s), batch: 1, seqLen: s.length }, direction)))) as tf.Scalar);
      for (let k = 0; k < names.length; k++) {
        let worst = 0;
        for (let i = 0; i < ga[k]!.length; i++) worst = Math.max(worst, Math.abs(gp[k]![i]! - ga[k]![i]!));
        expect(worst).toBeLessThan(1e-4);
      }
    }
    model.dispose();
  });
});

describe.each(["wasm", "cpu"] as const)("packed attention on %s", (backend) => {
  it("pieces and batched agree with a block-diagonal bias", async () => {
    await selectBackend({ backend, log: false });
    const rng = new Rng(3);
    const [B, T, H, KV, D] = [2, 12, 4, 2, 8];
    tf.tidy(() => {
      const q = tf.tensor4d(Float32Array.from({ length: B * T * H * D }, () => rng.normal()), [B, T, H, D]);
      const k = tf.tensor4d(Float32Array.from({ length: B * T * KV * D }, () => rng.normal()), [B, T, KV, D]);
      const v = tf.tensor4d(Float32Array.from({ length: B * T * KV * D }, () => rng.normal()), [B, T, KV, D]);
      const segs = Int32Array.from({ length: B * T }, (_, i) => Math.floor((i % T) / 5));
      const bias = packedCausalBias(segs, B, T);
      const a = causalAttentionWith("pieces", q, k, v, { packedBias: bias }).dataSync();
      const b = causalAttentionWith("batched", q, k, v, { packedBias: bias }).dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
      expect(() => causalAttentionWith("batched", q, k, v, { packedBias: packedCausalBias(segs.subarray(0, T), 1, T) })).toThrow(/packedBias must be \[2, 1, 12, 12\]/);
    });
  });
});

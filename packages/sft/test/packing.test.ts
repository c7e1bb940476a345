/**
 * Packing several samples into a row, each read on its own; and padding that is never read.
 */
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { activeReplicaWorkers, createModel, directionalInput, runTrainer, selectBackend, type BatGPTModel, type Direction } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { formatConversation, packBatch, padBatch, SftDataError, SftDataSource, sftObjective, trainSft, type FormattedSample, type SftBatch } from "../src/index.js";

let tok: Tokenizer;
let model: BatGPTModel;
let samples: FormattedSample[];
const T = 96;
const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 128 };

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "[Turn 1]\n\n[User] 续写\n\n[Assistant] 好\n\n"], { vocabSize: 300, minFrequency: 1 });
  model = createModel(tiny, { tokenizer: tok, seed: 1 });
  const pairs: [string, string][] = [
    ["续写：床前明月光，", "疑是地上霜。"],
    ["续写：举头望明月，", "低头思故乡。"],
    ["上一句：疑是地上霜。", "床前明月光，"],
    ["写", "月"],
    ["续", "光"],
    ["写诗", "明月"],
  ];
  samples = pairs.map(([q, a]) => formatConversation({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] }, tok));
});

const padId = () => tok.specialTokenId("<|pad|>");

/** Full logits [B·T, vocab] of a batch read in `direction`, in reading order, through the public trunk API. */
function logitsOf(batch: SftBatch, direction: Direction): Float32Array {
  const { input, segments } = directionalInput(batch.ids, batch.batch, batch.seqLen, direction, model.startToken(direction), batch.segmentIds);
  return tf.tidy(() => model.head(model.hidden(input, batch.batch, batch.seqLen, { direction, ...(segments ? { segments } : {}) }).hidden).dataSync() as Float32Array);
}

/** The logits rows of the tokens `from..from+n−1` of row 0, in sequence order (reading order reversed back when backward). */
function rowsOf(logits: Float32Array, seqLen: number, from: number, n: number, direction: Direction): Float32Array[] {
  const V = model.config.vocab_size;
  return Array.from({ length: n }, (_, j) => {
    const t = direction === "forward" ? from + j : seqLen - 1 - (from + j);
    return logits.slice(t * V, (t + 1) * V);
  });
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((r, i) => r.forEach((x, k) => (m = Math.max(m, Math.abs(x - b[i]![k]!)))));
  return m;
}

describe("packBatch", () => {
  it("lays whole samples end to end, next-fit, one segment each, the padding its own", () => {
    const [a, b, c] = [samples[3]!, samples[4]!, samples[5]!];
    expect(c.ids.length).toBeLessThanOrEqual(a.ids.length + b.ids.length);
    const { batch, used } = packBatch([a, b, c], padId(), a.ids.length + b.ids.length + 1);
    expect(used).toBe(3);
    expect(batch.batch).toBe(2);
    const S = batch.seqLen;
    expect([...batch.ids.slice(0, a.ids.length + b.ids.length)]).toEqual([...a.ids, ...b.ids]);
    expect(batch.ids[S - 1]).toBe(padId());
    expect([...batch.segmentIds!.slice(0, S)]).toEqual([...a.ids.map(() => 0), ...b.ids.map(() => 1), -1]);
    expect([...batch.lossMask.slice(0, S)]).toEqual([...a.lossMask, ...b.lossMask, 0]);
    expect([...batch.ids.slice(S, S + c.ids.length)]).toEqual(c.ids);
    // two rows at most: the third sample does not fit
    expect(packBatch([a, b, c], padId(), a.ids.length + b.ids.length, 1).used).toBe(2);
    expect(() => packBatch([c], padId(), c.ids.length - 1)).toThrow(/packBatch: a sample of \d+ tokens does not fit rows of \d+/);
    expect(() => packBatch([], padId(), 8)).toThrow("packBatch: no samples");
  });

  it("property: a token's logits do not change when its neighbouring sample changes, and equal the sample alone", () => {
    const sample = fc
      .array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { minLength: 1, maxLength: 10 })
      .map((ids): FormattedSample => ({ ids, lossMask: Uint8Array.from(ids, (_, i) => (i % 2 ? 1 : 0)), droppedTurns: 0 }));
    fc.assert(
      fc.property(sample, sample, sample, fc.constantFrom<Direction>("forward", "backward"), (a, b, b2, direction) => {
        const lengthOf = (x: FormattedSample[]) => x.reduce((n, s) => n + s.ids.length, 0);
        const rowLen = Math.max(lengthOf([a, b]), lengthOf([a, b2]));
        const packed = (x: FormattedSample[]) => packBatch(x, padId(), rowLen).batch;
        const alone = rowsOf(logitsOf(packBatch([a], padId(), a.ids.length).batch, direction), a.ids.length, 0, a.ids.length, direction);
        // a first, then its neighbour b or b2
        const first = rowsOf(logitsOf(packed([a, b]), direction), rowLen, 0, a.ids.length, direction);
        expect(maxDiff(first, rowsOf(logitsOf(packed([a, b2]), direction), rowLen, 0, a.ids.length, direction))).toBeLessThan(1e-4);
        expect(maxDiff(first, alone)).toBeLessThan(1e-4);
        // a second, after b or b2
        const second = (n: FormattedSample) => rowsOf(logitsOf(packed([n, a]), direction), rowLen, n.ids.length, a.ids.length, direction);
        expect(maxDiff(second(b), second(b2))).toBeLessThan(1e-4);
        expect(maxDiff(second(b), alone)).toBeLessThan(1e-4);
      }),
      { numRuns: 25, seed: 11 },
    );
  });
});

describe("padBatch", () => {
  it("marks the padding as its own segment, so reading backward no amount of padding changes a sample", () => {
    const s = samples[0]!;
    const lp = (seqLen: number) => tf.tidy(() => model.tokenLogProbs(padBatch([s], padId(), seqLen), "backward").dataSync().slice(0, s.ids.length));
    const tight = lp(s.ids.length);
    const loose = lp(s.ids.length + 9);
    tight.forEach((x, i) => expect(Math.abs(x - loose[i]!)).toBeLessThan(1e-5));
  });
});

describe("SftDataSource with packing", () => {
  it("serves every sample once an epoch in rows of seqLen, and resumes exactly", () => {
    const src = new SftDataSource(samples, { batchSize: 2, padId: padId(), seqLen: T, seed: 3, packing: true });
    let served = 0;
    let positions = 0;
    const pool = () => (src.state() as { pools: { epoch: number; position: number }[] }).pools[0]!;
    const epoch = () => pool().epoch;
    while (epoch() < 3) {
      const b = src.next();
      expect(b.seqLen).toBe(T);
      expect(b.batch).toBeLessThanOrEqual(2);
      for (let r = 0; r < b.batch; r++) served += new Set([...b.segmentIds!.slice(r * T, (r + 1) * T)].filter((g) => g >= 0)).size;
      positions += b.batch * T;
    }
    // every sample once an epoch: the samples served are 3 epochs and the position in the fourth
    expect(served).toBe(3 * samples.length + pool().position);
    // fewer rows than one sample a row would take
    expect(positions / T).toBeLessThan(served);
    const saved = JSON.parse(JSON.stringify(src.state())) as unknown;
    const expected = [src.next(), src.next()].map((b) => [...b.ids]);
    const again = new SftDataSource(samples, { batchSize: 2, padId: padId(), seqLen: T, seed: 0, packing: true });
    again.restore(saved);
    expect([again.next(), again.next()].map((b) => [...b.ids])).toEqual(expected);
    expect(() => new SftDataSource(samples, { batchSize: 2, padId: padId(), packing: true })).toThrow("SftDataSource: packing needs seqLen");
    expect(() => new SftDataSource(samples, { batchSize: 2, padId: padId(), packing: true, seqLen: 4 })).toThrow(/SftDataSource: sample 0 has \d+ tokens, more than a packed row of seqLen 4 \(format it with maxLength\)/);
  });

  it("trains on 1 and 2 replicas to the same losses (the split carries the segment ids)", async () => {
    const run = async (workers: number) => {
      const m = createModel(tiny, { tokenizer: tok, seed: 2 });
      const r = await runTrainer(
        { model: m, data: new SftDataSource(samples, { batchSize: 2, padId: padId(), seqLen: T, seed: 3, packing: true }), objective: sftObjective() },
        { steps: 6, lr: 1e-2, warmupSteps: 0, progress: "none", workers },
      );
      m.dispose();
      return r.history.map((h) => h.loss);
    };
    const one = await run(1);
    const two = await run(2);
    expect(one.at(-1)!).toBeLessThan(one[0]!);
    two.forEach((l, i) => expect(l).toBeCloseTo(one[i]!, 3));
    expect(activeReplicaWorkers()).toBe(0);
  });

  it("trainSft takes the flag, and refuses it without seqLen", async () => {
    const m = createModel(tiny, { tokenizer: tok, seed: 5 });
    const r = await trainSft({ model: m, train: samples, validation: samples, tokenizer: tok }, { steps: 8, batchSize: 2, seqLen: T, packing: true, lr: 1e-2, warmupSteps: 0, progress: "none" });
    expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0]!.loss);
    await expect(trainSft({ model: m, train: samples, tokenizer: tok }, { steps: 1, packing: true, progress: "none" })).rejects.toThrow(SftDataError);
    m.dispose();
  });
});

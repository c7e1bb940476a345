import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { directionalInput } from "../src/bidirectional.js";
import { createModel, type BatGPTModel } from "../src/model.js";
import { countParameters } from "../src/params.js";
import { flopsPerToken } from "../src/flops.js";
import { resolveConfig } from "../src/config.js";

const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 32 };
let tok: Tokenizer;
let model: BatGPTModel;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。 The moon is bright."], { vocabSize: 300, minFrequency: 1 });
  model = createModel({ ...tiny, vocab_size: tok.vocabSize }, { tokenizer: tok, seed: 1 });
});

const randomIds = (batch: number, len: number, vocab: number, seed: number) =>
  fc.sample(fc.array(fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: len, maxLength: len }), { minLength: batch, maxLength: batch }), { numRuns: 1, seed })[0]!;

describe("BatGPTModel", () => {
  it("gives [batch, seq, vocab] logits in both directions", () => {
    const ids = randomIds(3, 7, tok.vocabSize, 1);
    for (const direction of ["forward", "backward"] as const) {
      const l = model.logits(ids, { direction });
      expect(l.shape).toEqual([3, 7, tok.vocabSize]);
      expect(Number.isFinite(l.sum().dataSync()[0])).toBe(true);
      l.dispose();
    }
  });

  it("is causal: a later token never changes an earlier logit (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { minLength: 4, maxLength: 12 }),
        fc.nat(),
        fc.integer({ min: 0, max: tok.vocabSize - 1 }),
        (seq, cut, replacement) => {
          const t = 1 + (cut % (seq.length - 1)); // change position t, check logits at < t
          const changed = [...seq];
          changed[t] = replacement;
          // logits at position j predict token j from tokens < j, so positions ≤ t are unaffected
          const [a, b] = [model.logits([seq]), model.logits([changed])];
          const da = a.slice([0, 0, 0], [1, t + 1, tok.vocabSize]).arraySync();
          const db = b.slice([0, 0, 0], [1, t + 1, tok.vocabSize]).arraySync();
          a.dispose();
          b.dispose();
          expect(da).toEqual(db);
        },
      ),
      { numRuns: 15 },
    );
  });

  it("reads backward exactly as it reads the reversed sequence after <|r2l|>", () => {
    const ids = randomIds(2, 9, tok.vocabSize, 2);
    const back = model.logits(ids, { direction: "backward" });
    const r2l = tok.specialTokenId("<|r2l|>");
    const { input } = directionalInput(Int32Array.from(ids.flat()), 2, 9, "backward", r2l);
    // the model's raw reading of [r2l, reversed ids] must be what logits(backward) returns
    const raw = tf.tidy(() => model.head(model.hidden(input, 2, 9, { direction: "backward" }).hidden).reshape([2, 9, tok.vocabSize]));
    expect(tf.max(tf.abs(tf.sub(back, raw))).dataSync()[0]).toBe(0);
    // and the input really is the reversed sequence after the direction token
    expect(Array.from(input.slice(0, 9))).toEqual([r2l, ...[...ids[0]!].reverse().slice(0, 8)]);
    back.dispose();
    raw.dispose();
  });

  it("counts parameters and FLOPs", () => {
    const c = resolveConfig({ ...tiny, vocab_size: tok.vocabSize });
    let n = 0;
    for (const v of model.params.values()) n += v.size;
    expect(countParameters(c)).toBe(n);
    const f = flopsPerToken(c, 16);
    expect(f.training).toBe(3 * f.forward);
    expect(f.forward).toBeGreaterThan(2 * (n - c.vocab_size * c.hidden_size));
  });

  it("computes a finite bidirectional loss near log(vocab) at init, and the 1/0 weights give a causal LM", () => {
    const ids = Int32Array.from(randomIds(2, 8, tok.vocabSize, 3).flat());
    const l = tf.tidy(() => model.loss({ ids, batch: 2, seqLen: 8 }).loss.dataSync()[0]!);
    expect(Math.abs(l - 2 * Math.log(tok.vocabSize))).toBeLessThan(1);
    const causal = createModel({ ...tiny, vocab_size: tok.vocabSize, loss_weight_backward: 0 }, { tokenizer: tok, seed: 1 });
    const parts = tf.tidy(() => {
      const r = causal.loss({ ids, batch: 2, seqLen: 8 });
      return [r.loss.dataSync()[0], r.forward?.dataSync()[0], r.backward];
    });
    expect(parts[0]).toBeCloseTo(parts[1] as number, 6);
    expect(parts[2]).toBeUndefined();
    causal.dispose();
  });

  it("keeps the tensor count flat over training-style steps", () => {
    const ids = Int32Array.from(randomIds(2, 8, tok.vocabSize, 4).flat());
    const vars = [...model.params.values()];
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => model.loss({ ids, batch: 2, seqLen: 8 }).loss, vars);
        value.dataSync();
        Object.values(grads).forEach((g) => g.dataSync());
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives the same logits on cpu and wasm (max abs diff ≤ 1e-4), both directions", async () => {
    const ids = randomIds(2, 10, tok.vocabSize, 5);
    const run = async (backend: "cpu" | "wasm") => {
      await selectBackend({ backend, log: false });
      const m = createModel({ ...tiny, vocab_size: tok.vocabSize }, { tokenizer: tok, seed: 9 });
      const out = (["forward", "backward"] as const).map((direction) => {
        const l = m.logits(ids, { direction });
        const v = l.dataSync().slice();
        l.dispose();
        return v;
      });
      m.dispose();
      return out;
    };
    const onCpu = await run("cpu");
    const onWasm = await run("wasm");
    for (let d = 0; d < 2; d++) {
      let max = 0;
      onCpu[d]!.forEach((x, i) => (max = Math.max(max, Math.abs(x - onWasm[d]![i]!))));
      expect(max).toBeLessThanOrEqual(1e-4);
    }
  });

  it("rejects ids outside the vocabulary and sequences over max_seq_len", () => {
    expect(() => model.logits([[tok.vocabSize + 5]])).toThrow(/outside the vocabulary/);
    expect(() => model.logits([new Array<number>(40).fill(1)])).toThrow(/max_seq_len/);
  });
});

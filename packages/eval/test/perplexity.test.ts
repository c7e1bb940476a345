import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createModel } from "@batgpt/core";
import { perplexity, slidingWindows } from "../src/index.js";
import { fixtureTokenizer, TINY } from "./helpers.js";

const TEXT = "床前明月光，疑是地上霜。举头望明月，低头思故乡。春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。";

describe("slidingWindows", () => {
  it("scores every token exactly once, each window at most `window` long, in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), (n, window, s) => {
        const stride = Math.min(s, window);
        const ws = slidingWindows(n, window, stride);
        let next = 0;
        for (const w of ws) {
          expect(w.end - w.begin).toBeLessThanOrEqual(window);
          expect(w.scoredFrom).toBe(next);
          expect(w.scoredFrom).toBeGreaterThanOrEqual(w.begin);
          next = w.end;
        }
        expect(next).toBe(n);
        // after the first window every scored token has at least window − stride tokens before it in its window
        for (const w of ws.slice(1)) expect(w.scoredFrom - w.begin).toBeGreaterThanOrEqual(Math.min(window - stride, w.scoredFrom));
      }),
      { numRuns: 200 },
    );
  });
});

describe("perplexity", () => {
  it("with one window equals the mean NLL of the model's own token log-probabilities, in both directions", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 7 });
    const ids = tok.encode(TEXT);
    expect(ids.length).toBeLessThan(TINY.max_seq_len);
    const r = await perplexity(model, tok, TEXT);
    expect(r.tokens).toBe(ids.length);
    expect(r.bytes).toBe(Buffer.byteLength(TEXT));
    expect(r.windows).toBe(1);
    for (const direction of ["forward", "backward"] as const) {
      const lp = tf.tidy(() => model.tokenLogProbs({ ids: Int32Array.from(ids), batch: 1, seqLen: ids.length }, direction).dataSync() as Float32Array);
      const nll = -lp.reduce((a, b) => a + b, 0) / ids.length;
      const m = r[direction]!;
      expect(m.nll).toBeCloseTo(nll, 5);
      expect(m.perplexity).toBeCloseTo(Math.exp(nll), 4);
      expect(m.bitsPerToken).toBeCloseTo(nll / Math.LN2, 5);
      expect(m.bitsPerByte).toBeCloseTo((nll * ids.length) / (Math.LN2 * r.bytes), 5);
    }
    // a random model reads the text about as well either way, but not identically
    expect(r.forward!.nll).not.toBe(r.backward!.nll);
    model.dispose();
  });

  it("with disjoint windows (stride = window) sums the windows' own NLLs, reading backward from the end", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 7 });
    const ids = tok.encode(TEXT.repeat(3));
    const W = 16;
    const r = await perplexity(model, tok, ids, { window: W, stride: W, rows: 3 });
    const n = ids.length;
    const sumOf = (seq: number[], direction: "forward" | "backward") => -tf.tidy(() => model.tokenLogProbs({ ids: Int32Array.from(seq), batch: 1, seqLen: seq.length }, direction).dataSync() as Float32Array).reduce((a, b) => a + b, 0);
    let fwd = 0;
    let bwd = 0;
    for (let b = 0; b < n; b += W) {
      fwd += sumOf(ids.slice(b, b + W), "forward");
      bwd += sumOf(ids.slice(Math.max(0, n - b - W), n - b), "backward");
    }
    expect(r.windows).toBe(Math.ceil(n / W));
    expect(r.forward!.nll).toBeCloseTo(fwd / n, 4);
    expect(r.backward!.nll).toBeCloseTo(bwd / n, 4);
    expect(r.bytes).toBe(tok.decodeBytes(ids).length);
    model.dispose();
  });

  it("overlapping windows give each token more context: every token scored once, the tensor count flat", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 7 });
    const text = TEXT.repeat(4);
    await perplexity(model, tok, text, { window: 32, stride: 8 }); // warms core's per-size tables
    const before = tf.memory().numTensors;
    const r = await perplexity(model, tok, text, { window: 32, stride: 8, directions: ["backward"] });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.forward).toBeUndefined();
    expect(r.windows).toBe(slidingWindows(r.tokens, 32, 8).length);
    expect(Number.isFinite(r.backward!.nll)).toBe(true);
    model.dispose();
  });

  it("refuses bad input with a clear message", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 7 });
    await expect(perplexity(model, tok, "")).rejects.toThrow(/the text is empty/);
    await expect(perplexity(model, tok, TEXT, { window: 1000 })).rejects.toThrow(/window 1000 is longer than the model's max_seq_len 128/);
    await expect(perplexity(model, tok, TEXT, { window: 16, stride: 32 })).rejects.toThrow(/stride 32 is longer than the window 16/);
    await expect(perplexity(model, tok, TEXT, { directions: ["sideways" as "forward"] })).rejects.toThrow(/perplexity options.*directions/);
    model.dispose();
  });
});

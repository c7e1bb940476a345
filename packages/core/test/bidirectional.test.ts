import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { tiny, trainFixture } from "./train-fixture.js";
import { DIRECTION_EMBEDDINGS, bidirectionalLoss, directionalInput } from "../src/bidirectional.js";
import { saveCheckpoint } from "../src/checkpoint.js";
import { generate } from "../src/generate.js";
import { loadCheckpoint } from "../src/load.js";
import { createModel } from "../src/model.js";
import { train } from "../src/train.js";

const { tok, file, dir } = await trainFixture();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("direction schemes", () => {
  it("builds each direction's input and targets: the start token, then the sequence (reversed backward)", () => {
    const ids = Int32Array.from([10, 11, 12, 20, 21, 22]);
    expect(directionalInput(ids, 2, 3, "forward", 1)).toEqual({ input: Int32Array.from([1, 10, 11, 1, 20, 21]), targets: Int32Array.from([10, 11, 12, 20, 21, 22]) });
    expect(directionalInput(ids, 2, 3, "backward", 2)).toEqual({ input: Int32Array.from([2, 12, 11, 2, 22, 21]), targets: Int32Array.from([12, 11, 10, 22, 21, 20]) });
  });

  it("weights the two directions and skips one whose weight is 0", () => {
    const ce = { forward: 2, backward: 3 };
    const seen: string[] = [];
    const loss = (w: { forward: number; backward: number }) =>
      tf.tidy(() => bidirectionalLoss((d) => (seen.push(d), tf.scalar(ce[d])), w).loss.dataSync()[0]);
    expect(loss({ forward: 1, backward: 1 })).toBeCloseTo(5);
    expect(loss({ forward: 0.5, backward: 2 })).toBeCloseTo(7);
    seen.length = 0;
    expect(loss({ forward: 1, backward: 0 })).toBeCloseTo(2);
    expect(seen).toEqual(["forward"]);
    expect(() => bidirectionalLoss(() => tf.scalar(0), { forward: 0, backward: 0 })).toThrow(/at least one direction/);
  });

  it("the default token scheme adds no tensor and writes an official config.json", async () => {
    const model = createModel(tiny, { tokenizer: tok });
    expect(model.config.direction_scheme).toBe("token");
    expect(model.params.has(DIRECTION_EMBEDDINGS)).toBe(false);
    expect(model.startToken("forward")).toBe(tok.specialTokenId("<|l2r|>"));
    const ckpt = join(dir, "token-scheme");
    await saveCheckpoint(ckpt, { model });
    const json = JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")) as Record<string, unknown>;
    expect(json).not.toHaveProperty("direction_scheme");
    model.dispose();
  });

  it("the learned direction embedding is one knob: it trains (loss falls both ways), saves, loads and generates", async () => {
    const model = createModel({ ...tiny, direction_scheme: "embedding" }, { tokenizer: tok, seed: 2 });
    expect(model.params.get(DIRECTION_EMBEDDINGS)!.shape).toEqual([2, 32]);
    expect(model.startToken("forward")).toBe(tok.specialTokenId("<|bos|>"));
    expect(model.startToken("backward")).toBe(tok.specialTokenId("<|bos|>"));
    const before = model.params.get(DIRECTION_EMBEDDINGS)!.arraySync();
    const r = await train({ model, data: file }, { steps: 30, batchSize: 4, seqLen: 16, lr: 3e-3, warmupSteps: 2, progress: "none" });
    const first = r.history[0]!;
    const last = r.history.at(-1)!;
    expect(last["loss/forward"]!).toBeLessThan(first["loss/forward"]! - 0.5);
    expect(last["loss/backward"]!).toBeLessThan(first["loss/backward"]! - 0.5);
    // the direction vectors are trained, and they differ
    const after = model.params.get(DIRECTION_EMBEDDINGS)!.arraySync();
    expect(after).not.toEqual(before);
    // the two directions read the same start token; only the embedding tells them apart
    const fwd = model.logits([[5, 6, 7]], { direction: "forward" });
    const bwd = model.logits([[7, 6, 5]], { direction: "backward" });
    expect(Math.max(...tf.tidy(() => tf.abs(tf.sub(fwd, bwd)).dataSync()))).toBeGreaterThan(1e-3);
    fwd.dispose();
    bwd.dispose();

    const ckpt = join(dir, "embedding-scheme");
    await saveCheckpoint(ckpt, { model, tokenizer: tok });
    const loaded = await loadCheckpoint(ckpt);
    expect(loaded.config.direction_scheme).toBe("embedding");
    for (const direction of ["forward", "backward"] as const) {
      const a = await generate(model, tok, "明月", { direction, temperature: 0, maxNewTokens: 6, stopTokens: [] });
      const b = await generate(loaded.model, tok, "明月", { direction, temperature: 0, maxNewTokens: 6, stopTokens: [] });
      const c = await generate(model, tok, "明月", { direction, temperature: 0, maxNewTokens: 6, stopTokens: [], useCache: false });
      expect(b.ids).toEqual(a.ids);
      expect(c.ids).toEqual(a.ids);
    }
    loaded.model.dispose();
    model.dispose();
  });
});

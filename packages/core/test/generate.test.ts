import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { generate } from "../src/generate.js";
import { createModel, type BatGPTModel } from "../src/model.js";

let tok: Tokenizer;
let model: BatGPTModel;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。 The moon is bright."], { vocabSize: 300, minFrequency: 1 });
  model = createModel({ hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 48 }, { tokenizer: tok, seed: 7 });
});

describe("generate", () => {
  it("gives the same greedy tokens with and without the KV cache, in both directions", async () => {
    for (const direction of ["forward", "backward"] as const) {
      const a = await generate(model, tok, "明月", { direction, temperature: 0, maxNewTokens: 12, stopTokens: [] });
      const b = await generate(model, tok, "明月", { direction, temperature: 0, maxNewTokens: 12, stopTokens: [], useCache: false });
      expect(a.ids).toEqual(b.ids);
      expect(a.ids).toHaveLength(12);
      a.logProbs.forEach((lp, i) => expect(Math.abs(lp - b.logProbs[i]!)).toBeLessThan(1e-4));
    }
  });

  it("returns log-probs that match the model's logits", async () => {
    const g = await generate(model, tok, "床前", { temperature: 1, seed: 3, maxNewTokens: 5, stopTokens: [] });
    const seq = [...g.promptIds, ...g.ids];
    const logits = model.logits([seq]);
    const logp = tf.tidy(() => tf.logSoftmax(logits.reshape([seq.length, tok.vocabSize])).arraySync() as number[][]);
    logits.dispose();
    g.ids.forEach((id, i) => expect(Math.abs(logp[g.promptIds.length + i]![id]! - g.logProbs[i]!)).toBeLessThan(1e-4));
  });

  it("writes backward: the text precedes the prompt, in reading order", async () => {
    const g = await generate(model, tok, "故乡。", { direction: "backward", temperature: 0, maxNewTokens: 6, stopTokens: [] });
    // reading forward, generated text + prompt; the ids were produced right to left
    expect(tok.decode([...g.ids].reverse())).toBe(g.text);
  });

  it("is reproducible for a seed and streams the same text it returns", async () => {
    let streamed = "";
    const opts = { temperature: 0.8, topP: 0.8, topK: 50, repetitionPenalty: 1.1, seed: 11, maxNewTokens: 10, stopTokens: [] };
    const a = await generate(model, tok, "举头", { ...opts, onToken: (e) => (streamed += e.piece) });
    const b = await generate(model, tok, "举头", opts);
    expect(a.ids).toEqual(b.ids);
    expect(streamed).toBe(a.text.slice(0, streamed.length));
  });

  it("batches left-padded prompts with the same result as one at a time", async () => {
    const prompts = ["床前明月光，", "举头"];
    const batched = await generate(model, tok, prompts, { temperature: 0, maxNewTokens: 6, stopTokens: [] });
    for (let i = 0; i < prompts.length; i++) {
      const single = await generate(model, tok, prompts[i]!, { temperature: 0, maxNewTokens: 6, stopTokens: [] });
      expect(batched[i]!.ids).toEqual(single.ids);
    }
  });

  it("stops at a stop token and leaves no tensors behind", async () => {
    const before = tf.memory().numTensors;
    const first = await generate(model, tok, "明月", { temperature: 0, maxNewTokens: 8, stopTokens: [] });
    const stopAt = first.ids[2]!;
    const g = await generate(model, tok, "明月", { temperature: 0, maxNewTokens: 8, stopTokens: [stopAt] });
    expect(g.finishReason).toBe("stop");
    expect(g.ids.at(-1)).toBe(stopAt);
    expect(tf.memory().numTensors).toBe(before);
  });
});

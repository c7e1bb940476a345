import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { GenerationError, generate, type GenerateOptions } from "../src/generate.js";
import { ConfigError } from "../src/options.js";
import { Rng } from "../src/rng.js";
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

  it("samples different first tokens for different seeds (temperature 50, top-k 5, top-p 0.5)", async () => {
    const firstIds = async (o: GenerateOptions) =>
      Promise.all(Array.from({ length: 20 }, (_, seed) => generate(model, tok, "明月", { ...o, seed, maxNewTokens: 1, stopTokens: [] }).then((g) => g.ids[0]!)));
    // near-uniform over the vocabulary: 20 draws from ~300 ids are almost all different
    const hot = await firstIds({ temperature: 50 });
    expect(new Set(hot).size).toBeGreaterThanOrEqual(15);
    const V = model.config.vocab_size;
    expect(hot.filter((id) => id === V - 1).length).toBeLessThan(3);
    // top-k 5 and top-p 0.5: the draws spread over the tokens kept, not one fixed rank
    // logits[t] predicts token t from the tokens before it: append a dummy to read the next token's
    const logits = model.logits([[...tok.encode("明月"), 0]]);
    const last = tf.tidy(() => Array.from(logits.slice([0, logits.shape[1] - 1, 0], [1, 1, V]).dataSync()));
    logits.dispose();
    const rank = [...last.keys()].sort((a, b) => last[b]! - last[a]!);
    const topK = await firstIds({ temperature: 1, topK: 5 });
    expect(topK.every((id) => rank.slice(0, 5).includes(id))).toBe(true);
    expect(new Set(topK).size).toBeGreaterThanOrEqual(3);
    const topP = await firstIds({ temperature: 1, topP: 0.5 });
    expect(new Set(topP).size).toBeGreaterThanOrEqual(3);
  });

  it("refuses non-finite logits with an error that names the prompt and the step", async () => {
    const broken = model.clone();
    const w = broken.params.get("lm_head.weight")!;
    w.assign(tf.fill(w.shape, NaN));
    const before = tf.memory().numTensors;
    for (const o of [{ temperature: 0 }, { temperature: 1 }, { temperature: 1, topK: 5 }, { temperature: 0.8, topP: 0.8 }]) {
      const run = generate(broken, tok, ["明月", "床前"], { ...o, maxNewTokens: 5, stopTokens: [] });
      await expect(run).rejects.toBeInstanceOf(GenerationError);
      await expect(generate(broken, tok, "明月", { ...o, maxNewTokens: 5 })).rejects.toThrow(/logits are not finite .*NaN.* for prompt 0 at generation step 1/);
    }
    expect(tf.memory().numTensors).toBe(before);
    broken.dispose();
  });

  it("validates its options and names the bad one", async () => {
    const cases: [GenerateOptions, RegExp][] = [
      [{ maxNewTokens: -1 }, /maxNewTokens/],
      [{ maxNewTokens: 1.5 }, /maxNewTokens/],
      [{ maxNewTokens: NaN }, /maxNewTokens/],
      [{ temperature: NaN }, /temperature/],
      [{ temperature: -1 }, /temperature/],
      [{ topK: 2.5 }, /topK/],
      [{ topP: 0 }, /topP/],
      [{ topP: 1.5 }, /topP/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty/],
      [{ seed: 0.5 }, /seed/],
      [{ stopTokens: [-1] }, /stopTokens/],
      [{ stopTokens: [1e6] }, /stopTokens: id 1000000 is outside the vocabulary/],
      [{ direction: "sideways" as never }, /direction/],
      [{ maxNewToken: 5 } as never, /maxNewToken/],
      [{ onToken: 3 as never }, /onToken/],
      [{ seed: 1, rng: new Rng(1) }, /seed and rng: pass one of them/],
    ];
    for (const [o, message] of cases) {
      const run = generate(model, tok, "明月", o);
      await expect(run).rejects.toBeInstanceOf(ConfigError);
      await expect(generate(model, tok, "明月", o)).rejects.toThrow(message);
    }
    await expect(generate(model, tok, [], {})).rejects.toThrow(ConfigError);
    expect((await generate(model, tok, "明月", { maxNewTokens: 0 })).ids).toEqual([]);
  });

  it("frees the KV cache when onToken throws (+0 tensors over 10 calls)", async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      const run = generate(model, tok, "明月", {
        maxNewTokens: 8,
        stopTokens: [],
        onToken: (e) => {
          if (e.id >= 0) throw new Error("client went away");
        },
      });
      await expect(run).rejects.toThrow("client went away");
    }
    expect(tf.memory().numTensors - before).toBe(0);
  });

  it("stops cleanly on an AbortSignal", async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let events = 0;
    const run = generate(model, tok, "明月", {
      maxNewTokens: 20,
      stopTokens: [],
      signal: controller.signal,
      onToken: () => {
        if (++events === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(events).toBe(3);
    await expect(generate(model, tok, "明月", { signal: AbortSignal.abort(new Error("not now")) })).rejects.toThrow("not now");
    // a timer fires during generation (each step yields to the event loop when a signal is given)
    const timed = new AbortController();
    let steps = 0;
    setTimeout(() => timed.abort(), 1);
    const long = generate(model, tok, "明", { maxNewTokens: 40, stopTokens: [], signal: timed.signal, onToken: () => steps++ });
    await expect(long).rejects.toMatchObject({ name: "AbortError" });
    expect(steps).toBeLessThan(40);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("streams pieces that join to the returned text, also when the last character is incomplete", async () => {
    let cut = 0;
    for (let seed = 0; seed < 40; seed++) {
      for (const stopTokens of [[], undefined]) {
        const pieces: string[] = [];
        const g = await generate(model, tok, "明月", { temperature: 1.5, seed, maxNewTokens: 4, ...(stopTokens ? { stopTokens } : {}), onToken: (e) => pieces.push(e.piece) });
        expect(pieces.join("")).toBe(g.text);
        if (g.text.endsWith("\uFFFD")) cut++;
      }
    }
    // the case this guards: generation ended inside a multi-byte character
    expect(cut).toBeGreaterThan(0);
  });
});

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Template } from "@huggingface/jinja";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { activeReplicaWorkers, createModel, runTrainer, selectBackend, type BatGPTModel } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { answerLoss, BATGPT_CHAT_TEMPLATE, evaluateAnswerLoss, renderChat, formatConversation, padBatch, SftDataError, SftDataSource, sftObjective, trainSft, type FormattedSample, type Message } from "../src/index.js";

let tok: Tokenizer;
let samples: FormattedSample[];
const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 64 };
beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "[Turn 1]\n\n[User] 续写\n\n[Assistant] 好\n\n"], { vocabSize: 300, minFrequency: 1 });
  const pairs: [string, string][] = [
    ["续写：床前明月光，", "疑是地上霜。"],
    ["续写：举头望明月，", "低头思故乡。"],
    ["上一句：疑是地上霜。", "床前明月光，"],
    ["写", "月"],
    ["续写：床前", "明月光，疑是地上霜。举头望明月，低头思故乡。"],
  ];
  samples = pairs.map(([q, a]) => formatConversation({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] satisfies Message[] }, tok));
});

const padId = () => tok.specialTokenId("<|pad|>");

describe("padBatch", () => {
  it("right-pads rows to the longest sample with mask 0 on padding, and refuses a sample that does not fit", () => {
    const b = padBatch(samples.slice(0, 2), padId());
    const T = Math.max(samples[0]!.ids.length, samples[1]!.ids.length);
    expect([b.batch, b.seqLen]).toEqual([2, T]);
    expect([...b.ids.slice(0, samples[0]!.ids.length)]).toEqual(samples[0]!.ids);
    expect([...b.ids.slice(samples[0]!.ids.length, T)].every((id) => id === padId())).toBe(true);
    expect([...b.lossMask.slice(0, T)]).toEqual([...samples[0]!.lossMask, ...new Array<number>(T - samples[0]!.ids.length).fill(0)]);
    expect(() => padBatch(samples, padId(), 4)).toThrow(SftDataError);
    expect(() => padBatch([], padId())).toThrow("padBatch: no samples");
  });
});

describe("answerLoss", () => {
  it("is the mean negative log-probability of the answer tokens only", async () => {
    const model: BatGPTModel = createModel(tiny, { tokenizer: tok, seed: 1 });
    const b = padBatch(samples, padId());
    const loss = tf.tidy(() => answerLoss(model, b).dataSync()[0]!);
    const lp = tf.tidy(() => model.tokenLogProbs(b, "forward").dataSync());
    let sum = 0;
    let n = 0;
    b.lossMask.forEach((m, i) => {
      if (m) {
        sum -= lp[i]!;
        n++;
      }
    });
    expect(loss).toBeCloseTo(sum / n, 5);
    const masked = { ...b, lossMask: b.lossMask.map(() => 0) };
    expect(() => answerLoss(model, masked)).toThrow("answerLoss: the batch has no answer token");
    model.dispose();
  });
});

describe("sftObjective on the shared trainer", () => {
  it("trains the answer loss down, and gives the same losses on 1 and 2 replicas (shards weighted by answer tokens)", async () => {
    const run = async (workers: number) => {
      const model = createModel(tiny, { tokenizer: tok, seed: 2 });
      const r = await runTrainer(
        { model, data: new SftDataSource(samples, { batchSize: 5, padId: padId(), seed: 3 }), objective: sftObjective() },
        { steps: 8, lr: 1e-2, warmupSteps: 0, progress: "none", workers },
      );
      model.dispose();
      return r.history.map((h) => h.loss);
    };
    const one = await run(1);
    const two = await run(2);
    expect(one.at(-1)!).toBeLessThan(one[0]! - 0.5);
    two.forEach((l, i) => expect(l).toBeCloseTo(one[i]!, 3));
    expect(activeReplicaWorkers()).toBe(0);
  });
});

describe("SftDataSource", () => {
  it("resumes exactly: the batches after a restored position are the ones that followed it", () => {
    const a = new SftDataSource(samples, { batchSize: 2, padId: padId(), seed: 4 });
    for (let i = 0; i < 3; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.state())) as unknown;
    const expected = [a.next(), a.next(), a.next(), a.next()].map((b) => [...b.ids]);
    const b = new SftDataSource(samples, { batchSize: 2, padId: padId(), seed: 99 });
    b.restore(saved);
    expect([b.next(), b.next(), b.next(), b.next()].map((x) => [...x.ids])).toEqual(expected);
    expect(() => b.restore({ epoch: 0 })).toThrow(SftDataError);
    expect(() => new SftDataSource([], { batchSize: 2, padId: 0 })).toThrow("SftDataSource: no samples");
  });
});

describe("trainSft", () => {
  it("lowers the held-out answer loss and resumes exactly from a checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-sft-"));
    try {
      const knobs = { steps: 10, batchSize: 3, lr: 1e-2, warmupSteps: 0, evalEvery: 5, progress: "none" as const, seed: 5 };
      const straight = createModel(tiny, { tokenizer: tok, seed: 6 });
      const before = evaluateAnswerLoss(straight, samples, padId());
      const r = await trainSft({ model: straight, train: samples, validation: samples, tokenizer: tok }, knobs);
      expect(r.evals.map((e) => e.step)).toEqual([5, 10]);
      expect(r.evals.at(-1)!["eval/loss"]!).toBeLessThan(before - 0.5);
      const first = createModel(tiny, { tokenizer: tok, seed: 6 });
      await trainSft({ model: first, train: samples, tokenizer: tok }, { ...knobs, stopAt: 4, checkpointDir: join(dir, "ckpt") });
      first.dispose();
      const resumed = createModel(tiny, { tokenizer: tok, seed: 7 });
      const rr = await trainSft({ model: resumed, train: samples, tokenizer: tok }, { ...knobs, resume: true, checkpointDir: join(dir, "ckpt") });
      expect(rr.history.map((h) => h.loss)).toEqual(r.history.slice(4).map((h) => h.loss));
      // the checkpoint carries the chat template in Hugging Face's tokenizer_config.json, and it renders as renderChat does
      const config = JSON.parse(readFileSync(join(dir, "ckpt", "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
      expect(config).toMatchObject({ chat_template: BATGPT_CHAT_TEMPLATE, bos_token: "<|bos|>", eos_token: "<|eos|>", pad_token: "<|pad|>", model_max_length: 64 });
      const messages: Message[] = [{ role: "user", content: "续写" }, { role: "assistant", content: "明月" }];
      expect(new Template(config.chat_template as string).render({ messages, add_generation_prompt: false, bos_token: "<|bos|>", eos_token: "<|eos|>" })).toBe(renderChat(messages));
      await expect(trainSft({ model: resumed, train: [], tokenizer: tok }, knobs)).rejects.toThrow("trainSft: no training samples");
      await expect(trainSft({ model: resumed, train: samples, tokenizer: tok }, { ...knobs, batchSize: 0 })).rejects.toThrow(/SFT config: batchSize/);
      // longer than the model's context (max_seq_len 64): refused before the first step, the sample named
      const long = { ids: Array.from({ length: 65 }, () => samples[0]!.ids[0]!), lossMask: new Uint8Array(65).fill(1), droppedTurns: 0 };
      await expect(trainSft({ model: resumed, train: [...samples, long], tokenizer: tok }, knobs)).rejects.toThrow(`trainSft: training sample ${samples.length} has 65 tokens, more than the model's max_seq_len 64 (format it with maxLength)`);
      await expect(trainSft({ model: resumed, train: samples, validation: [long], tokenizer: tok }, knobs)).rejects.toThrow("trainSft: validation sample 0 has 65 tokens");
      await expect(trainSft({ model: resumed, train: samples, tokenizer: tok }, { ...knobs, packing: true, seqLen: 100 })).rejects.toThrow("SFT config: seqLen 100 is longer than the model's max_seq_len 64");
      straight.dispose();
      resumed.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("backward samples", () => {
  it("train the model to write the prompt for a given answer, reading right to left", async () => {
    const backward = samples.map((_, i) => {
      const pairs = [["续写：床前明月光，", "疑是地上霜。"], ["续写：举头望明月，", "低头思故乡。"], ["上一句：疑是地上霜。", "床前明月光，"]] as const;
      const [q, a] = pairs[i % pairs.length]!;
      return formatConversation({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] }, tok, { lossOn: "last-prompt" });
    });
    const model = createModel(tiny, { tokenizer: tok, seed: 8 });
    const before = evaluateAnswerLoss(model, backward, padId(), 8, "backward");
    expect(backward.every((s) => s.direction === "backward")).toBe(true);
    const r = await trainSft({ model, train: backward, validation: backward, tokenizer: tok }, { steps: 8, batchSize: 3, lr: 1e-2, warmupSteps: 0, progress: "none", direction: "backward" });
    expect(r.evals.at(-1)!["eval/loss"]!).toBeLessThan(before - 0.5);
    model.dispose();
  });

  it("mixed with forward samples: batches of one direction each, interleaved in proportion, read in their own direction, resumed exactly", () => {
    const backward = samples.slice(0, 2).map((s, i) =>
      formatConversation({ messages: [{ role: "user", content: `续写：第${i}句，` }, { role: "assistant", content: "疑是地上霜。" }] }, tok, { lossOn: "last-prompt" }),
    );
    const mixed = [...samples, ...backward];
    const src = new SftDataSource(mixed, { batchSize: 1, padId: padId(), seed: 2 });
    const served = Array.from({ length: 3 * mixed.length }, () => src.next());
    // one sample a batch: three epochs of each pool, so each direction in proportion to its size
    expect(served.filter((b) => b.direction === "backward")).toHaveLength(3 * backward.length);
    expect(served.filter((b) => b.direction === undefined)).toHaveLength(3 * samples.length);
    // interleaved: never more forward batches in a row than forward samples per backward one, rounded up
    const runs = served.map((b) => (b.direction === "backward" ? "b" : "f")).join("").split("b").map((r) => r.length);
    expect(Math.max(...runs)).toBeLessThanOrEqual(Math.ceil(samples.length / backward.length));
    const saved = JSON.parse(JSON.stringify(src.state())) as unknown;
    const expected = [src.next(), src.next(), src.next()].map((b) => [b.direction, ...b.ids]);
    const again = new SftDataSource(mixed, { batchSize: 1, padId: padId() });
    again.restore(saved);
    expect([again.next(), again.next(), again.next()].map((b) => [b.direction, ...b.ids])).toEqual(expected);
    expect(() => again.restore({ pools: [(saved as { pools: unknown[] }).pools[0]] })).toThrow(SftDataError);
    // a batch is read in one direction
    expect(() => padBatch([samples[0]!, backward[0]!], padId())).toThrow(/different directions/);
    // the objective reads a backward batch backward even when its own option says forward
    const model = createModel(tiny, { tokenizer: tok, seed: 8 });
    const b = padBatch(backward, padId());
    const viaObjective = tf.tidy(() => sftObjective({ direction: "forward" }).loss(model, b).loss.dataSync()[0]!);
    const backwardLoss = tf.tidy(() => answerLoss(model, b, "backward").dataSync()[0]!);
    const forwardLoss = tf.tidy(() => answerLoss(model, b, "forward").dataSync()[0]!);
    expect(viaObjective).toBeCloseTo(backwardLoss, 6);
    expect(Math.abs(viaObjective - forwardLoss)).toBeGreaterThan(1e-3);
    // evaluateAnswerLoss too: the mixed set's loss is the token-weighted mean of the two directions
    const nF = samples.reduce((n, s) => n + s.lossMask.reduce((a, x) => a + x, 0), 0);
    const nB = backward.reduce((n, s) => n + s.lossMask.reduce((a, x) => a + x, 0), 0);
    const fwdOnly = evaluateAnswerLoss(model, samples, padId());
    const bwdOnly = evaluateAnswerLoss(model, backward, padId());
    expect(evaluateAnswerLoss(model, mixed, padId())).toBeCloseTo((fwdOnly * nF + bwdOnly * nB) / (nF + nB), 5);
    model.dispose();
  });
});

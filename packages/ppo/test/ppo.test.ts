import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createModel, Rng, selectBackend, TokenFile, train, WindowLoader, type BatGPTModel } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { trainPpo, VALUE_HEAD, type RewardFunction } from "../src/index.js";

// The toy task: a tiny policy that writes the four characters 甲乙丙丁 in about equal shares;
// the reward is the share of 乙 in the response. PPO should raise it while the KL stays bounded.
const CHARS = ["甲", "乙", "丙", "丁"];
let tok: Tokenizer;
let base: BatGPTModel;
let target: number;
const dirs: string[] = [];

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  const rng = new Rng(1);
  const text = Array.from({ length: 4000 }, () => CHARS[rng.int(4)]).join("");
  tok = await trainBpe([text], { vocabSize: 275, minFrequency: 1 });
  for (const c of CHARS) expect(tok.encode(c)).toHaveLength(1);
  target = tok.encode("乙")[0]!;
  base = createModel({ hidden_size: 32, n_layer: 2, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 48, max_seq_len: 24 }, { tokenizer: tok, seed: 2 });
  const ids = Uint32Array.from(tok.encode(text));
  await train({ model: base, data: TokenFile.fromTokens(ids, tok.vocabSize) }, { steps: 40, batchSize: 8, seqLen: 16, lr: 5e-3, lossWeightBackward: 0, workers: 1, progress: "none" });
}, 120_000);

afterAll(() => {
  base.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const share: RewardFunction = ({ generations }) => generations.map((g) => g.ids.filter((id) => id === target).length / g.ids.length);

describe("trainPpo on a toy reward", () => {
  it("raises the share of the target token within 8 iterations, KL bounded, tensors flat, deterministic", async () => {
    const run = async () => {
      const policy = base.clone();
      const dir = mkdtempSync(join(tmpdir(), "ppo-"));
      dirs.push(dir);
      const counts: number[] = [];
      const r = await trainPpo(
        { policy, reward: share, tokenizer: tok, prompts: ["甲", "丙", "丁乙"], callbacks: { onIteration: () => counts.push(tf.memory().numTensors) } },
        { iterations: 8, rolloutBatchSize: 16, miniBatchSize: 8, ppoEpochs: 2, maxNewTokens: 8, temperature: 1, lr: 3e-3, klCoef: 0.05, template: null, workers: 1, progress: "none", seed: 5, metricsPath: join(dir, "metrics.jsonl") },
      );
      policy.dispose();
      return { r, counts, dir };
    };
    const { r, counts, dir } = await run();
    const scores = r.iterations.map((i) => i["objective/scores"]);
    expect(r.iterations).toHaveLength(8);
    expect(scores[0]).toBeLessThan(0.45);
    const last = (scores[6]! + scores[7]!) / 2;
    expect(last).toBeGreaterThan(scores[0]! + 0.2);
    for (const it of r.iterations) expect(it["objective/kl"]).toBeLessThan(8);
    expect(new Set(counts.slice(1)).size).toBe(1);
    for (const key of ["policy/approxkl", "policy/clipfrac", "loss/policy", "loss/value", "val/vpred", "objective/entropy", "time/generation_share", "beta", "response_length"]) {
      expect(Number.isFinite(r.iterations[7]![key])).toBe(true);
    }
    const logged = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(logged.filter((l) => l.type === "iteration")).toHaveLength(8);
    expect(logged.filter((l) => l.type === "step")).toHaveLength(8 * 2 * 2);
    // the same seed gives the same run
    const again = await run();
    expect(again.r.iterations.map((i) => i["objective/scores"])).toEqual(scores);
  }, 240_000);

  it("resumes exactly from a checkpoint taken in the middle of an iteration", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ppo-resume-"));
    dirs.push(dir);
    const knobs = { iterations: 3, rolloutBatchSize: 8, miniBatchSize: 4, ppoEpochs: 2, maxNewTokens: 6, temperature: 1, lr: 3e-3, template: null, workers: 1, progress: "none" as const, seed: 9 };
    const go = async (extra: Record<string, unknown>) => {
      const policy = base.clone();
      const r = await trainPpo({ policy, reward: share, tokenizer: tok, prompts: ["甲", "丙"] }, { ...knobs, ...extra });
      const weights = Object.fromEntries([...policy.params].map(([k, v]) => [k, Array.from(v.dataSync())]));
      policy.dispose();
      return { r, weights };
    };
    const straight = await go({});
    const first = await go({ checkpointDir: join(dir, "ckpt"), stopAt: 6 }); // 4 steps an iteration: stops inside the second
    expect(first.r.step).toBe(6);
    const resumed = await go({ checkpointDir: join(dir, "ckpt"), resume: true });
    expect(resumed.r.step).toBe(12);
    expect([...first.r.iterations, ...resumed.r.iterations].map((i) => i["objective/scores"])).toEqual(straight.r.iterations.map((i) => i["objective/scores"]));
    for (const [k, v] of Object.entries(straight.weights)) expect(resumed.weights[k]).toEqual(v);
  }, 120_000);

  it("adds a value head from the actor and refuses ptx without data", async () => {
    const policy = base.clone();
    await expect(trainPpo({ policy, reward: share, tokenizer: tok, prompts: ["甲"] }, { iterations: 1, ptxCoef: 1, template: null, workers: 1 })).rejects.toThrow(/ptxCoef > 0 needs ptx data/);
    await expect(trainPpo({ policy, reward: share, tokenizer: tok, prompts: [] }, { iterations: 1, template: null, workers: 1 })).rejects.toThrow(/non-empty array/);
    await expect(trainPpo({ policy, reward: share, tokenizer: tok, prompts: ["甲", "甲".repeat(20)] }, { iterations: 1, maxNewTokens: 8, template: null, workers: 1 })).rejects.toThrow(/prompts\[1\] is 21 tokens and the direction token, so with maxNewTokens 8 it does not fit the model's max_seq_len 24/);
    await expect(trainPpo({ policy, reward: share, tokenizer: tok, prompts: ["甲"], ptx: {} as never }, { iterations: 1, template: null, workers: 1 })).rejects.toThrow(/ptx must be a DataSource/);
    // DeepSpeed-Chat's variant with core's WindowLoader as it is: a ptx step after each PPO step
    const ptx = new WindowLoader(TokenFile.fromTokens(Uint32Array.from(tok.encode("甲乙丙丁".repeat(20))), tok.vocabSize), { seqLen: 8, batchSize: 2, rng: new Rng(1) });
    const r = await trainPpo({ policy, reward: share, tokenizer: tok, prompts: ["甲"], ptx }, { iterations: 1, rolloutBatchSize: 4, miniBatchSize: 2, ppoEpochs: 1, maxNewTokens: 4, ptxCoef: 0.5, ptxMode: "separate", template: null, workers: 1, progress: "none" });
    expect(r.step).toBe(4);
    expect(r.history.filter((h) => h["loss/ptx"] !== undefined && h["loss/policy"] === undefined)).toHaveLength(2);
    expect(VALUE_HEAD in policy.config.heads).toBe(true);
    policy.dispose();
  }, 60_000);
});

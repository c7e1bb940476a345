import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createModel, selectBackend, type BatGPTModel } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import {
  encodePairs,
  evaluatePairs,
  loadRewardModel,
  pairwiseLoss,
  rewardBatch,
  RewardDataError,
  rowRewards,
  score,
  trainRewardModel,
  type StandardExplicitPair,
} from "../src/index.js";

let tok: Tokenizer;
const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 64 };
// the verse task in miniature: the real next line against a line of the wrong length or a repeat
const pairs: StandardExplicitPair[] = [
  { prompt: "续写：床前明月光，", chosen: "疑是地上霜。", rejected: "疑是地上霜霜霜。" },
  { prompt: "续写：举头望明月，", chosen: "低头思故乡。", rejected: "举头望明月，" },
  { prompt: "续写：白日依山尽，", chosen: "黄河入海流。", rejected: "黄河流。" },
  { prompt: "续写：欲穷千里目，", chosen: "更上一层楼。", rejected: "欲穷千里目，" },
];
const padId = () => tok.specialTokenId("<|pad|>");
const withHead = (seed: number): BatGPTModel => {
  const m = createModel(tiny, { tokenizer: tok, seed });
  m.addHead("score", { outputs: 1 }, { seed });
  return m;
};

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "[Turn 1]\n\n[User] 续写\n\n[Assistant] 好\n\n"], {
    vocabSize: 320,
    minFrequency: 1,
  });
});

describe("pairwiseLoss", () => {
  it("equals −log σ(r_c − r_r − margin) + λ·mean((r_c + r_r)²) on a hand-computed example, with TRL's metrics", () => {
    const out = tf.tidy(() => {
      const { loss, metrics } = pairwiseLoss(tf.tensor1d([1, 0.5]), tf.tensor1d([0, 1]), tf.tensor1d([0.5, 0]), { centerRewardsCoefficient: 0.1 });
      return { loss: loss.dataSync()[0]!, ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, v.dataSync()[0]!])) } as Record<string, number>;
    });
    // pair 1: −log σ(1 − 0 − 0.5) = log(1 + e^−0.5) = 0.474077; pair 2: −log σ(−0.5) = log(1 + e^0.5) = 0.974077
    // centring: 0.1 · ((1 + 0)² + (0.5 + 1)²) / 2 = 0.1625
    expect(out.loss).toBeCloseTo((0.474077 + 0.974077) / 2 + 0.1625, 5);
    expect(out["rewards/accuracy"]).toBe(0.5);
    expect(out["rewards/margin"]).toBeCloseTo(0.25, 6);
    expect(out["rewards/chosen"]).toBeCloseTo(0.75, 6);
    expect(out["rewards/rejected"]).toBeCloseTo(0.5, 6);
    const plain = tf.tidy(() => pairwiseLoss(tf.tensor1d([2]), tf.tensor1d([0])).loss.dataSync()[0]!);
    expect(plain).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
  });
});

describe("the reward model", () => {
  it("reads the reward at each row's last token: padding after it changes nothing", () => {
    const m = withHead(1);
    const { pairs: enc } = encodePairs(m, tok, pairs);
    const alone = enc.map((p) => rowRewards(m, rewardBatch([p], padId())).arraySync());
    const together = rowRewards(m, rewardBatch(enc, padId(), 64)).arraySync();
    enc.forEach((_, i) => {
      expect(together[i]).toBeCloseTo(alone[i]![0]!, 5);
      expect(together[enc.length + i]).toBeCloseTo(alone[i]![1]!, 5);
    });
    m.dispose();
  });

  it("reads TRL's four preference shapes alike: conversational and implicit pairs render as the explicit one", () => {
    const m = withHead(9);
    const p = pairs[0]!;
    const user = [{ role: "user" as const, content: p.prompt }];
    const a = (content: string) => [{ role: "assistant" as const, content }];
    const explicit = encodePairs(m, tok, [p]).pairs;
    expect(encodePairs(m, tok, [{ prompt: user, chosen: a(p.chosen), rejected: a(p.rejected) }]).pairs).toEqual(explicit);
    expect(encodePairs(m, tok, [{ chosen: [...user, ...a(p.chosen)], rejected: [...user, ...a(p.rejected)] }]).pairs).toEqual(explicit);
    // an implicit standard pair is read as it is, after the direction token
    expect(encodePairs(m, tok, [{ chosen: "床前", rejected: "明月" }]).pairs[0]!.chosen).toEqual([m.startToken("forward"), ...tok.encode("床前")]);
    m.dispose();
  });

  it("swapping chosen and rejected flips the margin's sign (and accuracy to 1 − accuracy)", () => {
    const m = withHead(2);
    fc.assert(
      fc.property(fc.shuffledSubarray(pairs, { minLength: 1 }), (some) => {
        const { pairs: enc } = encodePairs(m, tok, some);
        const swapped = enc.map((p) => ({ ...p, chosen: p.rejected, rejected: p.chosen }));
        const a = evaluatePairs(m, enc, padId());
        const b = evaluatePairs(m, swapped, padId());
        expect(b["rewards/margin"]).toBeCloseTo(-a["rewards/margin"], 5);
        expect(b["rewards/accuracy"]).toBeCloseTo(1 - a["rewards/accuracy"], 6);
      }),
      { numRuns: 8 },
    );
    m.dispose();
  });

  it("a gradient step raises r_chosen − r_rejected; training reaches accuracy 1; the tensor count stays flat", async () => {
    const m = createModel(tiny, { tokenizer: tok, seed: 3 }); // no head: trainRewardModel adds `score`
    const knobs = { batchSize: 2, lr: 5e-3, warmupSteps: 0, progress: "none" as const, seed: 4 };
    const r1 = await trainRewardModel({ model: m, tokenizer: tok, train: pairs }, { ...knobs, steps: 1 });
    expect(m.config.heads.score).toEqual({ outputs: 1, bias: false });
    const { pairs: enc } = encodePairs(m, tok, pairs);
    const before = r1.history[0]!["rewards/margin"]!;
    const step = await trainRewardModel({ model: m, tokenizer: tok, train: pairs.slice(0, 2) }, { ...knobs, steps: 1 });
    // the same two pairs, after one step on them: their margin grew
    expect(evaluatePairs(m, enc.slice(0, 2), padId())["rewards/margin"]).toBeGreaterThan(step.history[0]!["rewards/margin"]!);
    const tensors = tf.memory().numTensors;
    const r = await trainRewardModel({ model: m, tokenizer: tok, train: pairs, validation: pairs }, { ...knobs, steps: 30, evalEvery: 15 });
    expect(tf.memory().numTensors).toBe(tensors);
    const end = r.evals.at(-1)!;
    expect(end["eval/rewards/accuracy"]).toBe(1);
    expect(end["eval/rewards/margin"]!).toBeGreaterThan(before);
    expect(Object.keys(r.history[0]!)).toEqual(expect.arrayContaining(["loss", "rewards/accuracy", "rewards/margin", "rewards/chosen", "rewards/rejected", "grad_norm"]));
    expect(r.stats.count).toBe(2 * pairs.length);
    m.dispose();
  });

  it("gives the same losses on 1 and 2 replicas (shards weighted by pairs)", async () => {
    const run = async (workers: number) => {
      const m = createModel(tiny, { tokenizer: tok, seed: 5 });
      const r = await trainRewardModel({ model: m, tokenizer: tok, train: pairs }, { steps: 3, batchSize: 4, lr: 5e-3, warmupSteps: 0, progress: "none", workers });
      m.dispose();
      return r.history.map((h) => h.loss);
    };
    const one = await run(1);
    const two = await run(2);
    two.forEach((l, i) => expect(l).toBeCloseTo(one[i]!, 5));
  });

  it("saves, resumes exactly, and loads with one call: score head, chat template, reward statistics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-reward-"));
    try {
      const knobs = { steps: 8, batchSize: 2, lr: 5e-3, warmupSteps: 0, progress: "none" as const, seed: 6 };
      const straight = createModel(tiny, { tokenizer: tok, seed: 7 });
      const full = await trainRewardModel({ model: straight, tokenizer: tok, train: pairs }, knobs);
      const ckpt = join(dir, "rm");
      const first = createModel(tiny, { tokenizer: tok, seed: 7 });
      await trainRewardModel({ model: first, tokenizer: tok, train: pairs }, { ...knobs, stopAt: 3, checkpointDir: ckpt });
      first.dispose();
      const resumed = createModel(tiny, { tokenizer: tok, seed: 99 });
      const rest = await trainRewardModel({ model: resumed, tokenizer: tok, train: pairs }, { ...knobs, resume: true, checkpointDir: ckpt });
      expect(rest.history.map((h) => h.loss)).toEqual(full.history.slice(3).map((h) => h.loss));
      expect(existsSync(join(ckpt, "tokenizer_config.json"))).toBe(true);

      const loaded = await loadRewardModel(ckpt);
      expect(loaded.stats).toEqual(rest.stats);
      const prompts = pairs.map((p) => p.prompt);
      const raw = score(loaded.model, loaded.tokenizer, prompts, pairs.map((p) => p.chosen), { template: loaded.chatTemplate });
      expect(raw).toEqual(score(resumed, tok, prompts, pairs.map((p) => p.chosen)));
      const z = score(loaded.model, loaded.tokenizer, prompts, pairs.map((p) => p.chosen), { normalize: loaded.stats });
      z.forEach((v, i) => expect(v).toBeCloseTo((raw[i]! - loaded.stats.mean) / loaded.stats.std, 5));
      loaded.model.dispose();
      straight.dispose();
      resumed.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses bad input with clear errors", async () => {
    const m = createModel(tiny, { tokenizer: tok, seed: 8 });
    await expect(trainRewardModel({ model: m, tokenizer: tok, train: [] }, { steps: 1 })).rejects.toThrow(new RewardDataError("trainRewardModel: no training pairs"));
    await expect(trainRewardModel({ model: m, tokenizer: tok, train: pairs }, { steps: 1, batch_size: 2 } as never)).rejects.toThrow(/^invalid reward config: Unrecognized key: "batch_size"/);
    await expect(trainRewardModel({ model: m, tokenizer: tok, train: pairs }, { steps: 1, maxLength: 5 })).rejects.toThrow("trainRewardModel: every one of the 4 training pairs is longer than 5 tokens");
    expect(() => encodePairs(m, tok, [{ prompt: "问<|eot|>", chosen: "a", rejected: "b" }])).toThrow("pair 0: prompt message 0 holds the special token <|eot|>, which only the template may write");
    expect(() => score(m, tok, ["a"], [])).toThrow("score: 1 prompts but 0 responses");
    // malformed pairs and prompts are named, not a TypeError
    expect(() => encodePairs(m, tok, [pairs[0]!, { prompt: "p", chosen: "a" } as never])).toThrow(/^pair 1: invalid preference pair \(TRL: prompt\?, chosen, rejected\)/);
    expect(() => encodePairs(m, tok, [{ question: "p", good: "a", bad: "b" } as never])).toThrow(/^pair 0: invalid preference pair/);
    expect(() => score(m, tok, [[{ role: "user", content: "q" }, { role: "assistant", content: "r" }]], ["a"])).toThrow(/^score: invalid prompts\[0\]: \[1\]\.role: is "assistant": a conversation prompt ends with the user's message/);
    expect(() => score(m, tok, "p" as never, ["a"])).toThrow("score: prompts and responses must be arrays (one prompt a response)");
    expect(() => rowRewards(m, rewardBatch(encodePairs(m, tok, pairs).pairs, padId()))).toThrow(/no head named "score"/);
    await expect(loadRewardModel(join(tmpdir(), "batgpt-no-such-reward-model"))).rejects.toThrow();
    m.dispose();
  });
});

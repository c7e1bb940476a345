import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, createModel, flopsPerToken, Rng, selectBackend, TokenFile, type BatGPTModel } from "@batgpt/core";
import { flopsAtStep, progressiveStages, trainingFlopsPerStep, trainProgressive, type ProgressiveConfig } from "../src/index.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "progressive-"));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const base = { vocab_size: 24, max_seq_len: 12, l2r_token_id: 1, r2l_token_id: 2, bos_token_id: 3, hidden_size: 8, n_head: 2, ffn_hidden_size: 12, n_layer: 1 };
const target = { hidden_size: 16, n_head: 4, ffn_hidden_size: 24, n_layer: 4 };
const rng = new Rng(3);
const data = TokenFile.fromTokens(Array.from({ length: 600 }, (_, i) => 4 + ((i * 7 + rng.int(3)) % 20)), 24);
const run = (dir: string, extra: Partial<ProgressiveConfig> = {}): ProgressiveConfig => ({
  steps: 9, batchSize: 2, seqLen: 8, lr: 3e-3, warmupSteps: 1, evalEvery: 3, checkpointDir: dir, checkpointEvery: 1,
  workers: 1, progress: "none", seed: 5, target, growEvery: 3, ...extra,
});

describe("progressiveStages", () => {
  it("widens at the first growth and doubles the depth each time, over one global step count", () => {
    const model = createModel(base, { seed: 1 });
    try {
      const stages = progressiveStages(model.config, { steps: 10, target, growEvery: 3 }, "ck");
      expect(stages.map((s) => [s.config.hidden_size, s.config.n_layer, s.startStep, s.endStep])).toEqual([
        [8, 1, 0, 3],
        [16, 2, 3, 6],
        [16, 4, 6, 10],
      ]);
      expect(stages[2]!.checkpointDir).toBe(join("ck", "stage-2"));
      expect(progressiveStages(model.config, { steps: 10, target, growEvery: 2, growBy: 1 }).map((s) => s.config.n_layer)).toEqual([1, 2, 3, 4]);
      expect(() => progressiveStages(model.config, { steps: 6, target, growEvery: 3 })).toThrow(ConfigError);
      expect(() => progressiveStages(model.config, { steps: 6, target: { n_layer: 0 }, growEvery: 3 })).toThrow(/n_layer/);
    } finally {
      model.dispose();
    }
  });

  it("counts training FLOPs per step from core's per-token count, and sums them over the stages", () => {
    const model = createModel(base, { seed: 1 });
    try {
      const c = model.config;
      expect(trainingFlopsPerStep(c, { batchSize: 4, seqLen: 8, directions: 2 })).toBe(4 * 8 * 2 * flopsPerToken(c, 8).training);
      const stages = progressiveStages(c, { steps: 10, target, growEvery: 3 }).map((s) => ({ ...s, flopsPerStep: 100 * (s.index + 1) }));
      expect(flopsAtStep(stages, 2)).toBe(200);
      expect(flopsAtStep(stages, 5)).toBe(300 + 2 * 200);
      expect(flopsAtStep(stages, 10)).toBe(300 + 600 + 4 * 300);
    } finally {
      model.dispose();
    }
  });
});

describe("trainProgressive", () => {
  let result: Awaited<ReturnType<typeof trainProgressive>>;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    const model = createModel(base, { seed: 1 });
    result = await trainProgressive({ model, data, validation: data }, run(dir));
    model.dispose();
  }, 60_000);
  afterAll(() => result.model.dispose());

  it("trains every stage on one schedule and ends at the target size", () => {
    expect(result.stages.map((s) => s.config.n_layer)).toEqual([1, 2, 4]);
    expect(result.model.config.hidden_size).toBe(16);
    expect(result.model.config.n_layer).toBe(4);
    expect(result.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const h of result.history) expect(Number.isFinite(h.loss)).toBe(true);
    // one warmup + cosine schedule: the learning rate keeps falling across growths
    const lrs = result.history.map((h) => h.learning_rate);
    for (let i = 2; i < lrs.length; i++) expect(lrs[i]!).toBeLessThanOrEqual(lrs[i - 1]!);
    const flops = result.evals.map((e) => e.flops);
    for (let i = 1; i < flops.length; i++) expect(flops[i]!).toBeGreaterThan(flops[i - 1]!);
    expect(result.evals.at(-1)!.flops).toBe(flopsAtStep(result.stages, 9));
  });

  it("the new residual dimensions learn (gradients reach the zero-initialised units)", () => {
    const emb = result.model.params.get("model.word_embeddings.weight")!;
    const fresh = tf.tidy(() => tf.max(tf.abs(emb.slice([0, 8], [24, 8]))).dataSync()[0]!);
    expect(fresh).toBeGreaterThan(0);
  });

  it("an interrupted run resumes exactly: the final weights equal the uninterrupted run's", async () => {
    const d2 = tempDir();
    const model = createModel(base, { seed: 1 });
    let failed = false;
    await expect(
      trainProgressive(
        { model, data, validation: data, callbacks: { onStep: (m) => { if (m.step === 5 && !failed) { failed = true; throw new Error("interrupted"); } } } },
        run(d2),
      ),
    ).rejects.toThrow("interrupted");
    model.dispose();
    const fresh = createModel(base, { seed: 99 }); // resume ignores its weights: the checkpoint has them
    const before = tf.memory().numTensors;
    const resumed = await trainProgressive({ model: fresh, data, validation: data }, run(d2, { resume: true }));
    try {
      expect(resumed.history.map((h) => h.step)).toEqual([5, 6, 7, 8, 9]);
      expect(resumed.history.map((h) => h.loss)).toEqual(result.history.slice(4).map((h) => h.loss));
      for (const [name, v] of result.model.params) expect(resumed.model.params.get(name)!.dataSync()).toEqual(v.dataSync());
    } finally {
      resumed.model.dispose();
      fresh.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  }, 60_000);

  it("refuses a run without checkpointDir, with stopAt, or with unknown growth keys", async () => {
    const model: BatGPTModel = createModel(base, { seed: 1 });
    try {
      const { checkpointDir: _d, ...noDir } = run("x");
      await expect(trainProgressive({ model, data }, noDir as ProgressiveConfig)).rejects.toThrow(/checkpointDir is required/);
      await expect(trainProgressive({ model, data }, run(tempDir(), { stopAt: 2 }))).rejects.toThrow(/stopAt is not supported/);
      await expect(trainProgressive({ model, data }, run(tempDir(), { growth: { widht: "zero" } as never }))).rejects.toThrow(ConfigError);
    } finally {
      model.dispose();
    }
  });
});

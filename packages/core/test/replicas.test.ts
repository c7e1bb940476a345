import { spawn } from "node:child_process";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config.js";
import { splitTokenBatch, WindowLoader } from "../src/data.js";
import { createModel, type BatGPTModel } from "../src/model.js";
import { activeReplicaWorkers, ReplicaPool, resolveWorkers, WORKERS_ENV } from "../src/replicas.js";
import { Rng } from "../src/rng.js";
import { languageModelingObjective, train } from "../src/train.js";
import { runTrainer } from "../src/trainer.js";
import { failsInWorker } from "./fixtures/replica-objectives.js";
import { trainsOnImport } from "./fixtures/trains-on-import.js";
import { tiny, trainFixture } from "./train-fixture.js";

const { tok, file, dir } = await trainFixture();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  // every test ends with every worker stopped
  expect(activeReplicaWorkers()).toBe(0);
});

async function weightsOf(model: BatGPTModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, v] of model.params) out.set(n, (await v.data()) as Float32Array);
  return out;
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array> | Record<string, Float32Array>): number {
  let max = 0;
  for (const [n, x] of a) {
    const y = b instanceof Map ? b.get(n)! : b[n]!;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  }
  return max;
}

const knobs = { steps: 4, batchSize: 5, seqLen: 16, lr: 1e-2, warmupSteps: 0, progress: "none" as const };

describe("splitTokenBatch", () => {
  it("cuts rows into near-equal consecutive shards that join back into the batch", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 12 }), (batch, seqLen, parts) => {
        const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => i);
        const shards = splitTokenBatch({ ids, batch, seqLen }, parts);
        expect(shards.length).toBe(Math.min(batch, parts));
        const rows = shards.map((s) => s.batch);
        expect(Math.max(...rows) - Math.min(...rows)).toBeLessThanOrEqual(1);
        expect(rows.every((r) => r >= 1)).toBe(true);
        expect(Int32Array.from(shards.flatMap((s) => [...s.ids]))).toEqual(ids);
      }),
    );
    expect(() => splitTokenBatch({ ids: new Int32Array(4), batch: 2, seqLen: 2 }, 0)).toThrow(/parts must be an integer >= 1/);
  });
});

describe("data parallelism over worker threads", () => {
  it("N = 1 and N = 2 give the same losses and weights (5 rows: shards of 3 and 2, 2 micro-batches)", async () => {
    const a = createModel(tiny, { tokenizer: tok, seed: 3 });
    const b = createModel(tiny, { tokenizer: tok, seed: 3 });
    const ra = await train({ model: a, data: file }, { ...knobs, gradAccumulation: 2, workers: 1 });
    // after a first run (the ops' lazily made constants exist), training with workers leaves no tensor behind
    const before = tf.memory().numTensors;
    const rb = await train({ model: b, data: file }, { ...knobs, gradAccumulation: 2, workers: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect([ra.workers, rb.workers]).toEqual([1, 2]);
    for (const [i, h] of ra.history.entries()) {
      const g = rb.history[i]!;
      expect(g.loss).toBeCloseTo(h.loss, 4);
      expect(g["loss/forward"]!).toBeCloseTo(h["loss/forward"]!, 4);
      expect(g.grad_norm).toBeCloseTo(h.grad_norm, 3);
      expect(g.tokens).toBe(h.tokens);
    }
    // the loss moved, so the weights did: the same within float32 rounding of the sums
    expect(ra.history.at(-1)!.loss).toBeLessThan(ra.history[0]!.loss);
    expect(maxAbsDiff(await weightsOf(a), await weightsOf(b))).toBeLessThan(1e-4);
    a.dispose();
    b.dispose();
  });

  it("keeps every replica's weights identical to this thread's, and spreads generation over them", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 4 });
    const seen: number[] = [];
    const samples: string[][] = [];
    await runTrainer(
      {
        model,
        tokenizer: tok,
        data: (() => {
          const loader = new WindowLoader(file, { seqLen: 16, batchSize: 4, rng: new Rng(2) });
          return { next: () => loader.nextBatch(), state: () => loader.state(), restore: () => {} };
        })(),
        objective: languageModelingObjective({ forward: 1, backward: 1 }),
        evaluate: async (m, { replicas }) => {
          expect(replicas.size).toBe(3);
          const theirs = await replicas.workerWeights();
          const mine = await weightsOf(m);
          for (const w of theirs) seen.push(maxAbsDiff(mine, w));
          const prompts = ["床前", "明月", "举头", "低头", "疑是"];
          const opts = { maxNewTokens: 6, temperature: 1, seed: 9, batchSize: 2 };
          const spread = await replicas.generate(prompts, opts);
          // the same chunks in this thread alone give the same samples: seeds go with chunks, not replicas
          const alone = await ReplicaPool.start(m, { workers: 1, tokenizer: tok });
          const here = await alone.generate(prompts, opts);
          await alone.close();
          expect(spread.map((g) => g.text)).toEqual(here.map((g) => g.text));
          expect(spread.map((g) => g.promptIds)).toEqual(prompts.map((p) => tok.encode(p)));
          samples.push(spread.map((g) => g.text));
          return { "eval/checked": 1 };
        },
      },
      { steps: 3, evalEvery: 1, lr: 1e-2, progress: "none", workers: 3 },
    );
    expect(seen.length).toBe(6);
    expect(Math.max(...seen)).toBe(0);
    expect(samples.length).toBe(3);
    model.dispose();
  });

  it("resumes exactly with workers: 3 steps, stop, 3 more equal 6 straight, bit for bit", async () => {
    const ckpt = mkdtempSync(join(tmpdir(), "batgpt-replicas-"));
    try {
      const cfg = { ...knobs, steps: 6, workers: 2 };
      const straight = createModel(tiny, { tokenizer: tok, seed: 5 });
      const rs = await train({ model: straight, data: file }, cfg);
      const first = createModel(tiny, { tokenizer: tok, seed: 5 });
      await train({ model: first, data: file }, { ...cfg, stopAt: 3, checkpointDir: join(ckpt, "run") });
      first.dispose();
      const resumed = createModel(tiny, { tokenizer: tok, seed: 77 });
      const rr = await train({ model: resumed, data: file }, { ...cfg, resume: true, checkpointDir: join(ckpt, "run") });
      expect(rr.history.map((h) => h.loss)).toEqual(rs.history.slice(3).map((h) => h.loss));
      expect(maxAbsDiff(await weightsOf(straight), await weightsOf(resumed))).toBe(0);
      straight.dispose();
      resumed.dispose();
    } finally {
      rmSync(ckpt, { recursive: true, force: true });
    }
  });

  it("stops with a worker's error, stops every worker, and leaves the last checkpoint as it was", async () => {
    const ckpt = mkdtempSync(join(tmpdir(), "batgpt-replicas-"));
    try {
      const model = createModel(tiny, { tokenizer: tok, seed: 6 });
      const run = join(ckpt, "run");
      await train({ model, data: file }, { ...knobs, steps: 4, stopAt: 2, workers: 1, checkpointDir: run });
      const saved = readFileSync(join(run, "model.safetensors"));
      const before = tf.memory().numTensors;
      const failing = failsInWorker({ forward: 1, backward: 1 });
      const loader = new WindowLoader(file, { seqLen: 16, batchSize: 4, rng: new Rng(0) });
      const err = await runTrainer(
        { model, data: { next: () => loader.nextBatch(), state: () => loader.state(), restore: (s) => loader.restore(s as never) }, objective: failing },
        { steps: 4, resume: true, checkpointDir: run, checkpointEvery: 1, progress: "none", workers: 2 },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe("RangeError");
      expect((err as Error).message).toMatch(/^boom: this objective fails in a worker thread \(in replica 1, a worker thread\)$/);
      expect(readFileSync(join(run, "model.safetensors")).equals(saved)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(activeReplicaWorkers()).toBe(0);
      model.dispose();
    } finally {
      rmSync(ckpt, { recursive: true, force: true });
    }
  });

  it("ends with the process on Ctrl-C: a run with workers exits at once on SIGINT", async () => {
    const script = fileURLToPath(new URL("./fixtures/train-until-killed.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BATGPT_WORKERS: "2" } });
    let out = "";
    const firstStep = new Promise<void>((resolve) =>
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("step 1")) resolve();
      }),
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    await firstStep;
    child.kill("SIGINT");
    // no worker keeps the process alive: it ends by the signal (the timeout only catches a hang)
    const result = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 20_000))]);
    if (result === "hung") child.kill("SIGKILL");
    expect(result).toEqual({ code: null, signal: "SIGINT" });
  });

  it("refuses to start workers from inside a worker: an objective module that trains on import fails with a clear error", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 8 });
    const loader = new WindowLoader(file, { seqLen: 16, batchSize: 2, rng: new Rng(0) });
    const data = { next: () => loader.nextBatch(), state: () => loader.state(), restore: () => {} };
    const err = await runTrainer({ model, data, objective: trainsOnImport({ forward: 1, backward: 1 }) }, { steps: 1, progress: "none", workers: 2 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("ConfigError");
    expect((err as Error).message).toMatch(/^a replica pool was started inside replica 1, a worker thread: every worker imports the module that defines the objective/);
    expect((err as Error).message).toMatch(/run it only when isMainThread/);
    model.dispose();
  });

  it("a closed pool refuses work, with one replica as with several; errors name what is wrong", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 9 });
    for (const workers of [1, 2]) {
      const pool = await ReplicaPool.start(model, { workers, tokenizer: tok });
      expect((await pool.generate(["床前"], { maxNewTokens: 2 })).length).toBe(1);
      await pool.close();
      await expect(pool.generate(["床前"], { maxNewTokens: 2 })).rejects.toThrow("the replica pool is closed");
    }
    await expect(ReplicaPool.start(model, { workers: 1.5 })).rejects.toThrow('replica pool options: workers: must be an integer >= 1 or "auto"');
    const pool = await ReplicaPool.start(model, { workers: 2, tokenizer: tok });
    try {
      await expect(pool.generate(["床前"], { onToken: () => {} } as never)).rejects.toThrow("onToken cannot be used across worker threads");
    } finally {
      await pool.close();
    }
    model.dispose();
  });

  it("refuses workers for an objective that cannot run in a worker, and a bad BATGPT_WORKERS", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 7 });
    const lm = languageModelingObjective({ forward: 1, backward: 0 });
    const local = { loss: lm.loss, tokens: lm.tokens };
    const loader = new WindowLoader(file, { seqLen: 16, batchSize: 2, rng: new Rng(0) });
    const data = { next: () => loader.nextBatch(), state: () => loader.state(), restore: () => {} };
    await expect(runTrainer({ model, data, objective: local }, { steps: 1, progress: "none", workers: 2 })).rejects.toThrow(ConfigError);
    await expect(runTrainer({ model, data, objective: local }, { steps: 1, progress: "none", workers: 2 })).rejects.toThrow(/this one has no split and replica/);
    await expect(runTrainer({ model, data, objective: { ...local, split: lm.split! } }, { steps: 1, progress: "none", workers: 2 })).rejects.toThrow(/this one has no replica \(/);
    // "auto" falls back to this thread for such an objective
    const r = await runTrainer({ model, data, objective: local }, { steps: 1, progress: "none", workers: "auto" });
    expect(r.workers).toBe(1);
    model.dispose();
    const saved = process.env[WORKERS_ENV];
    try {
      process.env[WORKERS_ENV] = "3";
      expect(resolveWorkers()).toBe(3);
      expect(resolveWorkers(2)).toBe(2);
      process.env[WORKERS_ENV] = "1e1";
      expect(() => resolveWorkers()).toThrow(/got "1e1"/);
      process.env[WORKERS_ENV] = "two";
      expect(() => resolveWorkers()).toThrow(/BATGPT_WORKERS must be a positive integer or "auto", got "two"/);
      delete process.env[WORKERS_ENV];
      expect(resolveWorkers()).toBeGreaterThanOrEqual(1);
      expect(() => resolveWorkers(0)).toThrow(ConfigError);
    } finally {
      if (saved === undefined) delete process.env[WORKERS_ENV];
      else process.env[WORKERS_ENV] = saved;
    }
  });
});

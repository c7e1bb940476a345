import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { tiny, trainFixture } from "./train-fixture.js";
import type { Tokenizer } from "@batgpt/tokenizer";
import { CheckpointError, readCheckpoint, resolveCheckpointDir } from "../src/checkpoint.js";
import { TokenDataError, TokenFile } from "../src/data.js";
import { loadCheckpoint } from "../src/load.js";
import { ConfigError } from "../src/options.js";
import { createModel } from "../src/model.js";
import { evaluate, train, TrainingError } from "../src/train.js";

let tok: Tokenizer;
let file: TokenFile;
let dir: string;

beforeAll(async () => {
  ({ tok, file, dir } = await trainFixture(" The moon is bright tonight."));
});

const base = { batchSize: 2, seqLen: 16, lr: 3e-3, warmupSteps: 2, progress: "none" as const, seed: 3 };

describe("train", () => {
  it("lowers the loss in both directions and logs JSON lines", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const metricsPath = join(dir, "metrics.jsonl");
    const r = await train({ model, data: file, validation: file }, { ...base, steps: 30, evalEvery: 15, evalWindows: 4, metricsPath });
    expect(r.history).toHaveLength(30);
    const first = r.history[0]!;
    const last = r.history.at(-1)!;
    expect(last["loss/forward"]!).toBeLessThan(first["loss/forward"]! - 0.5);
    expect(last["loss/backward"]!).toBeLessThan(first["loss/backward"]! - 0.5);
    expect(r.evals.map((e) => e.step)).toEqual([15, 30]);
    const lines = readFileSync(metricsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(lines.filter((l) => l.type === "step")).toHaveLength(30);
    expect(lines.filter((l) => l.type === "eval")).toHaveLength(2);
    model.dispose();
  });

  it("merges an extra evaluate's numbers into each evaluation, with the run's replicas at hand", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const r = await train(
      {
        model,
        tokenizer: tok,
        data: file,
        validation: file,
        evaluate: async (m, { replicas }) => {
          const [g] = await replicas.generate(["床前"], { maxNewTokens: 3, temperature: 0 });
          return { "eval/generated_tokens": g!.ids.length, "eval/same_model": m === model ? 1 : 0 };
        },
      },
      { ...base, steps: 4, evalEvery: 2, evalWindows: 2 },
    );
    expect(r.evals.map((e) => Object.keys(e).sort())).toEqual(Array(2).fill(["eval/generated_tokens", "eval/loss_backward", "eval/loss_forward", "eval/same_model", "step"]));
    expect(r.evals.map((e) => e["eval/same_model"])).toEqual([1, 1]);
    // without a validation file the extra numbers alone make the evaluation
    const alone = await train({ model, data: file, evaluate: () => ({ "eval/x": 7 }) }, { ...base, steps: 2 });
    expect(alone.evals).toEqual([{ step: 2, "eval/x": 7 }]);
    model.dispose();
  });

  it('progress: "json" writes step lines (the first, every 5 s, the last) and eval lines on stderr', async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => written.push(String(chunk)) > 0);
    try {
      await train({ model, data: file, validation: file }, { ...base, progress: "json", steps: 4, evalEvery: 2, evalWindows: 2 });
    } finally {
      spy.mockRestore();
      model.dispose();
    }
    const lines = written.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.type, l.step])).toEqual([
      ["step", 1],
      ["eval", 2],
      ["step", 4],
      ["eval", 4],
    ]);
    expect(Object.keys(lines[0]!).sort()).toEqual(
      ["elapsed_seconds", "grad_norm", "loss", "loss/backward", "loss/forward", "learning_rate", "of", "step", "tokens", "tokens_per_second", "type"].sort(),
    );
    expect(lines[0]!.of).toBe(4);
    expect(Object.keys(lines[1]!).sort()).toEqual(["eval/loss_backward", "eval/loss_forward", "step", "type"]);
  });

  it("resumes exactly: stopping at step k and resuming gives the same loss at k + n", async () => {
    const straight = createModel(tiny, { tokenizer: tok, seed: 2 });
    const full = await train({ model: straight, data: file }, { ...base, steps: 8 });
    straight.dispose();

    const ckptDir = join(dir, "resume-ckpt");
    const first = createModel(tiny, { tokenizer: tok, seed: 2 });
    // the interrupted run plans 8 steps (the schedule depends on it) and stops at 4
    await train({ model: first, data: file }, { ...base, steps: 8, stopAt: 4, checkpointDir: ckptDir });
    first.dispose();
    // rerun with the real horizon from the checkpoint
    const resumed = createModel(tiny, { tokenizer: tok, seed: 99 });
    const rest = await train({ model: resumed, data: file }, { ...base, steps: 8, checkpointDir: ckptDir, resume: true });
    resumed.dispose();
    expect(rest.history.map((m) => m.step)).toEqual([5, 6, 7, 8]);
    expect(rest.history.map((m) => m.loss)).toEqual(full.history.slice(4).map((m) => m.loss));
  });

  it("resumes from <dir>.old-… when a save died between its renames: steps 5..8, the same weights as 8 straight steps", async () => {
    const straight = createModel(tiny, { tokenizer: tok, seed: 2 });
    await train({ model: straight, data: file }, { ...base, steps: 8 });

    const ckptDir = join(dir, "crash-ckpt");
    const first = createModel(tiny, { tokenizer: tok, seed: 2 });
    await train({ model: first, data: file }, { ...base, steps: 8, stopAt: 4, checkpointDir: ckptDir });
    first.dispose();
    // the process died between the next save's two renames: <dir> is gone, the complete step-4
    // checkpoint is at <dir>.old-<pid>-<time>-<n>, and the new one's temp directory is left over
    const old = `${ckptDir}.old-${process.pid}-${Date.now()}-7`;
    renameSync(ckptDir, old);
    const deadTmp = `${ckptDir}.tmp-4194305-${Date.now()}-0`; // pid above Linux's PID_MAX_LIMIT: never running
    mkdirSync(deadTmp);
    writeFileSync(join(deadTmp, "config.json"), "{");
    expect(await resolveCheckpointDir(ckptDir)).toBe(old);

    const resumed = createModel(tiny, { tokenizer: tok, seed: 99 });
    const steps: number[] = [];
    await train({ model: resumed, data: file, callbacks: { onStep: (m) => steps.push(m.step) } }, { ...base, steps: 8, checkpointDir: ckptDir, resume: true });
    expect(steps).toEqual([5, 6, 7, 8]);
    for (const [name, v] of straight.params) {
      expect(Array.from(resumed.params.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));
    }
    // the step-8 save put a complete checkpoint at <dir> and removed the stale .old- and dead .tmp- directories
    expect(readdirSync(dir).filter((f) => f.startsWith("crash-ckpt."))).toEqual([]);
    expect(await resolveCheckpointDir(ckptDir)).toBe(ckptDir);
    const ckpt = await readCheckpoint(ckptDir);
    expect((ckpt.state as { step: number }).step).toBe(8);
    for (const t of ckpt.weights.values()) t.dispose();
    ckpt.optimizer?.forEach((t) => t.dispose());
    straight.dispose();
    resumed.dispose();
  });

  it("a checkpoint that does not fit the run fails the resume with a CheckpointError naming the file, changes nothing and leaks nothing", async () => {
    const ckptDir = join(dir, "misfit-ckpt");
    const model = createModel(tiny, { tokenizer: tok, seed: 12 });
    await train({ model, data: file }, { ...base, steps: 4, stopAt: 2, checkpointDir: ckptDir });
    const other = createModel(tiny, { tokenizer: tok, seed: 13 });
    const before = new Map([...other.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const tensors = tf.memory().numTensors;

    // another window length: the saved data position does not fit
    const err = await train({ model: other, data: file }, { ...base, seqLen: 8, steps: 4, checkpointDir: ckptDir, resume: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    // (the rest of the message, and the cause, are the data loader's)
    expect((err as Error).message).toMatch(/misfit-ckpt\/trainer_state\.json: the saved data position does not fit this run: ./);
    expect((err as Error).cause).toBeInstanceOf(Error);
    // a trainer state without a step
    const statePath = join(ckptDir, "trainer_state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
    writeFileSync(statePath, JSON.stringify({ ...state, step: "two" }));
    await expect(train({ model: other, data: file }, { ...base, steps: 4, checkpointDir: ckptDir, resume: true })).rejects.toThrow(
      /trainer_state\.json: "step" and "optimizerSteps" must be integers >= 0 to resume, got "two" and 2/,
    );
    writeFileSync(statePath, JSON.stringify(state));
    // a corrupt model.safetensors
    writeFileSync(join(ckptDir, "model.safetensors"), new Uint8Array(64).fill(0xff));
    const corrupt = await train({ model: other, data: file }, { ...base, steps: 4, checkpointDir: ckptDir, resume: true }).catch((e: unknown) => e);
    expect(corrupt).toBeInstanceOf(CheckpointError);
    expect((corrupt as Error).message).toMatch(/misfit-ckpt\/model\.safetensors: header length \d+ is implausible/);

    expect(tf.memory().numTensors).toBe(tensors);
    for (const [name, v] of other.params) expect(Array.from(v.dataSync()), name).toEqual(before.get(name));
    model.dispose();
    other.dispose();
  });

  it("stops on a NaN loss with a clear error and leaves the last good checkpoint intact", async () => {
    const ckptDir = join(dir, "nan-ckpt");
    const model = createModel(tiny, { tokenizer: tok, seed: 4 });
    await train({ model, data: file }, { ...base, steps: 2, checkpointDir: ckptDir });
    const before = readFileSync(join(ckptDir, "model.safetensors"));
    // poison one weight: the next loss is NaN
    const w = model.params.get("model.encoder.ln_f.weight")!;
    w.assign(tf.fill([w.shape[0]!], NaN));
    await expect(train({ model, data: file }, { ...base, steps: 4, checkpointDir: ckptDir, checkpointEvery: 1 })).rejects.toThrow(TrainingError);
    await expect(train({ model, data: file }, { ...base, steps: 4 })).rejects.toThrow(/loss became NaN at step 1/);
    expect(readFileSync(join(ckptDir, "model.safetensors")).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
    const ckpt = await readCheckpoint(ckptDir);
    expect((ckpt.state as { step: number }).step).toBe(2);
    for (const t of ckpt.weights.values()) t.dispose();
    ckpt.optimizer?.forEach((t) => t.dispose());
    model.dispose();
  });

  it("stops when the gradient norm overflows although the loss is finite, with clipping on or off", async () => {
    for (const clipNorm of [1, 0]) {
      const model = createModel(tiny, { tokenizer: tok, seed: 5 });
      // huge head weights: the loss (~1e19 nats) is finite, the squared gradients overflow float32
      const w = model.params.get("lm_head.weight")!;
      w.assign(tf.tidy(() => w.mul(1e19)));
      const before = tf.memory().numTensors;
      const seen: number[] = [];
      await expect(train({ model, data: file, callbacks: { onStep: (m) => seen.push(m.step) } }, { ...base, steps: 3, clipNorm })).rejects.toThrow(
        /the gradient norm became Infinity at step 1 \(loss \d\.\d+e\+\d+\); training stopped/,
      );
      expect(seen).toEqual([]);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
  });

  it("reports the gradient norm also without clipping", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 6 });
    const r = await train({ model, data: file }, { ...base, steps: 2, clipNorm: 0 });
    for (const m of r.history) expect(m.grad_norm).toBeGreaterThan(0);
    model.dispose();
  });

  it("refuses to resume over a checkpoint without trainer state, and leaks nothing on a bad option", async () => {
    const ckptDir = join(dir, "weights-only");
    const model = createModel(tiny, { tokenizer: tok, seed: 7 });
    await train({ model, data: file }, { ...base, steps: 1, checkpointDir: ckptDir });
    rmSync(join(ckptDir, "trainer_state.json"));
    const weights = readFileSync(join(ckptDir, "model.safetensors"));
    const before = tf.memory().numTensors;
    await expect(train({ model, data: file }, { ...base, steps: 2, checkpointDir: ckptDir, resume: true })).rejects.toThrow(
      /trainer_state\.json is missing: .* holds a checkpoint without trainer state, so it cannot be resumed/,
    );
    await expect(train({ model, data: file }, { ...base, steps: 2, resume: true, checkpointDir: ckptDir, batchSize: 0 })).rejects.toThrow(
      ConfigError,
    );
    await expect(train({ model, data: file }, { ...base, steps: 2, seqLen: 1000 })).rejects.toThrow(/seqLen 1000 is longer than the model's max_seq_len 16/);
    expect(tf.memory().numTensors).toBe(before);
    expect(readFileSync(join(ckptDir, "model.safetensors")).equals(weights)).toBe(true);
    model.dispose();
  });

  it("refuses data that cannot serve the run before the first step: a short validation file, a larger vocabulary", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 8 });
    const ckptDir = join(dir, "short-val");
    const seen: number[] = [];
    const short = TokenFile.fromTokens([1, 2, 3], tok.vocabSize);
    const run = train({ model, data: file, validation: short, callbacks: { onStep: (m) => seen.push(m.step) } }, { ...base, steps: 5, checkpointDir: ckptDir });
    await expect(run).rejects.toThrow(TokenDataError);
    await expect(train({ model, data: file, validation: short }, { ...base, steps: 5 })).rejects.toThrow(/validation file \(in memory\) has no window of 16 tokens \(it holds 3\)/);
    expect(seen).toEqual([]);
    const wide = TokenFile.fromTokens([...file.slice(0, 64)], 1000);
    await expect(train({ model, data: wide }, { ...base, steps: 2 })).rejects.toThrow(/train file \(in memory\) was written for a vocabulary of 1000 ids but the model's vocab_size is \d+/);
    expect(() => evaluate(model, file, 16, 2, 2, "sideways" as never)).toThrow(ConfigError);
    model.dispose();
  });

  it("round-trips a trained model through loadCheckpoint bit-exactly", async () => {
    const ckptDir = join(dir, "load-ckpt");
    const model = createModel(tiny, { tokenizer: tok, seed: 5 });
    await train({ model, tokenizer: tok, data: file }, { ...base, steps: 3, checkpointDir: ckptDir });
    const { model: loaded, tokenizer } = await loadCheckpoint(ckptDir);
    expect(tokenizer?.vocabSize).toBe(tok.vocabSize);
    for (const [name, v] of model.params) {
      expect(Array.from(loaded.params.get(name)!.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    const ids = [tok.encode("床前明月光")];
    const a = model.logits(ids);
    const b = loaded.logits(ids);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    model.dispose();
    loaded.dispose();
  });

  it("trains only unfrozen parameters, and a clone is independent", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 8 });
    const frozen = model.clone();
    model.setTrainable(false, (name) => name.startsWith("model.encoder.layers.0."));
    const before = new Map([...model.params].map(([n, v]) => [n, v.dataSync().slice()]));
    await train({ model, data: file }, { ...base, steps: 3 });
    for (const [name, v] of model.params) {
      const same = v.dataSync().every((x, i) => x === before.get(name)![i]);
      expect(same).toBe(name.startsWith("model.encoder.layers.0."));
    }
    for (const [name, v] of frozen.params) {
      expect(v.dataSync().every((x, i) => x === before.get(name)![i])).toBe(true);
    }
    model.dispose();
    frozen.dispose();
  });

  it("keeps the tensor count flat across steps", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 6 });
    await train({ model, data: file }, { ...base, steps: 1 });
    const before = tf.memory().numTensors;
    await train({ model, data: file }, { ...base, steps: 5, gradAccumulation: 2 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { readCheckpoint } from "../src/checkpoint.js";
import { TokenFile, tokenizeToFile } from "../src/data.js";
import { loadCheckpoint } from "../src/load.js";
import { createModel } from "../src/model.js";
import { train, TrainingError } from "../src/train.js";

const text = Array.from({ length: 40 }, (_, i) => `床前明月光，疑是地上霜。举头望明月，低头思故乡。${i} The moon is bright tonight.`);
const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 16 };
let tok: Tokenizer;
let file: TokenFile;
let dir: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(text, { vocabSize: 320, minFrequency: 1 });
  dir = mkdtempSync(join(tmpdir(), "batgpt-train-"));
  await tokenizeToFile(text, tok, join(dir, "train.bin"));
  file = await TokenFile.open(join(dir, "train.bin"));
});

const base = { batchSize: 2, seqLen: 16, lr: 3e-3, warmupSteps: 2, progress: "none" as const, seed: 3 };

describe("train", () => {
  it("lowers the loss in both directions and logs JSON lines", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const metricsPath = join(dir, "metrics.jsonl");
    const r = await train({ ...base, model, train: file, validation: file, steps: 30, evalEvery: 15, evalWindows: 4, metricsPath });
    expect(r.history).toHaveLength(30);
    const first = r.history[0]!;
    const last = r.history.at(-1)!;
    expect(last.lossForward!).toBeLessThan(first.lossForward! - 0.5);
    expect(last.lossBackward!).toBeLessThan(first.lossBackward! - 0.5);
    expect(r.evals.map((e) => e.step)).toEqual([15, 30]);
    const lines = readFileSync(metricsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(lines.filter((l) => l.type === "step")).toHaveLength(30);
    expect(lines.filter((l) => l.type === "eval")).toHaveLength(2);
    model.dispose();
  });

  it("resumes exactly: stopping at step k and resuming gives the same loss at k + n", async () => {
    const straight = createModel(tiny, { tokenizer: tok, seed: 2 });
    const full = await train({ ...base, model: straight, train: file, steps: 8 });
    straight.dispose();

    const ckptDir = join(dir, "resume-ckpt");
    const first = createModel(tiny, { tokenizer: tok, seed: 2 });
    // the interrupted run plans 8 steps (the schedule depends on it) and stops at 4
    await train({ ...base, model: first, train: file, steps: 8, stopAt: 4, checkpointDir: ckptDir });
    first.dispose();
    // rerun with the real horizon from the checkpoint
    const resumed = createModel(tiny, { tokenizer: tok, seed: 99 });
    const rest = await train({ ...base, model: resumed, train: file, steps: 8, checkpointDir: ckptDir, resume: true });
    resumed.dispose();
    expect(rest.history.map((m) => m.step)).toEqual([5, 6, 7, 8]);
    expect(rest.history.map((m) => m.loss)).toEqual(full.history.slice(4).map((m) => m.loss));
  });

  it("stops on a NaN loss with a clear error and leaves the last good checkpoint intact", async () => {
    const ckptDir = join(dir, "nan-ckpt");
    const model = createModel(tiny, { tokenizer: tok, seed: 4 });
    await train({ ...base, model, train: file, steps: 2, checkpointDir: ckptDir });
    const before = readFileSync(join(ckptDir, "model.safetensors"));
    // poison one weight: the next loss is NaN
    const w = model.params.get("model.encoder.ln_f.weight")!;
    w.assign(tf.fill([w.shape[0]!], NaN));
    await expect(train({ ...base, model, train: file, steps: 4, checkpointDir: ckptDir, checkpointEvery: 1 })).rejects.toThrow(TrainingError);
    await expect(train({ ...base, model, train: file, steps: 4 })).rejects.toThrow(/loss became NaN at step 1/);
    expect(readFileSync(join(ckptDir, "model.safetensors")).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
    const ckpt = await readCheckpoint(ckptDir);
    expect((ckpt.state as { step: number }).step).toBe(2);
    for (const t of ckpt.weights.values()) t.dispose();
    ckpt.optimizer?.forEach((t) => t.dispose());
    model.dispose();
  });

  it("round-trips a trained model through loadCheckpoint bit-exactly", async () => {
    const ckptDir = join(dir, "load-ckpt");
    const model = createModel(tiny, { tokenizer: tok, seed: 5 });
    await train({ ...base, model, tokenizer: tok, train: file, steps: 3, checkpointDir: ckptDir });
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
    await train({ ...base, model, train: file, steps: 3 });
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
    await train({ ...base, model, train: file, steps: 1 });
    const before = tf.memory().numTensors;
    await train({ ...base, model, train: file, steps: 5, gradAccumulation: 2 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

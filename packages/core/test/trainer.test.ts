import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { directionalInput } from "../src/bidirectional.js";
import { loadCheckpoint } from "../src/load.js";
import { linear } from "../src/ops/index.js";
import { createModel, type BatGPTModel } from "../src/model.js";
import { Rng, type RngState } from "../src/rng.js";
import { runTrainer, type DataSource, type Objective } from "../src/trainer.js";

const tiny = { hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 12 };
const T = 8;
let tok: Tokenizer;
let dir: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
  dir = mkdtempSync(join(tmpdir(), "batgpt-trainer-"));
  return () => rmSync(dir, { recursive: true, force: true });
});

interface ScoredBatch {
  ids: Int32Array;
  batch: number;
  targets: Float32Array;
}

/** Random rows of ids; the target is 1 when the row holds id 7, else 0. Its position is its Rng state. */
class ScoredRows implements DataSource<ScoredBatch> {
  private rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  next(): ScoredBatch {
    const B = 4;
    const ids = Int32Array.from({ length: B * T }, () => (this.rng.int(4) === 0 ? 7 : 20 + this.rng.int(200)));
    const targets = Float32Array.from({ length: B }, (_, b) => (ids.subarray(b * T, (b + 1) * T).includes(7) ? 1 : 0));
    return { ids, batch: B, targets };
  }
  state(): unknown {
    return this.rng.state();
  }
  restore(state: unknown): void {
    this.rng = Rng.fromState(state as RngState);
  }
}

/** The head's score at the last input position of each row (it has read the start token and ids 0..T−2), `[B]`. */
function score(model: BatGPTModel, ids: Int32Array, batch: number): tf.Tensor1D {
  const { input } = directionalInput(ids, batch, T, "forward", model.startToken("forward"));
  const hidden = model.hidden(input, batch, T).hidden;
  // pick each row's last position with a one-hot [B, B·T] matrix: a 2-D matmul, so the gradient stays on the fast path
  const pick = new Float32Array(batch * batch * T);
  for (let b = 0; b < batch; b++) pick[b * batch * T + b * T + T - 1] = 1;
  const last = linear(tf.tensor2d(pick, [batch, batch * T]), hidden);
  return model.headOutput("score", last).reshape([batch]) as tf.Tensor1D;
}

/** Mean squared error of the score against the target: a stand-in for a reward loss. */
const scoreObjective: Objective<ScoredBatch> = {
  loss: (model, b) => {
    const mse = tf.mean(tf.square(tf.sub(score(model, b.ids, b.batch), tf.tensor1d(b.targets)))) as tf.Scalar;
    return { loss: mse, metrics: { "loss/mse": mse } };
  },
  tokens: (b) => b.batch * T,
};

function headModel(seed: number): BatGPTModel {
  const model = createModel(tiny, { tokenizer: tok, seed });
  model.addHead("score", { outputs: 1, bias: true }, { seed: seed + 1 });
  return model;
}

const knobs = { steps: 12, lr: 3e-3, warmupSteps: 2, progress: "none" as const };

describe("the shared trainer", () => {
  it("trains a scalar head on the trunk: the loss falls, a saved run reloads bit for bit", async () => {
    const model = headModel(1);
    const ckpt = join(dir, "score");
    const r = await runTrainer({ model, data: new ScoredRows(3), objective: scoreObjective, tokenizer: tok }, { ...knobs, steps: 40, checkpointDir: ckpt });
    expect(r.history).toHaveLength(40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(r.history.slice(-8).map((m) => m.loss))).toBeLessThan(mean(r.history.slice(0, 8).map((m) => m.loss)));
    for (const m of r.history) {
      expect(m["loss/mse"]).toBeCloseTo(m.loss, 6);
      expect(Number.isFinite(m.grad_norm) && m.learning_rate > 0 && m.tokens === 32).toBe(true);
    }
    const probe = new ScoredRows(99).next();
    const want = tf.tidy(() => score(model, probe.ids, probe.batch).dataSync());
    const { model: loaded } = await loadCheckpoint(ckpt);
    expect(tf.tidy(() => score(loaded, probe.ids, probe.batch).dataSync())).toEqual(want);
    loaded.dispose();
    model.dispose();
  });

  it("resumes such a run exactly: 6 steps, stop, 6 more equal 12 straight, weights bit for bit", async () => {
    const straight = headModel(2);
    const full = await runTrainer({ model: straight, data: new ScoredRows(5), objective: scoreObjective }, knobs);
    const ckpt = join(dir, "resume");
    const first = headModel(2);
    await runTrainer({ model: first, data: new ScoredRows(5), objective: scoreObjective }, { ...knobs, stopAt: 6, checkpointDir: ckpt });
    first.dispose();
    const resumed = headModel(77);
    const steps: number[] = [];
    const rest = await runTrainer(
      { model: resumed, data: new ScoredRows(1234), objective: scoreObjective, callbacks: { onStep: (m) => steps.push(m.step) } },
      { ...knobs, checkpointDir: ckpt, resume: true },
    );
    expect(steps).toEqual([7, 8, 9, 10, 11, 12]);
    // without a directory there is nothing to resume from or stop into: an error, not a fresh run
    for (const knob of [{ resume: true }, { stopAt: 6 }]) {
      await expect(runTrainer({ model: resumed, data: new ScoredRows(1), objective: scoreObjective }, { ...knobs, ...knob })).rejects.toThrow(`invalid trainer config: ${Object.keys(knob)[0]} needs checkpointDir`);
    }
    expect(rest.history.map((m) => m.loss)).toEqual(full.history.slice(6).map((m) => m.loss));
    for (const [name, v] of straight.params) expect(resumed.params.get(name)!.dataSync(), name).toEqual(v.dataSync());
    straight.dispose();
    resumed.dispose();
  });

  it("trains only the head when the trunk is frozen, and keeps the tensor count flat", async () => {
    const model = headModel(3);
    const head = new Set(model.headParameterNames("score"));
    model.setTrainable(false, (n) => !head.has(n));
    const trunk = new Map([...model.params].filter(([n]) => !head.has(n)).map(([n, v]) => [n, v.dataSync().slice()]));
    await runTrainer({ model, data: new ScoredRows(8), objective: scoreObjective }, { ...knobs, steps: 1 });
    const before = tf.memory().numTensors;
    await runTrainer({ model, data: new ScoredRows(8), objective: scoreObjective }, { ...knobs, steps: 5, gradAccumulation: 2 });
    expect(tf.memory().numTensors).toBe(before);
    for (const [n, values] of trunk) expect(model.params.get(n)!.dataSync()).toEqual(values);
    model.dispose();
  });
});

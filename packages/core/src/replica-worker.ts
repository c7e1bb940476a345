/**
 * The worker side of a {@link ReplicaPool} (replicas.ts): one replica of the model in a
 * `worker_threads` worker, with its own backend. It answers the pool's messages in order:
 * `init` (weights, and for training the objective, the flat-gradient layout, the shared
 * buffers and the optimizer state), `gradients` (its shards → its slot of the shared buffer),
 * `step` (the same AdamW update as every replica, from slot 0), `generate`, `weights` (replace
 * the weights) and `read` (send them back).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { Tokenizer } from "@batgpt/tokenizer";
import { selectBackend, type BackendName } from "./backend.js";
import type { BatGPTConfig } from "./config.js";
import { generate, type GenerateOptions, type Generation } from "./generate.js";
import { BatGPTModel } from "./model.js";
import { AdamW, disposeGrads } from "./optimizer.js";
import { plain, readSlot, shardGradients, writeSlot, type ReplicaSpec, type Shard, type ShardResult, type SlotLayout } from "./replicas.js";
import type { Objective } from "./trainer.js";

interface Init {
  backend: string;
  config: BatGPTConfig;
  weights: Record<string, Float32Array>;
  shapes: Record<string, number[]>;
  tokenizer: string | null;
  training?: {
    objective: ReplicaSpec;
    layout: SlotLayout;
    gradBuffer: SharedArrayBuffer;
    presentBuffer: SharedArrayBuffer;
    adamw: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decay: string[] };
    moments: Record<string, Float32Array>;
    stepCount: number;
  };
}

const { batgptReplica: replica } = workerData as { batgptReplica: number; replicas: number };
const port = parentPort!;

let model: BatGPTModel | undefined;
let tok: Tokenizer | undefined;
let objective: Objective<unknown> | undefined;
let optimizer: AdamW | undefined;
let training: Init["training"];
let vars: tf.Variable[] = [];

function tensors(record: Record<string, Float32Array>, shapeOf: (name: string) => readonly number[]): Map<string, tf.Tensor> {
  return new Map(Object.entries(record).map(([name, data]) => [name, tf.tensor(data, [...shapeOf(name)], "float32")]));
}

async function init(m: Init): Promise<void> {
  await selectBackend({ backend: m.backend as BackendName, log: false });
  const params = new Map<string, tf.Variable>();
  for (const [name, data] of Object.entries(m.weights)) {
    params.set(name, tf.tidy(() => tf.variable(tf.tensor(data, m.shapes[name], "float32"), false)));
  }
  model = new BatGPTModel(m.config, params);
  if (m.tokenizer) tok = Tokenizer.fromJSON(m.tokenizer);
  training = m.training;
  if (training) {
    const trainable = new Set(training.layout.names);
    for (const [name, v] of params) v.trainable = trainable.has(name);
    vars = training.layout.names.map((n) => params.get(n)!);
    const mod = (await import(training.objective.module)) as Record<string, unknown>;
    const factory = mod[training.objective.export];
    if (typeof factory !== "function") throw new Error(`${training.objective.module} has no function ${training.objective.export} to build the objective`);
    objective = (factory as (o: unknown) => Objective<unknown>)(training.objective.options);
    const { decay, ...hyper } = training.adamw;
    optimizer = new AdamW(params, { ...hyper, decay: new Set(decay) });
    const moments = tensors(training.moments, (key) => params.get(key.slice(0, key.lastIndexOf(".")))!.shape);
    try {
      optimizer.loadState(moments, training.stepCount);
    } finally {
      for (const t of moments.values()) t.dispose();
    }
  }
}

async function gradients(shards: Shard<unknown>[]): Promise<ShardResult> {
  const t = training!;
  const P = t.layout.size;
  const K = t.layout.names.length;
  const slot = new Float32Array(t.gradBuffer, replica * P * 4, P);
  const present = new Uint8Array(t.presentBuffer, replica * K, K);
  if (shards.length === 0) {
    present.fill(0);
    return { loss: 0, metrics: {} };
  }
  const { grads, loss, metrics } = await shardGradients(model!, objective!, vars, shards);
  try {
    await writeSlot(t.layout, grads, slot, present);
  } finally {
    disposeGrads(grads);
  }
  return { loss, metrics };
}

function step(lr: number): void {
  const t = training!;
  const grads = readSlot(t.layout, new Float32Array(t.gradBuffer, 0, t.layout.size), new Uint8Array(t.presentBuffer, 0, t.layout.names.length));
  try {
    optimizer!.step(grads, lr);
  } finally {
    disposeGrads(grads);
  }
}

async function generateChunks(chunks: { prompts: string[]; options: GenerateOptions }[]): Promise<Generation[][]> {
  if (!tok) throw new Error("this replica has no tokenizer");
  const out: Generation[][] = [];
  for (const c of chunks) out.push(await generate(model!, tok, c.prompts, c.options));
  return out;
}

function setWeights(weights: Record<string, Float32Array>): void {
  for (const [name, data] of Object.entries(weights)) {
    const v = model!.params.get(name);
    if (!v) throw new Error(`replica ${replica} has no parameter ${name}: the model gained parameters after the pool started (e.g. addHead); start a new pool`);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
  }
}


// one message at a time, in order: a step's `step` never overtakes its `gradients`
let queue: Promise<void> = Promise.resolve();
port.on("message", (m: { id: number; type: string; payload: unknown }) => {
  queue = queue.then(async () => {
    try {
      let result: unknown = null;
      if (m.type === "init") await init(m.payload as Init);
      else if (m.type === "gradients") result = await gradients(m.payload as Shard<unknown>[]);
      else if (m.type === "step") step((m.payload as { lr: number }).lr);
      else if (m.type === "generate") result = await generateChunks(m.payload as { prompts: string[]; options: GenerateOptions }[]);
      else if (m.type === "weights") setWeights(m.payload as Record<string, Float32Array>);
      else if (m.type === "read") result = await plain(model!.params);
      else throw new Error(`unknown message ${m.type}`);
      port.postMessage({ id: m.id, ok: true, result });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ id: m.id, ok: false, error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) } });
    }
  });
});

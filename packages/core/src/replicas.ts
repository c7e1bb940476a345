/**
 * Data parallelism over `worker_threads`: every core busy on the embedded wasm backend.
 *
 * tfjs-backend-wasm runs one thread under Node (its threaded build cannot start its pthread
 * workers there; DESIGN.md "Using every core"), so more cores means more replicas of the model.
 * A {@link ReplicaPool} holds N replicas: this thread's model (replica 0, the one the caller
 * sees, saves and evaluates) and N − 1 workers, each with its own wasm backend and its own copy
 * of the weights and the AdamW moments. One optimizer step (as PyTorch's DistributedDataParallel):
 *
 * 1. this thread cuts the step's micro-batches into shards (`Objective.split`) and hands them out;
 * 2. every replica computes `Σ coef · ∇loss(shard)` over its shards and writes it into its slot of
 *    a `SharedArrayBuffer` (no copy through messages);
 * 3. this thread sums the slots in a fixed order, clips the global norm and writes the step's
 *    gradient into a shared buffer;
 * 4. every replica applies the same AdamW update from that buffer, so the weights stay identical
 *    (the same float32 ops on the same inputs in the same wasm binary).
 *
 * The same workers generate: {@link ReplicaPool.generate} spreads batched prompts over them.
 * Workers end with {@link ReplicaPool.close}, which the trainer calls in a `finally` (after an
 * error as after success); a worker lives in this process, so it also ends when the process does
 * (Ctrl-C).
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { isMainThread, Worker, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { z } from "zod";
import type { BatGPTConfig } from "./config.js";
import { generate, type GenerateOptions, type Generation } from "./generate.js";
import type { BatGPTModel } from "./model.js";
import { disposeGrads, gradsByName, type AdamW, type GradMap } from "./optimizer.js";
import { ConfigError, parseOptions } from "./options.js";
import { splitmix64 } from "./rng.js";
import type { Objective } from "./trainer.js";

/** The environment variable that sets the number of replicas when no option does. */
export const WORKERS_ENV = "BATGPT_WORKERS";

/** How many replicas: a count ≥ 1 (counting this thread), or `"auto"`. */
export const workersSchema = z.union([z.number().int().positive(), z.literal("auto")], { error: 'must be an integer >= 1 or "auto"' });

/**
 * The number of replicas to run: an explicit count wins; `"auto"` (or nothing) reads
 * `BATGPT_WORKERS`, and without it takes `os.availableParallelism()` (the cores this process
 * may use) — or 1 on the `tensorflow` backend (tfjs-node), which already uses every core.
 * 1 means no worker threads.
 *
 * @throws ConfigError when `BATGPT_WORKERS` is not a positive integer or `"auto"`.
 */
export function resolveWorkers(workers: number | "auto" = "auto"): number {
  if (workers !== "auto") return parseOptions(workersSchema, workers, "workers") as number;
  const env = process.env[WORKERS_ENV]?.trim();
  if (env !== undefined && env !== "" && env !== "auto") {
    const n = /^\d+$/.test(env) ? Number(env) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${WORKERS_ENV} must be a positive integer or "auto", got ${JSON.stringify(env)}`);
    return n;
  }
  return tf.getBackend() === "tensorflow" ? 1 : availableParallelism();
}

/**
 * How a worker rebuilds an objective: it imports `module` (a URL, usually the defining module's
 * `import.meta.url`) and calls its export `export` with `options` (plain JSON, copied to the
 * worker). An objective that carries one (with `split`) can run on replicas.
 */
export interface ReplicaSpec {
  module: string;
  export: string;
  options?: unknown;
}

/** One shard of a batch and its weight in the step's gradient. */
export interface Shard<B> {
  batch: B;
  /** `w_i / (W · gradAccumulation)`: the share of the step's loss this shard carries. */
  coef: number;
}

/** What one replica computed for its shards. */
export interface ShardResult {
  /** `Σ coef · loss(shard)`. */
  loss: number;
  /** `Σ coef · metric(shard)` for each named metric. */
  metrics: Record<string, number>;
}

/** Parameters a replica trains, in slot order: where each lives in a flat gradient buffer. */
export interface SlotLayout {
  names: string[];
  shapes: number[][];
  /** Start of each parameter in the flat buffer, in float32 elements. */
  offsets: number[];
  /** Float32 elements in all. */
  size: number;
}

/** The flat layout of `names` (their shapes read from `params`). */
export function slotLayout(params: ReadonlyMap<string, tf.Variable>, names: readonly string[]): SlotLayout {
  const shapes: number[][] = [];
  const offsets: number[] = [];
  let size = 0;
  for (const name of names) {
    const p = params.get(name)!;
    shapes.push([...p.shape]);
    offsets.push(size);
    size += p.size;
  }
  return { names: [...names], shapes, offsets, size };
}

/**
 * `Σ coef · ∇loss(shard)` over `shards` (as one GradMap the caller owns, holding only the
 * parameters that got a gradient), with `Σ coef · loss` and the metrics. The work of one replica
 * in one step; this thread and the workers run the same function.
 */
export async function shardGradients<B>(
  model: BatGPTModel,
  objective: Objective<B>,
  vars: tf.Variable[],
  shards: readonly Shard<B>[],
): Promise<ShardResult & { grads: GradMap }> {
  let loss = 0;
  const metrics: Record<string, number> = {};
  const sums: GradMap = new Map();
  try {
    for (const { batch, coef } of shards) {
      let parts: Record<string, tf.Scalar> = {};
      const { value, grads: named } = tf.variableGrads(() => {
        const out = objective.loss(model, batch);
        parts = Object.fromEntries(Object.entries(out.metrics ?? {}).map(([k, t]) => [k, tf.keep(tf.clone(t))]));
        return out.loss;
      }, vars);
      const g = gradsByName(model.params, named);
      try {
        loss += coef * (await value.data())[0]!;
        for (const [k, t] of Object.entries(parts)) metrics[k] = (metrics[k] ?? 0) + coef * (await t.data())[0]!;
        for (const [name, t] of g) {
          const prev = sums.get(name);
          sums.set(name, tf.tidy(() => (prev ? tf.add(prev, tf.mul(t, coef)) : tf.mul(t, coef))));
          prev?.dispose();
        }
      } finally {
        value.dispose();
        for (const t of Object.values(parts)) t.dispose();
        disposeGrads(g);
      }
    }
  } catch (err) {
    disposeGrads(sums);
    throw err;
  }
  return { loss, metrics, grads: sums };
}

/** Where parameter `i` of a layout lies in a flat buffer: `[start, end)` in float32 elements. */
function span(layout: SlotLayout, i: number): [number, number] {
  return [layout.offsets[i]!, layout.offsets[i + 1] ?? layout.size];
}

/** Write `grads` into a flat slot (zeros where a parameter got no gradient); set `present[i]`. */
export async function writeSlot(layout: SlotLayout, grads: ReadonlyMap<string, tf.Tensor>, slot: Float32Array, present: Uint8Array): Promise<void> {
  for (let i = 0; i < layout.names.length; i++) {
    const g = grads.get(layout.names[i]!);
    const [at, end] = span(layout, i);
    if (g) slot.set((await g.data()) as Float32Array, at);
    else slot.fill(0, at, end);
    present[i] = g ? 1 : 0;
  }
}

/** Tensors of the parameters marked in `present`, read from a flat slot. */
export function readSlot(layout: SlotLayout, slot: Float32Array, present: Uint8Array): GradMap {
  const out: GradMap = new Map();
  for (let i = 0; i < layout.names.length; i++) {
    if (!present[i]) continue;
    const [at, end] = span(layout, i);
    out.set(layout.names[i]!, tf.tensor(slot.slice(at, end), layout.shapes[i]!, "float32"));
  }
  return out;
}

/** Options of {@link ReplicaPool.start}. */
export const replicaPoolOptionsSchema = z
  .object({
    /** Replicas counting this thread (see {@link resolveWorkers}); 1 starts no worker. */
    workers: workersSchema.default("auto"),
    /** Needed by {@link ReplicaPool.generate}. */
    tokenizer: z.custom<Tokenizer>((t) => typeof t === "object" && t !== null && "toJSON" in t, "must be a Tokenizer").optional(),
  })
  .strict();

/** Options of {@link ReplicaPool.start}. */
export type ReplicaPoolOptions = z.input<typeof replicaPoolOptionsSchema>;

/** Options of {@link ReplicaPool.generate}: {@link generate}'s, less the ones that cannot cross threads, plus the chunk size. */
export type ReplicaGenerateOptions = Omit<GenerateOptions, "rng" | "onToken" | "signal"> & {
  /** Prompts per batched `generate` call (default 8). Chunks are dealt to replicas in turn. */
  batchSize?: number;
};

/** What the trainer hands a pool so that workers can train. */
export interface ReplicaTraining {
  objective: ReplicaSpec;
  optimizer: AdamW;
  /** Names of the parameters that train (the rest are frozen in every replica). */
  trainable: string[];
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

let liveWorkers = 0;

/** Worker threads of replica pools now alive in this process (0 once every pool is closed). */
export function activeReplicaWorkers(): number {
  return liveWorkers;
}

const TS_MODULE = /\.[cm]?ts$/;

/**
 * tsx's ESM loader API (`tsx/esm/api`) as a file URL, looked up from each of `from` in turn.
 *
 * @throws ConfigError when tsx cannot be found: a worker could not load TypeScript.
 */
function tsxApi(from: readonly string[], why: string): string {
  for (const base of from) {
    try {
      const pkg = createRequire(base).resolve("tsx/package.json");
      const api = (JSON.parse(readFileSync(pkg, "utf8")) as { exports: Record<string, { import: { default: string } }> }).exports["./esm/api"]!.import.default;
      return pathToFileURL(join(dirname(pkg), api)).href;
    } catch {
      // try the next place
    }
  }
  throw new ConfigError(`${why} is TypeScript, so worker threads load it through tsx, which is not installed (npm i -D tsx), or compile it to JavaScript`);
}

/**
 * Start one replica worker: the compiled `replica-worker.js` next to this file, or, when this
 * file or the objective's module is TypeScript (tests, `npx tsx`), the worker under tsx's loader
 * (Node 20 does not pass `--import tsx` on to workers).
 */
function spawn(data: unknown, objectiveModule: string | undefined): Worker {
  const here = import.meta.url;
  const fromSource = TS_MODULE.test(here);
  const entry = new URL(fromSource ? "./replica-worker.ts" : "./replica-worker.js", here).href;
  if (!fromSource && !(objectiveModule !== undefined && TS_MODULE.test(objectiveModule))) return new Worker(new URL(entry), { workerData: data });
  const tsx = fromSource ? tsxApi([here], "@batgpt/core's source") : tsxApi([objectiveModule!, pathToFileURL(join(process.cwd(), "index.js")).href, here], `the objective's module ${objectiveModule}`);
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** This thread's replica number when it is a replica worker (its objective's module runs here too). */
function replicaOfThisThread(): number | undefined {
  if (isMainThread) return undefined;
  const r = (workerData as { batgptReplica?: unknown } | null)?.batgptReplica;
  return typeof r === "number" ? r : undefined;
}

/** A replica's error as the caller sees it: the worker's name and message, and which replica. */
function replicaError(replica: number, e: { name: string; message: string; stack?: string }): Error {
  const err = new Error(`${e.message} (in replica ${replica}, a worker thread)`);
  err.name = e.name;
  if (e.stack) err.stack = `${err.name}: ${err.message}\n${e.stack.split("\n").slice(1).join("\n")}`;
  return err;
}

/** Plain copies of tensors, by name (weights and moments sent to, or read back from, a replica). */
export async function plain(tensors: Iterable<[string, tf.Tensor]>): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) out[name] = (await t.data()) as Float32Array;
  return out;
}

/**
 * N replicas of a model: this thread's `model` and N − 1 worker threads, each with its own wasm
 * backend and its own copy of the weights. Start one with {@link ReplicaPool.start}; always
 * {@link ReplicaPool.close} it (`try … finally`).
 *
 * @example
 * ```ts
 * const pool = await ReplicaPool.start(model, { workers: 2, tokenizer: tok });
 * try {
 *   const samples = await pool.generate(prompts, { temperature: 0.8, seed: 1 });
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class ReplicaPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; replica: number }>();
  private nextId = 1;
  private closed = false;
  private failure: Error | undefined;
  private layout: SlotLayout | undefined;
  private gradBuffer: SharedArrayBuffer | undefined;
  private presentBuffer: SharedArrayBuffer | undefined;
  private optimizer: AdamW | undefined;

  private constructor(
    /** Replica 0: the caller's model, in this thread. */
    readonly model: BatGPTModel,
    /** Replicas, counting this thread. */
    readonly size: number,
    private readonly tokenizer: Tokenizer | undefined,
  ) {}

  /**
   * Start `workers − 1` worker threads, each with a copy of `model`'s weights (and, for training,
   * the objective and the optimizer's moments). The backend of the workers is this thread's.
   *
   * @throws ConfigError for a bad option; the error of a worker that fails to start (all are then stopped).
   */
  static async start(model: BatGPTModel, options: ReplicaPoolOptions = {}, training?: ReplicaTraining): Promise<ReplicaPool> {
    const o = parseOptions(replicaPoolOptionsSchema, options, "replica pool options");
    const n = resolveWorkers(o.workers);
    const inReplica = replicaOfThisThread();
    if (n > 1 && inReplica !== undefined) {
      throw new ConfigError(
        `a replica pool was started inside replica ${inReplica}, a worker thread: every worker imports the module that defines the objective (${training?.objective.module ?? "its replica.module"}), ` +
          "and that module starts training when imported. Move the training code to another file, or run it only when isMainThread (node:worker_threads) is true",
      );
    }
    if (training && n > 1 && !/^[a-z][a-z0-9+.-]*:/i.test(training.objective.module)) {
      throw new ConfigError(`the objective's replica.module must be a URL (usually import.meta.url of the module that defines it), got ${JSON.stringify(training.objective.module)}`);
    }
    const pool = new ReplicaPool(model, n, o.tokenizer);
    if (n === 1) return pool;
    try {
      const weights = await plain(model.params);
      const common: Record<string, unknown> = {
        backend: tf.getBackend(),
        config: model.config satisfies BatGPTConfig,
        weights,
        shapes: Object.fromEntries([...model.params].map(([name, v]) => [name, [...v.shape]])),
        tokenizer: o.tokenizer ? JSON.stringify(o.tokenizer.toJSON()) : null,
      };
      if (training) {
        const opt = training.optimizer;
        pool.optimizer = opt;
        pool.layout = slotLayout(model.params, training.trainable);
        pool.gradBuffer = new SharedArrayBuffer(n * pool.layout.size * 4);
        pool.presentBuffer = new SharedArrayBuffer(n * pool.layout.names.length);
        common["training"] = {
          objective: training.objective,
          layout: pool.layout,
          gradBuffer: pool.gradBuffer,
          presentBuffer: pool.presentBuffer,
          adamw: { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay, decay: [...model.params.keys()].filter((k) => opt.decays(k)) },
          moments: await plain(opt.state()),
          stepCount: opt.stepCount,
        };
      }
      const ready: Promise<unknown>[] = [];
      for (let r = 1; r < n; r++) {
        const w = spawn({ batgptReplica: r, replicas: n }, training?.objective.module);
        liveWorkers++;
        pool.workers.push(w);
        w.on("message", (m: Reply) => pool.settle(m));
        w.on("error", (err) => pool.fail(replicaError(r, { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) })));
        w.on("exit", (code) => {
          liveWorkers--;
          if (!pool.closed) pool.fail(new Error(`replica ${r} (a worker thread) exited with code ${code}`));
        });
        ready.push(pool.call(r, "init", common));
      }
      await Promise.all(ready);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private settle(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(replicaError(p.replica, m.error));
  }

  /** The first failure wins; every call waiting on a worker rejects with it. */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(this.failure);
    }
  }

  private call(replica: number, type: string, payload: unknown): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error("the replica pool is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, replica });
      try {
        this.workers[replica - 1]!.postMessage({ id, type, payload });
      } catch (err) {
        this.pending.delete(id);
        const what = type === "gradients" ? "a batch" : type === "init" ? "the model, the tokenizer or the objective's replica.options" : "the request";
        reject(new ConfigError(`could not send ${what} to replica ${replica}: ${(err as Error).message} (what crosses to a worker thread must be plain data: numbers, strings, arrays, typed arrays, plain objects)`, { cause: err }));
      }
    });
  }

  /**
   * One data-parallel step's gradients: `shards[r]` go to replica r (replica 0 is this thread).
   * Returns the summed gradient `Σ_r Σ coef · ∇loss` (tensors the caller owns, only the
   * parameters that got one) and the summed loss and metrics.
   *
   * @throws the first error of any replica.
   */
  async gradients<B>(objective: Objective<B>, shards: Shard<B>[][]): Promise<ShardResult & { grads: GradMap }> {
    const layout = this.layout;
    if (!layout || !this.gradBuffer || !this.presentBuffer) throw new Error("this replica pool was not started for training");
    if (shards.length !== this.size) throw new RangeError(`gradients: expected shards for ${this.size} replicas, got ${shards.length}`);
    const remote = shards.slice(1).map((s, i) => this.call(i + 1, "gradients", s) as Promise<ShardResult>);
    const vars = layout.names.map((n) => this.model.params.get(n)!);
    let own: Awaited<ReturnType<typeof shardGradients<B>>>;
    try {
      own = await shardGradients(this.model, objective, vars, shards[0]!);
    } catch (err) {
      await Promise.allSettled(remote);
      throw err;
    }
    let results: ShardResult[];
    try {
      results = await Promise.all(remote);
    } catch (err) {
      disposeGrads(own.grads);
      throw err;
    }
    // this thread's share goes into slot 0 like the workers' into theirs; the slots are summed in
    // a fixed order, in float64, rounded once into slot 0: every run with the same shards sums the same
    const P = layout.size;
    const K = layout.names.length;
    const slot0 = new Float32Array(this.gradBuffer, 0, P);
    const present = new Uint8Array(this.presentBuffer, 0, K);
    try {
      await writeSlot(layout, own.grads, slot0, present);
    } finally {
      disposeGrads(own.grads);
    }
    const flags = new Uint8Array(this.presentBuffer);
    const total = Float64Array.from(slot0);
    for (let r = 1; r < this.size; r++) {
      const slot = new Float32Array(this.gradBuffer, r * P * 4, P);
      for (let i = 0; i < K; i++) {
        if (!flags[r * K + i]) continue;
        present[i] = 1;
        const [at, end] = span(layout, i);
        for (let j = at; j < end; j++) total[j]! += slot[j]!;
      }
    }
    slot0.set(total);
    const grads = readSlot(layout, slot0, present);
    const loss = results.reduce((s, r) => s + r.loss, own.loss);
    const metrics = { ...own.metrics };
    for (const r of results) for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
    return { loss, metrics, grads };
  }

  /**
   * Apply one AdamW step with `grads` (the step's final gradient, after clipping) at `lr` in
   * every replica: this thread's optimizer and each worker's, so the weights stay identical.
   */
  async step(grads: ReadonlyMap<string, tf.Tensor>, lr: number): Promise<void> {
    const layout = this.layout;
    if (!layout || !this.gradBuffer || !this.presentBuffer || !this.optimizer) throw new Error("this replica pool was not started for training");
    // slot 0 of the shared buffer carries the step's gradient to the workers
    const slot = new Float32Array(this.gradBuffer, 0, layout.size);
    const present = new Uint8Array(this.presentBuffer, 0, layout.names.length);
    await writeSlot(layout, grads, slot, present);
    const remote = this.workers.map((_, i) => this.call(i + 1, "step", { lr }));
    this.optimizer.step(grads, lr);
    await Promise.all(remote);
  }

  /**
   * Generate from many prompts on every replica at once. Prompts are cut in order into chunks of
   * `batchSize`, chunk j is sampled with its own seed (drawn from `seed` and j), and chunks are
   * dealt to replicas in turn, so the result is the same for any number of replicas. Results come
   * back in prompt order.
   *
   * @throws ConfigError without a tokenizer, for `rng`, `onToken` or `signal` (they cannot cross
   *   threads), or a bad option; the first error of any replica.
   */
  async generate(prompts: string[], options: ReplicaGenerateOptions = {}): Promise<Generation[]> {
    if (this.closed) throw new Error("the replica pool is closed");
    const tok = this.tokenizer;
    if (!tok) throw new ConfigError("ReplicaPool.generate needs the pool started with a tokenizer");
    for (const key of ["rng", "onToken", "signal"]) {
      if (key in options) throw new ConfigError(`invalid generate options: ${key} cannot be used across worker threads`);
    }
    const { batchSize = 8, seed = 0, ...rest } = options;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ConfigError(`invalid generate options: batchSize must be an integer >= 1, got ${batchSize}`);
    if (!Number.isSafeInteger(seed)) throw new ConfigError(`invalid generate options: seed must be a safe integer, got ${seed}`);
    if (!Array.isArray(prompts) || prompts.length === 0) throw new ConfigError("ReplicaPool.generate needs a non-empty array of prompts");
    const chunks: { prompts: string[]; options: GenerateOptions }[] = [];
    const seeds = splitmix64(BigInt(seed), Math.ceil(prompts.length / batchSize));
    for (let j = 0; j * batchSize < prompts.length; j++) {
      chunks.push({ prompts: prompts.slice(j * batchSize, (j + 1) * batchSize), options: { ...rest, seed: seeds[j]! % Number.MAX_SAFE_INTEGER } });
    }
    const mine = chunks.filter((_, j) => j % this.size === 0);
    const remote = this.workers.map((_, i) => this.call(i + 1, "generate", chunks.filter((_, j) => j % this.size === i + 1)) as Promise<Generation[][]>);
    let own: Generation[][];
    try {
      own = [];
      for (const c of mine) own.push(await generate(this.model, tok, c.prompts, c.options));
    } catch (err) {
      await Promise.allSettled(remote);
      throw err;
    }
    const theirs = await Promise.all(remote);
    const out: Generation[] = [];
    for (let j = 0; j < chunks.length; j++) {
      const r = j % this.size;
      const k = Math.floor(j / this.size);
      out.push(...(r === 0 ? own[k]! : theirs[r - 1]![k]!));
    }
    return out;
  }

  /** Copy this thread's weights to every worker (after changing the model outside the pool). */
  async syncWeights(): Promise<void> {
    if (this.closed) throw new Error("the replica pool is closed");
    if (this.workers.length === 0) return;
    const weights = await plain(this.model.params);
    await Promise.all(this.workers.map((_, i) => this.call(i + 1, "weights", weights)));
  }

  /** Each worker's weights (for checks: they equal this thread's after every step). */
  async workerWeights(): Promise<Record<string, Float32Array>[]> {
    return (await Promise.all(this.workers.map((_, i) => this.call(i + 1, "read", null)))) as Record<string, Float32Array>[];
  }

  /** Stop every worker (idempotent). Calls still waiting reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error("the replica pool was closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

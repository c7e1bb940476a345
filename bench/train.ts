/**
 * Training throughput benchmark: `npm run bench:train [-- --sanity | --quick | options]` from the repo root.
 *
 * Fixed model (hidden 256, 4 layers, 8 heads MHA, SwiGLU ffn 688, vocab 8192) at batch 16 × seq 128
 * on the wasm backend, random token ids from a seeded generator. Measured in one run:
 *
 * - ours: a full @batgpt/core training step — `tf.variableGrads(model.loss)` in both directions
 *   (the default bidirectional loss), global-norm clipping, `AdamW.step` — and the same with the
 *   forward direction only (`loss_weight_backward: 0`);
 * - naive: the same model written with tfjs's default ops and gradients (lib/naive-gpt.ts), one
 *   direction, `tf.train.adam`;
 * - peak: plain 2-D `tf.matMul` at the model's main shapes (lib/matmul-peak.ts); MFU against it;
 * - where a step of ours spends its time (`tf.profile`, kernels grouped by what they compute);
 * - the same ours / naive figures on the cpu backend at a smaller batch, under `cpu`.
 *
 * Steps are timed after warm-up, each ended by reading the loss back (wasm and cpu run kernels
 * synchronously, so every kernel of the step has run by then); figures are medians.
 * `--sanity` instead checks that both models train (finite loss that falls on a repeated batch).
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { AdamW, Rng, TokenFile, clipGradNorm, countParameters, createModel, flopsPerToken, selectBackend, train, type BatGPTConfigInput, type BatGPTModel } from "@batgpt/core";
import { bestOf, matmulPeak, type MatmulPeak } from "./lib/matmul-peak.js";
import { NaiveGPT } from "./lib/naive-gpt.js";
import { median, round } from "./lib/timing.js";

// ---- options ----
function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
function num(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const v = Number(arg.slice(name.length + 3));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0, got ${arg}`);
  return v;
}
if (flag("help")) {
  console.error(
    [
      "npm run bench:train -- [options]",
      "  --sanity            only check that ours and naive train (loss finite and falling on a repeated batch)",
      "  --quick             batch 4, fewer steps, no cpu section (development)",
      "  --batch=16 --seq=128",
      "  --warmup=2 --steps=3               ours, wasm (bidirectional; forward-only gets 1 warm-up)",
      "  --naive-warmup=1 --naive-steps=2   naive, wasm (warm-up at batch 2)",
      "  --cpu-batch=1 --cpu-steps=1        cpu section; --no-cpu skips it",
      "  --no-naive --no-profile",
      "  --workers=N --workers-warmup=2 --workers-steps=4   data-parallel section (default N: the cores); --no-workers skips it",
    ].join("\n"),
  );
  process.exit(0);
}
const quick = flag("quick");
const opts = {
  batch: num("batch", quick ? 4 : 16),
  seq: num("seq", 128),
  warmup: num("warmup", quick ? 1 : 2),
  steps: num("steps", quick ? 2 : 3),
  naiveWarmup: num("naive-warmup", 1),
  naiveSteps: num("naive-steps", quick ? 1 : 2),
  cpuBatch: num("cpu-batch", 1),
  cpuSteps: num("cpu-steps", 1),
  cpu: !flag("no-cpu") && !quick,
  naive: !flag("no-naive"),
  profile: !flag("no-profile"),
  workers: num("workers", availableParallelism()),
  workersWarmup: num("workers-warmup", quick ? 1 : 2),
  workersSteps: num("workers-steps", quick ? 2 : 4),
  scaling: !flag("no-workers"),
};

const wallStart = performance.now();
function log(msg: string): void {
  console.error(`[bench:train ${((performance.now() - wallStart) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}

const VOCAB = 8192;
const MODEL: BatGPTConfigInput = {
  vocab_size: VOCAB,
  hidden_size: 256,
  n_layer: 4,
  n_head: 8,
  num_heads_per_kv: 8,
  ffn_hidden_size: 688,
  max_seq_len: 128,
  // no tokenizer here: any two ids serve as the direction tokens
  l2r_token_id: 1,
  r2l_token_id: 2,
};
const LR = 1e-3;
const CLIP = 1;

/** Seeded random token ids, `[batch, seq]` row-major. */
function randomIds(rng: Rng, batch: number, seq: number, vocab: number): Int32Array {
  const ids = new Int32Array(batch * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(vocab);
  return ids;
}

/** One full training step of ours; returns the loss (read back). */
function makeOursStep(model: BatGPTModel): { step: (ids: Int32Array, batch: number, seq: number) => number; dispose: () => void } {
  const opt = new AdamW(model.params, { lr: LR });
  const vars = [...model.params.values()];
  const byVar = new Map([...model.params].map(([name, v]) => [v.name, name]));
  return {
    step: (ids, batch, seq) => {
      const { value, grads } = tf.variableGrads(() => model.loss({ ids, batch, seqLen: seq }).loss, vars);
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(byVar.get(varName)!, g);
      const clipped = clipGradNorm(named, CLIP); // reads the global norm back
      opt.step(clipped.grads, LR);
      for (const g of new Set(clipped.grads.values())) g.dispose();
      const loss = value.dataSync()[0]!;
      value.dispose();
      return loss;
    },
    dispose: () => opt.dispose(),
  };
}

interface Timing {
  /** Median seconds per step. */
  stepSec: number;
  stepsSec: number[];
  losses: number[];
}

function timeSteps(label: string, warmup: number, steps: number, run: (warm: boolean) => number): Timing {
  const stepsSec: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const loss = run(i < warmup);
    const dt = (performance.now() - t0) / 1000;
    if (!Number.isFinite(loss)) throw new Error(`${label}: loss ${loss} at step ${i + 1}`);
    log(`${label} ${i < warmup ? "warm-up" : "step"} ${i + 1}/${warmup + steps}: ${dt.toFixed(2)} s, loss ${loss.toFixed(4)}`);
    losses.push(loss);
    if (i >= warmup) stepsSec.push(dt);
  }
  return { stepSec: median(stepsSec), stepsSec: stepsSec.map((s) => round(s, 3)), losses: losses.map((l) => round(l, 4)) };
}

interface OursResult {
  tokensPerSec: number;
  stepSec: number;
  stepsSec: number[];
  positionsPerStep: number;
  losses: number[];
}

/** Time ours with `directions` 1 (forward only) or 2 (the default bidirectional loss); warm-up steps run at `warmBatch`. */
function benchOurs(label: string, directions: 1 | 2, batch: number, seq: number, warmup: number, steps: number, warmBatch = batch): OursResult {
  const model = createModel({ ...MODEL, max_seq_len: seq, loss_weight_backward: directions === 2 ? 1 : 0 }, { seed: 0 });
  const ours = makeOursStep(model);
  const rng = new Rng(1);
  const t = timeSteps(label, warmup, steps, (warm) => {
    const b = warm ? warmBatch : batch;
    return ours.step(randomIds(rng, b, seq, VOCAB), b, seq);
  });
  ours.dispose();
  model.dispose();
  const positionsPerStep = batch * seq * directions;
  return { tokensPerSec: positionsPerStep / t.stepSec, stepSec: t.stepSec, stepsSec: t.stepsSec, positionsPerStep, losses: t.losses };
}

function naiveModel(seq: number, seed = 0, lr = LR): NaiveGPT {
  return new NaiveGPT(
    { vocabSize: VOCAB, hidden: 256, layers: 4, heads: 8, ffn: 688, maxSeqLen: seq, rotaryFraction: 0.5, ropeBase: 10000, eps: 1e-5, initStd: 0.02 },
    { seed, lr },
  );
}

function benchNaive(label: string, batch: number, seq: number, warmup: number, steps: number, warmBatch = batch): OursResult {
  const naive = naiveModel(seq);
  const rng = new Rng(1);
  const t = timeSteps(label, warmup, steps, (warm) => {
    const b = warm ? warmBatch : batch;
    return naive.step(randomIds(rng, b, seq, VOCAB), b, seq);
  });
  naive.dispose();
  return { tokensPerSec: (batch * seq) / t.stepSec, stepSec: t.stepSec, stepsSec: t.stepsSec, positionsPerStep: batch * seq, losses: t.losses };
}

// ---- data parallelism: the shared trainer with 1 and N replicas ----

interface ScalingRun {
  workers: number;
  /** Median of the trainer's tokens_per_second over the timed steps (batch·seq per step: each token once). */
  tokensPerSec: number;
  stepsSec: number[];
  losses: number[];
}

/**
 * `train()` (the shared trainer, bidirectional loss, AdamW, clipping) on a token file of seeded
 * random ids, `warmup` + `steps` optimizer steps with `workers` replicas; the timed steps are the
 * last `steps`. Worker start-up happens before the first step and is not timed.
 */
async function benchTrainer(workers: number, batch: number, seq: number, warmup: number, steps: number): Promise<ScalingRun> {
  const rng = new Rng(11);
  const file = TokenFile.fromTokens(randomIds(rng, 64, 1024, VOCAB), VOCAB);
  const model = createModel({ ...MODEL, max_seq_len: seq }, { seed: 0 });
  const records: { tps: number; sec: number; loss: number }[] = [];
  await train(
    { model, data: file, callbacks: { onStep: (m) => {
      records.push({ tps: m.tokens_per_second, sec: m.tokens / m.tokens_per_second, loss: m.loss });
      log(`trainer, ${workers} worker(s), ${m.step <= warmup ? "warm-up" : "step"} ${m.step}/${warmup + steps}: ${(m.tokens / m.tokens_per_second).toFixed(2)} s, loss ${m.loss.toFixed(4)}`);
    } } },
    { steps: warmup + steps, batchSize: batch, seqLen: seq, lr: LR, clipNorm: CLIP, warmupSteps: 0, seed: 1, progress: "none", workers },
  );
  model.dispose();
  const timed = records.slice(warmup);
  return { workers, tokensPerSec: median(timed.map((r) => r.tps)), stepsSec: timed.map((r) => round(r.sec, 3)), losses: records.map((r) => round(r.loss, 4)) };
}

// ---- where a step of ours spends its time ----

/** What a kernel computes, from its name and shapes (the model's sizes make them unambiguous). */
function kernelCategory(name: string, inShapes: (number[] | null)[], outShapes: number[][], V: number, F: number, T: number): string {
  const shapes = inShapes.filter((s): s is number[] => s !== null);
  const has = (n: number) => shapes.some((s) => s.includes(n)) || outShapes.some((s) => s.includes(n));
  const out = outShapes[0] ?? [];
  if (name.startsWith("BatGPTGather") || name.startsWith("BatGPTScatter")) return "embedding";
  if (name === "BatGPTPickColumns" || name === "OneHot") return "crossEntropy";
  if (name === "BatGPTSplitRows") return "attention";
  if (name === "MatMul" || name === "_FusedMatMul" || name === "BatchMatMul") {
    // _FusedMatMul reports a 2-D product as a batch of one: [1, m, k] · [1, k, n]
    const [a = [], b] = shapes.map((s) => (s.length === 3 && s[0] === 1 ? s.slice(1) : s));
    if ((a?.length ?? 0) > 2 || (b?.length ?? 0) > 2) return "attention"; // batched
    if (a[0] === 1) return "rowSums"; // Σ_rows as ones·x: bias and norm-weight gradients
    if (has(V)) return "matmul.lmHead";
    if (b !== undefined && b[0] === b[1] && a[1] === b[0] && b[0]! < 64) return "rope"; // x · P (pair swap)
    if (Math.max(...a, ...(b ?? [])) <= Math.max(T, 64)) return "attention"; // per-group [g·T, D]·[D, S] products
    return "matmul.linear";
  }
  if (name === "Transpose") {
    if (shapes[0]?.length === 2) return "matmul.linear"; // explicit transposes for the linear gradients
    return "attention";
  }
  if (name === "Softmax") return out[out.length - 1] === V ? "crossEntropy" : "attention";
  if (name === "Concat" || name === "ConcatV2") return "attention";
  if (out.length === 0 || has(V)) return "crossEntropy";
  if (name === "Sigmoid" || out[out.length - 1] === F) return "swiglu";
  if (out.length === 4) return out[out.length - 1] === T ? "attention" : "rope";
  if (["Rsqrt", "Mean", "Square"].includes(name) || out[out.length - 1] === 1) return "rmsNorm";
  return "elementwise";
}

interface Breakdown {
  /** Kernel milliseconds by category, over one profiled step. */
  ms: Record<string, number>;
  /** Share of the profiled kernel time. */
  share: Record<string, number>;
  totalKernelMs: number;
  /** Wall time of the profiled step minus the kernel time: JS-side work (tape, scopes, allocation) and profiling overhead. */
  outsideKernelsMs: number;
  /** Wall time of the profiled step (profiling adds overhead per kernel). */
  wallMs: number;
  kernels: number;
  /** The most expensive kernels by name. */
  topKernels: { name: string; ms: number; calls: number }[];
  /** Per category, its kernels by name (ms). */
  categoryKernels: Record<string, Record<string, number>>;
  how: string;
}

async function profileOurs(batch: number, seq: number): Promise<Breakdown> {
  const model = createModel({ ...MODEL, max_seq_len: seq }, { seed: 0 });
  const opt = new AdamW(model.params, { lr: LR });
  const vars = [...model.params.values()];
  const byVar = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const ids = randomIds(new Rng(3), batch, seq, VOCAB);
  let grads: Map<string, tf.Tensor> = new Map();
  const fwdBwd = (): tf.Scalar => {
    const r = tf.variableGrads(() => model.loss({ ids, batch, seqLen: seq }).loss, vars);
    grads = new Map(Object.entries(r.grads).map(([v, g]) => [byVar.get(v)!, g]));
    return r.value;
  };
  const update = (): void => {
    const clipped = clipGradNorm(grads, CLIP);
    opt.step(clipped.grads, LR);
    for (const g of new Set(clipped.grads.values())) g.dispose();
  };
  // the wasm heap is already grown by the timed runs; kernels are warm
  const backendName = tf.getBackend();
  const ms: Record<string, number> = {};
  const byName = new Map<string, { ms: number; calls: number }>();
  const perCat: Record<string, Record<string, number>> = {};
  let kernels = 0;
  const t0 = performance.now();
  for (const [phase, fn] of [
    ["fwdBwd", () => fwdBwd()],
    ["optimizer", () => (update(), tf.scalar(0))],
  ] as const) {
    const p = await tf.profile(() => {
      const r = fn();
      r.dataSync();
      r.dispose();
      return [];
    });
    for (const k of p.kernels) {
      // the profile also lists composite scopes (customGrad's "forward", "fusedMatMul__op") around the
      // kernels they run: count only registered kernels, so nothing is counted twice
      if (!tf.getKernel(k.name, backendName)) continue;
      kernels += 1;
      const t = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      const cat = phase === "optimizer" ? "optimizer" : kernelCategory(k.name, k.inputShapes, k.outputShapes, 8192, 688, seq);
      ms[cat] = (ms[cat] ?? 0) + t;
      const c = (perCat[cat] ??= {});
      c[k.name] = (c[k.name] ?? 0) + t;
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += t;
      e.calls += 1;
      byName.set(k.name, e);
    }
  }
  const wallMs = performance.now() - t0;
  opt.dispose();
  model.dispose();
  const total = Object.values(ms).reduce((a, b) => a + b, 0);
  const sorted = Object.entries(ms).sort((a, b) => b[1] - a[1]);
  return {
    ms: Object.fromEntries(sorted.map(([k, v]) => [k, round(v, 1)])),
    share: Object.fromEntries(sorted.map(([k, v]) => [k, round(v / total, 3)])),
    totalKernelMs: round(total, 1),
    outsideKernelsMs: round(wallMs - total, 1),
    wallMs: round(wallMs, 1),
    kernels,
    topKernels: [...byName]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 12)
      .map(([name, e]) => ({ name, ms: round(e.ms, 1), calls: e.calls })),
    categoryKernels: Object.fromEntries(
      sorted.map(([cat]) => [
        cat,
        Object.fromEntries(
          Object.entries(perCat[cat] ?? {})
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([n, v]) => [n, round(v, 1)]),
        ),
      ]),
    ),
    how:
      "tf.profile of one bidirectional training step (a fresh model; the heap is warm from the timed runs): kernel times summed by what they compute, " +
      "classified by kernel name and shape: matmul.linear = the projections and MLP forward and backward (with the explicit " +
      "transposes of their gradients), matmul.lmHead = LM-head products, attention = the per-group score/value products, " +
      "splits, concats, head transposes, softmax and masking, rope, rmsNorm, swiglu, crossEntropy (softmax over the vocabulary " +
      "and its gradient), embedding (row gather / scatter-add), rowSums (bias and norm-weight gradients as ones·x), " +
      "optimizer = global-norm clip + AdamW, elementwise = the rest (residual adds, gradient sums)",
  };
}

// ---- sanity mode ----
async function sanity(): Promise<void> {
  await selectBackend({ backend: "wasm" });
  const batch = 2;
  const seq = 32;
  const steps = 6;
  const ids = randomIds(new Rng(5), batch, seq, VOCAB);
  const out: Record<string, unknown> = { backend: "wasm", batch, seq, steps, lr: 3e-3, note: "the same batch every step: the loss must be finite and fall" };
  const check = (losses: number[]) => losses.every(Number.isFinite) && losses[losses.length - 1]! < losses[0]! - 0.5;
  for (const directions of [2, 1] as const) {
    const model = createModel({ ...MODEL, max_seq_len: seq, loss_weight_backward: directions === 2 ? 1 : 0 }, { seed: 0 });
    const opt = new AdamW(model.params, { lr: 3e-3 });
    const vars = [...model.params.values()];
    const byVar = new Map([...model.params].map(([name, v]) => [v.name, name]));
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss({ ids, batch, seqLen: seq }).loss, vars);
      const clipped = clipGradNorm(new Map(Object.entries(grads).map(([v, g]) => [byVar.get(v)!, g])), CLIP);
      opt.step(clipped.grads, 3e-3);
      for (const g of new Set(clipped.grads.values())) g.dispose();
      losses.push(round(value.dataSync()[0]!, 4));
      value.dispose();
    }
    opt.dispose();
    model.dispose();
    log(`ours (${directions === 2 ? "bidirectional" : "forward only"}) losses ${losses.join(" ")}`);
    out[directions === 2 ? "oursBidirectional" : "oursForwardOnly"] = { losses, trains: check(losses) };
  }
  const naive = naiveModel(seq, 0, 3e-3);
  // same function: ours' weights in the naive model give the same forward loss
  {
    const model = createModel({ ...MODEL, max_seq_len: seq, loss_weight_backward: 0 }, { seed: 0 });
    const probe = naiveModel(seq);
    probe.assignFrom(model.params);
    const ours = tf.tidy(() => model.loss({ ids, batch, seqLen: seq }).loss.dataSync()[0]!);
    const theirs = tf.tidy(() => probe.loss(ids, batch, seq, model.config.l2r_token_id).dataSync()[0]!);
    model.dispose();
    probe.dispose();
    out.sameFunction = { ours: round(ours, 6), naive: round(theirs, 6), absDiff: Math.abs(ours - theirs), same: Math.abs(ours - theirs) < 1e-3 };
    log(`same weights: ours ${ours}, naive ${theirs}`);
  }
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(round(naive.step(ids, batch, seq), 4));
  naive.dispose();
  log(`naive losses ${losses.join(" ")}`);
  out.naive = { losses, trains: check(losses) };
  out.ok = ["oursBidirectional", "oursForwardOnly", "naive"].every((k) => (out[k] as { trains: boolean }).trains) && (out.sameFunction as { same: boolean }).same;
  console.log(JSON.stringify(out));
}

// ---- main ----
async function main(): Promise<void> {
  const backend = await selectBackend({ backend: "wasm" });
  const { batch, seq } = opts;
  const config = { ...MODEL, max_seq_len: seq };
  const resolved = createModel(config, { seed: 0 });
  const flops = flopsPerToken(resolved.config, seq);
  const params = countParameters(resolved.config);
  resolved.dispose();
  log(`backend ${backend.name}; model ${params} parameters, ${round(flops.training / 1e6, 2)} MFLOP per position (training); batch ${batch} × seq ${seq}; ${JSON.stringify(opts)}`);

  // peak: one round now, one after ours (per shape the faster round)
  const N = batch * seq;
  const peakShapes = [
    [N, 256, 256],
    [N, 256, 688],
    [N, 688, 256],
    [N, 256, 8192],
  ] as const;
  const showPeak = (p: MatmulPeak) =>
    `${p.shapes.map((s) => `[${s.m},${s.k}]×[${s.k},${s.n}] ${s.gflops}`).join(", ")} GFLOP/s; FLOP-weighted ${round(p.weightedGflops, 2)}`;
  const peakRounds = [matmulPeak(peakShapes)];
  log(`2-D matMul peak, round 1: ${showPeak(peakRounds[0]!)}`);

  // ours
  const bidir = benchOurs("ours (bidirectional)", 2, batch, seq, opts.warmup, opts.steps);
  // the heap is grown and the kernels are warm: one warm-up step is enough
  const fwd = benchOurs("ours (forward only)", 1, batch, seq, Math.min(1, opts.warmup), opts.steps);
  const gflops = (flops.training * bidir.tokensPerSec) / 1e9;
  const fwdGflops = (flops.training * fwd.tokensPerSec) / 1e9;
  peakRounds.push(matmulPeak(peakShapes));
  log(`2-D matMul peak, round 2: ${showPeak(peakRounds[1]!)}`);
  const peak = bestOf(peakRounds);
  log(`ours: ${round(bidir.tokensPerSec, 1)} positions/s (${round(gflops, 2)} GFLOP/s) bidirectional; ${round(fwd.tokensPerSec, 1)} (${round(fwdGflops, 2)} GFLOP/s) forward only`);

  // the shared trainer on 1 and N replicas, same config, same run
  let scaling: { one: ScalingRun; many: ScalingRun } | undefined;
  if (opts.scaling && opts.workers > 1) {
    const one = await benchTrainer(1, batch, seq, opts.workersWarmup, opts.workersSteps);
    const many = await benchTrainer(opts.workers, batch, seq, opts.workersWarmup, opts.workersSteps);
    scaling = { one, many };
    log(`trainer: ${round(one.tokensPerSec, 1)} tokens/s on 1 replica, ${round(many.tokensPerSec, 1)} on ${opts.workers}: scaling ${round(many.tokensPerSec / one.tokensPerSec, 3)}`);
  }

  // naive
  let naive: OursResult | undefined;
  if (opts.naive) {
    // a naive step at batch 16 takes ~45 s: warm up at batch 2 (the heap is already grown by ours)
    naive = benchNaive("naive", batch, seq, opts.naiveWarmup, opts.naiveSteps, Math.min(2, batch));
    log(`naive: ${round(naive.tokensPerSec, 1)} positions/s`);
  }

  // profile
  let breakdown: Breakdown | undefined;
  if (opts.profile) {
    breakdown = await profileOurs(batch, seq);
    log(`breakdown (ms of one bidirectional step): ${JSON.stringify(breakdown.ms)}`);
  }

  // cpu
  let cpu: Record<string, unknown> | undefined;
  if (opts.cpu) {
    await selectBackend({ backend: "cpu" });
    const b = opts.cpuBatch;
    // forward-only first with a warm-up step; the bidirectional loss then runs the same kernels, so no warm-up
    const cf = benchOurs("cpu ours (forward only)", 1, b, seq, 1, opts.cpuSteps);
    const cb = benchOurs("cpu ours (bidirectional)", 2, b, seq, 0, opts.cpuSteps);
    const cn = opts.naive ? benchNaive("cpu naive", b, seq, 1, opts.cpuSteps) : undefined;
    cpu = {
      backend: "cpu",
      batch: b,
      seqLen: seq,
      note:
        `batch ${b} instead of ${batch} (the cpu backend runs at ~1 GFLOP/s); ${opts.cpuSteps} timed step(s) each, after one warm-up ` +
        "step for forward-only and naive (bidirectional runs after forward-only, on warm kernels)",
      tokensPerSec: round(cb.tokensPerSec, 2),
      gflops: round((flops.training * cb.tokensPerSec) / 1e9, 3),
      forwardOnlyTokensPerSec: round(cf.tokensPerSec, 2),
      naiveTokensPerSec: cn ? round(cn.tokensPerSec, 2) : null,
      speedup: cn ? round(cf.tokensPerSec / cn.tokensPerSec, 2) : null,
      stepSec: { bidirectional: cb.stepsSec, forwardOnly: cf.stepsSec, naive: cn?.stepsSec ?? null },
    };
    log(`cpu: ${JSON.stringify(cpu)}`);
  }

  const peakGflops = peak.weightedGflops;
  const result = {
    positionsPerSec: round(bidir.tokensPerSec, 1),
    gflops: round(gflops, 2),
    peakGflops: round(peakGflops, 2),
    mfu: round(gflops / peakGflops, 3),
    naiveTokensPerSec: naive ? round(naive.tokensPerSec, 2) : null,
    speedup: naive ? round(fwd.tokensPerSec / naive.tokensPerSec, 2) : null,
    backend: backend.name,
    forwardOnlyTokensPerSec: round(fwd.tokensPerSec, 1),
    forwardOnlyGflops: round(fwdGflops, 2),
    forwardOnlyMfu: round(fwdGflops / peakGflops, 3),
    workers: scaling ? opts.workers : 1,
    scaling: scaling ? round(scaling.many.tokensPerSec / scaling.one.tokensPerSec, 3) : null,
    workersTokensPerSec: scaling ? { one: round(scaling.one.tokensPerSec, 1), many: round(scaling.many.tokensPerSec, 1) } : null,
    config: {
      model: { ...config, parameters: params },
      batch,
      seqLen: seq,
      tokenIds: "uniform random ids from Rng(1), fresh every step",
      flopsPerPosition: { forward: flops.forward, training: flops.training },
      ours: "@batgpt/core: tf.variableGrads(model.loss) + clipGradNorm(1) + AdamW.step, loss read back each step",
      positionsPerSec: "ours, default bidirectional loss: positions per second = batch·seq·2 directions / median step time",
      gflops: "flopsPerToken(config, seqLen).training × positionsPerSec",
      workers:
        "the shared trainer (train(): bidirectional loss, clipping, AdamW) on random ids with 1 replica and with `workers` replicas " +
        "(this thread + worker threads, each on its own wasm backend), same config, one after the other in this run: " +
        "tokens per second = batch·seq / step time (each token once), median over the timed steps; scaling = N replicas / 1",
      workerSteps: scaling ? { warmup: opts.workersWarmup, timed: opts.workersSteps, one: scaling.one, many: scaling.many } : null,
      peakGflops:
        "FLOP-weighted mean (total FLOPs / total time) of plain 2-D wasm tf.matMul (no transpose flags) at the shapes in peakShapes: " +
        "per shape the median of 5 runs, the faster of 2 rounds (before and after the runs of ours)",
      mfu: "gflops / peakGflops",
      naive:
        "bench/lib/naive-gpt.ts: same model with tfjs default ops and gradients (dense-style 2-D matMul, batched 4-D attention " +
        "matMuls with transposes, oneHot·W embedding since wasm cannot differentiate tf.gather, RMSNorm by broadcasting, " +
        "tf.losses.softmaxCrossEntropy, tf.train.adam), one direction: positions per second = batch·seq / median step time",
      speedup: "forwardOnlyTokensPerSec / naiveTokensPerSec: both one direction, same batch, seq and backend, per position",
      steps: {
        ours: {
          warmup: { bidirectional: opts.warmup, forwardOnly: Math.min(1, opts.warmup) },
          timed: opts.steps,
          stepSec: { bidirectional: bidir.stepsSec, forwardOnly: fwd.stepsSec },
        },
        naive: naive ? { warmup: `${opts.naiveWarmup} at batch ${Math.min(2, batch)}`, timed: opts.naiveSteps, stepSec: naive.stepsSec } : null,
      },
      losses: { bidirectional: bidir.losses, forwardOnly: fwd.losses, naive: naive?.losses ?? null },
      peakShapes: peak.shapes,
      peakRoundsGflops: peakRounds.map((r) => round(r.weightedGflops, 2)),
      peakMaxGflops: round(peak.maxGflops, 2),
    },
    breakdown: breakdown ?? null,
    cores: availableParallelism(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, platform: process.platform, tfjs: tf.version_core },
    cpu: cpu ?? null,
    wallSec: round((performance.now() - wallStart) / 1000, 1),
  };
  console.log(JSON.stringify(result));
}

if (flag("sanity")) await sanity();
else await main();

/**
 * Microbenchmark of the ops in src/ops against the formulations they replace (not a test).
 *
 *   npx tsx test/ops-microbench.ts [linear] [attention] [rmsnorm] [swiglu] [embedding] [xent] [rotary] [decode]
 *
 * Times are process CPU time per call (the wasm backend is single-threaded and synchronous, so
 * this is robust on a shared machine), median and min of 3–41 calls (about 1.5 s) after two
 * warm-up calls;
 * outputs are never read back (a readback allocates fresh pages and would dominate). The last
 * stdout line is one JSON object with every measurement.
 */
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/backend.js";
import {
  applyRotary,
  causalAttentionWith,
  crossEntropy,
  embedding,
  linear,
  rmsNorm,
  rotaryTables,
  swiglu,
} from "../src/ops/index.js";
import { rmsNormDefaultGrad } from "../src/ops/rmsnorm.js";
import { swigluDefaultGrad } from "../src/ops/swiglu.js";

interface Timing {
  name: string;
  medianMs: number;
  minMs: number;
  gflops?: number;
}

const results: Timing[] = [];

function bench(name: string, f: () => unknown, flops = 0, maxReps = 41): Timing {
  // the result is disposed with everything else (a kept result would grow the heap every call)
  const run = () => {
    tf.tidy(() => {
      f();
    });
  };
  const w0 = performance.now();
  run();
  run();
  // about 1.5 s of measured calls, at least 3 and at most maxReps
  const reps = Math.max(3, Math.min(maxReps, Math.round(1500 / ((performance.now() - w0) / 2))));
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    run();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  const t: Timing = { name, medianMs: cpu[Math.floor(reps / 2)]!, minMs: cpu[0]! };
  if (flops > 0) t.gflops = flops / t.medianMs / 1e6;
  results.push(t);
  const gf = t.gflops === undefined ? "" : `${t.gflops.toFixed(2).padStart(7)} GFLOP/s`;
  console.log(`${name.padEnd(62)} ${t.medianMs.toFixed(2).padStart(8)} ms (min ${t.minMs.toFixed(2)})  ${gf}`);
  return t;
}

/** Forward + backward of sum(out ⊙ r) w.r.t. all `xs`. */
function fwdBwd(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], r: tf.Tensor): () => void {
  return () => {
    tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(xs);
  };
}

const want = new Set(process.argv.slice(2));
const section = (name: string) => want.size === 0 || want.has(name);

await selectBackend({ backend: (process.env.BATGPT_BACKEND as "wasm" | "cpu" | undefined) ?? "wasm", log: false });
console.log(`backend ${tf.getBackend()}, tfjs-core ${tf.version_core}`);

if (section("linear")) {
  const [n, i, o] = [2048, 256, 1024];
  const x = tf.randomNormal([n, i]) as tf.Tensor2D;
  const w = tf.randomNormal([i, o]) as tf.Tensor2D;
  const b = tf.randomNormal([o]) as tf.Tensor1D;
  const r = tf.randomNormal([n, o]);
  const flops = 3 * 2 * n * i * o;
  bench("linear [2048,256]x[256,1024] forward", () => linear(x, w, b), flops / 3);
  bench("linear fwd+bwd, custom grad (plain 2-D matmuls)", fwdBwd((a, c, d) => linear(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), [x, w, b], r), flops);
  bench("matMul + add fwd+bwd, tfjs default grad", fwdBwd((a, c, d) => tf.add(tf.matMul(a as tf.Tensor2D, c as tf.Tensor2D), d!), [x, w, b], r), flops, 3);
}

/** Batched 3-D matmul (transposeB flag) with tfjs's default gradient: the formulation replaced. */
function attentionDefaultGrad(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor2D): tf.Tensor2D {
  const [b, t, h, d] = q.shape;
  const [, s, kv] = k.shape;
  const [n, r] = [b * kv, (h / kv) * t];
  const qh = tf.reshape(tf.mul(tf.transpose(q, [0, 2, 1, 3]), 1 / Math.sqrt(d)), [n, r, d]);
  const kh = tf.reshape(tf.transpose(k, [0, 2, 1, 3]), [n, s, d]);
  const vh = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [n, s, d]);
  const p = tf.softmax(tf.add(tf.reshape(tf.matMul(qh, kh, false, true), [b, h, t, s]), bias));
  const o = tf.matMul(tf.reshape(p, [n, r, s]), vh);
  return tf.reshape(tf.transpose(tf.reshape(o, [b, h, t, d]), [0, 2, 1, 3]), [b * t, h * d]);
}

function causalBias(t: number): tf.Tensor2D {
  const a = new Float32Array(t * t);
  for (let i = 0; i < t; i++) a.fill(-1e9, i * t + i + 1, (i + 1) * t);
  return tf.tensor2d(a, [t, t]);
}

if (section("attention")) {
  const [b, t, h, d] = [16, 128, 8, 32];
  const bias = causalBias(t);
  for (const kv of [8, 2]) {
    const q = tf.randomNormal([b, t, h, d]) as tf.Tensor4D;
    const k = tf.randomNormal([b, t, kv, d]) as tf.Tensor4D;
    const v = tf.randomNormal([b, t, kv, d]) as tf.Tensor4D;
    const r = tf.randomNormal([b * t, h * d]);
    const flops = 6 * 2 * b * h * t * t * d;
    const tag = `attention B16 T128 H8 KV${kv} D32`;
    bench(`${tag} forward, pieces`, () => causalAttentionWith("pieces", q, k, v), flops / 3);
    bench(`${tag} forward, batched`, () => causalAttentionWith("batched", q, k, v), flops / 3, 3);
    bench(`${tag} fwd+bwd, pieces (custom grad)`, fwdBwd((a, c, e) => causalAttentionWith("pieces", a as tf.Tensor4D, c as tf.Tensor4D, e as tf.Tensor4D), [q, k, v], r), flops);
    bench(`${tag} fwd+bwd, batched (custom grad)`, fwdBwd((a, c, e) => causalAttentionWith("batched", a as tf.Tensor4D, c as tf.Tensor4D, e as tf.Tensor4D), [q, k, v], r), flops, 3);
    bench(`${tag} fwd+bwd, batched (tfjs default grad)`, fwdBwd((a, c, e) => attentionDefaultGrad(a as tf.Tensor4D, c as tf.Tensor4D, e as tf.Tensor4D, bias), [q, k, v], r), flops, 3);
  }
}

if (section("decode")) {
  for (const [b, t, s, kv] of [
    [1, 1, 128, 8],
    [8, 1, 256, 2],
    [1, 4, 128, 8],
    [1, 16, 128, 8],
    [4, 64, 64, 8],
  ] as const) {
    const [h, d] = [8, 32];
    const q = tf.randomNormal([b, t, h, d]) as tf.Tensor4D;
    const k = tf.randomNormal([b, s, kv, d]) as tf.Tensor4D;
    const v = tf.randomNormal([b, s, kv, d]) as tf.Tensor4D;
    for (const impl of ["pieces", "batched"] as const) {
      bench(`attention forward B${b} T${t} S${s} KV${kv}, ${impl}`, () => causalAttentionWith(impl, q, k, v));
    }
  }
}

if (section("rmsnorm")) {
  const x = tf.randomNormal([2048, 256]) as tf.Tensor2D;
  const w = tf.randomNormal([256]) as tf.Tensor1D;
  const r = tf.randomNormal([2048, 256]);
  bench("rmsNorm [2048,256] fwd+bwd, custom grad", fwdBwd((a, c) => rmsNorm(a as tf.Tensor2D, c as tf.Tensor1D, 1e-5), [x, w], r));
  bench("rmsNorm [2048,256] fwd+bwd, tfjs default grad", fwdBwd((a, c) => rmsNormDefaultGrad(a as tf.Tensor2D, c as tf.Tensor1D, 1e-5), [x, w], r));
}

if (section("swiglu")) {
  const g = tf.randomNormal([2048, 688]) as tf.Tensor2D;
  const u = tf.randomNormal([2048, 688]) as tf.Tensor2D;
  const r = tf.randomNormal([2048, 688]);
  bench("swiglu [2048,688] fwd+bwd, custom grad", fwdBwd((a, c) => swiglu(a as tf.Tensor2D, c as tf.Tensor2D), [g, u], r));
  bench("swiglu [2048,688] fwd+bwd, tfjs default grad", fwdBwd((a, c) => swigluDefaultGrad(a as tf.Tensor2D, c as tf.Tensor2D), [g, u], r));
}

if (section("embedding")) {
  const table = tf.randomNormal([8192, 256]) as tf.Tensor2D;
  const ids = tf.randomUniform([2048], 0, 8192, "int32") as tf.Tensor1D;
  const r = tf.randomNormal([2048, 256]);
  bench("embedding [8192,256] x 2048 ids forward (row-copy kernel)", () => embedding(table, ids));
  bench("tf.gather [8192,256] x 2048 ids forward", () => tf.gather(table, ids));
  bench("embedding fwd+bwd (scatter-add kernel)", fwdBwd((a) => embedding(a as tf.Tensor2D, ids), [table], r));
  let message = "ok";
  try {
    tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.gather(a, ids)))(table));
  } catch (err) {
    message = (err as Error).message.split("\n")[0] ?? "";
  }
  console.log(`tf.gather default gradient on ${tf.getBackend()}: ${message}`);
}

if (section("xent")) {
  const [n, v] = [2048, 8192];
  const logits = tf.randomNormal([n, v]) as tf.Tensor2D;
  const targets = tf.randomUniform([n], 0, v, "int32") as tf.Tensor1D;
  const weights = tf.ones([n]) as tf.Tensor1D;
  const loss = (l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, targets, weights);
  const defaultLoss = (l: tf.Tensor) =>
    tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l), tf.cast(tf.oneHot(targets, v), "float32")), -1)));
  bench("crossEntropy [2048,8192] forward", () => loss(logits));
  bench("crossEntropy [2048,8192] fwd+bwd, fused custom grad", () => tf.grad(loss)(logits));
  bench("logSoftmax·onehot fwd+bwd, tfjs default grad", () => tf.grad(defaultLoss)(logits), 0, 3);
}

if (section("rotary")) {
  const [b, t, h, d] = [16, 128, 8, 32];
  const { cos, sin } = rotaryTables(256, d, d / 2, 10000);
  const c = tf.tensor2d(cos, [256, d]);
  const s = tf.tensor2d(sin, [256, d]);
  const x = tf.randomNormal([b, t, h, d]) as tf.Tensor4D;
  const r = tf.randomNormal([b, t, h, d]);
  /** The slicing formulation: even/odd halves through a [.., D/2, 2] view, default gradient. */
  const sliced = (xs: tf.Tensor) => {
    const pairs = tf.reshape(xs, [b, t, h, d / 2, 2]);
    const [x0, x1] = tf.split(pairs, 2, 4) as [tf.Tensor, tf.Tensor];
    const cc = tf.reshape(tf.slice(c, [0, 0], [t, d]), [t, 1, d / 2, 2]);
    const ss = tf.reshape(tf.slice(s, [0, 0], [t, d]), [t, 1, d / 2, 2]);
    const c0 = tf.slice(cc, [0, 0, 0, 0], [t, 1, d / 2, 1]);
    const s0 = tf.slice(ss, [0, 0, 0, 0], [t, 1, d / 2, 1]);
    const y0 = tf.sub(tf.mul(x0, c0), tf.mul(x1, s0));
    const y1 = tf.add(tf.mul(x1, c0), tf.mul(x0, s0));
    return tf.reshape(tf.concat([y0, y1], 4), [b, t, h, d]);
  };
  bench("applyRotary [16,128,8,32] fwd+bwd, pair-swap matmul", fwdBwd((a) => applyRotary(a as tf.Tensor4D, c, s, 0), [x], r));
  bench("rotary by even/odd split + concat fwd+bwd, default grad", fwdBwd(sliced, [x], r), 0, 3);
}

console.log(JSON.stringify({ backend: tf.getBackend(), results }));

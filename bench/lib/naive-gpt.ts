/**
 * The baseline of bench:train: the same model as @batgpt/core's (pre-norm RMSNorm, rotary on the
 * first half of each head as interleaved pairs, multi-head attention with Q/K/V bias, SwiGLU MLP,
 * untied LM head) written the way most TensorFlow.js code writes a GPT, with tfjs's default ops
 * and default gradients:
 *
 * - activations are `[B, T, C]`; a linear layer works like `tf.layers.dense` (which reshapes to
 *   2-D, `matMul`s the kernel, adds the bias and reshapes back), so the forward product is a plain
 *   2-D matmul, and its gradient is tfjs's `matMul` gradient (transpose flags);
 * - attention splits heads with `reshape` + `transpose` to `[B, H, T, D]`, and computes
 *   `softmax(q·kᵀ/√D + causal mask)·v` with batched 4-D `matMul`s (`transposeB` for `kᵀ`);
 * - rotary: `slice` the rotated dims, `reshape` to pairs, `split` the pair, rotate, `concat` back;
 * - RMSNorm: `x · rsqrt(mean(x², −1) + ε) · g` with broadcasting (no `tf.tile`);
 * - the embedding is `oneHot(ids) · W`: on wasm, `tf.gather`'s default gradient needs the
 *   `UnsortedSegmentSum` kernel, which wasm lacks, so this is what works there without writing a
 *   custom gradient;
 * - the loss is `tf.losses.softmaxCrossEntropy(oneHot(targets), logits)`, the optimizer
 *   `tf.train.adam`, the step `optimizer.minimize`.
 *
 * It is an ordinary left-to-right causal LM (one reading direction): input `[bos, x0 … x_{T−2}]`,
 * targets `[x0 … x_{T−1}]`, so a step processes B·T positions, as one direction of core's model.
 */
import * as tf from "@tensorflow/tfjs";

/** Sizes of the naive model (the fields of core's config it needs). */
export interface NaiveConfig {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  /** Longest sequence (rotary tables). */
  maxSeqLen: number;
  /** Fraction of each head's dims that rotary rotates (core's default 0.5). */
  rotaryFraction: number;
  ropeBase: number;
  eps: number;
  initStd: number;
}

interface Layer {
  ln1: tf.Variable;
  wq: tf.Variable;
  bq: tf.Variable;
  wk: tf.Variable;
  bk: tf.Variable;
  wv: tf.Variable;
  bv: tf.Variable;
  wo: tf.Variable;
  ln2: tf.Variable;
  wGate: tf.Variable;
  wUp: tf.Variable;
  wDown: tf.Variable;
}

/** The naive GPT with its `tf.train.adam` optimizer. */
export class NaiveGPT {
  readonly config: NaiveConfig;
  readonly vars: tf.Variable[] = [];
  private readonly wte: tf.Variable;
  private readonly layers: Layer[] = [];
  private readonly lnF: tf.Variable;
  private readonly lmHead: tf.Variable;
  private readonly cos: tf.Tensor2D;
  private readonly sin: tf.Tensor2D;
  private readonly masks = new Map<number, tf.Tensor2D>();
  private readonly optimizer: tf.AdamOptimizer;
  private seed: number;

  constructor(config: NaiveConfig, options: { seed?: number; lr?: number } = {}) {
    this.config = config;
    this.seed = options.seed ?? 0;
    const { vocabSize: V, hidden: C, ffn: F, layers } = config;
    const w = (shape: number[], std = config.initStd) => this.variable(tf.randomNormal(shape, 0, std, "float32", this.seed++));
    const ones = (n: number) => this.variable(tf.ones([n]));
    const zeros = (n: number) => this.variable(tf.zeros([n]));
    const residualStd = config.initStd / Math.sqrt(2 * layers);
    this.wte = w([V, C]);
    for (let i = 0; i < layers; i++) {
      this.layers.push({
        ln1: ones(C),
        wq: w([C, C]),
        bq: zeros(C),
        wk: w([C, C]),
        bk: zeros(C),
        wv: w([C, C]),
        bv: zeros(C),
        wo: w([C, C], residualStd),
        ln2: ones(C),
        wGate: w([C, F]),
        wUp: w([C, F]),
        wDown: w([F, C], residualStd),
      });
    }
    this.lnF = ones(C);
    this.lmHead = w([C, V]);
    const D = C / config.heads;
    const half = Math.round(D * config.rotaryFraction) / 2;
    const cos = new Float32Array(config.maxSeqLen * half);
    const sin = new Float32Array(config.maxSeqLen * half);
    for (let t = 0; t < config.maxSeqLen; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * config.ropeBase ** (-(2 * i) / (2 * half));
        cos[t * half + i] = Math.cos(angle);
        sin[t * half + i] = Math.sin(angle);
      }
    }
    this.cos = tf.tensor2d(cos, [config.maxSeqLen, half]);
    this.sin = tf.tensor2d(sin, [config.maxSeqLen, half]);
    this.optimizer = tf.train.adam(options.lr ?? 1e-3);
  }

  private variable(t: tf.Tensor): tf.Variable {
    const v = tf.variable(t, true);
    t.dispose();
    this.vars.push(v);
    return v;
  }

  /**
   * Copy weights from a map keyed by the official BatGPT state-dict names with linear weights
   * `[in, out]` (as @batgpt/core's `model.params`), to check that both compute the same function.
   */
  assignFrom(params: ReadonlyMap<string, tf.Tensor>): void {
    const set = (v: tf.Variable, name: string) => {
      const t = params.get(name);
      if (!t) throw new Error(`assignFrom: no ${name}`);
      v.assign(t);
    };
    set(this.wte, "model.word_embeddings.weight");
    this.layers.forEach((l, i) => {
      const p = (s: string) => `model.encoder.layers.${i}.${s}`;
      set(l.ln1, p("input_layernorm.weight"));
      set(l.wq, p("self_attention.query_proj.weight"));
      set(l.bq, p("self_attention.query_proj.bias"));
      set(l.wk, p("self_attention.key_proj.weight"));
      set(l.bk, p("self_attention.key_proj.bias"));
      set(l.wv, p("self_attention.value_proj.weight"));
      set(l.bv, p("self_attention.value_proj.bias"));
      set(l.wo, p("self_attention.dense.weight"));
      set(l.ln2, p("post_attention_layernorm.weight"));
      set(l.wGate, p("mlp.dense_h_to_4h.weight:gate"));
      set(l.wUp, p("mlp.dense_h_to_4h.weight:up"));
      set(l.wDown, p("mlp.dense_4h_to_h.weight"));
    });
    set(this.lnF, "model.encoder.ln_f.weight");
    set(this.lmHead, "lm_head.weight");
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    return this.vars.reduce((n, v) => n + v.size, 0);
  }

  private causalMask(T: number): tf.Tensor2D {
    let m = this.masks.get(T);
    if (!m) {
      const a = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) a[i * T + j] = -1e9;
      m = tf.keep(tf.tensor2d(a, [T, T]));
      this.masks.set(T, m);
    }
    return m;
  }

  /** `tf.layers.dense` style: `[B, T, in]` → 2-D matmul → `[B, T, out]`. */
  private dense(x: tf.Tensor3D, w: tf.Variable, b?: tf.Variable): tf.Tensor3D {
    const [B, T, cin] = x.shape;
    let y = tf.matMul(tf.reshape(x, [B * T, cin]), w as tf.Tensor2D);
    if (b) y = tf.add(y, b);
    return tf.reshape(y, [B, T, w.shape[1]!]);
  }

  private rmsNorm(x: tf.Tensor3D, g: tf.Variable): tf.Tensor3D {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.eps))), g);
  }

  /** Rotary on `[B, H, T, D]`: the first `rot` dims as interleaved pairs. */
  private rope(x: tf.Tensor4D): tf.Tensor4D {
    const [B, H, T, D] = x.shape;
    const half = this.cos.shape[1];
    const rot = 2 * half;
    const xr = tf.slice(x, [0, 0, 0, 0], [B, H, T, rot]);
    const xp = tf.slice(x, [0, 0, 0, rot], [B, H, T, D - rot]);
    const [x1, x2] = tf.split(tf.reshape(xr, [B, H, T, half, 2]), 2, -1) as [tf.Tensor, tf.Tensor];
    const cos = tf.reshape(tf.slice(this.cos, [0, 0], [T, half]), [T, half, 1]);
    const sin = tf.reshape(tf.slice(this.sin, [0, 0], [T, half]), [T, half, 1]);
    const r1 = tf.sub(tf.mul(x1, cos), tf.mul(x2, sin));
    const r2 = tf.add(tf.mul(x1, sin), tf.mul(x2, cos));
    const rotated = tf.reshape(tf.concat([r1, r2], -1), [B, H, T, rot]);
    return tf.concat([rotated, xp], -1) as tf.Tensor4D;
  }

  private attention(h: tf.Tensor3D, l: Layer): tf.Tensor3D {
    const [B, T, C] = h.shape;
    const H = this.config.heads;
    const D = C / H;
    const heads = (t: tf.Tensor3D) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D;
    const q = this.rope(heads(this.dense(h, l.wq, l.bq)));
    const k = this.rope(heads(this.dense(h, l.wk, l.bk)));
    const v = heads(this.dense(h, l.wv, l.bv));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), this.causalMask(T));
    const y = tf.matMul(tf.softmax(scores), v);
    return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, C]);
  }

  /** Logits `[B·T, vocab]` of input ids `[B, T]` (row-major). */
  logits(input: Int32Array, batch: number, seqLen: number): tf.Tensor2D {
    const { vocabSize: V, hidden: C } = this.config;
    // int32 one-hot, then cast: wasm's OneHot kernel ignores a float32 dtype (tfjs 4.22 writes int bits)
    const onehot = tf.cast(tf.oneHot(tf.tensor1d(input, "int32"), V), "float32");
    let x = tf.reshape(tf.matMul(onehot, this.wte as tf.Tensor2D), [batch, seqLen, C]) as tf.Tensor3D;
    for (const l of this.layers) {
      x = tf.add(x, this.dense(this.attention(this.rmsNorm(x, l.ln1), l), l.wo));
      const h = this.rmsNorm(x, l.ln2);
      const gate = this.dense(h, l.wGate);
      const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), this.dense(h, l.wUp));
      x = tf.add(x, this.dense(act as tf.Tensor3D, l.wDown));
    }
    return tf.reshape(this.dense(this.rmsNorm(x, this.lnF), this.lmHead), [batch * seqLen, V]);
  }

  /** Mean next-token cross-entropy of `ids` `[B, T]`: input `[bos, ids[:−1]]`, targets `ids`. */
  loss(ids: Int32Array, batch: number, seqLen: number, bos = 0): tf.Scalar {
    const input = new Int32Array(ids.length);
    for (let b = 0; b < batch; b++) {
      input[b * seqLen] = bos;
      for (let t = 1; t < seqLen; t++) input[b * seqLen + t] = ids[b * seqLen + t - 1]!;
    }
    const labels = tf.cast(tf.oneHot(tf.tensor1d(ids, "int32"), this.config.vocabSize), "float32");
    return tf.losses.softmaxCrossEntropy(labels, this.logits(input, batch, seqLen)) as tf.Scalar;
  }

  /** One Adam step on a batch; returns the loss (read back, so all work is done). */
  step(ids: Int32Array, batch: number, seqLen: number): number {
    const loss = tf.tidy(() => this.optimizer.minimize(() => this.loss(ids, batch, seqLen), true, this.vars)!);
    const value = loss.dataSync()[0]!;
    loss.dispose();
    return value;
  }

  /** Free the variables, constants and optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
    for (const v of this.vars) v.dispose();
    this.cos.dispose();
    this.sin.dispose();
    for (const m of this.masks.values()) m.dispose();
  }
}

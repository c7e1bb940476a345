/**
 * The BatGPT transformer (the official BatGPT-15B architecture at any size) and its
 * bidirectional reading.
 *
 * Block: `x + attn(RMSNorm(x))`, then `+ mlp(RMSNorm(·))`; final RMSNorm; untied LM head.
 * Attention: Q/K/V projections with bias, grouped-query heads, rotary embeddings on the first
 * `rotary_fraction` of each head as interleaved pairs, causal softmax, output projection
 * without bias. MLP: SwiGLU.
 *
 * Bidirectional autoregression (ours: the released code is left-to-right only) lives in
 * bidirectional.ts: how a direction is marked, each direction's input and targets, and the
 * weighted two-way loss. The trunk takes the direction from the start of every pass.
 *
 * Every heavy product is a plain 2-D matmul on `[tokens, features]` tensors (see ops/).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { z } from "zod";
import { modelDims, resolveConfig, type BatGPTConfig, type BatGPTConfigInput, type HeadConfigInput, type ModelDims } from "./config.js";
import { applyRotary, causalAttention, crossEntropy, embedding, linear, packedCausalBias, rmsNorm, rotaryTables, swiglu, tokenLogProbs as opsTokenLogProbs } from "./ops/index.js";
import { bidirectionalLoss, directionalInput, directionScheme, packedPositions, type BidirectionalLoss, type Direction, type DirectionScheme, type DirectionWeights } from "./bidirectional.js";
import { TokenDataError, type TokenBatch } from "./data.js";
import { ConfigError, parseOptions } from "./options.js";
import { headParameterSpecs, initParameter, initParameters, layerParam } from "./params.js";
import { Rng } from "./rng.js";

/** Per-layer keys and values of the tokens read so far, for incremental decoding. */
export interface KVCache {
  /** Per layer, `[B, S, KV, D]`. */
  k: tf.Tensor4D[];
  v: tf.Tensor4D[];
  /** Number of positions cached (S). */
  length: number;
}

const logitsOptionsSchema = z.object({ direction: z.enum(["forward", "backward"]).default("forward") }).strict();

/** Options of {@link createModel}, validated with zod. */
export const createModelOptionsSchema = z
  .object({
    /** Seed of the weight initialisation (a safe integer; see {@link Rng} for what a seed covers). */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
    /** Fills `l2r_token_id` / `r2l_token_id` / `bos_token_id` (and checks `vocab_size`) from the tokenizer. */
    tokenizer: z.custom<Tokenizer>((t) => typeof t === "object" && t !== null && "vocabSize" in t && "specialTokenId" in t, "must be a Tokenizer").optional(),
  })
  .strict();

/** Options of {@link createModel} (see {@link createModelOptionsSchema}). */
export type CreateModelOptions = z.input<typeof createModelOptionsSchema>;

/** Options of {@link BatGPTModel.hidden}. */
export interface HiddenOptions {
  /** The reading direction (default forward); the `"embedding"` scheme adds its vector. */
  direction?: Direction;
  /** Keys and values of the positions read so far. */
  cache?: KVCache;
  /** `[B, cache + S]`: 1 for real tokens, 0 for left padding. */
  keyMask?: tf.Tensor2D;
  /**
   * Packed rows: `[B·S]`, each position's sample index within its row in reading order, as
   * `directionalInput` returns it with `segmentIds`. Each sample gets positions from 0 and
   * attends only to itself. Not with a cache.
   */
  segments?: Int32Array;
}

/** One layer's parameters by role (official names in params.ts; linear weights `[in, out]`). */
interface LayerParams {
  inputNorm: tf.Tensor1D;
  query: tf.Tensor2D;
  queryBias: tf.Tensor1D | undefined;
  key: tf.Tensor2D;
  keyBias: tf.Tensor1D | undefined;
  value: tf.Tensor2D;
  valueBias: tf.Tensor1D | undefined;
  dense: tf.Tensor2D;
  postNorm: tf.Tensor1D;
  /** The two halves of the official fused `dense_h_to_4h`. */
  gate: tf.Tensor2D;
  up: tf.Tensor2D;
  down: tf.Tensor2D;
}

/** Where a forward pass reads: its size, its first position, and the KV cache it extends. */
interface Positions {
  batch: number;
  seqLen: number;
  /** Position of the first input token (the cache length). */
  start: number;
  cache?: KVCache;
  /** The cache being built (this pass's keys and values appended to `cache`'s). */
  next?: KVCache;
  keyMask?: tf.Tensor2D;
  /** Packed rows: each token's rotary position `[B·S]` and the block-diagonal causal bias. */
  packed?: { positions: Int32Array; bias: tf.Tensor4D };
}

/**
 * A BatGPT model: its config, its parameters (official names), the forward pass and any named
 * heads on the trunk.
 *
 * Who owns a tensor (one rule for the whole class): a method that returns a tensor gives it to
 * the caller, who disposes it (or lets an enclosing `tf.tidy` / `tf.variableGrads` do so); the
 * model owns its parameters (`params`) and frees them in {@link BatGPTModel.dispose}; a tensor
 * passed in stays the caller's.
 */
export class BatGPTModel {
  /** The configuration (replaced, never mutated, when a head is added). */
  get config(): BatGPTConfig {
    return this.cfg;
  }
  private cfg: BatGPTConfig;
  /** Parameters by official state-dict name (linear weights `[in, out]`; see params.ts). */
  readonly params: Map<string, tf.Variable>;
  readonly dims: ModelDims;
  private readonly cos: tf.Tensor2D;
  private readonly sin: tf.Tensor2D;
  private readonly layerCache: LayerParams[] = [];
  /** How this model marks the reading direction (the `direction_scheme` knob). */
  readonly scheme: DirectionScheme;

  constructor(config: BatGPTConfig, params: Map<string, tf.Variable>) {
    this.cfg = config;
    this.params = params;
    this.dims = modelDims(config);
    this.scheme = directionScheme(config);
    const { cos, sin } = rotaryTables(config.max_seq_len, this.dims.headDim, this.dims.rotDim, config.rope_base);
    this.cos = tf.keep(tf.tensor2d(cos, [config.max_seq_len, this.dims.headDim]));
    this.sin = tf.keep(tf.tensor2d(sin, [config.max_seq_len, this.dims.headDim]));
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`model has no parameter ${name}`);
    return v;
  }

  /**
   * The first input id of every row read in `direction`: the direction token `<|l2r|>` /
   * `<|r2l|>` under the default `"token"` scheme, `<|bos|>` under `"embedding"` (see bidirectional.ts).
   *
   * @throws Error naming the config field when the config lacks the id.
   */
  startToken(direction: Direction): number {
    return this.scheme.startToken(this.config, direction);
  }

  /** The parameters of layer `i` by role, looked up once (the tensors are the model's variables). */
  private layer(i: number): LayerParams {
    let l = this.layerCache[i];
    if (!l) {
      const w = <T extends tf.Tensor>(suffix: string) => this.p(layerParam(i, suffix)) as unknown as T;
      const bias = (suffix: string) => (this.config.qkv_bias ? w<tf.Tensor1D>(suffix) : undefined);
      l = {
        inputNorm: w("input_layernorm.weight"),
        query: w("self_attention.query_proj.weight"),
        queryBias: bias("self_attention.query_proj.bias"),
        key: w("self_attention.key_proj.weight"),
        keyBias: bias("self_attention.key_proj.bias"),
        value: w("self_attention.value_proj.weight"),
        valueBias: bias("self_attention.value_proj.bias"),
        dense: w("self_attention.dense.weight"),
        postNorm: w("post_attention_layernorm.weight"),
        gate: w("mlp.dense_h_to_4h.weight:gate"),
        up: w("mlp.dense_h_to_4h.weight:up"),
        down: w("mlp.dense_4h_to_h.weight"),
      };
      this.layerCache[i] = l;
    }
    return l;
  }

  /**
   * Grouped-query causal self-attention of normalised states `h` `[B·S, hidden]` → `[B·S, hidden]`:
   * Q/K/V projections (with bias), rotary embeddings from position `pos.start`, the causal softmax
   * over the cached and new keys, the output projection `dense` (no bias). With `pos.cache`, this
   * layer's keys and values `[B, start + S, KV, D]` are pushed onto `pos.next`.
   */
  private attention(h: tf.Tensor2D, l: LayerParams, pos: Positions, i: number): tf.Tensor2D {
    const { n_head } = this.config;
    const { headDim, kvHeads } = this.dims;
    const { batch, seqLen, start, packed } = pos;
    const at = packed?.positions ?? start;
    const q = applyRotary(linear(h, l.query, l.queryBias).reshape([batch, seqLen, n_head, headDim]), this.cos, this.sin, at);
    let k = applyRotary(linear(h, l.key, l.keyBias).reshape([batch, seqLen, kvHeads, headDim]), this.cos, this.sin, at);
    let v = linear(h, l.value, l.valueBias).reshape([batch, seqLen, kvHeads, headDim]) as tf.Tensor4D;
    if (pos.cache && pos.next) {
      if (start > 0) {
        k = tf.concat([pos.cache.k[i]!, k], 1);
        v = tf.concat([pos.cache.v[i]!, v], 1);
      }
      pos.next.k.push(k);
      pos.next.v.push(v);
    }
    return linear(causalAttention(q, k, v, { ...(pos.keyMask ? { keyMask: pos.keyMask } : {}), ...(packed ? { packedBias: packed.bias } : {}) }), l.dense);
  }

  /** The SwiGLU MLP: `down(silu(gate(h)) ⊙ up(h))`, `[N, hidden]` → `[N, hidden]`. */
  private mlp(h: tf.Tensor2D, l: LayerParams): tf.Tensor2D {
    return linear(swiglu(linear(h, l.gate), linear(h, l.up)), l.down);
  }

  /** One pre-norm transformer block: `x + attention(RMSNorm(x))`, then `+ mlp(RMSNorm(·))`. */
  private block(x: tf.Tensor2D, l: LayerParams, pos: Positions, i: number): tf.Tensor2D {
    const eps = this.config.layer_norm_epsilon;
    x = tf.add(x, this.attention(rmsNorm(x, l.inputNorm, eps), l, pos, i));
    return tf.add(x, this.mlp(rmsNorm(x, l.postNorm, eps), l));
  }

  /**
   * The final hidden states `[B·S, hidden]` for input ids `[B, S]` (row-major, starting with the
   * scheme's {@link BatGPTModel.startToken}) read in `options.direction` (default forward),
   * continuing from `options.cache` when given (the new keys and values are appended to it; the
   * caller owns the returned cache tensors). `options.keyMask` `[B, cache + S]` marks padding (0)
   * for left-padded batches; `options.segments` reads packed samples apart.
   *
   * @throws Error for a sequence longer than `max_seq_len`, or segments with a cache.
   */
  hidden(input: Int32Array, batch: number, seqLen: number, options: HiddenOptions = {}): { hidden: tf.Tensor2D; cache?: KVCache } {
    const { direction = "forward", cache, keyMask, segments } = options;
    if (segments !== undefined && cache !== undefined) throw new Error("hidden: packed segments cannot extend a KV cache");
    const c = this.config;
    const start = cache?.length ?? 0;
    if (start + seqLen > c.max_seq_len) {
      throw new Error(`sequence of ${start + seqLen} positions is longer than max_seq_len ${c.max_seq_len}`);
    }
    this.checkIds(input);
    const pos: Positions = {
      batch,
      seqLen,
      start,
      ...(cache ? { cache, next: { k: [], v: [], length: start + seqLen } } : {}),
      ...(keyMask ? { keyMask } : {}),
      ...(segments ? { packed: { positions: packedPositions(segments, batch, seqLen), bias: packedCausalBias(segments, batch, seqLen) } } : {}),
    };
    const tokens = embedding(this.p("model.word_embeddings.weight") as tf.Tensor2D, tf.tensor1d(input, "int32"));
    let x = this.scheme.mark(tokens, direction, (name) => this.p(name));
    for (let i = 0; i < c.n_layer; i++) x = this.block(x, this.layer(i), pos, i);
    const out = rmsNorm(x, this.p("model.encoder.ln_f.weight") as tf.Tensor1D, c.layer_norm_epsilon);
    return pos.next ? { hidden: out, cache: pos.next } : { hidden: out };
  }

  /** Throw a {@link TokenDataError} for an id outside the vocabulary. */
  checkIds(ids: ArrayLike<number>): void {
    const V = this.config.vocab_size;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new TokenDataError(`token id ${id} at position ${i} is outside the vocabulary (${V})`);
    }
  }

  /** LM-head logits `[N, vocab]` of hidden states `[N, hidden]`. */
  head(hidden: tf.Tensor2D): tf.Tensor2D {
    if (this.config.tie_word_embeddings) {
      return linear(hidden, tf.transpose(this.p("model.word_embeddings.weight")) as tf.Tensor2D);
    }
    return linear(hidden, this.p("lm_head.weight") as tf.Tensor2D);
  }

  /**
   * Logits `[B, T, vocab]` for token sequences `ids` (each of length T, in reading order,
   * without a direction token). The model reads each sequence in `direction` (default
   * `"forward"`) after the direction token; `logits[b, t]` is its prediction of the t-th token
   * *in that reading order* — `ids[b][t]` reading forward, `ids[b][T−1−t]` reading backward —
   * from the direction token and the tokens read before it.
   */
  logits(ids: number[][], options: { direction?: Direction } = {}): tf.Tensor3D {
    const { direction } = parseOptions(logitsOptionsSchema, options, "logits options");
    const batch = ids.length;
    const seqLen = ids[0]?.length ?? 0;
    if (batch === 0 || seqLen === 0) throw new Error("logits needs at least one non-empty sequence");
    if (ids.some((r) => r.length !== seqLen)) throw new Error("all sequences passed to logits must have the same length");
    const flat = Int32Array.from(ids.flat());
    this.checkIds(flat);
    const { input } = directionalInput(flat, batch, seqLen, direction, this.startToken(direction));
    return tf.tidy(() => this.head(this.hidden(input, batch, seqLen, { direction }).hidden).reshape([batch, seqLen, this.config.vocab_size]) as tf.Tensor3D);
  }

  /**
   * The mean cross-entropy (nats per token) of a batch `{ ids: [B·T] row-major, batch: B,
   * seqLen: T }` read in one direction, with optional per-target weights `[B·T]` in reading order
   * of that direction (0 = not scored). A batch with `segmentIds` is read sample by sample.
   *
   * @throws TokenDataError when the sizes do not match or an id is outside the vocabulary.
   */
  directionLoss(tokens: TokenBatch, direction: Direction, weights?: Float32Array): tf.Scalar {
    const { ids, batch, seqLen } = tokens;
    if (ids.length !== batch * seqLen) throw new TokenDataError(`ids has ${ids.length} entries, expected batch ${batch} × seqLen ${seqLen}`);
    this.checkIds(ids);
    const { input, targets, segments } = directionalInput(ids, batch, seqLen, direction, this.startToken(direction), tokens.segmentIds);
    const logits = this.head(this.hidden(input, batch, seqLen, { direction, ...(segments ? { segments } : {}) }).hidden);
    const w = weights ?? new Float32Array(batch * seqLen).fill(1);
    return crossEntropy(logits, tf.tensor1d(targets, "int32"), tf.tensor1d(w, "float32"));
  }

  /**
   * Add a head named `name` to the trunk (see `headSchema` in config.ts): a linear map of the
   * final hidden states to `head.outputs` features, initialised from `options.seed` (normal with
   * `initializer_range`, bias 0). Its parameters `<name>.weight` (and `<name>.bias`) join
   * `params`, so they train, clone, freeze, save and load with the trunk.
   *
   * @throws ConfigError for a bad name or settings, or a head that exists already.
   */
  addHead(name: string, head: HeadConfigInput = {}, options: { seed?: number } = {}): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(`a head name is an identifier (letters, digits, _), got ${JSON.stringify(name)}`);
    if (name in this.cfg.heads) throw new ConfigError(`the model already has a head named ${JSON.stringify(name)}`);
    const config = resolveConfig({ ...this.cfg, heads: { ...this.cfg.heads, [name]: head } });
    const rng = new Rng(options.seed ?? 0);
    for (const spec of headParameterSpecs(name, config.heads[name]!, config.hidden_size)) this.params.set(spec.name, initParameter(config, spec, rng));
    this.cfg = config;
  }

  /** The parameter names of head `name` (e.g. to freeze the trunk: `setTrainable(false, (n) => !names.includes(n))`). */
  headParameterNames(name: string): string[] {
    const head = this.cfg.heads[name];
    if (!head) throw new ConfigError(`the model has no head named ${JSON.stringify(name)} (it has ${Object.keys(this.cfg.heads).join(", ") || "none"})`);
    return headParameterSpecs(name, head, this.cfg.hidden_size).map((s) => s.name);
  }

  /**
   * Head `name` applied to final hidden states `[N, hidden]` (from {@link BatGPTModel.hidden}) →
   * `[N, outputs]`, on the fast 2-D matmul path.
   *
   * @throws ConfigError when the model has no such head.
   */
  headOutput(name: string, hidden: tf.Tensor2D): tf.Tensor2D {
    const [w, b] = this.headParameterNames(name).map((n) => this.p(n));
    return linear(hidden, w as tf.Tensor2D, b as tf.Tensor1D | undefined);
  }

  /**
   * Per-token log-probabilities with gradient: `[B, T]` where entry `[b, j]` is
   * `log p(ids[b, j] | the tokens read before it)` reading in `direction` — after the direction
   * token and `ids[b, 0..j−1]` forward, after the direction token and `ids[b, j+1..T−1]`
   * backward. Entries are aligned with `batch.ids` in both directions, so one mask serves both.
   * With `batch.segmentIds` (packing) "the tokens read before it" are those of its own sample
   * only, and the values equal those of each sample alone in a row. Units: nats. Used for PPO's probability ratio, judge scoring and SFT metrics. The caller
   * owns the returned tensor (inside `tf.variableGrads` or `tf.tidy`, tfjs manages it).
   *
   * @throws TokenDataError for ids outside the vocabulary or a batch whose sizes do not match.
   */
  tokenLogProbs(batch: TokenBatch, direction: Direction): tf.Tensor2D {
    const { ids, batch: B, seqLen: T } = batch;
    if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1 || ids.length !== B * T) {
      throw new TokenDataError(`tokenLogProbs: ids has ${ids.length} entries, expected batch ${B} × seqLen ${T}`);
    }
    if (direction !== "forward" && direction !== "backward") throw new ConfigError(`tokenLogProbs: direction must be "forward" or "backward", got ${JSON.stringify(direction)}`);
    this.checkIds(ids);
    const { input, targets, segments } = directionalInput(ids, B, T, direction, this.startToken(direction), batch.segmentIds);
    return tf.tidy(() => {
      const logits = this.head(this.hidden(input, B, T, { direction, ...(segments ? { segments } : {}) }).hidden);
      const lp = opsTokenLogProbs(logits, tf.tensor1d(targets, "int32")).reshape([B, T]) as tf.Tensor2D;
      // backward, position t of the reading is token T−1−t of the sequence
      return direction === "forward" ? lp : (tf.reverse(lp, 1) as tf.Tensor2D);
    });
  }

  /**
   * The bidirectional loss of a batch (see {@link bidirectionalLoss}), weighted by `weights`
   * (default: the weights recorded in the config, `loss_weight_forward` / `loss_weight_backward`;
   * training passes its own).
   */
  loss(tokens: TokenBatch, weights?: DirectionWeights): BidirectionalLoss {
    const c = this.config;
    return bidirectionalLoss((d) => this.directionLoss(tokens, d), weights ?? { forward: c.loss_weight_forward, backward: c.loss_weight_backward });
  }

  /**
   * A deep copy with its own variables (e.g. the frozen reference policy of PPO, or the
   * starting point of a reward model).
   */
  clone(): BatGPTModel {
    const params = new Map<string, tf.Variable>();
    for (const [name, v] of this.params) params.set(name, tf.variable(v, v.trainable));
    return new BatGPTModel(this.cfg, params);
  }

  /**
   * Freeze or unfreeze parameters: `train` updates only trainable ones. With no predicate,
   * sets every parameter to `trainable`.
   */
  setTrainable(trainable: boolean, which: (name: string) => boolean = () => true): void {
    for (const [name, v] of this.params) if (which(name)) v.trainable = trainable;
  }

  /** Free the parameters and constants. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.cos.dispose();
    this.sin.dispose();
  }
}

/**
 * A new model with weights drawn from a seeded generator.
 *
 * @throws ConfigError for a bad config or option, or a `vocab_size` smaller than the tokenizer's.
 */
export function createModel(config: BatGPTConfigInput | BatGPTConfig = {}, options: CreateModelOptions = {}): BatGPTModel {
  const o = parseOptions(createModelOptionsSchema, options, "createModel options");
  const input: BatGPTConfigInput = { ...config };
  const tok = o.tokenizer;
  if (tok) {
    if (input.vocab_size === undefined) input.vocab_size = tok.vocabSize;
    if (input.vocab_size < tok.vocabSize) {
      throw new ConfigError(`invalid model config: vocab_size ${input.vocab_size} is smaller than the tokenizer's ${tok.vocabSize}`);
    }
    input.l2r_token_id ??= tok.specialTokenId("<|l2r|>");
    input.r2l_token_id ??= tok.specialTokenId("<|r2l|>");
    if (tok.specialTokens.has("<|bos|>")) input.bos_token_id ??= tok.specialTokenId("<|bos|>");
  }
  const c = resolveConfig(input);
  return new BatGPTModel(c, initParameters(c, new Rng(o.seed)));
}

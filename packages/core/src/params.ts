/**
 * The model's parameters: their names (exactly the official state dict's), their shapes and
 * how they are initialised. Inside the model a linear weight is stored `[in, out]`, so
 * `x · W` is a plain 2-D matmul (the fast path on wasm); checkpoints store it `[out, in]`
 * as PyTorch does. The official `lm_head.weight` is `[vocab, hidden]`; here `[hidden, vocab]`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { modelDims, type BatGPTConfig } from "./config.js";
import { directionScheme } from "./bidirectional.js";
import type { Rng } from "./rng.js";

/** What kind of tensor a parameter is: decides its checkpoint layout, init and weight decay. */
export type ParamKind = "embedding" | "linear" | "bias" | "norm";

/** One parameter of the model. */
export interface ParamSpec {
  /** The official state-dict name, e.g. `model.encoder.layers.0.self_attention.query_proj.weight`. */
  name: string;
  /** Shape inside this package (`[in, out]` for linear weights). */
  shape: number[];
  kind: ParamKind;
  /**
   * Set when this parameter is one part of an official tensor: the official
   * `mlp.dense_h_to_4h.weight` (`[2F, H]`) is kept here as two `[H, F]` matrices, `:gate`
   * (the first F output rows, through SiLU) and `:up` (the second F), so the SwiGLU never
   * slices a tensor on the hot path. A checkpoint concatenates the parts in `index` order
   * along the official output axis.
   */
  partOf?: { name: string; index: number };
}

/** Name of block `i`'s parameter `suffix`. */
export function layerParam(i: number, suffix: string): string {
  return `model.encoder.layers.${i}.${suffix}`;
}

/** Every parameter of a config, in state-dict order. */
export function parameterSpecs(c: BatGPTConfig): ParamSpec[] {
  const { kvDim } = modelDims(c);
  const H = c.hidden_size;
  const F = c.ffn_hidden_size;
  const specs: ParamSpec[] = [{ name: "model.word_embeddings.weight", shape: [c.vocab_size, H], kind: "embedding" }, ...directionScheme(c).parameters(c)];
  for (let i = 0; i < c.n_layer; i++) {
    const p = (suffix: string, shape: number[], kind: ParamKind) => specs.push({ name: layerParam(i, suffix), shape, kind });
    p("input_layernorm.weight", [H], "norm");
    p("self_attention.query_proj.weight", [H, H], "linear");
    if (c.qkv_bias) p("self_attention.query_proj.bias", [H], "bias");
    p("self_attention.key_proj.weight", [H, kvDim], "linear");
    if (c.qkv_bias) p("self_attention.key_proj.bias", [kvDim], "bias");
    p("self_attention.value_proj.weight", [H, kvDim], "linear");
    if (c.qkv_bias) p("self_attention.value_proj.bias", [kvDim], "bias");
    p("self_attention.dense.weight", [H, H], "linear");
    p("post_attention_layernorm.weight", [H], "norm");
    const fused = layerParam(i, "mlp.dense_h_to_4h.weight");
    specs.push({ name: `${fused}:gate`, shape: [H, F], kind: "linear", partOf: { name: fused, index: 0 } });
    specs.push({ name: `${fused}:up`, shape: [H, F], kind: "linear", partOf: { name: fused, index: 1 } });
    p("mlp.dense_4h_to_h.weight", [F, H], "linear");
  }
  specs.push({ name: "model.encoder.ln_f.weight", shape: [H], kind: "norm" });
  if (!c.tie_word_embeddings) specs.push({ name: "lm_head.weight", shape: [H, c.vocab_size], kind: "linear" });
  for (const [name, head] of Object.entries(c.heads)) specs.push(...headParameterSpecs(name, head, H));
  return specs;
}

/** The parameters of head `name` (weights `[hidden, outputs]` in memory, like every linear). */
export function headParameterSpecs(name: string, head: { outputs: number; bias: boolean }, hidden: number): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: `${name}.weight`, shape: [hidden, head.outputs], kind: "linear" }];
  if (head.bias) specs.push({ name: `${name}.bias`, shape: [head.outputs], kind: "bias" });
  return specs;
}

/** Number of parameters of a config. */
export function countParameters(c: BatGPTConfig): number {
  return parameterSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Whether AdamW decays this parameter (not norms, not biases). */
export function decays(spec: ParamSpec): boolean {
  return spec.kind === "linear" || spec.kind === "embedding";
}

/**
 * Fresh parameters drawn from `rng`: normal(0, initializer_range) for weights, the output
 * projections of each block scaled by 1/√(2·n_layer) (GPT-2), zeros for biases, ones for
 * norms. Values are made in JavaScript, so every backend starts from the same bits.
 */
export function initParameters(c: BatGPTConfig, rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const spec of parameterSpecs(c)) params.set(spec.name, initParameter(c, spec, rng));
  return params;
}

/** One fresh trainable parameter drawn from `rng` by {@link initParameters}'s rule. */
export function initParameter(c: BatGPTConfig, spec: ParamSpec, rng: Rng): tf.Variable {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  let values: Float32Array;
  if (spec.kind === "norm") values = new Float32Array(size).fill(1);
  else if (spec.kind === "bias") values = new Float32Array(size);
  else {
    const residual = spec.name.endsWith("self_attention.dense.weight") || spec.name.endsWith("mlp.dense_4h_to_h.weight");
    values = rng.normals(size, c.initializer_range / (residual ? Math.sqrt(2 * c.n_layer) : 1));
  }
  const initial = tf.tensor(values, spec.shape, "float32");
  const v = tf.variable(initial, true);
  initial.dispose();
  return v;
}

/** Zero-filled parameters of a config, to be overwritten (e.g. by a checkpoint). */
export function emptyParameters(c: BatGPTConfig): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const spec of parameterSpecs(c)) {
    const initial = tf.zeros(spec.shape, "float32");
    params.set(spec.name, tf.variable(initial, true));
    initial.dispose();
  }
  return params;
}

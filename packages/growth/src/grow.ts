/**
 * Growing the weights: every tensor of the grown model is made from the trained one along the
 * plan's unit maps (plan.ts). Weights are read once into JavaScript arrays and written back as
 * new tensors, so growth is exact to float32 rounding and the same on every backend.
 *
 * Layouts are the model's own (params.ts): a linear weight is `[in, out]`, so its rows are the
 * input units and its columns the output units.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  BatGPTModel, CHECKPOINT_FILES, ConfigError, DIRECTION_EMBEDDINGS, layerParam, loadCheckpoint, parameterSpecs, Rng, saveCheckpoint,
  type BatGPTConfig, type BatGPTConfigInput, type Direction,
} from "@batgpt/core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { planGrowth, GrowthError, type GrowOptions, type GrowthPlan, type UnitMap } from "./plan.js";

/**
 * One axis of a grown weight: per new unit, its source unit (−1: fresh), the factor its copied
 * values are multiplied by, whether a fresh entry is 0 (an outgoing weight, which must add
 * nothing) or random (an incoming weight, which only meets zeros or feeds a unit that adds
 * nothing), and whether the unit is one of several copies of a source unit.
 */
interface Axis {
  source: Int32Array;
  mul: Float32Array;
  zero: Uint8Array;
  dup: Uint8Array;
}

function axis(size: number, unit: (i: number) => { source: number; mul?: number; zero?: boolean; dup?: boolean }): Axis {
  const a: Axis = { source: new Int32Array(size), mul: new Float32Array(size), zero: new Uint8Array(size), dup: new Uint8Array(size) };
  for (let i = 0; i < size; i++) {
    const u = unit(i);
    a.source[i] = u.source;
    a.mul[i] = u.mul ?? 1;
    a.zero[i] = u.zero ? 1 : 0;
    a.dup[i] = u.dup ? 1 : 0;
  }
  return a;
}

const identityAxis = (n: number): Axis => axis(n, (i) => ({ source: i }));

/** Per-head axis: `units` heads of `dim` dims, from heads of `dim0` dims. */
function headAxis(map: UnitMap, dim: number, dim0: number, unit: (src: number, t: number, copies: number) => { mul?: number; zero?: boolean }): Axis {
  return axis(map.source.length * dim, (i) => {
    const h = Math.floor(i / dim);
    const t = i % dim;
    const src = map.source[h]!;
    const copies = src >= 0 ? map.copies[src]! : 1;
    const u = unit(src, t, copies);
    return { source: src >= 0 && t < dim0 ? src * dim0 + t : -1, ...u, dup: copies > 1 };
  });
}

/** The axes of a plan, each built once. */
interface Axes {
  /** The residual stream read by a projection: fresh rows multiply zeros, so random. */
  residualIn: Axis;
  /** The residual stream written (embeddings, output projections): scaled by c, fresh columns 0. */
  residualOut: Axis;
  /** The query projection's outputs: scaled by √(D′/D); new dimensions of a kept head 0. */
  queryOut: Axis;
  /** The output projection's inputs (the heads' values): split among copies; fresh rows 0. */
  denseIn: Axis;
  /** Key and value outputs. */
  kvOut: Axis;
  /** The MLP's units, as gate/up outputs. */
  mlpOut: Axis;
  /** The MLP's units, as the down projection's inputs: split among copies; fresh rows 0. */
  mlpIn: Axis;
}

function planAxes(plan: GrowthPlan): Axes {
  const { source: s, target: t, residualScale: c } = plan;
  const { source: d0, target: d } = plan.headDim;
  const H0 = s.hidden_size;
  return {
    residualIn: axis(t.hidden_size, (i) => ({ source: i < H0 ? i : -1 })),
    residualOut: axis(t.hidden_size, (i) => ({ source: i < H0 ? i : -1, mul: c, zero: true })),
    queryOut: headAxis(plan.queryHeads, d, d0, (src, k) => ({ mul: Math.sqrt(d / d0), zero: src >= 0 && k >= d0 })),
    denseIn: headAxis(plan.queryHeads, d, d0, (_src, _k, copies) => ({ mul: 1 / copies, zero: true })),
    kvOut: headAxis(plan.kvHeads, d, d0, () => ({})),
    mlpOut: axis(t.ffn_hidden_size, (i) => ({ source: plan.mlpUnits.source[i]!, dup: (plan.mlpUnits.copies[plan.mlpUnits.source[i]!] ?? 1) > 1 })),
    mlpIn: axis(t.ffn_hidden_size, (i) => {
      const src = plan.mlpUnits.source[i]!;
      const copies = src >= 0 ? plan.mlpUnits.copies[src]! : 1;
      return { source: src, mul: 1 / copies, zero: true, dup: copies > 1 };
    }),
  };
}

/** Fresh random values and noise, drawn in one fixed order (the target's parameter order). */
interface Draw {
  rng: Rng;
  /** Std of fresh random weights (the target's initializer_range). */
  std: number;
  /** Std of the symmetry-breaking noise (0: none). */
  noise: number;
}

/** A 2-D weight `[rows, cols]` from the source's `[rows0, cols0]` along two axes. */
function remap(old: Float32Array, cols0: number, rows: Axis, cols: Axis, draw: Draw): Float32Array {
  const R = rows.source.length;
  const C = cols.source.length;
  const out = new Float32Array(R * C);
  for (let i = 0; i < R; i++) {
    const si = rows.source[i]!;
    for (let j = 0; j < C; j++) {
      const sj = cols.source[j]!;
      let v: number;
      if (si >= 0 && sj >= 0) v = old[si * cols0 + sj]! * rows.mul[i]! * cols.mul[j]!;
      else v = rows.zero[i] || cols.zero[j] ? 0 : draw.rng.normal() * draw.std;
      if (draw.noise > 0 && (si < 0 || sj < 0 || rows.dup[i] || cols.dup[j])) v += draw.rng.normal() * draw.noise;
      out[i * C + j] = v;
    }
  }
  return out;
}

/** A vector (bias or norm gain) along one axis; fresh entries are `fresh`. */
function remapVector(old: Float32Array, ax: Axis, mul: number, fresh: number): Float32Array {
  const out = new Float32Array(ax.source.length);
  for (let i = 0; i < out.length; i++) {
    const s = ax.source[i]!;
    out[i] = s >= 0 ? old[s]! * ax.mul[i]! * mul : fresh;
  }
  return out;
}

/** Values of `shape` drawn by `f` (the fresh weights of an `"identity"` block, or zeros with noise). */
function fill(size: number, f: () => number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = f();
  return out;
}

/**
 * Grow trained weights into the target config. The weights are the model's internal names and
 * layouts (`model.params`, or `readCheckpoint(dir).weights`); the result is new tensors in the
 * target's names and shapes, owned by the caller, and the plan that made them.
 *
 * The function stays the same (up to float32 rounding) unless `noise` > 0 or `depth: "stack"`
 * adds blocks; see the package README for why each rule keeps it.
 *
 * @param target the target's fields; those left out are the source's.
 * @throws {GrowthError} when the target cannot be grown into, or a weight is missing or mis-shaped.
 * @throws {ConfigError} for an invalid target config or invalid options.
 */
export function growWeights(
  source: BatGPTConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  target: BatGPTConfigInput | BatGPTConfig,
  options: GrowOptions = {},
): { config: BatGPTConfig; weights: Map<string, tf.Tensor>; plan: GrowthPlan } {
  const plan = planGrowth(source, target, options);
  const t = plan.target;
  const ax = planAxes(plan);
  const c = plan.residualScale;
  const draw: Draw = { rng: new Rng(plan.options.seed), std: t.initializer_range, noise: plan.options.noise };
  const shapes = new Map(parameterSpecs(source).map((spec) => [spec.name, spec.shape]));
  const read = (name: string): Float32Array => {
    const w = weights.get(name);
    const shape = shapes.get(name);
    if (!w) throw new GrowthError(`grow: the source has no weight ${name}`);
    if (!shape || !tf.util.arraysEqual(w.shape, shape)) throw new GrowthError(`grow: ${name} has shape [${w.shape.join(", ")}], the source config expects [${shape?.join(", ")}]`);
    return w.dataSync() as Float32Array;
  };
  const cols0 = (name: string): number => shapes.get(name)![1]!;
  const map2 = (name: string, rows: Axis, cols: Axis, from = name) => remap(read(from), cols0(from), rows, cols, draw);

  const out = new Map<string, tf.Tensor>();
  const blockOf = new Map(plan.blocks.map((b) => [b.index, b]));
  const layerSuffix = /^model\.encoder\.layers\.(\d+)\.(.+)$/;
  try {
    for (const spec of parameterSpecs(t)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      let values: Float32Array;
      const layer = layerSuffix.exec(spec.name);
      if (layer) {
        const block = blockOf.get(Number(layer[1]))!;
        const suffix = layer[2]!;
        const from = layerParam(block.from, suffix);
        const output = suffix === "self_attention.dense.weight" || suffix === "mlp.dense_4h_to_h.weight";
        if (block.init === "identity") {
          if (spec.kind === "norm") values = new Float32Array(size).fill(1);
          else if (spec.kind === "bias") values = new Float32Array(size);
          else if (output) values = fill(size, () => (draw.noise > 0 ? draw.rng.normal() * draw.noise : 0));
          else values = fill(size, () => draw.rng.normal() * draw.std);
        } else if (block.init === "copy" && output) {
          values = fill(size, () => (draw.noise > 0 ? draw.rng.normal() * draw.noise : 0));
        } else {
          values = growLayerTensor(suffix, from, ax, c, read, map2);
        }
      } else if (spec.name === "model.word_embeddings.weight" || spec.name === DIRECTION_EMBEDDINGS) {
        values = map2(spec.name, identityAxis(spec.shape[0]!), ax.residualOut);
      } else if (spec.name === "model.encoder.ln_f.weight") {
        // tied embeddings read the logits through the c-scaled embedding, so ln_f takes 1/c²
        values = remapVector(read(spec.name), ax.residualIn, t.tie_word_embeddings ? 1 / (c * c) : 1 / c, 1);
      } else if (spec.name === "lm_head.weight") {
        // the LM head reads the final normalised states, whose new dimensions are 0
        values = map2(spec.name, ax.residualIn, identityAxis(spec.shape[1]!));
      } else if (spec.kind === "linear" && spec.name.endsWith(".weight")) {
        // a named head reads the same states; with tied embeddings ln_f scaled them by 1/c, so the head takes c
        values = map2(spec.name, ax.residualIn, identityAxis(spec.shape[1]!));
        if (t.tie_word_embeddings) values = values.map((v) => v * c);
      } else if (spec.kind === "bias") {
        values = read(spec.name).slice(); // a named head's bias
      } else {
        throw new GrowthError(`grow: no growth rule for ${spec.name}`);
      }
      if (values.length !== size) throw new GrowthError(`grow: ${spec.name} came out with ${values.length} values, expected ${size}`);
      out.set(spec.name, tf.tensor(values, spec.shape, "float32"));
    }
  } catch (err) {
    for (const w of out.values()) w.dispose();
    throw err;
  }
  return { config: t, weights: out, plan };
}

/** One tensor of a trained (or stacked) block, widened. */
function growLayerTensor(
  suffix: string,
  from: string,
  ax: Axes,
  c: number,
  read: (name: string) => Float32Array,
  map2: (name: string, rows: Axis, cols: Axis, from?: string) => Float32Array,
): Float32Array {
  switch (suffix) {
    case "input_layernorm.weight":
    case "post_attention_layernorm.weight":
      return remapVector(read(from), ax.residualIn, 1 / c, 1);
    case "self_attention.query_proj.weight":
      return map2(suffix, ax.residualIn, ax.queryOut, from);
    case "self_attention.query_proj.bias":
      return remapVector(read(from), ax.queryOut, 1, 0);
    case "self_attention.key_proj.weight":
    case "self_attention.value_proj.weight":
      return map2(suffix, ax.residualIn, ax.kvOut, from);
    case "self_attention.key_proj.bias":
    case "self_attention.value_proj.bias":
      return remapVector(read(from), ax.kvOut, 1, 0);
    case "self_attention.dense.weight":
      return map2(suffix, ax.denseIn, ax.residualOut, from);
    case "mlp.dense_h_to_4h.weight:gate":
    case "mlp.dense_h_to_4h.weight:up":
      return map2(suffix, ax.residualIn, ax.mlpOut, from);
    case "mlp.dense_4h_to_h.weight":
      return map2(suffix, ax.mlpIn, ax.residualOut, from);
    default:
      throw new GrowthError(`grow: no growth rule for block tensor ${suffix}`);
  }
}

/**
 * Grow a model into a new one (the source is left as it was; dispose it when done).
 *
 * @throws as {@link growWeights}.
 */
export function growModel(model: BatGPTModel, target: BatGPTConfigInput | BatGPTConfig, options: GrowOptions = {}): { model: BatGPTModel; plan: GrowthPlan } {
  const { config, weights, plan } = growWeights(model.config, model.params, target, options);
  const params = new Map<string, tf.Variable>();
  for (const [name, w] of weights) {
    params.set(name, tf.variable(w, model.params.get(name)?.trainable ?? true, undefined, "float32"));
    w.dispose();
  }
  return { model: new BatGPTModel(config, params), plan };
}

/** Options of {@link grow}: the growth options and where the grown checkpoint goes. */
export interface GrowCheckpointOptions extends GrowOptions {
  /** Write the grown checkpoint here (atomically, with the source's tokenizer); without it nothing is written. */
  outputDir?: string;
  /** The tokenizer to save with it (default: the checkpoint's own, when it has one). */
  tokenizer?: Tokenizer;
}

/**
 * `grow(checkpoint, targetConfig, options)`: grow a trained checkpoint directory (or a model in
 * memory) into `targetConfig` and, with `outputDir`, save the grown checkpoint there. The grown
 * checkpoint is an ordinary one: `loadCheckpoint` reads it, and with the `"token"` direction
 * scheme and no named heads it is the official layout the PyTorch BatGPT code loads. Optimizer
 * moments and trainer state are not carried over (growth resets the optimizer; see the README).
 *
 * @param targetConfig the target's fields; those left out are the checkpoint's.
 * @throws {GrowthError} when the target cannot be grown into.
 * @throws {CheckpointError} when the checkpoint cannot be read.
 * @throws {ConfigError} for an invalid target config or invalid options.
 */
export async function grow(
  checkpoint: string | BatGPTModel,
  targetConfig: BatGPTConfigInput | BatGPTConfig,
  options: GrowCheckpointOptions = {},
): Promise<{ model: BatGPTModel; plan: GrowthPlan; tokenizer: Tokenizer | undefined }> {
  const { outputDir, tokenizer: given, ...growOptions } = options;
  if (outputDir !== undefined && (typeof outputDir !== "string" || outputDir === "")) throw new ConfigError("grow: outputDir must be a directory path");
  let source: BatGPTModel;
  let tokenizer = given;
  if (typeof checkpoint === "string") {
    const loaded = await loadCheckpoint(checkpoint);
    source = loaded.model;
    tokenizer ??= loaded.tokenizer;
  } else if (checkpoint instanceof BatGPTModel) {
    source = checkpoint;
  } else {
    throw new ConfigError(`grow: checkpoint must be a checkpoint directory (with ${CHECKPOINT_FILES.config} and ${CHECKPOINT_FILES.model}) or a BatGPTModel`);
  }
  try {
    const grown = growModel(source, targetConfig, growOptions);
    if (outputDir !== undefined) {
      try {
        await saveCheckpoint(outputDir, { model: grown.model, ...(tokenizer ? { tokenizer } : {}) });
      } catch (err) {
        grown.model.dispose();
        throw err;
      }
    }
    return { ...grown, tokenizer };
  } finally {
    if (typeof checkpoint === "string") source.dispose();
  }
}

/**
 * The largest absolute difference between two models' logits on the same sequences, over the
 * given reading directions (default both): how far growth moved the function (0 up to float32
 * rounding when it preserves it). Units: logits (nats of log-odds).
 *
 * @param ids `[B][T]` token ids, every row of the same length T ≤ both models' max_seq_len.
 */
export function maxLogitDiff(a: BatGPTModel, b: BatGPTModel, ids: number[][], directions: readonly Direction[] = ["forward", "backward"]): number {
  let worst = 0;
  for (const direction of directions) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.logits(ids, { direction }), b.logits(ids, { direction })))).dataSync()[0]!);
    worst = Math.max(worst, d);
  }
  return worst;
}

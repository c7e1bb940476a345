/**
 * Checkpoint directories, laid out as the official BatGPT / Hugging Face code expects:
 *
 * | file | content |
 * |---|---|
 * | `config.json` | {@link toConfigJson}: the official `BatGPTConfig` fields plus ours |
 * | `model.safetensors` | the weights under their official names and PyTorch layouts, F32, metadata `{format: "pt"}` |
 * | `tokenizer.json` | the tokenizer (Hugging Face format), optional |
 * | `trainer_state.json` | whatever JSON the trainer passes (step, RNG state, data position…), optional |
 * | `optimizer.safetensors` | optimizer tensors (moments) under the names given, optional |
 *
 * Layouts: inside the model a linear weight is `[in, out]`; the file holds `[out, in]` as
 * PyTorch's `nn.Linear` does (so `lm_head.weight` is `[vocab, hidden]`). The two SwiGLU parts
 * `…dense_h_to_4h.weight:gate` and `…:up` (`[H, F]` each) are stored as the one official
 * `…dense_h_to_4h.weight` `[2F, H]`, gate rows first. Embeddings, norms and biases are stored as
 * they are. With `tie_word_embeddings` there is no `lm_head.weight`.
 *
 * Atomicity: {@link saveCheckpoint} writes every file into `<dir>.tmp-<pid>-<time>-<n>` next to
 * the target, then renames the old `<dir>` aside to `<dir>.old-<pid>-<time>-<n>`, renames the temp
 * directory to `<dir>`, and removes the old one. A crash while writing leaves `<dir>` untouched
 * (and an incomplete `.tmp-` directory that may be deleted); a crash between the two renames
 * leaves the complete previous checkpoint at `<dir>.old-…` (and the complete new one at
 * `<dir>.tmp-…`), which {@link readCheckpoint} falls back to when `<dir>` is missing; a crash
 * after the second rename leaves the complete new checkpoint at `<dir>` (and a stale
 * `.old-` directory). At no point is `<dir>` a mix of old and new files.
 */
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { Tokenizer } from "@batgpt/tokenizer";
import { fromConfigJson, toConfigJson, type BatGPTConfig } from "./config.js";
import { parameterSpecs, type ParamSpec } from "./params.js";
import { readSafetensors, writeSafetensors, type ReadTensor, type SafetensorsTensor } from "./safetensors.js";

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  config: "config.json",
  model: "model.safetensors",
  tokenizer: "tokenizer.json",
  state: "trainer_state.json",
  optimizer: "optimizer.safetensors",
} as const;

/** What {@link saveCheckpoint} needs of a model. */
export interface CheckpointModel {
  config: BatGPTConfig;
  /** Parameters by internal name ({@link parameterSpecs}), internal layouts. */
  params: Map<string, tf.Variable>;
}

/** Everything a checkpoint can hold. */
export interface CheckpointParts {
  model: CheckpointModel;
  tokenizer?: Tokenizer;
  /** Optimizer tensors (float32 or int32), saved under the names given. */
  optimizer?: Map<string, tf.Tensor>;
  /** Trainer state; must survive `JSON.stringify`. */
  state?: Record<string, unknown>;
}

/** What {@link readCheckpoint} returns. The caller owns (and disposes) every tensor. */
export interface ReadCheckpointResult {
  config: BatGPTConfig;
  /** Internal names and layouts, ready for {@link assignWeights}. */
  weights: Map<string, tf.Tensor>;
  tokenizer?: Tokenizer;
  optimizer?: Map<string, tf.Tensor>;
  state?: Record<string, unknown>;
  /** The directory actually read: `dir`, or the `<dir>.old-…` left by an interrupted save. */
  dir: string;
}

/** A missing, malformed or mismatched checkpoint; the message names the file and tensor. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Transpose a row-major `[rows, cols]` matrix into `out` at `offset` (as `[cols, rows]`). */
function transposeInto(src: Float32Array, rows: number, cols: number, out: Float32Array, offset = 0): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[offset + c * rows + r] = src[base + c] ?? 0;
  }
}

/** An official tensor and the internal parameters it is made of (one, or the parts in order). */
interface OfficialTensor {
  name: string;
  shape: number[];
  transposed: boolean;
  parts: ParamSpec[];
}

/** The official tensors of a config, in state-dict order. */
function officialTensors(config: BatGPTConfig): OfficialTensor[] {
  const out: OfficialTensor[] = [];
  const byName = new Map<string, OfficialTensor>();
  for (const spec of parameterSpecs(config)) {
    const name = spec.partOf?.name ?? spec.name;
    const transposed = spec.kind === "linear";
    const [a = 0, b = 0] = spec.shape;
    let t = byName.get(name);
    if (!t) {
      t = { name, shape: transposed ? [b, a] : [...spec.shape], transposed, parts: [] };
      byName.set(name, t);
      out.push(t);
    } else {
      // another part: stack along the official output axis (rows)
      const [rows = 0] = t.shape;
      t.shape = [rows + b, a];
    }
    t.parts.push(spec);
  }
  for (const t of out) t.parts.sort((x, y) => (x.partOf?.index ?? 0) - (y.partOf?.index ?? 0));
  return out;
}

/**
 * The model's weights as the official state dict: official names, PyTorch layouts, F32.
 *
 * @param params internal parameters (every one of `parameterSpecs(config)`, nothing else).
 * @throws {CheckpointError} naming a missing, extra or mis-shaped parameter.
 */
export async function encodeModelWeights(config: BatGPTConfig, params: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, SafetensorsTensor>> {
  checkNames(parameterSpecs(config).map((s) => s.name), [...params.keys()], "model parameters");
  const out = new Map<string, SafetensorsTensor>();
  for (const t of officialTensors(config)) {
    const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    let offset = 0;
    for (const spec of t.parts) {
      const p = params.get(spec.name);
      if (!p) throw new CheckpointError(`model parameter "${spec.name}" is missing`);
      if (!sameShape(p.shape, spec.shape)) {
        throw new CheckpointError(`model parameter "${spec.name}" has shape ${fmtShape(p.shape)}, expected ${fmtShape(spec.shape)}`);
      }
      if (p.dtype !== "float32") throw new CheckpointError(`model parameter "${spec.name}" is ${p.dtype}, expected float32`);
      const values = (await p.data()) as Float32Array;
      if (t.transposed) {
        const [rows = 0, cols = 0] = spec.shape;
        transposeInto(values, rows, cols, data, offset);
      } else {
        data.set(values, offset);
      }
      offset += values.length;
    }
    out.set(t.name, { dtype: "F32", shape: t.shape, data });
  }
  return out;
}

/**
 * Official tensors (as read from a safetensors file) → internal tensors, ready to assign.
 * Strict: every official tensor of the config must be there with its exact shape, and nothing else.
 *
 * @param source the file name for error messages.
 * @throws {CheckpointError} naming a missing, unexpected or mis-shaped tensor.
 */
export function decodeModelWeights(config: BatGPTConfig, tensors: ReadonlyMap<string, ReadTensor>, source: string): Map<string, tf.Tensor> {
  const official = officialTensors(config);
  checkNames(official.map((t) => t.name), [...tensors.keys()], source);
  for (const t of official) {
    const r = tensors.get(t.name);
    if (!r) throw new CheckpointError(`${source}: missing tensor "${t.name}"`);
    if (!sameShape(r.shape, t.shape)) {
      throw new CheckpointError(
        `${source}: tensor "${t.name}" has shape ${fmtShape(r.shape)}, expected ${fmtShape(t.shape)}${t.transposed ? " ([out, in] as PyTorch stores it)" : ""} for this config`,
      );
    }
    if (!(r.data instanceof Float32Array)) throw new CheckpointError(`${source}: tensor "${t.name}" has integer dtype ${r.dtype}; model weights must be floating point`);
  }
  const out = new Map<string, tf.Tensor>();
  try {
    for (const t of official) {
      const src = (tensors.get(t.name) as ReadTensor).data as Float32Array;
      let offset = 0;
      for (const spec of t.parts) {
        const size = spec.shape.reduce((a, b) => a * b, 1);
        let values: Float32Array;
        if (t.transposed) {
          // this part is rows [offset/in, …) of the official [out, in] matrix
          const [inDim = 0, outDim = 0] = spec.shape;
          values = new Float32Array(size);
          transposeInto(src.subarray(offset, offset + size), outDim, inDim, values);
        } else {
          values = src.slice(offset, offset + size);
        }
        offset += size;
        out.set(spec.name, tf.tensor(values, spec.shape, "float32"));
      }
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/** Throw one error listing every missing and unexpected name. */
function checkNames(expected: readonly string[], actual: readonly string[], where: string): void {
  const want = new Set(expected);
  const have = new Set(actual);
  const missing = expected.filter((n) => !have.has(n));
  const extra = actual.filter((n) => !want.has(n));
  if (missing.length === 0 && extra.length === 0) return;
  const list = (names: string[]) => names.slice(0, 5).map((n) => `"${n}"`).join(", ") + (names.length > 5 ? ` and ${names.length - 5} more` : "");
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing tensor${missing.length > 1 ? "s" : ""} ${list(missing)}`);
  if (extra.length > 0) parts.push(`unexpected tensor${extra.length > 1 ? "s" : ""} ${list(extra)} (not a parameter of this config)`);
  throw new CheckpointError(`${where}: ${parts.join("; ")}`);
}

let saveSeq = 0;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write a checkpoint directory atomically (see the module comment): `config.json`,
 * `model.safetensors`, and when given `tokenizer.json`, `optimizer.safetensors`,
 * `trainer_state.json`. An existing checkpoint at `dir` is replaced as a whole; if anything
 * fails, it is left as it was and the temp directory is removed. Creates no tensors.
 *
 * @throws {CheckpointError} for parameters that do not match the config or a state that is not JSON.
 */
export async function saveCheckpoint(dir: string, parts: CheckpointParts): Promise<void> {
  const target = resolve(dir);
  const stamp = `${process.pid}-${Date.now()}-${saveSeq++}`;
  const tmp = `${target}.tmp-${stamp}`;
  await mkdir(dirname(target), { recursive: true });
  await mkdir(tmp);
  try {
    const { config, params } = parts.model;
    await writeFile(join(tmp, CHECKPOINT_FILES.config), `${JSON.stringify(toConfigJson(config), null, 2)}\n`);
    const weights = await encodeModelWeights(config, params);
    await writeFile(join(tmp, CHECKPOINT_FILES.model), writeSafetensors(weights, { format: "pt" }));
    weights.clear();
    if (parts.tokenizer) await parts.tokenizer.save(join(tmp, CHECKPOINT_FILES.tokenizer));
    if (parts.optimizer) {
      const tensors = new Map<string, SafetensorsTensor>();
      for (const [name, t] of parts.optimizer) {
        if (t.dtype === "float32") tensors.set(name, { dtype: "F32", shape: [...t.shape], data: (await t.data()) as Float32Array });
        else if (t.dtype === "int32") tensors.set(name, { dtype: "I32", shape: [...t.shape], data: (await t.data()) as Int32Array });
        else throw new CheckpointError(`optimizer tensor "${name}" is ${t.dtype}; only float32 and int32 can be saved`);
      }
      await writeFile(join(tmp, CHECKPOINT_FILES.optimizer), writeSafetensors(tensors, { format: "pt" }));
    }
    if (parts.state !== undefined) {
      let json: string;
      try {
        json = JSON.stringify(parts.state, null, 2);
      } catch (err) {
        throw new CheckpointError(`trainer state is not JSON-serialisable: ${(err as Error).message}`);
      }
      await writeFile(join(tmp, CHECKPOINT_FILES.state), `${json}\n`);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  // swap: old aside, new into place, old removed
  let old: string | undefined;
  if (await exists(target)) {
    old = `${target}.old-${stamp}`;
    try {
      await rename(target, old);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    if (old !== undefined) await rename(old, target).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (old !== undefined) await rm(old, { recursive: true, force: true });
}

/** `<dir>` itself, or the newest `<dir>.old-…` left by a save interrupted between its renames. */
async function locate(target: string): Promise<string> {
  if (await exists(target)) return target;
  const prefix = `${basename(target)}.old-`;
  let siblings: string[] = [];
  try {
    siblings = (await readdir(dirname(target))).filter((n) => n.startsWith(prefix));
  } catch {
    // parent missing: fall through to the error
  }
  const stamp = (n: string) => Number(n.slice(prefix.length).split("-")[1] ?? 0);
  siblings.sort((a, b) => stamp(b) - stamp(a));
  const newest = siblings[0];
  if (newest !== undefined && (await exists(join(dirname(target), newest, CHECKPOINT_FILES.model)))) return join(dirname(target), newest);
  throw new CheckpointError(`checkpoint directory ${target} does not exist`);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Read a checkpoint directory: the config, the weights in internal names and layouts (parts
 * split, linear weights transposed back to `[in, out]`; F16/BF16 files are widened to
 * float32), and the tokenizer, optimizer tensors and trainer state when present. The caller
 * owns every returned tensor. If `dir` is missing but an interrupted save left the previous
 * checkpoint at `<dir>.old-…`, that one is read (see `dir` in the result).
 *
 * @throws {CheckpointError} naming the file, and the tensor, that is missing or does not fit the config.
 */
export async function readCheckpoint(dir: string): Promise<ReadCheckpointResult> {
  const root = await locate(resolve(dir));
  const configPath = join(root, CHECKPOINT_FILES.config);
  const configJson = await readJson(configPath);
  if (typeof configJson !== "object" || configJson === null || Array.isArray(configJson)) throw new CheckpointError(`${configPath}: not a JSON object`);
  let config: BatGPTConfig;
  try {
    config = fromConfigJson(configJson as Record<string, unknown>);
  } catch (err) {
    throw new CheckpointError(`${configPath}: ${(err as Error).message}`);
  }

  const modelPath = join(root, CHECKPOINT_FILES.model);
  let modelBytes: Uint8Array;
  try {
    modelBytes = await readFile(modelPath);
  } catch (err) {
    throw new CheckpointError(`cannot read ${modelPath}: ${(err as Error).message}`);
  }
  const weights = decodeModelWeights(config, readSafetensors(modelBytes, modelPath).tensors, modelPath);
  const result: ReadCheckpointResult = { config, weights, dir: root };
  try {
    const tokPath = join(root, CHECKPOINT_FILES.tokenizer);
    if (await exists(tokPath)) result.tokenizer = await Tokenizer.load(tokPath);

    const optPath = join(root, CHECKPOINT_FILES.optimizer);
    if (await exists(optPath)) {
      const content = readSafetensors(await readFile(optPath), optPath);
      const optimizer = new Map<string, tf.Tensor>();
      result.optimizer = optimizer;
      for (const [name, t] of content.tensors) {
        optimizer.set(name, t.data instanceof Float32Array ? tf.tensor(t.data, t.shape, "float32") : tf.tensor(t.data, t.shape, "int32"));
      }
    }

    const statePath = join(root, CHECKPOINT_FILES.state);
    if (await exists(statePath)) {
      const state = await readJson(statePath);
      if (typeof state !== "object" || state === null || Array.isArray(state)) throw new CheckpointError(`${statePath}: not a JSON object`);
      result.state = state as Record<string, unknown>;
    }
  } catch (err) {
    for (const t of weights.values()) t.dispose();
    for (const t of result.optimizer?.values() ?? []) t.dispose();
    throw err;
  }
  return result;
}

/**
 * Assign loaded weights into a model's parameters. Checks everything first (every parameter
 * has a weight, no weight is left over, shapes and dtypes match) and assigns nothing on a
 * mismatch. The weights stay owned by the caller (dispose them after; the variables keep
 * their values).
 *
 * @throws {CheckpointError} naming the missing, extra or mis-shaped tensor.
 */
export function assignWeights(params: Map<string, tf.Variable>, weights: Map<string, tf.Tensor>): void {
  checkNames([...params.keys()], [...weights.keys()], "assignWeights");
  for (const [name, v] of params) {
    const w = weights.get(name) as tf.Tensor;
    if (!sameShape(v.shape, w.shape)) {
      throw new CheckpointError(`assignWeights: tensor "${name}" has shape ${fmtShape(w.shape)}, the parameter has ${fmtShape(v.shape)}`);
    }
    if (v.dtype !== w.dtype) throw new CheckpointError(`assignWeights: tensor "${name}" is ${w.dtype}, the parameter is ${v.dtype}`);
  }
  for (const [name, v] of params) v.assign(weights.get(name) as tf.Tensor);
}

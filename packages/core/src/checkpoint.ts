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
 * Atomicity (`writeDirAtomic` and `resolveAtomicDir` of `@batgpt/utils`): {@link saveCheckpoint}
 * writes every file into `<dir>.tmp-<pid>-<time>-<n>` next to the target (each file flushed to
 * disk), then renames the old `<dir>` aside to `<dir>.old-<pid>-<time>-<n>`, renames the temp
 * directory to `<dir>`, and removes the old one (renaming it to `<dir>.del-…` first, so that an
 * `.old-` directory is always complete). A crash while writing leaves `<dir>` untouched (and an
 * incomplete `.tmp-` directory); a crash between the two renames leaves no `<dir>`, the complete
 * previous checkpoint at `<dir>.old-…` (and the complete new one at `<dir>.tmp-…`); a crash after
 * the second rename leaves the complete new checkpoint at `<dir>` (and a stale `.old-` or `.del-`
 * directory). At no point is `<dir>` a mix of old and new files.
 *
 * Every reader goes through {@link resolveCheckpointDir}: `<dir>` when it exists, else the newest
 * complete `<dir>.old-…` (by the time and counter in its name). {@link readCheckpoint},
 * `loadCheckpoint` and `train({ resume: true })` all use it. The next successful save
 * removes what a crash left behind: every `.old-` and `.del-` sibling, and `.tmp-` siblings of
 * processes that are no longer running.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { Tokenizer } from "@batgpt/tokenizer";
import { pathExists, resolveAtomicDir, writeDirAtomic } from "@batgpt/utils";
import { z } from "zod";
import { fromConfigJson, toConfigJson, type BatGPTConfig } from "./config.js";
import { parseOptions } from "./options.js";
import { parameterSpecs, type ParamSpec } from "./params.js";
import {
  FLOAT_DTYPES,
  SafetensorsError,
  SafetensorsFile,
  writeSafetensorsFile,
  type LazySafetensorsTensor,
  type ReadTensor,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from "./safetensors.js";

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
  /**
   * More text files by name (e.g. SFT's `tokenizer_config.json`), written with the rest, in the
   * same atomic save. A name is a plain file name, not one of {@link CHECKPOINT_FILES}.
   */
  files?: Record<string, string>;
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


/**
 * Checkpoint-reading options (validated with zod; unknown keys are refused). Defaults are
 * written here, once.
 */
export const readCheckpointOptionsSchema = z
  .object({
    /**
     * Load weights and optimizer moments that hold NaN or ±Infinity. Off by default: such a
     * checkpoint is refused with a {@link CheckpointError} naming the file and the tensor (the
     * check is one pass over each tensor's float32 data as it is read).
     */
    allowNonFinite: z.boolean().default(false),
  })
  .strict();

/** Options of {@link readCheckpoint} and `loadCheckpoint`. */
export type ReadCheckpointOptions = z.input<typeof readCheckpointOptionsSchema>;

function parseReadOptions(options: ReadCheckpointOptions | undefined): z.output<typeof readCheckpointOptionsSchema> {
  return parseOptions(readCheckpointOptionsSchema, options ?? {}, "checkpoint options");
}

/**
 * Any failure to read a checkpoint (a missing directory or file, malformed JSON, a config that
 * does not validate, a corrupt or truncated safetensors file, a tensor that is missing,
 * unexpected, mis-shaped, of the wrong dtype or not finite, a bad `tokenizer.json`), and
 * parameters or state that cannot be saved. The message names the file (and the tensor); the
 * underlying error, when there is one (a `SafetensorsError`, `TokenizerError`, `ConfigError` or
 * Node I/O error), is kept as `cause`.
 */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** `err` as a {@link CheckpointError} whose message names `path` (the original kept as `cause`). */
function fileError(path: string, err: unknown): CheckpointError {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof CheckpointError && msg.includes(path)) return err;
  return new CheckpointError(msg.includes(path) ? msg : `${path}: ${msg}`, { cause: err });
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Transpose a row-major `[rows, cols]` matrix into `out` at `offset` (as `[cols, rows]`), in cache-sized tiles. */
function transposeInto(src: Float32Array, rows: number, cols: number, out: Float32Array, offset = 0): void {
  const tile = 64;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(rows, r0 + tile);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(cols, c0 + tile);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[offset + c * rows + r] = src[base + c] ?? 0;
      }
    }
  }
}

/**
 * Throw unless every value of `data` is finite: one pass, stopping at the first NaN/±Infinity
 * (the rest is counted only to write the message).
 */
function checkFinite(data: Float32Array, shape: readonly number[], file: string, tensor: string): void {
  const n = data.length;
  let i = 0;
  for (; i < n; i++) {
    const v = data[i] ?? 0;
    if (v - v !== 0) break; // NaN - NaN and Inf - Inf are NaN; x - x is 0 for every finite x
  }
  if (i === n) return;
  const first = data[i] ?? NaN;
  let count = 0;
  for (let j = i; j < n; j++) {
    const v = data[j] ?? 0;
    if (v - v !== 0) count++;
  }
  throw new CheckpointError(
    `${file}: tensor "${tensor}" holds ${count} non-finite value${count > 1 ? "s" : ""} (first: ${first} at flat index ${i} of ${fmtShape(shape)}); ` +
      "refusing to load it (pass allowNonFinite: true to load it anyway)",
  );
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

/** Check that `params` holds exactly the parameters of `config`, with their shapes, as float32. */
function checkModelParams(config: BatGPTConfig, params: ReadonlyMap<string, tf.Tensor>): void {
  const specs = parameterSpecs(config);
  checkNames(specs.map((s) => s.name), [...params.keys()], "model parameters");
  for (const spec of specs) {
    const p = params.get(spec.name);
    if (!p) throw new CheckpointError(`model parameter "${spec.name}" is missing`);
    if (!sameShape(p.shape, spec.shape)) {
      throw new CheckpointError(`model parameter "${spec.name}" has shape ${fmtShape(p.shape)}, expected ${fmtShape(spec.shape)}`);
    }
    if (p.dtype !== "float32") throw new CheckpointError(`model parameter "${spec.name}" is ${p.dtype}, expected float32`);
  }
}

/** One official tensor's data, from checked parameters. */
async function encodeOfficial(t: OfficialTensor, params: ReadonlyMap<string, tf.Tensor>): Promise<Float32Array> {
  const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  let offset = 0;
  for (const spec of t.parts) {
    const values = (await (params.get(spec.name) as tf.Tensor).data()) as Float32Array;
    if (t.transposed) {
      const [rows = 0, cols = 0] = spec.shape;
      transposeInto(values, rows, cols, data, offset);
    } else {
      data.set(values, offset);
    }
    offset += values.length;
  }
  return data;
}

/**
 * The model's weights as the official state dict: official names, PyTorch layouts, F32.
 * (This holds a copy of every weight at once; {@link saveCheckpoint} streams them one at a time.)
 *
 * @param params internal parameters (every one of `parameterSpecs(config)`, nothing else).
 * @throws {CheckpointError} naming a missing, extra or mis-shaped parameter.
 */
export async function encodeModelWeights(config: BatGPTConfig, params: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, SafetensorsTensor>> {
  checkModelParams(config, params);
  const out = new Map<string, SafetensorsTensor>();
  for (const t of officialTensors(config)) out.set(t.name, { dtype: "F32", shape: t.shape, data: await encodeOfficial(t, params) });
  return out;
}

/** The official tensors as lazy safetensors entries: each is encoded when the writer reaches it. */
function lazyModelWeights(config: BatGPTConfig, params: ReadonlyMap<string, tf.Tensor>): Map<string, LazySafetensorsTensor> {
  checkModelParams(config, params);
  const out = new Map<string, LazySafetensorsTensor>();
  for (const t of officialTensors(config)) out.set(t.name, { dtype: "F32", shape: t.shape, load: () => encodeOfficial(t, params) });
  return out;
}

/** Check the official tensors' names, shapes and dtypes (from a header, before any data is read). */
function checkOfficial(official: readonly OfficialTensor[], tensors: ReadonlyMap<string, { dtype: SafetensorsDtype; shape: number[] }>, source: string): void {
  checkNames(official.map((t) => t.name), [...tensors.keys()], source);
  for (const t of official) {
    const r = tensors.get(t.name);
    if (!r) throw new CheckpointError(`${source}: missing tensor "${t.name}"`);
    if (!sameShape(r.shape, t.shape)) {
      throw new CheckpointError(
        `${source}: tensor "${t.name}" has shape ${fmtShape(r.shape)}, expected ${fmtShape(t.shape)}${t.transposed ? " ([out, in] as PyTorch stores it)" : ""} for this config`,
      );
    }
    if (!FLOAT_DTYPES.has(r.dtype)) throw new CheckpointError(`${source}: tensor "${t.name}" has integer dtype ${r.dtype}; model weights must be floating point`);
  }
}

/** Split one official tensor's data (official layout) into internal tensors, added to `out`. */
function toInternal(t: OfficialTensor, src: Float32Array, out: Map<string, tf.Tensor>): void {
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
      // a tensor read from a file owns its buffer: hand it over without a copy
      values = offset === 0 && size === src.length ? src : src.slice(offset, offset + size);
    }
    offset += size;
    out.set(spec.name, tf.tensor(values, spec.shape, "float32"));
  }
}

/**
 * Official tensors (as read from a safetensors file) → internal tensors, ready to assign.
 * Strict: every official tensor of the config must be there with its exact shape, and nothing
 * else; unless `allowNonFinite`, every value must be finite.
 *
 * @param source the file name for error messages.
 * @param options see {@link readCheckpointOptionsSchema}.
 * @throws {CheckpointError} naming a missing, unexpected, mis-shaped, integer or non-finite tensor.
 * @throws {ConfigError} for invalid options (the message names the field).
 */
export function decodeModelWeights(config: BatGPTConfig, tensors: ReadonlyMap<string, ReadTensor>, source: string, options?: ReadCheckpointOptions): Map<string, tf.Tensor> {
  const { allowNonFinite } = parseReadOptions(options);
  const official = officialTensors(config);
  checkOfficial(official, tensors, source);
  const out = new Map<string, tf.Tensor>();
  try {
    for (const t of official) {
      const r = tensors.get(t.name) as ReadTensor;
      const src = r.data as Float32Array;
      if (!allowNonFinite) checkFinite(src, r.shape, source, t.name);
      // the caller keeps `tensors`: copy even where a file reader could hand the buffer over
      toInternal(t, !t.transposed && t.parts.length === 1 ? src.slice() : src, out);
    }
  } catch (err) {
    for (const x of out.values()) x.dispose();
    throw err;
  }
  return out;
}

/** Read the model weights tensor by tensor (one official tensor's raw data in memory at a time). */
async function readModelWeights(config: BatGPTConfig, path: string, allowNonFinite: boolean): Promise<Map<string, tf.Tensor>> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(path);
  } catch (err) {
    throw fileError(path, err);
  }
  const out = new Map<string, tf.Tensor>();
  try {
    const official = officialTensors(config);
    checkOfficial(official, file.entries, path);
    for (const t of official) {
      const r = await file.read(t.name);
      const src = r.data as Float32Array;
      if (!allowNonFinite) checkFinite(src, r.shape, path, t.name);
      toInternal(t, src, out);
    }
  } catch (err) {
    for (const x of out.values()) x.dispose();
    throw fileError(path, err);
  } finally {
    await file.close();
  }
  return out;
}

/** Read optimizer tensors (float32 or int32) from a safetensors file. */
async function readOptimizer(path: string, allowNonFinite: boolean): Promise<Map<string, tf.Tensor>> {
  const out = new Map<string, tf.Tensor>();
  let file: SafetensorsFile | undefined;
  try {
    file = await SafetensorsFile.open(path);
    for (const name of file.entries.keys()) {
      const t = await file.read(name);
      if (t.data instanceof Float32Array) {
        if (!allowNonFinite) checkFinite(t.data, t.shape, path, name);
        out.set(name, tf.tensor(t.data, t.shape, "float32"));
      } else {
        out.set(name, tf.tensor(t.data, t.shape, "int32"));
      }
    }
  } catch (err) {
    for (const x of out.values()) x.dispose();
    throw fileError(path, err);
  } finally {
    await file?.close();
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

/** Whether `path` exists; a failure other than "no such file" is thrown, not taken for "no". */
async function exists(path: string): Promise<boolean> {
  try {
    return await pathExists(path);
  } catch (err) {
    throw new CheckpointError(`cannot stat ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Where the checkpoint `dir` is: `dir` itself when it exists, else the newest complete
 * `<dir>.old-<pid>-<time>-<n>` that a save interrupted between its two renames left (newest by
 * the time, then the counter in the name, compared as numbers; complete: it holds `config.json`
 * and `model.safetensors`), else `undefined`. Every reader of a checkpoint directory
 * ({@link readCheckpoint}, `loadCheckpoint`, `train({ resume: true })`) goes through this one
 * function. It changes nothing on disk.
 *
 * @returns an absolute path, or `undefined` when there is no checkpoint at `dir`.
 * @throws {CheckpointError} when a path cannot be checked (other than "does not exist").
 */
export async function resolveCheckpointDir(dir: string): Promise<string | undefined> {
  const complete = async (old: string): Promise<boolean> =>
    (await exists(join(old, CHECKPOINT_FILES.config))) && (await exists(join(old, CHECKPOINT_FILES.model)));
  try {
    return await resolveAtomicDir(dir, complete);
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(`cannot stat ${resolve(dir)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Write a checkpoint directory atomically (see the module comment): `config.json`,
 * `model.safetensors`, and when given `tokenizer.json`, `optimizer.safetensors`,
 * `trainer_state.json`. An existing checkpoint at `dir` is replaced as a whole; if anything
 * fails, it is left as it was and the temp directory is removed. Files are written piecewise,
 * one tensor at a time (a model of any size: no single buffer holds a file), and flushed to
 * disk before the renames. After the swap, leftovers of earlier interrupted saves are removed.
 * Creates no tensors.
 *
 * Saves to one directory from one process run one after another (in call order), so two
 * un-awaited saves never trip over each other's renames.
 *
 * @throws {CheckpointError} for parameters that do not match the config, tensors that cannot be
 *   saved, a state that is not JSON, or a `files` name that is not a plain file name or is one of
 *   {@link CHECKPOINT_FILES} (I/O errors pass through).
 */
export async function saveCheckpoint(dir: string, parts: CheckpointParts): Promise<void> {
  const reserved = new Set<string>(Object.values(CHECKPOINT_FILES));
  for (const name of Object.keys(parts.files ?? {})) {
    if (reserved.has(name) || !/^[\w.-]+$/.test(name) || name === "." || name === "..") {
      throw new CheckpointError(`saveCheckpoint: files: ${JSON.stringify(name)} must be a plain file name other than ${[...reserved].join(", ")}`);
    }
  }
  await writeDirAtomic(dir, (tmp) => writeCheckpointFiles(tmp, parts));
}

/** The files of a checkpoint, into the (temporary) directory `tmp`; `writeDirAtomic` flushes them. */
async function writeCheckpointFiles(tmp: string, parts: CheckpointParts): Promise<void> {
  const { config, params } = parts.model;
  const weights = lazyModelWeights(config, params); // checks the parameters before writing anything
  let state: string | undefined;
  if (parts.state !== undefined) {
    try {
      state = JSON.stringify(parts.state, null, 2);
    } catch (err) {
      throw new CheckpointError(`trainer state is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
    }
  }
  const optimizer = new Map<string, LazySafetensorsTensor>();
  for (const [name, t] of parts.optimizer ?? []) {
    if (t.dtype !== "float32" && t.dtype !== "int32") throw new CheckpointError(`optimizer tensor "${name}" is ${t.dtype}; only float32 and int32 can be saved`);
    optimizer.set(name, { dtype: t.dtype === "float32" ? "F32" : "I32", shape: [...t.shape], load: async () => (await t.data()) as Float32Array | Int32Array });
  }

  await writeFile(join(tmp, CHECKPOINT_FILES.config), `${JSON.stringify(toConfigJson(config), null, 2)}\n`);
  await writeSafetensorsFile(join(tmp, CHECKPOINT_FILES.model), weights, { format: "pt" }).catch((err: unknown) => {
    throw err instanceof SafetensorsError ? new CheckpointError(`model weights: ${err.message}`, { cause: err }) : err;
  });
  if (parts.tokenizer) await parts.tokenizer.save(join(tmp, CHECKPOINT_FILES.tokenizer));
  if (parts.optimizer) {
    const optPath = join(tmp, CHECKPOINT_FILES.optimizer);
    await writeSafetensorsFile(optPath, optimizer, { format: "pt" }).catch((err: unknown) => {
      throw err instanceof SafetensorsError ? new CheckpointError(`optimizer tensors: ${err.message}`, { cause: err }) : err;
    });
  }
  if (state !== undefined) await writeFile(join(tmp, CHECKPOINT_FILES.state), `${state}\n`);
  for (const [name, text] of Object.entries(parts.files ?? {})) await writeFile(join(tmp, name), text);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CheckpointError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Read a checkpoint directory: the config, the weights in internal names and layouts (parts
 * split, linear weights transposed back to `[in, out]`; F16/BF16/F64 files are converted to
 * float32), and the tokenizer, optimizer tensors and trainer state when present. The caller
 * owns every returned tensor. The directory is found by {@link resolveCheckpointDir}: if `dir`
 * is missing but an interrupted save left the previous checkpoint at `<dir>.old-…`, that one is
 * read (see `dir` in the result).
 *
 * Files are read piecewise, one tensor at a time, so `model.safetensors` may be over 2 GiB (the
 * limit of Node's `readFile`); one tensor may have at most 2^32 elements (V8's typed-array limit
 * in Node 20, 16 GiB of float32). Weights and optimizer moments must be finite unless
 * `options.allowNonFinite`.
 *
 * @param options see {@link readCheckpointOptionsSchema}.
 * @throws {CheckpointError} for every failure to read the checkpoint, naming the file (and the
 *   tensor): a missing directory or file, bad JSON, a config that does not validate, a corrupt,
 *   truncated or oversized safetensors file, a missing, unexpected, mis-shaped, integer or
 *   non-finite tensor, a bad `tokenizer.json`. The underlying error is its `cause`.
 * @throws {ConfigError} for invalid options (the message names the field).
 */
export async function readCheckpoint(dir: string, options?: ReadCheckpointOptions): Promise<ReadCheckpointResult> {
  const { allowNonFinite } = parseReadOptions(options);
  const target = resolve(dir);
  const root = await resolveCheckpointDir(target);
  if (root === undefined) throw new CheckpointError(`checkpoint directory ${target} does not exist`);
  const configPath = join(root, CHECKPOINT_FILES.config);
  const configJson = await readJson(configPath);
  if (typeof configJson !== "object" || configJson === null || Array.isArray(configJson)) throw new CheckpointError(`${configPath}: not a JSON object`);
  let config: BatGPTConfig;
  try {
    config = fromConfigJson(configJson as Record<string, unknown>);
  } catch (err) {
    throw fileError(configPath, err);
  }

  const weights = await readModelWeights(config, join(root, CHECKPOINT_FILES.model), allowNonFinite);
  const result: ReadCheckpointResult = { config, weights, dir: root };
  try {
    const tokPath = join(root, CHECKPOINT_FILES.tokenizer);
    if (await exists(tokPath)) {
      try {
        result.tokenizer = await Tokenizer.load(tokPath);
      } catch (err) {
        throw fileError(tokPath, err);
      }
    }

    const optPath = join(root, CHECKPOINT_FILES.optimizer);
    if (await exists(optPath)) result.optimizer = await readOptimizer(optPath, allowNonFinite);

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

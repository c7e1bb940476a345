/**
 * The safetensors format (Hugging Face), written and read by hand: an 8-byte little-endian
 * u64 header length N, N bytes of JSON header (padded with spaces to a multiple of 8)
 *
 * ```json
 * { "__metadata__": { "format": "pt" },
 *   "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24] }, ... }
 * ```
 *
 * then the raw little-endian tensor bytes; `data_offsets` are relative to the end of the header.
 * The writer produces what the Python/Rust library writes for the same tensors (tensors ordered
 * by dtype alignment, then name; compact JSON; space padding). The reader takes every float
 * dtype an official checkpoint uses (F32, F16, BF16, F64 → `Float32Array`) and the integer
 * dtypes (I64, I32, I16, I8, U32, U16, U8, BOOL → `Int32Array`, range-checked).
 *
 * Size limits. The format has none; Node and V8 do, and the file functions here are built
 * around them:
 *
 * - `fs.readFile` refuses files over 2 GiB and one `read`/`write` call moves at most
 *   2^31 − 1 bytes, so {@link SafetensorsFile} and {@link readSafetensorsFile} read the 8-byte
 *   length, the header, then each tensor's byte range in chunks straight into that tensor's own
 *   buffer, and {@link writeSafetensorsFile} writes the header and then each tensor's bytes in
 *   chunks: no buffer ever holds the whole file, and a file may be any size.
 * - One tensor is one typed array, and V8 (Node 20) caps a typed array at 2^32 elements
 *   ({@link MAX_TENSOR_ELEMENTS}: 16 GiB of F32). A tensor with more elements is refused with a
 *   {@link SafetensorsError} that says so; split such a tensor.
 * - {@link readSafetensors} and {@link writeSafetensors} work on one in-memory `Uint8Array`, so
 *   they are for data that fits in one (at most 4 GiB in Node 20); use the file functions for
 *   checkpoints.
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { withAtomicFile } from "@batgpt/utils";
import { z } from "zod";
import { parseOptions } from "./options.js";

/** A dtype name as it appears in a safetensors header. */
export type SafetensorsDtype =
  | "F64" | "F32" | "F16" | "BF16"
  | "I64" | "I32" | "I16" | "I8"
  | "U64" | "U32" | "U16" | "U8"
  | "BOOL" | "F8_E5M2" | "F8_E4M3";

/** A tensor to write: 32-bit float or 32-bit int, row-major. */
export interface SafetensorsTensor {
  dtype: "F32" | "I32";
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * A tensor to write whose data is produced only when the writer reaches it, so that a writer
 * of many large tensors holds one of them at a time ({@link writeSafetensorsFile}).
 */
export interface LazySafetensorsTensor {
  dtype: "F32" | "I32";
  shape: number[];
  /** Produces the data (a `Float32Array` for F32, an `Int32Array` for I32, `product(shape)` long). */
  load: () => Float32Array | Int32Array | Promise<Float32Array | Int32Array>;
}

/** A tensor as read: floats widened/narrowed to `Float32Array`, integers to `Int32Array`. */
export interface ReadTensor {
  /** The dtype stored in the file (before conversion). */
  dtype: SafetensorsDtype;
  shape: number[];
  /** `Float32Array` for F64/F32/F16/BF16, `Int32Array` for the integer and bool dtypes. */
  data: Float32Array | Int32Array;
}

/** A tensor's header entry: where its bytes are. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets `[begin, end)` relative to the start of the data (the end of the header). */
  begin: number;
  end: number;
}

/** The content of a safetensors file. */
export interface SafetensorsContent {
  /** The tensors, in the order of their data in the file. */
  tensors: Map<string, ReadTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

/**
 * A malformed safetensors file, one that cannot be read, or an unwritable tensor; the message
 * names the file and the tensor. I/O failures keep the Node error as `cause`.
 */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Bytes per element, and the order the Rust library sorts dtypes in (its enum order). */
const DTYPES: Record<SafetensorsDtype, { size: number; rank: number }> = {
  BOOL: { size: 1, rank: 0 },
  U8: { size: 1, rank: 1 },
  I8: { size: 1, rank: 2 },
  F8_E5M2: { size: 1, rank: 3 },
  F8_E4M3: { size: 1, rank: 4 },
  I16: { size: 2, rank: 5 },
  U16: { size: 2, rank: 6 },
  F16: { size: 2, rank: 7 },
  BF16: { size: 2, rank: 8 },
  I32: { size: 4, rank: 9 },
  U32: { size: 4, rank: 10 },
  F32: { size: 4, rank: 11 },
  F64: { size: 8, rank: 12 },
  I64: { size: 8, rank: 13 },
  U64: { size: 8, rank: 14 },
};

/** The float dtypes (read into a `Float32Array`). */
export const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set<SafetensorsDtype>(["F64", "F32", "F16", "BF16", "F8_E5M2", "F8_E4M3"]);

/** Largest header the reader accepts, in bytes (the Rust library's limit). */
const MAX_HEADER = 100_000_000;

/**
 * The most elements one tensor can have here: V8's typed-array length limit in Node 20
 * (2^32 = 4,294,967,296 elements; `new Float32Array(2 ** 32)` works, `2 ** 32 + 1` throws
 * `RangeError: Invalid typed array length`), i.e. 16 GiB of F32.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 32;

/** The most bytes one `fs` read or write call moves (Node's `kIoMaxLength`, 2^31 − 1). */
const MAX_IO_BYTES = 2 ** 31 - 1;

/** Default bytes per read/write call of the file functions (64 MiB). */
const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

const fileOptionsSchema = z
  .object({
    /**
     * Bytes moved per `read`/`write` call (default 64 MiB, at most 2^31 − 1). Internal: the
     * result does not depend on it; tests set it small to exercise the piecewise path.
     */
    chunkBytes: z.number().int().positive().max(MAX_IO_BYTES).default(DEFAULT_CHUNK_BYTES),
  })
  .strict();

/** Options of the safetensors file functions. */
export type SafetensorsFileOptions = z.input<typeof fileOptionsSchema>;

function parseFileOptions(options: SafetensorsFileOptions | undefined): z.output<typeof fileOptionsSchema> {
  return parseOptions(fileOptionsSchema, options ?? {}, "safetensors options");
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Reverse the bytes of each `size`-byte element in place (big-endian hosts only). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

function checkWritable(name: string, t: { dtype: unknown; shape: number[] }): void {
  if (name === "__metadata__" || name.length === 0) throw new SafetensorsError(`cannot write a tensor named ${JSON.stringify(name)}`);
  if (t.dtype !== "F32" && t.dtype !== "I32") throw new SafetensorsError(`tensor "${name}": cannot write dtype ${String(t.dtype)} (only F32 and I32)`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`tensor "${name}": bad shape ${fmtShape(t.shape)}`);
  if (!Number.isSafeInteger(numel(t.shape) * 4)) throw new SafetensorsError(`tensor "${name}": shape ${fmtShape(t.shape)} is too large`);
}

function checkData(name: string, t: { dtype: "F32" | "I32"; shape: number[] }, data: unknown): asserts data is Float32Array | Int32Array {
  if (t.dtype === "F32" && !(data instanceof Float32Array)) throw new SafetensorsError(`tensor "${name}": dtype F32 needs a Float32Array`);
  if (t.dtype === "I32" && !(data instanceof Int32Array)) throw new SafetensorsError(`tensor "${name}": dtype I32 needs an Int32Array`);
  const n = numel(t.shape);
  if (n !== (data as Float32Array | Int32Array).length) {
    throw new SafetensorsError(`tensor "${name}": shape ${fmtShape(t.shape)} holds ${n} values but data has ${(data as Float32Array | Int32Array).length}`);
  }
}

/** The header bytes (padded) and the data order of tensors to write. */
function buildHeader<T extends { dtype: "F32" | "I32"; shape: number[] }>(
  tensors: ReadonlyMap<string, T>,
  metadata: Readonly<Record<string, string>> | undefined,
): { json: Uint8Array; order: [string, T][]; dataBytes: number } {
  const order = [...tensors.entries()];
  for (const [name, t] of order) checkWritable(name, t);
  order.sort(([an, a], [bn, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || (an < bn ? -1 : an > bn ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      const v = metadata[k];
      if (typeof v !== "string") throw new SafetensorsError(`metadata "${k}" must be a string, got ${typeof v}`);
      meta[k] = v;
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  for (const [name, t] of order) {
    const bytes = numel(t.shape) * 4;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  return { json, order, dataBytes: offset };
}

/**
 * Serialise tensors to safetensors bytes (one `Uint8Array`, so the whole file must fit in one:
 * at most 4 GiB in Node 20; {@link writeSafetensorsFile} has no such limit). Tensors are laid out
 * contiguously, ordered as the Python library orders them (by dtype, larger alignment first —
 * F32 before I32 — then by name), and the header lists `__metadata__` first, then the tensors in
 * data order.
 *
 * @param tensors name → tensor; `data.length` must equal the product of `shape`, and `data`
 *   must be a `Float32Array` for F32 and an `Int32Array` for I32.
 * @param metadata optional string map stored as `__metadata__` (e.g. `{ format: "pt" }`).
 * @throws {SafetensorsError} naming a tensor that cannot be written.
 */
export function writeSafetensors(tensors: ReadonlyMap<string, SafetensorsTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  for (const [name, t] of tensors) {
    checkWritable(name, t);
    checkData(name, t, t.data);
  }
  const { json, order, dataBytes } = buildHeader(tensors, metadata);
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of order) {
    const bytes = out.subarray(pos, pos + t.data.byteLength);
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    if (!LITTLE_ENDIAN) swapBytes(bytes, 4);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Write a safetensors file, byte for byte what {@link writeSafetensors} returns, without ever
 * holding the file in one buffer: the header, then each tensor's bytes in chunks of at most
 * `chunkBytes`. Lazy tensors are produced one at a time, in data order, and dropped after
 * writing, so a model larger than memory's single-buffer limits can be saved. The file is
 * written atomically (`withAtomicFile` of `@batgpt/utils`): to `<path>.tmp-…`, flushed to disk
 * (`fsync`) and renamed to `path` (the folder is created if missing); on failure the temp file
 * is removed and `path` is left as it was.
 *
 * @throws {SafetensorsError} naming a tensor that cannot be written (I/O errors pass through).
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, SafetensorsTensor | LazySafetensorsTensor>,
  metadata?: Readonly<Record<string, string>>,
  options?: SafetensorsFileOptions,
): Promise<void> {
  const { chunkBytes } = parseFileOptions(options);
  for (const [name, t] of tensors) {
    checkWritable(name, t);
    if ("data" in t) checkData(name, t, t.data);
  }
  const { json, order } = buildHeader(tensors, metadata);
  await withAtomicFile(path, async (fh) => {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    await writeAll(fh, len);
    await writeAll(fh, json);
    for (const [name, t] of order) {
      const data = "data" in t ? t.data : await t.load();
      checkData(name, t, data);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let pos = 0; pos < bytes.length; pos += chunkBytes) {
        let chunk = bytes.subarray(pos, Math.min(bytes.length, pos + chunkBytes));
        if (!LITTLE_ENDIAN) {
          chunk = chunk.slice();
          swapBytes(chunk, 4);
        }
        await writeAll(fh, chunk);
      }
    }
  });
}

/** Write all of `bytes` at the file's current position (a `write` may write less than asked). */
async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values as float32 (built once, on first use). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** A fresh buffer of `bytes` bytes; a failed allocation is a {@link SafetensorsError} naming the tensor. */
function allocate(bytes: number, where: string): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes);
  } catch (err) {
    throw new SafetensorsError(`${where}: cannot allocate ${bytes} bytes for its data: ${(err as Error).message}`, { cause: err });
  }
}

/** Throw unless a tensor of `n` elements fits in one typed array. */
function checkElements(n: number, dtype: SafetensorsDtype, shape: readonly number[], where: string): void {
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new SafetensorsError(
      `${where}: ${dtype} ${fmtShape(shape)} has ${n} elements; one tensor is one JavaScript typed array, which holds at most ${MAX_TENSOR_ELEMENTS} (2^32) elements in Node 20, so it cannot be loaded (split it into smaller tensors)`,
    );
  }
}

/**
 * Decode `n` elements of `dtype` from `raw` (little-endian bytes in a buffer of their own,
 * which a F32/I32 result shares and the others may overwrite).
 */
function decode(raw: ArrayBuffer, n: number, dtype: SafetensorsDtype, where: string): Float32Array | Int32Array {
  const size = DTYPES[dtype].size;
  if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(raw), size);
  switch (dtype) {
    case "F32":
      return new Float32Array(raw, 0, n);
    case "F64":
      return new Float32Array(new Float64Array(raw, 0, n));
    case "BF16": {
      const src = new Uint16Array(raw, 0, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = (src[i] ?? 0) << 16;
      return new Float32Array(bits.buffer);
    }
    case "F16": {
      const src = new Uint16Array(raw, 0, n);
      const table = halfTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i] ?? 0] ?? 0;
      return out;
    }
    case "I32":
      return new Int32Array(raw, 0, n);
    case "I64":
    case "U64": {
      // two int32 halves per value: it fits in int32 when the high half is the low half's sign extension
      const halves = new Int32Array(raw, 0, 2 * n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = halves[2 * i] ?? 0;
        const hi = halves[2 * i + 1] ?? 0;
        if (dtype === "I64" ? hi !== lo >> 31 : hi !== 0 || lo < 0) {
          const v = dtype === "I64" ? new BigInt64Array(raw, 8 * i, 1)[0] : new BigUint64Array(raw, 8 * i, 1)[0];
          throw new SafetensorsError(`${where}: ${dtype} value ${v} at index ${i} does not fit in int32`);
        }
        out[i] = lo;
      }
      return out;
    }
    case "U32": {
      const src = new Uint32Array(raw, 0, n);
      for (let i = 0; i < n; i++) {
        if ((src[i] ?? 0) > 2147483647) throw new SafetensorsError(`${where}: U32 value ${src[i]} at index ${i} does not fit in int32`);
      }
      return new Int32Array(raw, 0, n);
    }
    case "I16":
      return new Int32Array(new Int16Array(raw, 0, n));
    case "U16":
      return new Int32Array(new Uint16Array(raw, 0, n));
    case "I8":
      return new Int32Array(new Int8Array(raw, 0, n));
    case "U8":
    case "BOOL":
      return new Int32Array(new Uint8Array(raw, 0, n));
    default:
      throw new SafetensorsError(`${where}: dtype ${dtype} is not supported`);
  }
}

/** Parse and check the 8-byte header length against the file size. */
function headerLength(first8: Uint8Array, fileBytes: number, source: string): number {
  const n64 = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw new SafetensorsError(`${source}: header length ${n64} is implausible (over ${MAX_HEADER} bytes; not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > fileBytes) throw new SafetensorsError(`${source}: truncated file: header says ${n} bytes of JSON but only ${fileBytes - 8} follow`);
  return n;
}

/** Parse the JSON header and check every entry against a data section of `dataLen` bytes. */
function parseHeader(json: Uint8Array, dataLen: number, source: string): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (err) {
    throw new SafetensorsError(`${source}: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SafetensorsError(`${source}: __metadata__ is not an object`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") throw new SafetensorsError(`${source}: __metadata__ "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${source}: tensor "${name}"`;
    if (typeof raw !== "object" || raw === null) throw new SafetensorsError(`${where}: entry is not an object`);
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string" || !Object.hasOwn(DTYPES, e.dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d): d is number => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: bad shape ${JSON.stringify(e.shape)}`);
    }
    const shape = e.shape;
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d): d is number => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end < begin) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const expected = numel(shape) * DTYPES[dtype].size;
    if (end - begin !== expected) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${fmtShape(shape)} needs ${expected}`);
    }
    if (end > dataLen) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] go past the end of the data (${dataLen} bytes; file truncated?)`);
    }
    entries.push({ name, begin, end, dtype, shape });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // as the reference reader (safetensors' Rust `Metadata::validate`): the tensors tile the data
  // section exactly, with no overlap, no gap and no trailing bytes
  let covered = 0;
  for (const [i, cur] of entries.entries()) {
    const prev = entries[i - 1];
    if (prev && cur.begin < prev.end) {
      throw new SafetensorsError(`${source}: tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] overlap`);
    }
    if (cur.begin !== covered) {
      throw new SafetensorsError(`${source}: tensor "${cur.name}" starts at byte ${cur.begin} of the data but the tensors before it end at ${covered} (a gap)`);
    }
    covered = cur.end;
  }
  if (covered !== dataLen) {
    throw new SafetensorsError(`${source}: the tensors cover ${covered} bytes but the data section has ${dataLen} (trailing bytes; a corrupt or foreign file)`);
  }
  return { entries, metadata };
}

/**
 * Parse safetensors bytes held in memory. Checks the header (length, JSON, fields), that each
 * tensor's byte range matches its dtype and shape, and that the ranges tile the data section
 * exactly (no overlap, gap or trailing bytes, as the reference Rust reader requires).
 *
 * @param bytes the whole file.
 * @param source a name for error messages (the file path); default `"safetensors data"`.
 * @throws {SafetensorsError} on a truncated file, bad header, bad offsets, an unknown dtype or
 *   a tensor over {@link MAX_TENSOR_ELEMENTS} elements.
 */
export function readSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsContent {
  if (bytes.length < 8) throw new SafetensorsError(`${source}: truncated file (${bytes.length} bytes, shorter than the 8-byte header length)`);
  const n = headerLength(bytes, bytes.length, source);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source);
  const tensors = new Map<string, ReadTensor>();
  for (const e of entries) {
    const where = `${source}: tensor "${e.name}"`;
    const count = numel(e.shape);
    checkElements(count, e.dtype, e.shape, where);
    const raw = allocate(e.end - e.begin, where);
    new Uint8Array(raw).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(raw, count, e.dtype, where) });
  }
  return { tensors, metadata };
}

/**
 * An open safetensors file: the header is read and checked on {@link SafetensorsFile.open};
 * each tensor is read on demand, in chunks, straight into a buffer of its own. Nothing here
 * reads the whole file into one buffer, so files over 2 GiB (Node's `readFile` limit) are
 * fine; one tensor is bounded by {@link MAX_TENSOR_ELEMENTS}. Close it when done.
 */
export class SafetensorsFile {
  /** The tensors' header entries, in data order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;

  private constructor(
    /** The path, as given. */
    readonly path: string,
    private readonly fh: FileHandle,
    /** The file size in bytes. */
    readonly size: number,
    /** Where the data starts: 8 + the header length, in bytes. */
    readonly dataStart: number,
    /** The `__metadata__` string map (empty when the file has none). */
    readonly metadata: Record<string, string>,
    entries: SafetensorsEntry[],
    private readonly chunkBytes: number,
  ) {
    this.entries = new Map(entries.map((e) => [e.name, e]));
  }

  /**
   * Open a file and read its header.
   *
   * @param options `chunkBytes`: bytes per read call (internal; see {@link SafetensorsFileOptions}).
   * @throws {SafetensorsError} naming the path when the file cannot be read, is shorter than its
   *   header length says (a u64; anything over 100,000,000 is refused as implausible), or has a
   *   malformed header. I/O errors are kept as `cause`.
   */
  static async open(path: string, options?: SafetensorsFileOptions): Promise<SafetensorsFile> {
    const { chunkBytes } = parseFileOptions(options);
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (err) {
      throw new SafetensorsError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const size = (await fh.stat()).size;
      if (size < 8) throw new SafetensorsError(`${path}: truncated file (${size} bytes, shorter than the 8-byte header length)`);
      const first8 = new Uint8Array(8);
      await readExactly(fh, first8, 0, path, "the header length");
      const n = headerLength(first8, size, path);
      const json = new Uint8Array(n);
      await readExactly(fh, json, 8, path, "the header");
      const { entries, metadata } = parseHeader(json, size - 8 - n, path);
      return new SafetensorsFile(path, fh, size, 8 + n, metadata, entries, chunkBytes);
    } catch (err) {
      await fh.close().catch(() => undefined);
      if (err instanceof SafetensorsError) throw err;
      throw new SafetensorsError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Read one tensor (floats as `Float32Array`, integers as `Int32Array`; see {@link ReadTensor}).
   *
   * @throws {SafetensorsError} naming the file and tensor when it is not in the file, has over
   *   {@link MAX_TENSOR_ELEMENTS} elements, cannot be allocated, has an unsupported dtype or
   *   integers that do not fit in int32, or the file ends early.
   */
  async read(name: string): Promise<ReadTensor> {
    const e = this.entries.get(name);
    const where = `${this.path}: tensor "${name}"`;
    if (!e) throw new SafetensorsError(`${where} is not in the file`);
    const count = numel(e.shape);
    checkElements(count, e.dtype, e.shape, where);
    const raw = allocate(e.end - e.begin, where);
    for (let pos = 0; pos < raw.byteLength; pos += this.chunkBytes) {
      const len = Math.min(this.chunkBytes, raw.byteLength - pos);
      await readExactly(this.fh, new Uint8Array(raw, pos, len), this.dataStart + e.begin + pos, this.path, `tensor "${name}"`);
    }
    return { dtype: e.dtype, shape: e.shape, data: decode(raw, count, e.dtype, where) };
  }

  /** Close the file. */
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Fill `into` from the file at byte `position`; a short file is a {@link SafetensorsError}. */
async function readExactly(fh: FileHandle, into: Uint8Array, position: number, path: string, what: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(into, done, into.length - done, position + done));
    } catch (err) {
      throw new SafetensorsError(`cannot read ${path} (${what}): ${(err as Error).message}`, { cause: err });
    }
    if (bytesRead === 0) throw new SafetensorsError(`${path}: truncated file: it ends at byte ${position + done} while reading ${what}`);
    done += bytesRead;
  }
}

/**
 * Read a whole safetensors file from disk, piecewise (see {@link SafetensorsFile}): the result
 * is the same as {@link readSafetensors} on the file's bytes, without the 2 GiB limit.
 *
 * @param options `chunkBytes`: bytes per read call (internal; see {@link SafetensorsFileOptions}).
 * @throws {SafetensorsError} as {@link readSafetensors}, naming the path; also when the file cannot be read.
 */
export async function readSafetensorsFile(path: string, options?: SafetensorsFileOptions): Promise<SafetensorsContent> {
  const file = await SafetensorsFile.open(path, options);
  try {
    const tensors = new Map<string, ReadTensor>();
    for (const name of file.entries.keys()) tensors.set(name, await file.read(name));
    return { tensors, metadata: file.metadata };
  } finally {
    await file.close();
  }
}

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
 */

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

/** A tensor as read: floats widened/narrowed to `Float32Array`, integers to `Int32Array`. */
export interface ReadTensor {
  /** The dtype stored in the file (before conversion). */
  dtype: SafetensorsDtype;
  shape: number[];
  /** `Float32Array` for F64/F32/F16/BF16, `Int32Array` for the integer and bool dtypes. */
  data: Float32Array | Int32Array;
}

/** The content of a safetensors file. */
export interface SafetensorsContent {
  /** The tensors, in the order of their data in the file. */
  tensors: Map<string, ReadTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

/** A malformed safetensors file or an unwritable tensor; the message names the file and tensor. */
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

/** Largest header the reader accepts (the Rust library's limit). */
const MAX_HEADER = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Serialise tensors to safetensors bytes. Tensors are laid out contiguously, ordered as the
 * Python library orders them (by dtype, larger alignment first — F32 before I32 — then by name),
 * and the header lists `__metadata__` first, then the tensors in data order.
 *
 * @param tensors name → tensor; `data.length` must equal the product of `shape`, and `data`
 *   must be a `Float32Array` for F32 and an `Int32Array` for I32.
 * @param metadata optional string map stored as `__metadata__` (e.g. `{ format: "pt" }`).
 */
export function writeSafetensors(tensors: ReadonlyMap<string, SafetensorsTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const entries = [...tensors.entries()];
  for (const [name, t] of entries) {
    if (name === "__metadata__" || name.length === 0) throw new SafetensorsError(`cannot write a tensor named ${JSON.stringify(name)}`);
    if (t.dtype !== "F32" && t.dtype !== "I32") throw new SafetensorsError(`tensor "${name}": cannot write dtype ${String(t.dtype)} (only F32 and I32)`);
    if (t.dtype === "F32" && !(t.data instanceof Float32Array)) throw new SafetensorsError(`tensor "${name}": dtype F32 needs a Float32Array`);
    if (t.dtype === "I32" && !(t.data instanceof Int32Array)) throw new SafetensorsError(`tensor "${name}": dtype I32 needs an Int32Array`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`tensor "${name}": bad shape ${fmtShape(t.shape)}`);
    if (numel(t.shape) !== t.data.length) {
      throw new SafetensorsError(`tensor "${name}": shape ${fmtShape(t.shape)} holds ${numel(t.shape)} values but data has ${t.data.length}`);
    }
  }
  entries.sort(([an, a], [bn, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || (an < bn ? -1 : an > bn ? 1 : 0));

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
  for (const [name, t] of entries) {
    const bytes = t.data.length * 4;
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

  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of entries) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (t.data instanceof Float32Array) view.setFloat32(pos + 4 * i, t.data[i] ?? 0, true);
        else view.setInt32(pos + 4 * i, t.data[i] ?? 0, true);
      }
    }
    pos += t.data.byteLength;
  }
  return out;
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

/** A fresh, aligned copy of `len` bytes at `pos` (a Node `Buffer`'s `slice` would share its pool). */
function copyBytes(bytes: Uint8Array, pos: number, len: number): ArrayBuffer {
  const out = new Uint8Array(len);
  out.set(bytes.subarray(pos, pos + len));
  return out.buffer;
}

/** Read the `n` little-endian u16 values at `pos` of `bytes`. */
function readU16(bytes: Uint8Array, pos: number, n: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[pos + 2 * i] ?? 0) | ((bytes[pos + 2 * i + 1] ?? 0) << 8);
  return out;
}

function decode(bytes: Uint8Array, pos: number, n: number, dtype: SafetensorsDtype, where: string): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN) return new Float32Array(copyBytes(bytes, pos, 4 * n));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(pos + 4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(pos + 8 * i, true);
      return out;
    }
    case "BF16": {
      const src = readU16(bytes, pos, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = (src[i] ?? 0) << 16;
      return new Float32Array(bits.buffer);
    }
    case "F16": {
      const src = readU16(bytes, pos, n);
      const table = halfTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i] ?? 0] ?? 0;
      return out;
    }
    case "I32": {
      if (LITTLE_ENDIAN) return new Int32Array(copyBytes(bytes, pos, 4 * n));
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(pos + 4 * i, true);
      return out;
    }
    case "I64":
    case "U64":
    case "U32": {
      const out = new Int32Array(n);
      const size = DTYPES[dtype].size;
      for (let i = 0; i < n; i++) {
        const v =
          dtype === "I64" ? view.getBigInt64(pos + 8 * i, true)
          : dtype === "U64" ? view.getBigUint64(pos + 8 * i, true)
          : BigInt(view.getUint32(pos + size * i, true));
        if (v < -2147483648n || v > 2147483647n) throw new SafetensorsError(`${where}: ${dtype} value ${v} at index ${i} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
    case "I16": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(pos + 2 * i, true);
      return out;
    }
    case "U16": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getUint16(pos + 2 * i, true);
      return out;
    }
    case "I8": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(pos + i);
      return out;
    }
    case "U8":
    case "BOOL":
      return Int32Array.from(bytes.subarray(pos, pos + n));
    default:
      throw new SafetensorsError(`${where}: dtype ${dtype} is not supported`);
  }
}

/**
 * Parse safetensors bytes. Checks the header (length, JSON, fields), that each tensor's byte
 * range matches its dtype and shape, lies inside the file and overlaps no other.
 *
 * @param bytes the whole file.
 * @param source a name for error messages (the file path); default `"safetensors data"`.
 * @throws {SafetensorsError} on a truncated file, bad header, bad offsets or an unknown dtype.
 */
export function readSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsContent {
  if (bytes.length < 8) throw new SafetensorsError(`${source}: truncated file (${bytes.length} bytes, shorter than the 8-byte header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw new SafetensorsError(`${source}: header length ${n64} is implausible (not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > bytes.length) throw new SafetensorsError(`${source}: truncated file: header says ${n} bytes of JSON but only ${bytes.length - 8} follow`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new SafetensorsError(`${source}: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const ranges: { name: string; begin: number; end: number; dtype: SafetensorsDtype; shape: number[] }[] = [];
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
    ranges.push({ name, begin, end, dtype, shape });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1];
    const cur = ranges[i];
    if (prev && cur && cur.begin < prev.end) {
      throw new SafetensorsError(`${source}: tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] overlap`);
    }
  }
  const tensors = new Map<string, ReadTensor>();
  for (const r of ranges) {
    tensors.set(r.name, { dtype: r.dtype, shape: r.shape, data: decode(bytes, dataStart + r.begin, numel(r.shape), r.dtype, `${source}: tensor "${r.name}"`) });
  }
  return { tensors, metadata };
}

/** Read a safetensors file from disk; errors name the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContent> {
  const { readFile } = await import("node:fs/promises");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SafetensorsError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return readSafetensors(bytes, path);
}

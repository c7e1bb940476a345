/**
 * Token data for pretraining, kept in typed arrays (never a JavaScript array of numbers):
 *
 * - {@link tokenizeToFile} streams documents through a tokenizer into a binary token file;
 * - {@link TokenFile} reads such a file into one `Uint16Array` / `Uint32Array`;
 * - {@link WindowLoader} cuts training batches out of it (random windows, or epochs over a
 *   shuffled set of non-overlapping windows) with a serialisable position, so a run resumes
 *   with exactly the batches it would have seen;
 * - {@link validationBatches} walks the non-overlapping windows of a validation file.
 *
 * File layout (little-endian), 24 header bytes then the tokens:
 *
 * | bytes | content |
 * |---|---|
 * | 0–7 | magic `BGPTTOK1` (ASCII) |
 * | 8–11 | u32: bytes per token, 2 (uint16, vocabulary ≤ 65536) or 4 (uint32) |
 * | 12–15 | u32: the tokenizer's vocabulary size (every id is below it) |
 * | 16–23 | u64: number of tokens |
 * | 24– | the tokens |
 */
import { open, type FileHandle } from "node:fs/promises";
import { z } from "zod";
import type { Tokenizer } from "@batgpt/tokenizer";
import { withAtomicFile } from "@batgpt/utils";
import { parseOptions } from "./options.js";
import { Rng, type RngState } from "./rng.js";

/** The magic bytes a token file starts with. */
export const TOKEN_FILE_MAGIC = "BGPTTOK1";
/** Size of the token file header in bytes. */
export const TOKEN_FILE_HEADER_BYTES = 24;

/** A bad token file, bad loader state or bad option; the message names the file or the field. */
export class TokenDataError extends Error {
  override name = "TokenDataError";
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  return parseOptions(schema, value, what, TokenDataError);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new TokenDataError("token files are little-endian; this host is big-endian");
}

/** The tokenizer methods {@link tokenizeToFile} uses. */
export type TokenizerLike = Pick<Tokenizer, "vocabSize" | "encodeOrdinary" | "specialTokenId">;

/** What {@link TokenizeToFileOptions.onProgress} is told. */
export interface TokenizeProgress {
  /** Documents read so far. */
  documents: number;
  /** Tokens written so far (separators included). */
  tokens: number;
  /** Milliseconds since the start. */
  elapsedMs: number;
  /** True on the last call, after the file is in place. */
  done: boolean;
}

/** Options of {@link tokenizeToFile}. */
export interface TokenizeToFileOptions {
  /**
   * Token appended after every document. Default: the tokenizer's `<|eos|>`; `null` for none.
   */
  separator?: number | null;
  /** Called after each chunk written and once at the end (`done: true`). */
  onProgress?: (p: TokenizeProgress) => void;
  /** Tokens buffered per write (default 65536). */
  chunkTokens?: number;
}

const tokenizeOptionsSchema = z
  .object({
    separator: z.number().int().nonnegative().nullable().optional(),
    onProgress: z.custom<(p: TokenizeProgress) => void>((v) => typeof v === "function", { message: "expected a function" }).optional(),
    chunkTokens: z.number().int().positive().default(65536),
  })
  .strict();

/** What {@link tokenizeToFile} returns. */
export interface TokenizeResult {
  /** Tokens written. */
  tokens: number;
  /** Documents read. */
  documents: number;
  /** The file written. */
  path: string;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off, position + off);
    off += bytesWritten;
  }
}

async function readAll(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  const MAX = 1 << 30;
  let off = 0;
  while (off < into.length) {
    const { bytesRead } = await fh.read(into, off, Math.min(MAX, into.length - off), position + off);
    if (bytesRead === 0) throw new TokenDataError(`${path}: file ended early (read ${off} of ${into.length} token bytes)`);
    off += bytesRead;
  }
}

function header(bytesPerToken: number, vocabSize: number, count: number): Uint8Array {
  const h = new Uint8Array(TOKEN_FILE_HEADER_BYTES);
  for (let i = 0; i < 8; i++) h[i] = TOKEN_FILE_MAGIC.charCodeAt(i);
  const dv = new DataView(h.buffer);
  dv.setUint32(8, bytesPerToken, true);
  dv.setUint32(12, vocabSize, true);
  dv.setBigUint64(16, BigInt(count), true);
  return h;
}

/**
 * Tokenize documents (a sync or async stream of strings) into a binary token file at `path`,
 * appending `separator` after each document. Tokens are buffered in a fixed typed array and
 * written chunk by chunk, so memory does not grow with the corpus. The file is written
 * atomically (`withAtomicFile` of `@batgpt/utils`): to a temp file next to `path`, flushed to
 * disk and renamed into place at the end; on any error the temp file is removed and `path` is
 * untouched.
 *
 * @throws {@link TokenDataError} for a bad option, a document that is not a string, or an id
 *   outside the vocabulary.
 */
export async function tokenizeToFile(
  texts: Iterable<string> | AsyncIterable<string>,
  tokenizer: TokenizerLike,
  path: string,
  options: TokenizeToFileOptions = {},
): Promise<TokenizeResult> {
  assertLittleEndian();
  const o = parse(tokenizeOptionsSchema, options, "tokenizeToFile options");
  const vocab = tokenizer.vocabSize;
  if (!Number.isInteger(vocab) || vocab < 1 || vocab > 2 ** 32) throw new TokenDataError(`tokenizeToFile: unsupported vocabSize ${vocab}`);
  let separator: number | null;
  if (o.separator === undefined) {
    try {
      separator = tokenizer.specialTokenId("<|eos|>");
    } catch (err) {
      throw new TokenDataError(`tokenizeToFile: separator: the tokenizer has no <|eos|> token (pass separator explicitly, or null): ${(err as Error).message}`);
    }
  } else separator = o.separator;
  if (separator !== null && separator >= vocab) throw new TokenDataError(`invalid tokenizeToFile options: separator: ${separator} is outside the vocabulary (size ${vocab})`);

  const bpt = vocab <= 65536 ? 2 : 4;
  const cap = o.chunkTokens;
  const chunk = bpt === 2 ? new Uint16Array(cap) : new Uint32Array(cap);
  const chunkBytes = new Uint8Array(chunk.buffer);
  const started = Date.now();
  let fill = 0;
  let total = 0;
  let documents = 0;

  await withAtomicFile(path, async (fh) => {
    await writeAll(fh, header(bpt, vocab, 0), 0);
    let pos = TOKEN_FILE_HEADER_BYTES;
    const flush = async (): Promise<void> => {
      if (fill === 0) return;
      await writeAll(fh, chunkBytes.subarray(0, fill * bpt), pos);
      pos += fill * bpt;
      total += fill;
      fill = 0;
      o.onProgress?.({ documents, tokens: total, elapsedMs: Date.now() - started, done: false });
    };
    for await (const text of texts) {
      if (typeof text !== "string") throw new TokenDataError(`tokenizeToFile: document ${documents} is not a string (${typeof text})`);
      const ids = tokenizer.encodeOrdinary(text);
      let i = 0;
      while (i < ids.length) {
        const n = Math.min(ids.length - i, cap - fill);
        for (let k = 0; k < n; k++) {
          const id = ids[i + k]!;
          if (!(id >= 0 && id < vocab && Number.isInteger(id))) throw new TokenDataError(`tokenizeToFile: document ${documents}: id ${id} is outside the vocabulary (size ${vocab})`);
          chunk[fill + k] = id;
        }
        fill += n;
        i += n;
        if (fill === cap) await flush();
      }
      if (separator !== null) {
        chunk[fill++] = separator;
        if (fill === cap) await flush();
      }
      documents++;
    }
    await flush();
    await writeAll(fh, header(bpt, vocab, total), 0);
  });
  o.onProgress?.({ documents, tokens: total, elapsedMs: Date.now() - started, done: true });
  return { tokens: total, documents, path };
}

/** The typed array a token file holds. */
export type TokenArray = Uint16Array | Uint32Array;

/** A token file held in memory as one typed array. */
export class TokenFile {
  private constructor(
    /** All tokens (a view of the whole file's data; treat it as read-only). */
    readonly tokens: TokenArray,
    /** The vocabulary size recorded in the file; every token is below it. */
    readonly vocabSize: number,
    /** Where it was read from (undefined for {@link TokenFile.fromTokens}). */
    readonly path: string | undefined,
  ) {}

  /**
   * Read a file written by {@link tokenizeToFile} into one typed array (read straight into
   * its buffer; no intermediate copy).
   *
   * @throws {@link TokenDataError} naming the file when it is not a token file, is
   *   truncated or longer than its header says, or holds an id outside its vocabulary.
   */
  static async open(path: string): Promise<TokenFile> {
    assertLittleEndian();
    const fh = await open(path, "r");
    try {
      const { size } = await fh.stat();
      if (size < TOKEN_FILE_HEADER_BYTES) throw new TokenDataError(`${path}: not a BatGPT token file (only ${size} bytes)`);
      const h = new Uint8Array(TOKEN_FILE_HEADER_BYTES);
      await readAll(fh, h, 0, path);
      const magic = String.fromCharCode(...h.subarray(0, 8));
      if (magic !== TOKEN_FILE_MAGIC) throw new TokenDataError(`${path}: not a BatGPT token file (magic ${JSON.stringify(magic)}, expected ${TOKEN_FILE_MAGIC})`);
      const dv = new DataView(h.buffer);
      const bpt = dv.getUint32(8, true);
      const vocab = dv.getUint32(12, true);
      const count64 = dv.getBigUint64(16, true);
      if (bpt !== 2 && bpt !== 4) throw new TokenDataError(`${path}: bad header: ${bpt} bytes per token (expected 2 or 4)`);
      if (count64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new TokenDataError(`${path}: bad header: token count ${count64}`);
      const count = Number(count64);
      const expected = TOKEN_FILE_HEADER_BYTES + count * bpt;
      if (size !== expected) {
        throw new TokenDataError(`${path}: the header says ${count} tokens (${expected} bytes) but the file has ${size} bytes${size < expected ? " (truncated)" : ""}`);
      }
      const buf = new ArrayBuffer(count * bpt);
      await readAll(fh, new Uint8Array(buf), TOKEN_FILE_HEADER_BYTES, path);
      const tokens = bpt === 2 ? new Uint16Array(buf) : new Uint32Array(buf);
      return new TokenFile(checkIds(tokens, vocab, path), vocab, path);
    } finally {
      await fh.close();
    }
  }

  /**
   * A token file from tokens already in memory (copied into a `Uint16Array` when
   * `vocabSize ≤ 65536`, else a `Uint32Array`).
   */
  static fromTokens(tokens: ArrayLike<number>, vocabSize: number): TokenFile {
    if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > 2 ** 32) throw new TokenDataError(`TokenFile.fromTokens: bad vocabSize ${vocabSize}`);
    const arr = vocabSize <= 65536 ? new Uint16Array(tokens.length) : new Uint32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i]!;
      if (!(id >= 0 && id < vocabSize && Number.isInteger(id))) throw new TokenDataError(`TokenFile.fromTokens: token ${i} = ${id} is outside the vocabulary (size ${vocabSize})`);
      arr[i] = id;
    }
    return new TokenFile(arr, vocabSize, undefined);
  }

  /** Number of tokens. */
  get length(): number {
    return this.tokens.length;
  }

  /** `"uint16"` or `"uint32"`. */
  get dtype(): "uint16" | "uint32" {
    return this.tokens instanceof Uint16Array ? "uint16" : "uint32";
  }

  /** A copy of tokens `[start, end)` (as `TypedArray.slice`). */
  slice(start?: number, end?: number): TokenArray {
    return this.tokens.slice(start, end);
  }

  /** A view of tokens `[start, end)` without copying (as `TypedArray.subarray`). */
  subarray(start?: number, end?: number): TokenArray {
    return this.tokens.subarray(start, end);
  }
}

function checkIds(tokens: TokenArray, vocab: number, path: string): TokenArray {
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]! >= vocab) throw new TokenDataError(`${path}: token ${i} = ${tokens[i]} is outside the vocabulary (size ${vocab})`);
  }
  return tokens;
}

/** One batch of token windows. */
export interface TokenBatch {
  /** `batch × seqLen` ids, row-major (row `r` is `ids.subarray(r·seqLen, (r+1)·seqLen)`). */
  ids: Int32Array;
  /** Number of rows. */
  batch: number;
  /** Tokens per row. */
  seqLen: number;
  /**
   * Packing: `batch × seqLen` ids, row-major, one per token; a run of equal consecutive ids in a
   * row is one sample. Each sample is read on its own in both directions — it starts with the
   * direction token, its positions count from 0, and attention never crosses into a neighbour —
   * so its log-probabilities equal those of the sample alone in a row. Absent: each row is one
   * sequence.
   */
  segmentIds?: Int32Array;
}

/**
 * Cut a batch into at most `parts` batches of consecutive rows, as even as can be (the first
 * `batch mod parts` get one row more); no empty batch. Each holds a copy of its rows and of their
 * `segmentIds` (a view would carry the whole buffer to a worker thread).
 *
 * @throws TokenDataError when `parts` is not an integer ≥ 1.
 */
export function splitTokenBatch(batch: TokenBatch, parts: number): TokenBatch[] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new TokenDataError(`splitTokenBatch: parts must be an integer >= 1, got ${parts}`);
  const n = Math.min(parts, batch.batch);
  const out: TokenBatch[] = [];
  let row = 0;
  for (let i = 0; i < n; i++) {
    const rows = Math.floor(batch.batch / n) + (i < batch.batch % n ? 1 : 0);
    const [from, to] = [row * batch.seqLen, (row + rows) * batch.seqLen];
    out.push({ ids: batch.ids.slice(from, to), batch: rows, seqLen: batch.seqLen, ...(batch.segmentIds ? { segmentIds: batch.segmentIds.slice(from, to) } : {}) });
    row += rows;
  }
  return out;
}

/** How {@link WindowLoader} picks windows. */
export type LoaderMode = "random" | "epoch";

/** Options of {@link WindowLoader}. */
export interface WindowLoaderOptions {
  /** Tokens per window (row). The model shifts inputs and targets inside a window. */
  seqLen: number;
  /** Windows per batch. */
  batchSize: number;
  /** `"random"` (default): any start, with replacement. `"epoch"`: every non-overlapping window once per epoch, in a fresh shuffled order each epoch. */
  mode?: LoaderMode;
  /** The run's seeded generator; the loader draws one 32-bit seed from it at construction. */
  rng: Rng;
}

const loaderOptionsSchema = z
  .object({
    seqLen: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    mode: z.enum(["random", "epoch"]).default("random"),
    rng: z.instanceof(Rng),
  })
  .strict();

const rngStateSchema = z.object({ gen: z.array(z.number().int()), spare: z.number().nullable() }).strict();

/** Zod schema of {@link LoaderState}. */
export const loaderStateSchema = z
  .object({
    version: z.literal(1),
    mode: z.enum(["random", "epoch"]),
    seqLen: z.number().int().positive(),
    /** Length of the token file it walked (checked on restore). */
    tokens: z.number().int().nonnegative(),
    /** Batches served so far. */
    batches: z.number().int().nonnegative(),
    /** Epoch mode: the current epoch (0-based). */
    epoch: z.number().int().nonnegative(),
    /** Epoch mode: windows of the current epoch already served. */
    cursor: z.number().int().nonnegative(),
    /** Random mode: the loader's generator now. Epoch mode: the generator before the current epoch's shuffle. */
    rng: rngStateSchema,
  })
  .strict();

/** The serialisable position of a {@link WindowLoader} (plain JSON). */
export type LoaderState = z.output<typeof loaderStateSchema>;

function copyRngState(s: RngState): RngState {
  return { gen: [...s.gen], spare: s.spare };
}

/**
 * Cuts batches of `seqLen`-token windows out of a {@link TokenFile}.
 *
 * The loader draws one seed from the run's {@link Rng} when it is built and keeps its own
 * generator, so other draws from the run's generator (sampling, evaluation) never change the
 * batches; its {@link WindowLoader.state} is self-contained: after
 * `restore(stateSavedAtStepK)`, `nextBatch()` returns batch k+1, k+2, … exactly as the
 * uninterrupted loader would, whatever generator the new loader was built with.
 */
export class WindowLoader {
  /** The token file. */
  readonly file: TokenFile;
  /** Tokens per window. */
  readonly seqLen: number;
  /** Windows per batch. */
  readonly batchSize: number;
  /** How windows are picked. */
  readonly mode: LoaderMode;
  /** Non-overlapping windows in the file, `⌊length / seqLen⌋` (the epoch size). */
  readonly windowsPerEpoch: number;
  private rng: Rng;
  private epochStart: RngState;
  private perm: Uint32Array | undefined;
  private cursor = 0;
  private epochIndex = 0;
  private served = 0;

  /** @throws {@link TokenDataError} for a bad option or a file shorter than one window. */
  constructor(file: TokenFile, options: WindowLoaderOptions) {
    const o = parse(loaderOptionsSchema, options, "WindowLoader options");
    if (file.length < o.seqLen) throw new TokenDataError(`WindowLoader: ${file.path ?? "the token file"} has ${file.length} tokens, fewer than seqLen ${o.seqLen}`);
    this.file = file;
    this.seqLen = o.seqLen;
    this.batchSize = o.batchSize;
    this.mode = o.mode;
    this.windowsPerEpoch = Math.floor(file.length / o.seqLen);
    this.rng = new Rng(o.rng.uint32());
    this.epochStart = this.rng.state();
    if (this.mode === "epoch") this.perm = this.shuffled();
  }

  /** Batches served so far. */
  get batches(): number {
    return this.served;
  }

  /** Epoch mode: the current epoch (0-based). Random mode: `⌊windows served / windowsPerEpoch⌋`. */
  get epoch(): number {
    return this.mode === "epoch" ? this.epochIndex : Math.floor((this.served * this.batchSize) / this.windowsPerEpoch);
  }

  private shuffled(): Uint32Array {
    const n = this.windowsPerEpoch;
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  private nextStart(): number {
    if (this.mode === "random") return this.rng.int(this.file.length - this.seqLen + 1);
    if (this.cursor >= this.windowsPerEpoch) {
      this.epochIndex++;
      this.epochStart = this.rng.state();
      this.perm = this.shuffled();
      this.cursor = 0;
    }
    return this.perm![this.cursor++]! * this.seqLen;
  }

  /** The next batch: `batchSize` windows (in epoch mode a batch may span two epochs). */
  nextBatch(): TokenBatch {
    const { seqLen, batchSize } = this;
    const ids = new Int32Array(batchSize * seqLen);
    for (let r = 0; r < batchSize; r++) {
      const start = this.nextStart();
      ids.set(this.file.tokens.subarray(start, start + seqLen), r * seqLen);
    }
    this.served++;
    return { ids, batch: batchSize, seqLen };
  }

  /** The position, as plain JSON, for a checkpoint. */
  state(): LoaderState {
    return {
      version: 1,
      mode: this.mode,
      seqLen: this.seqLen,
      tokens: this.file.length,
      batches: this.served,
      epoch: this.epochIndex,
      cursor: this.cursor,
      rng: this.mode === "epoch" ? copyRngState(this.epochStart) : this.rng.state(),
    };
  }

  /**
   * Continue from a saved {@link WindowLoader.state}. The mode, `seqLen` and file length must
   * match; the batch size may differ (the window stream is the same).
   *
   * @throws {@link TokenDataError} naming the field that is malformed or does not match.
   */
  restore(state: LoaderState): void {
    const s = parse(loaderStateSchema, state, "loader state");
    const mismatch = (field: string, saved: unknown, now: unknown) =>
      new TokenDataError(`invalid loader state: ${field}: saved ${String(saved)}, this loader has ${String(now)}`);
    if (s.mode !== this.mode) throw mismatch("mode", s.mode, this.mode);
    if (s.seqLen !== this.seqLen) throw mismatch("seqLen", s.seqLen, this.seqLen);
    if (s.tokens !== this.file.length) throw mismatch("tokens", s.tokens, this.file.length);
    if (s.cursor > this.windowsPerEpoch) throw mismatch("cursor", s.cursor, `${this.windowsPerEpoch} windows per epoch`);
    this.rng = Rng.fromState(copyRngState(s.rng));
    this.served = s.batches;
    this.epochIndex = s.epoch;
    this.cursor = s.cursor;
    this.epochStart = copyRngState(s.rng);
    if (this.mode === "epoch") this.perm = this.shuffled();
  }
}

/** Options of {@link validationBatches}. */
export interface ValidationOptions {
  /** Tokens per window. */
  seqLen: number;
  /** Windows per batch (the last batch may be smaller). */
  batchSize: number;
  /** At most this many windows, spread evenly over the file (default: all). */
  maxWindows?: number;
}

const validationOptionsSchema = z
  .object({
    seqLen: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    maxWindows: z.number().int().positive().optional(),
  })
  .strict();

/** How many windows {@link validationBatches} yields for these options. */
export function validationWindowCount(file: TokenFile, options: ValidationOptions): number {
  const o = parse(validationOptionsSchema, options, "validation options");
  const all = Math.floor(file.length / o.seqLen);
  return Math.min(all, o.maxWindows ?? all);
}

/**
 * The non-overlapping windows of a (validation) token file, in file order, in batches:
 * deterministic, no generator. With `maxWindows` below the number of windows `W`, window `i`
 * of the `n` taken is window `⌊i·W/n⌋`, so the sample covers the whole file.
 */
export function* validationBatches(file: TokenFile, options: ValidationOptions): Generator<TokenBatch> {
  const o = parse(validationOptionsSchema, options, "validation options");
  const all = Math.floor(file.length / o.seqLen);
  const n = Math.min(all, o.maxWindows ?? all);
  for (let first = 0; first < n; first += o.batchSize) {
    const batch = Math.min(o.batchSize, n - first);
    const ids = new Int32Array(batch * o.seqLen);
    for (let r = 0; r < batch; r++) {
      const start = Math.floor(((first + r) * all) / n) * o.seqLen;
      ids.set(file.tokens.subarray(start, start + o.seqLen), r * o.seqLen);
    }
    yield { ids, batch, seqLen: o.seqLen };
  }
}

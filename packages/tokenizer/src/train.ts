/**
 * Byte-level BPE training.
 *
 * The corpus is cut into pieces by the pre-tokenization pattern (exactly as
 * `Tokenizer.encode` cuts text), and the unique pieces are counted. Each unique piece is a
 * "word": a sequence of symbols, first its UTF-8 bytes. Training then repeats: merge the
 * most frequent adjacent pair of symbols (ties: smaller left id, then smaller right id)
 * into a new symbol, in every word, left to right and without overlap.
 *
 * The pair counts are kept incrementally, as Hugging Face `tokenizers` does: a count per
 * pair, the list of words each pair occurs in, and a max-heap over the counts with lazy
 * invalidation. A merge visits only the words its pair occurs in and updates only the
 * pairs next to each replaced occurrence, so a merge costs time in proportion to what it
 * changes, not to the size of the corpus. Everything lives in typed arrays.
 */

import { parseOptions } from "@batgpt/utils/options";
import { createProgress, progressModeSchema, type ProgressMode } from "@batgpt/utils/progress";
import { z } from "zod";
import { assertWellFormed, utf8Encode } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { BATGPT_PATTERN, compilePattern, forEachPiece } from "./patterns.js";
import { MAX_VOCAB_SIZE } from "./spec.js";
import { RESERVED_SPECIAL_TOKENS } from "./specials.js";
import { Tokenizer } from "./tokenizer.js";

/** Options of {@link trainBpe}. */
export interface TrainBpeOptions {
  /** Total vocabulary size: 256 byte tokens + merges + special tokens; at most {@link MAX_VOCAB_SIZE}. */
  vocabSize: number;
  /** Special tokens appended after the merged tokens. Default {@link RESERVED_SPECIAL_TOKENS}. */
  specialTokens?: readonly string[];
  /**
   * Pre-tokenization regex source (compiled with the `gu` flags); default {@link BATGPT_PATTERN}.
   * It may match the empty string; text it does not match becomes pieces of its own.
   */
  pattern?: string;
  /**
   * A pair must occur at least this many times to be merged (default 2); training stops
   * early, with a smaller vocabulary, when no pair qualifies.
   */
  minFrequency?: number;
  /** Called now and then (about every 100 ms, and once with stage `"done"` at the end). */
  onProgress?: (p: TrainProgress) => void;
  /**
   * Show progress on stderr (Node): `"auto"` (a bar of merges on a terminal, JSON lines of
   * {@link TrainProgress} otherwise, one every 5 s and the last), `"bar"`, `"json"`, or `"none"`
   * (the default: nothing is printed).
   */
  progress?: ProgressMode;
}

/** What {@link TrainBpeOptions.onProgress} is told. */
export interface TrainProgress {
  /** `"count"`: reading and pre-tokenizing the texts; `"merge"`: learning merges; `"done"`: finished. */
  stage: "count" | "merge" | "done";
  /** UTF-8 bytes of text read so far. */
  bytes: number;
  /** Unique pre-tokenized pieces (words) so far. */
  words: number;
  /** Merges learned so far. */
  merges: number;
  /** Merges wanted: `vocabSize - 256 - specialTokens.length`. */
  targetMerges: number;
  /** Milliseconds since training started. */
  elapsedMs: number;
}

/** Largest vocabulary: ids must fit in 24 bits (heap tie-break keys are `a * 2^24 + b`). */
const MAX_VOCAB = MAX_VOCAB_SIZE;
/** Report progress at most this often (ms). */
const PROGRESS_MS = 100;
/** Pieces at least this long (UTF-16 units) are copied before they become map keys, so they do not pin their text. */
const SLICE_MIN = 13;
/** Number of piece maps (a V8 Map holds at most 2^24 entries). */
const SHARDS = 16;
/** Unique pieces per map before training stops with a clear error (V8's Map limit is 2^24). */
const SHARD_LIMIT = 2 ** 24 - 1;
/** Unique pieces' UTF-8 bytes, in all: offsets are 32-bit. */
const MAX_UNIQUE_BYTES = 2 ** 31 - 1;

/** {@link TrainBpeOptions} as a zod schema: unknown keys are refused. */
export const trainBpeOptionsSchema = z.strictObject({
  vocabSize: z.number().int().positive().max(MAX_VOCAB),
  specialTokens: z.array(z.string().min(1, "a special token cannot be the empty string")).optional(),
  pattern: z.string().optional(),
  minFrequency: z.number().int().nonnegative().optional(),
  onProgress: z.custom<(p: TrainProgress) => void>((v) => typeof v === "function", "expected a function").optional(),
  progress: progressModeSchema.optional(),
});

function fail(msg: string): never {
  throw new TokenizerError(`trainBpe: ${msg}`);
}

/** A bad option zod cannot see, in the format of every options error. */
function badOption(field: string, msg: string): never {
  throw new TokenizerError(`invalid trainBpe options: ${field}: ${msg}`);
}

/**
 * Train a byte-level BPE tokenizer on `texts`: each string is one document (or chunk of
 * one); a stream may yield any number of them. Merges never cross the pieces the
 * pre-tokenization `pattern` cuts a text into.
 *
 * Ids: 0–255 are the single bytes (id = byte value), `256 + i` is merge `i` (its bytes are
 * its two parts' bytes), and the special tokens follow the last merge, in order. If the
 * corpus runs out of pairs (or `minFrequency` stops training), the vocabulary is smaller
 * than `vocabSize`.
 *
 * ```ts
 * const tok = await trainBpe(lines, { vocabSize: 8192 });
 * await tok.save("tokenizer.json");
 * ```
 *
 * @throws {@link TokenizerError} for a bad or unknown option (the message names it; a
 *   `pattern` that is not a valid regex or repeats a repeating group is refused), a text that
 *   is not a string, a text with a lone surrogate, a regex match longer than JavaScript's regex
 *   engine allows (a few million characters), or a corpus past the trainer's limits (2 GiB of
 *   unique pieces' bytes; about 16 × 2^24 unique pieces).
 */
export async function trainBpe(
  texts: Iterable<string> | AsyncIterable<string>,
  options: TrainBpeOptions,
): Promise<Tokenizer> {
  const t0 = performance.now();
  if (typeof options !== "object" || options === null) fail("options must be an object with at least vocabSize");
  parseOptions(trainBpeOptionsSchema, options, "trainBpe options", TokenizerError);
  const vocabSize = options.vocabSize;
  const specials = [...(options.specialTokens ?? RESERVED_SPECIAL_TOKENS)];
  const pattern = options.pattern ?? BATGPT_PATTERN;
  const minFrequency = Math.max(1, options.minFrequency ?? 2);
  const onProgress = options.onProgress;
  const seen = new Set<string>();
  specials.forEach((s, i) => {
    assertWellFormed(s, `invalid trainBpe options: specialTokens[${i}]`);
    if (seen.has(s)) badOption("specialTokens", `${JSON.stringify(s)} is listed twice`);
    seen.add(s);
  });
  if (vocabSize < 256 + specials.length) {
    badOption(
      "vocabSize",
      `${vocabSize} is too small; it must be at least ${256 + specials.length} (256 byte tokens + ${specials.length} special tokens)`,
    );
  }
  const regex = compilePattern(pattern, "invalid trainBpe options: pattern");
  if (texts == null || typeof texts === "string" || typeof texts !== "object") {
    fail("texts must be an iterable or async iterable of strings (not a single string)");
  }
  const targetMerges = vocabSize - 256 - specials.length;

  const reporter = await createProgress("trainBpe", { mode: options.progress ?? "none", unit: "merges" });
  try {
    // ---- count the pieces ----
    const corpus = new PieceCounter();
    let lastReport = t0;
    const report = (stage: TrainProgress["stage"], merges: number, force: boolean): void => {
      if (!onProgress && reporter.mode === "none") return;
      const now = performance.now();
      if (!force && now - lastReport < PROGRESS_MS) return;
      lastReport = now;
      const p: TrainProgress = { stage, bytes: corpus.bytes, words: corpus.nWords, merges, targetMerges, elapsedMs: now - t0 };
      onProgress?.(p);
      reporter.update(merges, targetMerges, { MB: (p.bytes / 1e6).toFixed(1) }, { line: p, force });
    };
    let index = 0;
    const addText = (text: unknown): void => {
      if (typeof text !== "string") {
        const hint = text instanceof Uint8Array ? " (bytes: decode them first, e.g. stream.setEncoding(\"utf8\"))" : "";
        fail(`texts[${index}] is not a string but ${text === null ? "null" : typeof text}${hint}`);
      }
      assertWellFormed(text, `trainBpe: texts[${index}]`);
      index++;
      corpus.addText(text, regex);
      report("count", 0, false);
    };
    if (Symbol.asyncIterator in texts) {
      for await (const text of texts as AsyncIterable<string>) addText(text);
    } else if (Symbol.iterator in texts) {
      for (const text of texts as Iterable<string>) addText(text);
    } else {
      fail("texts must be an iterable or async iterable of strings");
    }
    report("count", 0, true);

    // ---- learn the merges ----
    const words = corpus.finish();
    const merges = learnMerges(words, targetMerges, minFrequency, vocabSize, (m) => report("merge", m, false));

    const tokens: Uint8Array[] = [];
    for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
    const mergeList: [number, number][] = [];
    for (let i = 0; i < merges.length; i += 2) {
      const a = merges[i]!;
      const b = merges[i + 1]!;
      const ta = tokens[a]!;
      const tb = tokens[b]!;
      const t = new Uint8Array(ta.length + tb.length);
      t.set(ta);
      t.set(tb, ta.length);
      tokens.push(t);
      mergeList.push([a, b]);
    }
    const specialTokens: Record<string, number> = {};
    specials.forEach((s, i) => (specialTokens[s] = tokens.length + i));
    const tok = new Tokenizer({ tokens, merges: mergeList, ignoreMerges: true, pattern, specialTokens });
    report("done", mergeList.length, true);
    return tok;
  } finally {
    reporter.stop();
  }
}

/** The unique words of a corpus and their counts, symbols as bytes. */
interface Words {
  n: number;
  /** All words' symbols, back to back. */
  sym: Int32Array;
  start: Int32Array;
  len: Int32Array;
  count: Float64Array;
}

function grownI32(a: Int32Array, min: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

function grownF64(a: Float64Array, min: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

/** Pre-tokenizes texts and counts the unique pieces, storing each new piece's UTF-8 bytes. */
class PieceCounter {
  /** UTF-8 bytes of text read. */
  bytes = 0;
  nWords = 0;
  private maps: Map<string, number>[] = Array.from({ length: SHARDS }, () => new Map<string, number>());
  private buf = new Uint8Array(1 << 16);
  private used = 0;
  private start = new Int32Array(1 << 12);
  private len = new Int32Array(1 << 12);
  private count = new Float64Array(1 << 12);
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  private readonly onPiece = (piece: string): void => this.add(piece);

  /** Cut `text` as `Tokenizer.encodeOrdinary` does and count its pieces. */
  addText(text: string, re: RegExp): void {
    forEachPiece(re, text, this.onPiece);
  }

  private add(piece: string): void {
    const n = piece.length;
    const map = this.maps[(piece.charCodeAt(0) + piece.charCodeAt(n - 1) * 7 + n) & (SHARDS - 1)]!;
    const w = map.get(piece);
    if (w !== undefined) {
      this.count[w]! += 1;
      this.bytes += this.len[w]!;
      return;
    }
    if (map.size >= SHARD_LIMIT) fail(`the corpus has more unique pieces than this trainer can count (about ${SHARDS} × 2^24)`);
    if (this.used + n * 3 > this.buf.length) {
      const need = this.used + n * 3;
      if (need > MAX_UNIQUE_BYTES) fail("the corpus has more than about 2 GiB of unique pieces (UTF-8 bytes of its distinct pre-tokenized pieces)");
      const b = new Uint8Array(Math.min(Math.max(this.buf.length * 2, need), MAX_UNIQUE_BYTES));
      b.set(this.buf.subarray(0, this.used));
      this.buf = b;
    }
    const at = this.used;
    const bytes = utf8Encode(piece, at === 0 ? this.buf : this.buf.subarray(at));
    this.used += bytes;
    const id = this.nWords++;
    if (id === this.start.length) {
      this.start = grownI32(this.start, 0);
      this.len = grownI32(this.len, 0);
      this.count = grownF64(this.count, 0);
    }
    this.start[id] = at;
    this.len[id] = bytes;
    this.count[id] = 1;
    this.bytes += bytes;
    // a long match is a slice of the text: store a copy so the map does not keep every text alive
    map.set(n >= SLICE_MIN ? this.decoder.decode(this.buf.subarray(at, at + bytes)) : piece, id);
  }

  /** The words, as symbol arrays; the counter is spent. */
  finish(): Words {
    for (const m of this.maps) m.clear();
    this.maps = [];
    const sym = new Int32Array(this.used);
    sym.set(this.buf.subarray(0, this.used));
    this.buf = new Uint8Array(0);
    return { n: this.nWords, sym, start: this.start, len: this.len, count: this.count };
  }
}

/**
 * Open-addressing hash table (linear probing, backward-shift deletion) from a pair of ids
 * `(a, b)` to a pair index. Slots are 4 ints: a (-1 when empty), b, index, padding.
 */
class PairIndex {
  private tab: Int32Array;
  private mask: number;
  private size = 0;

  constructor(expected: number) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.tab = new Int32Array(cap * 4).fill(-1);
  }

  private static hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 13)) >>> 0;
  }

  /** Index of pair `(a, b)`, or -1. */
  find(a: number, b: number): number {
    const tab = this.tab;
    const mask = this.mask;
    let i = PairIndex.hash(a, b) & mask;
    for (;;) {
      const o = i << 2;
      const ka = tab[o]!;
      if (ka === a && tab[o + 1] === b) return tab[o + 2]!;
      if (ka === -1) return -1;
      i = (i + 1) & mask;
    }
  }

  /** Store a pair that is not in the table. */
  insert(a: number, b: number, index: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const tab = this.tab;
    const mask = this.mask;
    let i = PairIndex.hash(a, b) & mask;
    while (tab[i << 2] !== -1) i = (i + 1) & mask;
    const o = i << 2;
    tab[o] = a;
    tab[o + 1] = b;
    tab[o + 2] = index;
    this.size++;
  }

  /** Remove pair `(a, b)` if present. */
  remove(a: number, b: number): void {
    const tab = this.tab;
    const mask = this.mask;
    let i = PairIndex.hash(a, b) & mask;
    for (;;) {
      const o = i << 2;
      const ka = tab[o]!;
      if (ka === -1) return;
      if (ka === a && tab[o + 1] === b) break;
      i = (i + 1) & mask;
    }
    this.size--;
    // backward-shift: pull later entries of the probe run into the hole
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const oj = j << 2;
      const ka = tab[oj]!;
      if (ka === -1) break;
      const k = PairIndex.hash(ka, tab[oj + 1]!) & mask;
      // the entry at j may move to the hole at i unless its home k lies cyclically in (i, j]
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      const oi = i << 2;
      tab[oi] = ka;
      tab[oi + 1] = tab[oj + 1]!;
      tab[oi + 2] = tab[oj + 2]!;
      i = j;
    }
    tab[i << 2] = -1;
  }

  private grow(): void {
    const old = this.tab;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.tab = new Int32Array(cap * 4).fill(-1);
    this.size = 0;
    for (let o = 0; o < old.length; o += 4) {
      if (old[o] !== -1) this.insert(old[o]!, old[o + 1]!, old[o + 2]!);
    }
  }
}

/**
 * Learn up to `targetMerges` merges; returns them flat: `[a0, b0, a1, b1, ...]`.
 * `words.sym` and `words.len` are rewritten as merges apply.
 */
function learnMerges(
  words: Words,
  targetMerges: number,
  minFrequency: number,
  vocabSize: number,
  progress: (merges: number) => void,
): Int32Array {
  const out = new Int32Array(targetMerges * 2);
  if (targetMerges === 0) return out.subarray(0, 0);
  const { n: nWords, sym, start: wStart, len: wLen, count: wCount } = words;

  // ---- pairs: (a, b), count, and the words they occur in (a list in the pool) ----
  let pairCap = 1 << 16;
  let pA = new Int32Array(pairCap);
  let pB = new Int32Array(pairCap);
  let pCount = new Float64Array(pairCap);
  let pListAt = new Int32Array(pairCap);
  let pListLen = new Int32Array(pairCap);
  let pairTop = 0;
  let freeIds = new Int32Array(1024);
  let nFree = 0;
  const index = new PairIndex(1 << 16);
  let pool = new Int32Array(0);
  let poolUsed = 0;
  let poolGarbage = 0;

  const newPair = (a: number, b: number, count: number): number => {
    let p: number;
    if (nFree > 0) {
      p = freeIds[--nFree]!;
    } else {
      p = pairTop++;
      if (p === pairCap) {
        pairCap *= 2;
        pA = grownI32(pA, pairCap);
        pB = grownI32(pB, pairCap);
        pCount = grownF64(pCount, pairCap);
        pListAt = grownI32(pListAt, pairCap);
        pListLen = grownI32(pListLen, pairCap);
      }
    }
    pA[p] = a;
    pB[p] = b;
    pCount[p] = count;
    pListAt[p] = 0;
    pListLen[p] = 0;
    index.insert(a, b, p);
    return p;
  };
  const dropPair = (p: number): void => {
    index.remove(pA[p]!, pB[p]!);
    poolGarbage += pListLen[p]!;
    pListLen[p] = 0;
    pListAt[p] = -1;
    if (nFree === freeIds.length) freeIds = grownI32(freeIds, 0);
    freeIds[nFree++] = p;
  };
  /** Make room for `need` more list entries, compacting the pool when half of it is garbage. */
  const reservePool = (need: number): void => {
    if (poolUsed + need <= pool.length) return;
    const live = poolUsed - poolGarbage;
    const cap = Math.max(1024, (live + need) * 2);
    const next = new Int32Array(cap);
    let o = 0;
    for (let p = 0; p < pairTop; p++) {
      const len = pListLen[p]!;
      if (len === 0 || pListAt[p]! < 0) continue;
      const at = pListAt[p]!;
      if (len > 32) next.set(pool.subarray(at, at + len), o);
      else for (let k = 0; k < len; k++) next[o + k] = pool[at + k]!;
      pListAt[p] = o;
      o += len;
    }
    pool = next;
    poolUsed = o;
    poolGarbage = 0;
  };

  // ---- max-heap of (count, pair) with lazy invalidation; ties: smaller a, then smaller b ----
  let hCount = new Float64Array(1 << 16);
  let hKey = new Float64Array(1 << 16);
  let hPair = new Int32Array(1 << 16);
  let hSize = 0;
  const siftUp = (i: number, c: number, k: number, p: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pc = hCount[parent]!;
      if (pc > c || (pc === c && hKey[parent]! < k)) break;
      hCount[i] = pc;
      hKey[i] = hKey[parent]!;
      hPair[i] = hPair[parent]!;
      i = parent;
    }
    hCount[i] = c;
    hKey[i] = k;
    hPair[i] = p;
  };
  const siftDown = (i: number, c: number, k: number, p: number): void => {
    for (;;) {
      let child = 2 * i + 1;
      if (child >= hSize) break;
      let cc = hCount[child]!;
      let ck = hKey[child]!;
      if (child + 1 < hSize) {
        const rc = hCount[child + 1]!;
        const rk = hKey[child + 1]!;
        if (rc > cc || (rc === cc && rk < ck)) {
          child++;
          cc = rc;
          ck = rk;
        }
      }
      if (c > cc || (c === cc && k < ck)) break;
      hCount[i] = cc;
      hKey[i] = ck;
      hPair[i] = hPair[child]!;
      i = child;
    }
    hCount[i] = c;
    hKey[i] = k;
    hPair[i] = p;
  };
  const heapPush = (p: number): void => {
    if (hSize === hCount.length) {
      hCount = grownF64(hCount, 0);
      hKey = grownF64(hKey, 0);
      hPair = grownI32(hPair, 0);
    }
    siftUp(hSize++, pCount[p]!, pA[p]! * MAX_VOCAB + pB[p]!, p);
  };
  const heapPopTop = (): void => {
    hSize--;
    if (hSize > 0) siftDown(0, hCount[hSize]!, hKey[hSize]!, hPair[hSize]!);
  };

  // ---- initial pairs: all of bytes, so counted in flat arrays ----
  {
    const count0 = new Float64Array(65536);
    const words0 = new Int32Array(65536);
    const stamp0 = new Int32Array(65536).fill(-1);
    for (let w = 0; w < nWords; w++) {
      const c = wCount[w]!;
      const e = wStart[w]! + wLen[w]! - 1;
      for (let i = wStart[w]!; i < e; i++) {
        const k = (sym[i]! << 8) | sym[i + 1]!;
        count0[k]! += c;
        if (stamp0[k] !== w) {
          stamp0[k] = w;
          words0[k]!++;
        }
      }
    }
    const pairOf = new Int32Array(65536).fill(-1);
    let total = 0;
    for (let k = 0; k < 65536; k++) if (count0[k]! >= minFrequency) total += words0[k]!;
    pool = new Int32Array(Math.max(1024, total * 2));
    for (let k = 0; k < 65536; k++) {
      if (count0[k]! < minFrequency) continue;
      const p = newPair(k >> 8, k & 255, count0[k]!);
      pairOf[k] = p;
      pListAt[p] = poolUsed;
      poolUsed += words0[k]!;
      heapPush(p);
    }
    stamp0.fill(-1);
    for (let w = 0; w < nWords; w++) {
      const e = wStart[w]! + wLen[w]! - 1;
      for (let i = wStart[w]!; i < e; i++) {
        const k = (sym[i]! << 8) | sym[i + 1]!;
        const p = pairOf[k]!;
        if (p < 0 || stamp0[k] === w) continue;
        stamp0[k] = w;
        pool[pListAt[p]! + pListLen[p]!++] = w;
      }
    }
  }

  // ---- per-merge scratch: the new pairs (x, N) and (N, y), indexed by x and y ----
  const leftLocal = new Int32Array(vocabSize).fill(-1); // (x, N) → local index
  const rightLocal = new Int32Array(vocabSize).fill(-1); // (N, y) → local index
  const maxLocal = 2 * vocabSize + 2;
  const lA = new Int32Array(maxLocal);
  const lB = new Int32Array(maxLocal);
  const lCount = new Float64Array(maxLocal);
  const lWords = new Int32Array(maxLocal);
  const lLast = new Int32Array(maxLocal);
  const lPair = new Int32Array(maxLocal);
  // (local pair, word) occurrences found during a merge
  let occPair = new Int32Array(1 << 16);
  let occWord = new Int32Array(1 << 16);

  let merges = 0;
  while (merges < targetMerges) {
    // ---- the best pair: pop until the top's stored count is current ----
    let best = -1;
    while (hSize > 0) {
      const p = hPair[0]!;
      const cur = pCount[p]!;
      if (cur === hCount[0]!) {
        best = p;
        heapPopTop();
        break;
      }
      if (cur >= minFrequency) {
        siftDown(0, cur, hKey[0]!, p);
      } else {
        heapPopTop();
        dropPair(p);
      }
    }
    if (best < 0) break;
    const a = pA[best]!;
    const b = pB[best]!;
    const N = 256 + merges;
    out[2 * merges] = a;
    out[2 * merges + 1] = b;

    // ---- apply it in every word it occurs in ----
    let nLocal = 0;
    let nOcc = 0;
    const listAt = pListAt[best]!;
    const listEnd = listAt + pListLen[best]!;
    for (let li = listAt; li < listEnd; li++) {
      const w = pool[li]!;
      const s = wStart[w]!;
      const e = s + wLen[w]!;
      let r = s;
      while (r + 1 < e && !(sym[r] === a && sym[r + 1] === b)) r++;
      if (r + 1 >= e) continue; // stale entry: a neighbouring merge took the pair away
      const c = wCount[w]!;
      if (nOcc + 2 * (e - r) > occPair.length) {
        occPair = grownI32(occPair, nOcc + 2 * (e - r));
        occWord = grownI32(occWord, occPair.length);
      }
      let wp = r; // write position: sym[s..wp) is the merged word so far
      let prevOld = r > s ? sym[r - 1]! : -1; // old symbol at r - 1
      let prevNew = prevOld; // new symbol at wp - 1
      let afterMerge = false; // whether old r - 1 was the right half of an occurrence
      while (r < e) {
        const x = sym[r]!;
        if (x === a && r + 1 < e && sym[r + 1] === b) {
          // old pairs (prevOld, a) and (b, next) go; (a, b) itself is dropped after the merge
          if (prevOld >= 0 && !afterMerge) {
            const q = index.find(prevOld, a);
            if (q >= 0) pCount[q]! -= c;
          }
          if (r + 2 < e) {
            const q = index.find(b, sym[r + 2]!);
            if (q >= 0 && q !== best) pCount[q]! -= c;
          }
          // new pair (prevNew, N)
          if (prevNew >= 0) {
            let l = leftLocal[prevNew]!;
            if (l < 0) {
              l = nLocal++;
              leftLocal[prevNew] = l;
              lA[l] = prevNew;
              lB[l] = N;
              lCount[l] = 0;
              lWords[l] = 0;
              lLast[l] = -1;
            }
            lCount[l]! += c;
            if (lLast[l] !== w) {
              lLast[l] = w;
              lWords[l]!++;
              occPair[nOcc] = l;
              occWord[nOcc++] = w;
            }
          }
          sym[wp++] = N;
          prevNew = N;
          prevOld = b;
          afterMerge = true;
          r += 2;
        } else {
          if (afterMerge) {
            // new pair (N, x)
            let l = rightLocal[x]!;
            if (l < 0) {
              l = nLocal++;
              rightLocal[x] = l;
              lA[l] = N;
              lB[l] = x;
              lCount[l] = 0;
              lWords[l] = 0;
              lLast[l] = -1;
            }
            lCount[l]! += c;
            if (lLast[l] !== w) {
              lLast[l] = w;
              lWords[l]!++;
              occPair[nOcc] = l;
              occWord[nOcc++] = w;
            }
          }
          sym[wp++] = x;
          prevNew = x;
          prevOld = x;
          afterMerge = false;
          r++;
        }
      }
      wLen[w] = wp - s;
    }
    dropPair(best);

    // ---- keep the new pairs that can still be merged ----
    let need = 0;
    for (let l = 0; l < nLocal; l++) {
      // (x, N), (N, N) live in leftLocal; (N, y) with y an older id in rightLocal
      if (lB[l] === N) leftLocal[lA[l]!] = -1;
      else rightLocal[lB[l]!] = -1;
      if (lCount[l]! >= minFrequency) need += lWords[l]!;
    }
    reservePool(need);
    for (let l = 0; l < nLocal; l++) {
      if (lCount[l]! < minFrequency) {
        lPair[l] = -1;
        continue;
      }
      const p = newPair(lA[l]!, lB[l]!, lCount[l]!);
      lPair[l] = p;
      pListAt[p] = poolUsed;
      poolUsed += lWords[l]!;
      heapPush(p);
    }
    for (let o = 0; o < nOcc; o++) {
      const p = lPair[occPair[o]!]!;
      if (p >= 0) pool[pListAt[p]! + pListLen[p]!++] = occWord[o]!;
    }
    merges++;
    progress(merges);
  }
  return out.subarray(0, 2 * merges);
}

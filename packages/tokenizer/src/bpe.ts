/**
 * The byte-pair merge: turn the UTF-8 bytes of one pre-tokenized piece into token ids.
 *
 * Two semantics, one loop:
 * - `ranks` (tiktoken): any two adjacent parts whose concatenation is a token may merge,
 *   and the pair whose merged token has the lowest rank merges first.
 * - `merges` (Hugging Face / our trainer): only listed merges apply, earliest listed first.
 * Ties go to the leftmost pair in both, so results are exactly those of tiktoken and of
 * Hugging Face `tokenizers`.
 *
 * Short pieces use the plain quadratic scan (fastest below a few dozen bytes); long pieces,
 * such as the CJK runs GPT-4's pattern produces, use a binary heap over a linked list, so a
 * piece of n bytes costs O(n log n) instead of O(n²). The heap holds (priority, position)
 * in two 32-bit arrays, so a piece may be as long as a JavaScript string allows (under 2^31
 * UTF-8 bytes); it takes about 28 bytes of scratch memory per byte of the piece, freed after
 * a piece over 1 MiB.
 */

import { bytesToLatin1 } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { PairTable } from "./pair-table.js";
import { forEachToken } from "./spec.js";

/** Pieces up to this many bytes use the quadratic scan. */
const SMALL = 32;
/** Scratch space for the heap merge of a piece longer than this (bytes) is freed afterwards. */
const KEEP_SCRATCH = 1 << 20;
/** Scratch arrays grow by doubling up to this many entries, then to exactly what a piece needs. */
const MAX_SCRATCH = 1 << 24;

/** The data a byte-level BPE model is made of. */
export interface BpeModel {
  /** The bytes of every ordinary token, indexed by id (holes allowed). */
  tokens: ReadonlyArray<Uint8Array | undefined>;
  /**
   * Listed merges `[left, right]` in priority order (`merges` semantics). Omit for tiktoken
   * `ranks` semantics, where the rank of a token is its id.
   */
  merges?: ReadonlyArray<readonly [number, number]>;
  /**
   * Look a whole piece up in the vocabulary before merging (tiktoken always does; Hugging
   * Face calls it `ignore_merges`).
   */
  ignoreMerges: boolean;
}

/** Encodes byte strings to ids under a {@link BpeModel}. */
export class BytePairEncoder {
  readonly tokens: ReadonlyArray<Uint8Array | undefined>;
  readonly ignoreMerges: boolean;
  readonly mode: "ranks" | "merges";
  /** Id of each single byte, -1 where the vocabulary lacks it. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly table: PairTable;
  /** ranks mode: token bytes as binary strings, and back to ids (for lazy pair lookups). */
  private readonly latin: (string | undefined)[] = [];
  private readonly latinToId = new Map<string, number>();
  // scratch space for the quadratic scan
  private readonly sIds = new Int32Array(SMALL);
  private readonly sPrio = new Int32Array(SMALL);
  private readonly sRes = new Int32Array(SMALL);
  // scratch space for the heap merge (grown on demand)
  private hIds = new Int32Array(0);
  private hNext = new Int32Array(0);
  private hPrev = new Int32Array(0);
  private hPrio = new Int32Array(0);
  private hPos = new Int32Array(0);

  constructor(model: BpeModel) {
    this.tokens = model.tokens;
    this.ignoreMerges = model.ignoreMerges;
    this.mode = model.merges ? "merges" : "ranks";
    forEachToken(model.tokens, (bytes, id) => {
      if (bytes.length === 1 && this.byteIds[bytes[0]!] === -1) this.byteIds[bytes[0]!] = id;
    });
    if (model.merges) {
      this.table = new PairTable(model.merges.length);
      const n = model.tokens.length;
      const concatToId = new Map<string, number>();
      forEachToken(model.tokens, (bytes, id) => concatToId.set(bytesToLatin1(bytes), id));
      model.merges.forEach((merge, prio) => {
        if (!Array.isArray(merge) || merge.length !== 2) throw new TokenizerError(`merges[${prio}] must be a pair of ids [left, right]`);
        const [a, b] = merge as [number, number];
        const ta = a < n ? model.tokens[a] : undefined;
        const tb = b < n ? model.tokens[b] : undefined;
        if (!ta || !tb) throw new TokenizerError(`merges[${prio}] (${a}, ${b}) refers to an id that is not a token`);
        const result = concatToId.get(bytesToLatin1(ta) + bytesToLatin1(tb));
        if (result === undefined) {
          throw new TokenizerError(`merges[${prio}] (${a}, ${b}) makes a token that is not in the vocabulary`);
        }
        if (this.table.get(a, b) === -2) this.table.set(a, b, prio, result);
      });
    } else {
      this.table = new PairTable(1 << 16);
      forEachToken(model.tokens, (bytes, id) => {
        const s = bytesToLatin1(bytes);
        this.latin[id] = s;
        if (!this.latinToId.has(s)) this.latinToId.set(s, id);
      });
    }
  }

  /** The id of byte `b`, or a clear error if the vocabulary has no token for it. */
  byteId(b: number): number {
    const id = this.byteIds[b]!;
    if (id < 0) {
      throw new TokenizerError(`the vocabulary has no token for byte 0x${b.toString(16).padStart(2, "0")}`);
    }
    return id;
  }

  /** Priority of merging `(a, b)`, -1 if they do not merge; the merged id is in `this.table.result`. */
  private pair(a: number, b: number): number {
    const p = this.table.get(a, b);
    if (p !== -2) return p;
    // ranks mode: decide once, then remember
    const s = this.latin[a]! + this.latin[b]!;
    const id = this.latinToId.get(s);
    const prio = id === undefined ? -1 : id;
    this.table.set(a, b, prio, prio);
    this.table.result = prio;
    return prio;
  }

  /** Append the ids of the `n` bytes in `buf` to `out`. */
  encode(buf: Uint8Array, n: number, out: number[]): void {
    if (n === 1) {
      out.push(this.byteId(buf[0]!));
    } else if (n <= SMALL) {
      this.encodeSmall(buf, n, out);
    } else {
      this.encodeLarge(buf, n, out);
    }
  }

  private encodeSmall(buf: Uint8Array, n: number, out: number[]): void {
    const ids = this.sIds;
    const pr = this.sPrio;
    const rs = this.sRes;
    const table = this.table;
    for (let i = 0; i < n; i++) ids[i] = this.byteId(buf[i]!);
    for (let i = 0; i < n - 1; i++) {
      pr[i] = this.pair(ids[i]!, ids[i + 1]!);
      rs[i] = table.result;
    }
    let len = n;
    for (;;) {
      let best = -1;
      let bp = 0x7fffffff;
      for (let i = 0; i < len - 1; i++) {
        const p = pr[i]!;
        if (p >= 0 && p < bp) {
          bp = p;
          best = i;
        }
      }
      if (best < 0) break;
      ids[best] = rs[best]!;
      for (let j = best + 1; j < len - 1; j++) {
        ids[j] = ids[j + 1]!;
        pr[j] = pr[j + 1]!;
        rs[j] = rs[j + 1]!;
      }
      len--;
      if (best < len - 1) {
        pr[best] = this.pair(ids[best]!, ids[best + 1]!);
        rs[best] = table.result;
      }
      if (best > 0) {
        pr[best - 1] = this.pair(ids[best - 1]!, ids[best]!);
        rs[best - 1] = table.result;
      }
    }
    for (let i = 0; i < len; i++) out.push(ids[i]!);
  }

  private encodeLarge(buf: Uint8Array, n: number, out: number[]): void {
    if (this.hIds.length < n) {
      const cap = Math.max(n, Math.min(this.hIds.length * 2, MAX_SCRATCH));
      this.hIds = new Int32Array(cap);
      this.hNext = new Int32Array(cap);
      this.hPrev = new Int32Array(cap);
    }
    if (this.hPrio.length < n) {
      this.hPrio = new Int32Array(n);
      this.hPos = new Int32Array(n);
    }
    const ids = this.hIds;
    const next = this.hNext;
    const prev = this.hPrev;
    // min-heap of (priority, position) pairs, ordered by priority, then position (leftmost
    // first); two parallel arrays, so neither a piece's length nor a priority is limited
    let hp = this.hPrio;
    let hx = this.hPos;
    let size = 0;
    const table = this.table;
    const push = (p: number, x: number): void => {
      if (size === hp.length) {
        const cap = hp.length * 2;
        const np = new Int32Array(cap);
        const nx = new Int32Array(cap);
        np.set(hp);
        nx.set(hx);
        hp = this.hPrio = np;
        hx = this.hPos = nx;
      }
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const pp = hp[parent]!;
        if (pp < p || (pp === p && hx[parent]! < x)) break;
        hp[i] = pp;
        hx[i] = hx[parent]!;
        i = parent;
      }
      hp[i] = p;
      hx[i] = x;
    };
    /** Remove the top; the caller has read it from `hp[0]`, `hx[0]`. */
    const pop = (): void => {
      const p = hp[--size]!;
      const x = hx[size]!;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) break;
        let cp = hp[c]!;
        if (c + 1 < size) {
          const rp = hp[c + 1]!;
          if (rp < cp || (rp === cp && hx[c + 1]! < hx[c]!)) {
            c++;
            cp = rp;
          }
        }
        if (p < cp || (p === cp && x < hx[c]!)) break;
        hp[i] = cp;
        hx[i] = hx[c]!;
        i = c;
      }
      hp[i] = p;
      hx[i] = x;
    };
    for (let i = 0; i < n; i++) {
      ids[i] = this.byteId(buf[i]!);
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    for (let i = 0; i < n - 1; i++) {
      const p = this.pair(ids[i]!, ids[i + 1]!);
      if (p >= 0) push(p, i);
    }
    while (size > 0) {
      const p = hp[0]!;
      const i = hx[0]!;
      pop();
      const j = next[i]!;
      // stale entry: `i` was merged away (its prev link was cut), or its pair changed
      if (j < 0 || ids[i]! < 0 || this.pair(ids[i]!, ids[j]!) !== p) continue;
      ids[i] = table.result;
      ids[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      const h = prev[i]!;
      if (h >= 0) {
        const q = this.pair(ids[h]!, ids[i]!);
        if (q >= 0) push(q, h);
      }
      if (k >= 0) {
        const q = this.pair(ids[i]!, ids[k]!);
        if (q >= 0) push(q, i);
      }
    }
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
    if (n > KEEP_SCRATCH) this.releaseScratch();
  }

  /** Drop scratch space grown for one huge piece, so the encoder does not hold it. */
  private releaseScratch(): void {
    this.hIds = this.hNext = this.hPrev = new Int32Array(0);
    this.hPrio = this.hPos = new Int32Array(0);
  }
}

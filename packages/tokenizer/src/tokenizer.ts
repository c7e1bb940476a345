/** The `Tokenizer`: text ⇄ token ids with byte-level BPE. */

import { BytePairEncoder } from "./bpe.js";
import { assertWellFormed, bytesToByteLevel, tryDecodeUtf8, utf8Encode } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { toHuggingFaceJSON, parseHuggingFaceJSON, type HuggingFaceTokenizerJSON } from "./huggingface.js";
import { compilePattern } from "./patterns.js";
import type { TokenizerSpec } from "./spec.js";
import { StreamDecoder } from "./stream-decoder.js";
import { parseTiktokenRanks, type TiktokenRanks } from "./tiktoken.js";

/** Which special tokens `encode` may emit, and which make it throw when they appear in the text. */
export interface EncodeOptions {
  /**
   * Special tokens that are encoded as their id when their text appears (`"all"` for
   * every one). Default: none, so ordinary text never yields a special token.
   */
  allowedSpecial?: "all" | Iterable<string>;
  /**
   * Special tokens whose text makes `encode` throw (as tiktoken does). Default `"all"`:
   * every special token that is not allowed. Pass `[]` to encode such text as ordinary text.
   */
  disallowedSpecial?: "all" | Iterable<string>;
}

/** Pieces cached per tokenizer before the cache is cleared. */
const CACHE_LIMIT = 100_000;

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/**
 * A byte-level BPE tokenizer. Build one with {@link trainBpe}, {@link Tokenizer.fromTiktoken},
 * {@link Tokenizer.fromJSON} or {@link Tokenizer.load}.
 *
 * ```ts
 * const tok = await Tokenizer.load("tokenizer.json");
 * const ids = tok.encode("床前明月光 moonlight");
 * tok.decode(ids); // "床前明月光 moonlight"
 * ```
 */
export class Tokenizer {
  /** The pre-tokenization pattern. */
  readonly pattern: string;
  /** Number of ids: the largest id (ordinary or special) plus one. */
  readonly vocabSize: number;
  private readonly bpe: BytePairEncoder;
  private readonly spec: TokenizerSpec;
  private readonly regex: RegExp;
  private readonly specials: ReadonlyMap<string, number>;
  private readonly specialById = new Map<number, string>();
  private readonly specialBytes = new Map<number, Uint8Array>();
  private readonly specialRegex: RegExp | undefined;
  /** Whole-piece lookup: tokens whose bytes are valid UTF-8, by their text. */
  private readonly textToId = new Map<string, number>();
  private byteLevelIndex: Map<string, number> | undefined;
  private readonly cache = new Map<string, number | number[]>();
  private buf = new Uint8Array(1024);

  /** Build from a {@link TokenizerSpec}; most users want one of the static constructors. */
  constructor(spec: TokenizerSpec) {
    this.spec = spec;
    this.pattern = spec.pattern;
    this.regex = compilePattern(spec.pattern);
    this.bpe = new BytePairEncoder(spec);
    const specials = new Map<string, number>();
    let maxId = spec.tokens.length - 1;
    for (const [text, id] of Object.entries(spec.specialTokens)) {
      if (!text) throw new TokenizerError("a special token cannot be the empty string");
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`special token ${text} has an invalid id ${id}`);
      if (spec.tokens[id]) throw new TokenizerError(`special token ${text} has id ${id}, which an ordinary token already has`);
      if (this.specialById.has(id)) {
        throw new TokenizerError(`special tokens ${this.specialById.get(id)} and ${text} share id ${id}`);
      }
      assertWellFormed(text, `special token ${JSON.stringify(text)}`);
      specials.set(text, id);
      this.specialById.set(id, text);
      this.specialBytes.set(id, new TextEncoder().encode(text));
      maxId = Math.max(maxId, id);
    }
    this.specials = specials;
    this.vocabSize = maxId + 1;
    if (specials.size > 0) {
      const alternation = [...specials.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|");
      this.specialRegex = new RegExp(alternation, "gu");
    }
    if (spec.ignoreMerges) {
      spec.tokens.forEach((bytes, id) => {
        if (!bytes) return;
        const text = tryDecodeUtf8(bytes);
        if (text !== undefined && !this.textToId.has(text)) this.textToId.set(text, id);
      });
    }
  }

  /**
   * Load tiktoken ranks in `js-tiktoken`'s shape, e.g.
   * `Tokenizer.fromTiktoken((await import("js-tiktoken/ranks/cl100k_base")).default)`.
   * Encoding then gives exactly tiktoken's ids.
   *
   * @param extraSpecialTokens more special tokens, by text and id (e.g. the BatGPT.js
   *   reserved tokens placed after the ranks).
   */
  static fromTiktoken(ranks: TiktokenRanks, extraSpecialTokens: Readonly<Record<string, number>> = {}): Tokenizer {
    return new Tokenizer(parseTiktokenRanks(ranks, extraSpecialTokens));
  }

  /** Load a Hugging Face `tokenizer.json` (its text or parsed object) with a byte-level BPE model. */
  static fromJSON(json: string | object): Tokenizer {
    return new Tokenizer(parseHuggingFaceJSON(json));
  }

  /** Read a Hugging Face `tokenizer.json` file. */
  static async load(path: string): Promise<Tokenizer> {
    const { readFile } = await import("node:fs/promises");
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new TokenizerError(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
    }
    try {
      return new Tokenizer(parseHuggingFaceJSON(text));
    } catch (err) {
      if (err instanceof TokenizerError) throw new TokenizerError(`${path}: ${err.message}`);
      throw err;
    }
  }

  /** The Hugging Face `tokenizer.json` object for this tokenizer. */
  toJSON(): HuggingFaceTokenizerJSON {
    return toHuggingFaceJSON(this.spec);
  }

  /** Write `tokenizer.json` atomically (a temp file renamed into place). */
  async save(path: string): Promise<void> {
    const { writeFile, rename, mkdir, rm } = await import("node:fs/promises");
    const { dirname } = await import("node:path");
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
    try {
      await writeFile(tmp, JSON.stringify(this.toJSON(), null, 1));
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** The special tokens and their ids. */
  get specialTokens(): ReadonlyMap<string, number> {
    return this.specials;
  }

  /** The id of a special token; throws if the tokenizer has no such special token. */
  specialTokenId(token: string): number {
    const id = this.specials.get(token);
    if (id === undefined) {
      throw new TokenizerError(`unknown special token ${JSON.stringify(token)}; this tokenizer has ${[...this.specials.keys()].join(" ")}`);
    }
    return id;
  }

  /**
   * The id of a token spelled as in `tokenizer.json` (byte-level: `Ġ` is a space), or of a
   * special token; `undefined` if there is none.
   */
  tokenToId(token: string): number | undefined {
    const special = this.specials.get(token);
    if (special !== undefined) return special;
    if (!this.byteLevelIndex) {
      this.byteLevelIndex = new Map();
      this.spec.tokens.forEach((bytes, id) => {
        if (bytes) this.byteLevelIndex!.set(bytesToByteLevel(bytes), id);
      });
    }
    return this.byteLevelIndex.get(token);
  }

  /** The token of an id spelled as in `tokenizer.json` (byte-level), or the special token's text. */
  idToToken(id: number): string | undefined {
    const special = this.specialById.get(id);
    if (special !== undefined) return special;
    const bytes = this.spec.tokens[id];
    return bytes ? bytesToByteLevel(bytes) : undefined;
  }

  /** The raw bytes of an id (a special token's UTF-8 text); throws for an unknown id. */
  idToBytes(id: number): Uint8Array {
    const bytes = this.spec.tokens[id] ?? this.specialBytes.get(id);
    if (!bytes) throw new TokenizerError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return bytes;
  }

  /** Encode text to ids. See {@link EncodeOptions} for special tokens. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TokenizerError(`encode expects a string, got ${typeof text}`);
    assertWellFormed(text);
    const allowed = this.resolveSpecials(options.allowedSpecial ?? [], "allowedSpecial");
    const disallowed =
      options.disallowedSpecial === undefined || options.disallowedSpecial === "all"
        ? new Set([...this.specials.keys()].filter((s) => !allowed.has(s)))
        : this.resolveSpecials(options.disallowedSpecial, "disallowedSpecial");
    const out: number[] = [];
    if (this.specialRegex === undefined || (allowed.size === 0 && disallowed.size === 0)) {
      this.encodeOrdinaryInto(text, out);
      return out;
    }
    const re = this.specialRegex;
    re.lastIndex = 0;
    let start = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const special = m[0];
      if (disallowed.has(special)) {
        throw new TokenizerError(
          `the text contains the special token ${special} at index ${m.index}, which is not allowed; ` +
            "pass { allowedSpecial: [...] } to encode it as a special token, or { disallowedSpecial: [] } to encode it as text",
        );
      }
      if (!allowed.has(special)) continue;
      this.encodeOrdinaryInto(text.slice(start, m.index), out);
      out.push(this.specials.get(special)!);
      start = m.index + special.length;
    }
    this.encodeOrdinaryInto(start === 0 ? text : text.slice(start), out);
    return out;
  }

  /** Encode text as ordinary text: special-token strings are encoded like any other text. */
  encodeOrdinary(text: string): number[] {
    if (typeof text !== "string") throw new TokenizerError(`encode expects a string, got ${typeof text}`);
    assertWellFormed(text);
    const out: number[] = [];
    this.encodeOrdinaryInto(text, out);
    return out;
  }

  /** Encode several texts with the same options. */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  /** Decode ids to text; bytes that are not valid UTF-8 become U+FFFD. Throws on an unknown id. */
  decode(ids: readonly number[]): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The bytes of a sequence of ids. */
  decodeBytes(ids: readonly number[]): Uint8Array {
    let n = 0;
    for (const id of ids) n += this.idToBytes(id).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const id of ids) {
      const b = this.idToBytes(id);
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  /** A {@link StreamDecoder} that decodes ids as they arrive, holding back partial characters. */
  decoder(): StreamDecoder {
    return new StreamDecoder((ids) => this.decodeBytes(ids));
  }

  private resolveSpecials(which: "all" | Iterable<string>, option: string): Set<string> {
    if (which === "all") return new Set(this.specials.keys());
    if (typeof which === "string" || typeof (which as Iterable<string>)[Symbol.iterator] !== "function") {
      throw new TokenizerError(`${option} must be "all" or a list of special tokens`);
    }
    const set = new Set<string>();
    for (const s of which) {
      if (!this.specials.has(s)) {
        throw new TokenizerError(`${option} names unknown special token ${JSON.stringify(s)}; this tokenizer has ${[...this.specials.keys()].join(" ")}`);
      }
      set.add(s);
    }
    return set;
  }

  private encodeOrdinaryInto(text: string, out: number[]): void {
    const re = this.regex;
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const piece = m[0];
      if (piece.length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > last) this.encodePiece(text.slice(last, m.index), out);
      this.encodePiece(piece, out);
      last = m.index + piece.length;
    }
    if (last < text.length) this.encodePiece(text.slice(last), out);
  }

  private encodePiece(piece: string, out: number[]): void {
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      if (typeof cached === "number") out.push(cached);
      else for (let i = 0; i < cached.length; i++) out.push(cached[i]!);
      return;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    const whole = this.textToId.get(piece);
    if (whole !== undefined) {
      this.cache.set(piece, whole);
      out.push(whole);
      return;
    }
    if (this.buf.length < piece.length * 3) this.buf = new Uint8Array(piece.length * 3);
    const n = utf8Encode(piece, this.buf);
    const start = out.length;
    this.bpe.encode(this.buf, n, out);
    this.cache.set(piece, out.length - start === 1 ? out[start]! : out.slice(start));
  }
}

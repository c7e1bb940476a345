/** The `Tokenizer`: text ⇄ token ids with byte-level BPE. */

import { parseOptions } from "@batgpt/utils/options";
import { z } from "zod";
import { AddedTokenMatcher, EMIT, MAX_ADDED_UNITS, TEXT, THROW } from "./added.js";
import { BytePairEncoder } from "./bpe.js";
import { assertWellFormed, bytesToByteLevel, tryDecodeUtf8, utf8Encode } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { toHuggingFaceJSON, parseHuggingFaceJSON, type HuggingFaceTokenizerJSON } from "./huggingface.js";
import { compilePattern, forEachPiece } from "./patterns.js";
import { forEachToken, MAX_VOCAB_SIZE, type AddedToken, type TokenizerSpec } from "./spec.js";
import { StreamDecoder } from "./stream-decoder.js";
import { parseTiktokenRanks, type TiktokenRanks } from "./tiktoken.js";

/**
 * Which special tokens `encode` may emit, and which make it throw when they appear in the text.
 * Added tokens that are not special (`special: false` in `tokenizer.json`) are not affected:
 * they always become their id.
 */
export interface EncodeOptions {
  /**
   * Special tokens that are encoded as their id when their text appears (`"all"` for
   * every one). Default: none, so ordinary text never yields a special token.
   */
  allowedSpecial?: "all" | Iterable<string>;
  /**
   * Special tokens whose text makes `encode` throw (as tiktoken does). Default `"all"`:
   * every special token that is not allowed. Pass `[]` to encode such text as ordinary text.
   * A token both allowed and disallowed throws.
   */
  disallowedSpecial?: "all" | Iterable<string>;
}

const specialsOption = (name: string) =>
  z.custom<"all" | Iterable<string>>(
    (v) =>
      v === "all" ||
      (typeof v === "object" && v !== null && typeof (v as Iterable<unknown>)[Symbol.iterator] === "function"),
    {
      error: (issue) =>
        `${name} must be "all" or a list of special tokens, got ${typeof issue.input === "string" ? JSON.stringify(issue.input) : issue.input === null ? "null" : typeof issue.input}`,
    },
  );

/** {@link EncodeOptions} as a zod schema: unknown keys are refused. */
export const encodeOptionsSchema = z.strictObject({
  allowedSpecial: specialsOption("allowedSpecial").optional(),
  disallowedSpecial: specialsOption("disallowedSpecial").optional(),
});

/** Pieces cached per tokenizer before the cache is cleared. */
const CACHE_LIMIT = 100_000;
/** UTF-16 units of the pieces cached, in all, before the cache is cleared (bounds its memory). */
const CACHE_UNITS = 1 << 24;
/** Pieces longer than this (UTF-16 units) are not cached. */
const CACHE_MAX_PIECE = 1 << 16;
/** The UTF-8 scratch buffer is shrunk back after a piece needs more than this (bytes). */
const KEEP_BUF = 1 << 20;
/** Where pieces go between calls (nothing is encoded then). */
const NO_OUT: number[] = [];

/**
 * A byte-level BPE tokenizer. Build one with {@link trainBpe}, {@link Tokenizer.fromTiktoken},
 * {@link Tokenizer.fromJSON} or {@link Tokenizer.load}.
 *
 * ```ts
 * const tok = await Tokenizer.load("tokenizer.json");
 * const ids = tok.encode("床前明月光 moonlight");
 * tok.decode(ids); // "床前明月光 moonlight"
 * ```
 *
 * Text is encoded in three steps: added tokens (special or not, see {@link AddedTokenSpec})
 * are found first; the text between them is cut into pieces by the pre-tokenization
 * {@link Tokenizer.pattern}; each piece's UTF-8 bytes are merged by BPE. A piece may be of any
 * length (merging takes about 28 bytes of scratch memory per byte of the piece), but one regex
 * match is limited by JavaScript's regex engine to a few million characters; past that, encoding
 * throws a {@link TokenizerError} that says so.
 */
export class Tokenizer {
  /** The pre-tokenization pattern. */
  readonly pattern: string;
  /** Number of ids: the largest id (ordinary, special or added) plus one. */
  readonly vocabSize: number;
  private readonly bpe: BytePairEncoder;
  private readonly spec: TokenizerSpec;
  private readonly regex: RegExp;
  private readonly specials: ReadonlyMap<string, number>;
  /** Every added token, special or not, in id order. */
  private readonly added: readonly AddedToken[];
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedBytes = new Map<number, Uint8Array>();
  /** Finds the added tokens with `normalized: false` (pass 1) and `true` (pass 2, between pass-1 matches). */
  private readonly matchers: AddedTokenMatcher[] = [];
  /** Whether some added token is not special (so even `encodeOrdinary` must look for added tokens). */
  private readonly hasPlainAdded: boolean;
  /** Per matcher, the action for each of its tokens under the default options, under "all allowed", and in `encodeOrdinary`. */
  private readonly defaultActions: Uint8Array[];
  private readonly allActions: Uint8Array[];
  private readonly ordinaryActions: Uint8Array[];
  private readonly actionCache = new Map<string, Uint8Array[]>();
  /** Whole-piece lookup: tokens whose bytes are valid UTF-8, by their text. */
  private readonly textToId = new Map<string, number>();
  private byteLevelIndex: Map<string, number> | undefined;
  private readonly cache = new Map<string, number | number[]>();
  private cacheUnits = 0;
  private buf = new Uint8Array(1024);
  private readonly onPiece: (piece: string) => void;
  private pieceOut: number[] = NO_OUT;

  /**
   * Build from a {@link TokenizerSpec}; most users want one of the static constructors.
   *
   * @throws {@link TokenizerError} naming the field, for a spec that is not valid: a bad
   *   pattern, an id that is negative, not an integer or not below {@link MAX_VOCAB_SIZE}, a
   *   merge of unknown tokens, clashing special or added tokens.
   */
  constructor(spec: TokenizerSpec) {
    if (typeof spec !== "object" || spec === null) throw new TokenizerError("a tokenizer spec must be an object");
    if (!Array.isArray(spec.tokens)) throw new TokenizerError("spec.tokens must be an array of Uint8Array (holes allowed)");
    if (spec.tokens.length > MAX_VOCAB_SIZE) {
      throw new TokenizerError(`spec.tokens has ${spec.tokens.length} ids; the most this package supports is ${MAX_VOCAB_SIZE}`);
    }
    forEachToken(spec.tokens, (t, id) => {
      if (!(t instanceof Uint8Array && t.length > 0)) throw new TokenizerError(`spec.tokens[${id}] must be a non-empty Uint8Array or a hole`);
    });
    if (typeof spec.ignoreMerges !== "boolean") throw new TokenizerError("spec.ignoreMerges must be a boolean");
    if (spec.merges !== undefined && !Array.isArray(spec.merges)) throw new TokenizerError("spec.merges must be an array of [left, right] id pairs");
    if (typeof spec.specialTokens !== "object" || spec.specialTokens === null) {
      throw new TokenizerError("spec.specialTokens must be an object from token text to id");
    }
    if (spec.addedTokens !== undefined && !Array.isArray(spec.addedTokens)) throw new TokenizerError("spec.addedTokens must be an array");
    this.spec = spec;
    this.pattern = spec.pattern;
    this.regex = compilePattern(spec.pattern, "spec.pattern");
    this.bpe = new BytePairEncoder(spec);

    // ---- added tokens: the special ones, then the flags and the non-special ones ----
    const byContent = new Map<string, AddedToken & { where: string }>();
    const checkId = (id: unknown, where: string): number => {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB_SIZE) {
        throw new TokenizerError(`${where} has an invalid id ${String(id)}: ids are integers from 0 to ${MAX_VOCAB_SIZE - 1}`);
      }
      return id;
    };
    const checkContent = (content: unknown, where: string): string => {
      if (typeof content !== "string" || content.length === 0) throw new TokenizerError(`${where}: content must be a non-empty string`);
      assertWellFormed(content, where);
      return content;
    };
    for (const [text, id] of Object.entries(spec.specialTokens)) {
      const where = `special token ${JSON.stringify(text)}`;
      if (!text) throw new TokenizerError("a special token cannot be the empty string");
      checkContent(text, where);
      const flags = { special: true, lstrip: false, rstrip: false, singleWord: false, normalized: false };
      byContent.set(text, { content: text, id: checkId(id, where), ...flags, where });
    }
    (spec.addedTokens ?? []).forEach((t, i) => {
      const where = `spec.addedTokens[${i}]`;
      if (typeof t !== "object" || t === null) throw new TokenizerError(`${where} must be an object { content, id, special?, ... }`);
      const content = checkContent(t.content, where);
      const id = checkId(t.id, where);
      for (const flag of ["special", "lstrip", "rstrip", "singleWord", "normalized"] as const) {
        if (t[flag] !== undefined && typeof t[flag] !== "boolean") throw new TokenizerError(`${where}.${flag} must be a boolean`);
      }
      const prior = byContent.get(content);
      if (prior?.where.startsWith("spec.addedTokens")) {
        throw new TokenizerError(`${where}: ${JSON.stringify(content)} is also ${prior.where}`);
      }
      if (prior && (prior.id !== id || t.special === false)) {
        throw new TokenizerError(
          `${where}: ${JSON.stringify(content)} is a special token with id ${prior.id} in spec.specialTokens; ` +
            "an entry for it must have that id and must not say special: false",
        );
      }
      const special = t.special ?? prior?.special ?? false;
      byContent.set(content, {
        content,
        id,
        special,
        lstrip: t.lstrip ?? false,
        rstrip: t.rstrip ?? false,
        singleWord: t.singleWord ?? false,
        normalized: t.normalized ?? !special,
        where,
      });
    });
    let maxId = spec.tokens.length - 1;
    const encoder = new TextEncoder();
    for (const { where, ...token } of byContent.values()) {
      const other = this.addedById.get(token.id);
      if (other) throw new TokenizerError(`${where} (${JSON.stringify(token.content)}) and added token ${JSON.stringify(other.content)} share id ${token.id}`);
      const bytes = encoder.encode(token.content);
      const ordinary = spec.tokens[token.id];
      if (ordinary && !sameBytes(ordinary, bytes)) {
        throw new TokenizerError(
          `${where} (${JSON.stringify(token.content)}) has id ${token.id}, which an ordinary token already has (with other bytes)`,
        );
      }
      const frozen = Object.freeze(token);
      this.addedById.set(token.id, frozen);
      this.addedByContent.set(token.content, frozen);
      this.addedBytes.set(token.id, bytes);
      maxId = Math.max(maxId, token.id);
    }
    this.added = Object.freeze([...this.addedById.values()].sort((a, b) => a.id - b.id));
    const specials = new Map<string, number>();
    for (const t of this.added) if (t.special) specials.set(t.content, t.id);
    this.specials = specials;
    this.vocabSize = maxId + 1;
    this.hasPlainAdded = this.added.some((t) => !t.special);
    const units = this.added.reduce((n, t) => n + t.content.length, 0);
    if (units > MAX_ADDED_UNITS) {
      throw new TokenizerError(`the added tokens' contents total ${units} UTF-16 units, more than the ${MAX_ADDED_UNITS} this package supports`);
    }
    for (const normalized of [false, true]) {
      const tokens = this.added.filter((t) => t.normalized === normalized);
      if (tokens.length > 0) this.matchers.push(new AddedTokenMatcher(tokens));
    }
    this.defaultActions = this.actions(new Set(), undefined);
    this.allActions = this.actions(new Set(specials.keys()), new Set());
    this.ordinaryActions = this.actions(new Set(), new Set());

    if (spec.ignoreMerges) {
      forEachToken(spec.tokens, (bytes, id) => {
        const text = tryDecodeUtf8(bytes);
        if (text !== undefined && !this.textToId.has(text)) this.textToId.set(text, id);
      });
    }
    this.onPiece = (piece) => this.encodePiece(piece, this.pieceOut);
  }

  /**
   * Load tiktoken ranks in `js-tiktoken`'s shape, e.g.
   * `Tokenizer.fromTiktoken((await import("js-tiktoken/ranks/cl100k_base")).default)`.
   * Encoding then gives exactly tiktoken's ids.
   *
   * @param extraSpecialTokens more special tokens, by text and id (e.g. the BatGPT.js
   *   reserved tokens placed after the ranks).
   * @throws {@link TokenizerError} for malformed ranks or special tokens (the message names
   *   the line or token).
   */
  static fromTiktoken(ranks: TiktokenRanks, extraSpecialTokens: Readonly<Record<string, number>> = {}): Tokenizer {
    return new Tokenizer(parseTiktokenRanks(ranks, extraSpecialTokens));
  }

  /**
   * Load a Hugging Face `tokenizer.json` (its text or parsed object) with a byte-level BPE model.
   *
   * @throws {@link TokenizerError} naming the field, for anything it cannot read (see the
   *   README for what is supported).
   */
  static fromJSON(json: string | object): Tokenizer {
    return new Tokenizer(parseHuggingFaceJSON(json));
  }

  /**
   * Read a Hugging Face `tokenizer.json` file.
   *
   * @throws {@link TokenizerError} naming the file (and the field) if it cannot be read or parsed.
   */
  static async load(path: string): Promise<Tokenizer> {
    if (typeof path !== "string") throw new TokenizerError(`Tokenizer.load expects a path string, got ${typeof path}`);
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

  /** The Hugging Face `tokenizer.json` object for this tokenizer (added tokens keep all their flags). */
  toJSON(): HuggingFaceTokenizerJSON {
    return toHuggingFaceJSON(this.spec, this.added);
  }

  /**
   * Write `tokenizer.json` atomically (Node; the folder is created if missing): to a temp file
   * unique to this call (`<path>.tmp-<pid>-<random>`), flushed to disk, then renamed into place
   * (`writeFileAtomic` of `@batgpt/utils`). On failure the temp file is removed and an existing
   * file is left as it was.
   *
   * @throws the I/O error.
   */
  async save(path: string): Promise<void> {
    if (typeof path !== "string") throw new TokenizerError(`Tokenizer.save expects a path string, got ${typeof path}`);
    const { writeFileAtomic } = await import("@batgpt/utils/atomic");
    await writeFileAtomic(path, JSON.stringify(this.toJSON(), null, 1));
  }

  /** The special tokens and their ids. */
  get specialTokens(): ReadonlyMap<string, number> {
    return this.specials;
  }

  /**
   * Every added token (Hugging Face `added_tokens`), special or not, with its flags, in id
   * order. Special ones are also in {@link Tokenizer.specialTokens}.
   */
  get addedTokens(): readonly AddedToken[] {
    return this.added;
  }

  /** The id of a special token; throws a {@link TokenizerError} if the tokenizer has no such special token. */
  specialTokenId(token: string): number {
    const id = this.specials.get(token);
    if (id === undefined) {
      throw new TokenizerError(`unknown special token ${JSON.stringify(token)}; this tokenizer has ${[...this.specials.keys()].join(" ")}`);
    }
    return id;
  }

  /**
   * The id of a token spelled as in `tokenizer.json` (byte-level: `Ġ` is a space), or of an
   * added (special or not) token by its text; `undefined` if there is none.
   */
  tokenToId(token: string): number | undefined {
    const added = this.addedByContent.get(token);
    if (added !== undefined) return added.id;
    if (!this.byteLevelIndex) {
      this.byteLevelIndex = new Map();
      forEachToken(this.spec.tokens, (bytes, id) => this.byteLevelIndex!.set(bytesToByteLevel(bytes), id));
    }
    return this.byteLevelIndex.get(token);
  }

  /** The token of an id spelled as in `tokenizer.json` (byte-level), or an added token's text. */
  idToToken(id: number): string | undefined {
    const added = this.addedById.get(id);
    if (added !== undefined) return added.content;
    const bytes = this.spec.tokens[id];
    return bytes ? bytesToByteLevel(bytes) : undefined;
  }

  /** The raw bytes of an id (an added token's UTF-8 text); throws a {@link TokenizerError} for an unknown id. */
  idToBytes(id: number): Uint8Array {
    const bytes = this.spec.tokens[id] ?? this.addedBytes.get(id);
    if (!bytes) throw new TokenizerError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return bytes;
  }

  /**
   * Encode text to ids. Special tokens follow tiktoken's rules (see {@link EncodeOptions});
   * added tokens that are not special become their id wherever they occur.
   *
   * @throws {@link TokenizerError} if `text` is not a string or has a lone surrogate, for a
   *   bad option (the message names it), or when the text contains a disallowed special token.
   */
  encode(text: string, options?: EncodeOptions): number[] {
    checkText(text);
    const out: number[] = [];
    this.encodeInto(text, options === undefined ? this.defaultActions : this.resolveOptions(options), out);
    return out;
  }

  /**
   * Encode text as ordinary text: special-token strings are encoded like any other text.
   * Added tokens that are not special still become their id, as in Hugging Face.
   *
   * @throws {@link TokenizerError} if `text` is not a string or has a lone surrogate.
   */
  encodeOrdinary(text: string): number[] {
    checkText(text);
    const out: number[] = [];
    this.encodeInto(text, this.ordinaryActions, out);
    return out;
  }

  /**
   * Encode several texts with the same options (validated once).
   *
   * @throws {@link TokenizerError} as {@link Tokenizer.encode} does; the message names the text's index.
   */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][] {
    if (!Array.isArray(texts)) throw new TokenizerError(`encodeBatch expects an array of strings, got ${typeof texts}`);
    const actions = options === undefined ? this.defaultActions : this.resolveOptions(options);
    return texts.map((t, i) => {
      try {
        checkText(t);
        const out: number[] = [];
        this.encodeInto(t, actions, out);
        return out;
      } catch (err) {
        if (err instanceof TokenizerError) throw new TokenizerError(`texts[${i}]: ${err.message}`);
        throw err;
      }
    });
  }

  /**
   * Decode ids to text; bytes that are not valid UTF-8 become U+FFFD.
   *
   * @throws {@link TokenizerError} on an unknown id; a `RangeError` if the text would be longer
   *   than a JavaScript string can be (about 2^29 UTF-16 units; use {@link Tokenizer.decodeBytes}).
   */
  decode(ids: readonly number[]): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The bytes of a sequence of ids; throws a {@link TokenizerError} on an unknown id. */
  decodeBytes(ids: readonly number[]): Uint8Array {
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TokenizerError(`decode expects an array of ids, got ${typeof ids}`);
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

  /** Validate {@link EncodeOptions} and turn them into an action per added token, per matcher (cached). */
  private resolveOptions(options: EncodeOptions): Uint8Array[] {
    const { allowedSpecial: a, disallowedSpecial: d } = parseOptions(encodeOptionsSchema, options, "encode options", TokenizerError);
    const dAll = d === undefined || d === "all";
    if (a === undefined && dAll) return this.defaultActions;
    if (a === "all" && dAll) return this.allActions;
    const allowed = a === undefined ? [] : a === "all" ? [...this.specials.keys()] : this.specialList(a, "allowedSpecial");
    const disallowed = dAll ? undefined : this.specialList(d, "disallowedSpecial");
    // nothing allowed, nothing disallowed: special-token text is ordinary text
    if (allowed.length === 0 && disallowed?.length === 0) return this.ordinaryActions;
    const key = `${allowed.join("\u0000")}\u0001${disallowed === undefined ? "\u0002" : disallowed.join("\u0000")}`;
    let actions = this.actionCache.get(key);
    if (actions === undefined) {
      if (this.actionCache.size >= 64) this.actionCache.clear();
      actions = this.actions(new Set(allowed), disallowed && new Set(disallowed));
      this.actionCache.set(key, actions);
    }
    return actions;
  }

  /** Actions for allowed special tokens, and disallowed ones (`undefined`: all that are not allowed). */
  private actions(allowed: ReadonlySet<string>, disallowed: ReadonlySet<string> | undefined): Uint8Array[] {
    return this.matchers.map((m) =>
      Uint8Array.from(m.tokens, (t) => {
        if (!t.special) return EMIT;
        if (disallowed ? disallowed.has(t.content) : !allowed.has(t.content)) return THROW;
        return allowed.has(t.content) ? EMIT : TEXT;
      }),
    );
  }

  /** The special tokens an option lists, checked. */
  private specialList(which: Iterable<string>, option: string): string[] {
    const list: string[] = [];
    for (const s of which) {
      if (typeof s !== "string") throw new TokenizerError(`invalid encode options: ${option}: lists ${typeof s} ${String(s)}, not a special token`);
      if (!this.specials.has(s)) {
        throw new TokenizerError(`${option} names unknown special token ${JSON.stringify(s)}; this tokenizer has ${[...this.specials.keys()].join(" ")}`);
      }
      list.push(s);
    }
    return list;
  }

  /** Added tokens first (as the actions say), then pre-tokenization and BPE for the text between them. */
  private encodeInto(text: string, actions: Uint8Array[], out: number[]): void {
    const matchers = this.matchers;
    if (matchers.length === 0 || (actions === this.ordinaryActions && !this.hasPlainAdded)) {
      this.encodeOrdinaryInto(text, out);
      return;
    }
    const pass = (m: number, from: number, to: number): void => {
      if (m === matchers.length) {
        this.encodeOrdinaryInto(from === 0 && to === text.length ? text : text.slice(from, to), out);
        return;
      }
      matchers[m]!.split(
        text,
        from,
        to,
        actions[m]!,
        (start, end) => pass(m + 1, start, end),
        (token, start, disallowed) => {
          if (disallowed) {
            throw new TokenizerError(
              `the text contains the special token ${token.content} at index ${start}, which is not allowed; ` +
                "pass { allowedSpecial: [...] } to encode it as a special token, or { disallowedSpecial: [] } to encode it as text",
            );
          }
          out.push(token.id);
        },
      );
    };
    pass(0, 0, text.length);
  }

  private encodeOrdinaryInto(text: string, out: number[]): void {
    this.pieceOut = out;
    forEachPiece(this.regex, text, this.onPiece);
    this.pieceOut = NO_OUT;
    if (this.buf.length > KEEP_BUF) this.buf = new Uint8Array(1024);
  }

  private encodePiece(piece: string, out: number[]): void {
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      if (typeof cached === "number") out.push(cached);
      else for (let i = 0; i < cached.length; i++) out.push(cached[i]!);
      return;
    }
    if (this.cache.size >= CACHE_LIMIT || this.cacheUnits >= CACHE_UNITS) {
      this.cache.clear();
      this.cacheUnits = 0;
    }
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
    if (piece.length <= CACHE_MAX_PIECE) {
      this.cache.set(piece, out.length - start === 1 ? out[start]! : out.slice(start));
      this.cacheUnits += piece.length;
    }
  }
}

function checkText(text: unknown): asserts text is string {
  if (typeof text !== "string") throw new TokenizerError(`encode expects a string, got ${text === null ? "null" : typeof text}`);
  assertWellFormed(text);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

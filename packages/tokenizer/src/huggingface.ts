/**
 * Hugging Face `tokenizer.json` interop for byte-level BPE: the format `tokenizers`
 * (Python/Rust) and `@huggingface/tokenizers` (JavaScript) read.
 */

import { formatIssues } from "@batgpt/utils/options";
import { z } from "zod";
import { byteLevelToBytes, bytesToByteLevel, bytesToLatin1 } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { compilePattern, GPT2_PATTERN } from "./patterns.js";
import { forEachToken, MAX_VOCAB_SIZE, type AddedToken, type AddedTokenSpec, type TokenizerSpec } from "./spec.js";

/** The parts of `tokenizer.json` this package writes (and the parts it reads). */
export interface HuggingFaceTokenizerJSON {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: null;
  pre_tokenizer: unknown;
  post_processor: null;
  decoder: unknown;
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

/** Build the `tokenizer.json` object for a spec and its resolved added tokens. */
export function toHuggingFaceJSON(spec: TokenizerSpec, added: readonly AddedToken[]): HuggingFaceTokenizerJSON {
  // no prototype: a token may be spelled "__proto__"
  const vocab = Object.create(null) as Record<string, number>;
  const spelled: (string | undefined)[] = [];
  forEachToken(spec.tokens, (bytes, id) => {
    const s = bytesToByteLevel(bytes);
    spelled[id] = s;
    if (!(s in vocab)) vocab[s] = id;
  });
  let merges: [string, string][];
  if (spec.merges) {
    merges = spec.merges.map(([a, b]) => [spelled[a]!, spelled[b]!]);
  } else {
    merges = ranksToMerges(spec.tokens, spelled);
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [...added]
      .sort((x, y) => x.id - y.id)
      .map((t) => ({
        id: t.id,
        content: t.content,
        single_word: t.singleWord,
        lstrip: t.lstrip,
        rstrip: t.rstrip,
        normalized: t.normalized,
        special: t.special,
      })),
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: spec.pattern }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab,
      merges,
    },
  };
}

/**
 * tiktoken ranks as a merge list, the way Hugging Face converts tiktoken files: every split
 * of every token into two tokens, ordered by the rank of the merged token.
 */
function ranksToMerges(tokens: TokenizerSpec["tokens"], spelled: (string | undefined)[]): [string, string][] {
  const idOf = new Map<string, number>();
  forEachToken(tokens, (bytes, id) => idOf.set(bytesToLatin1(bytes), id));
  const merges: [string, string][] = [];
  forEachToken(tokens, (bytes) => {
    if (bytes.length < 2) return;
    const s = bytesToLatin1(bytes);
    const local: [number, number][] = [];
    for (let i = 1; i < s.length; i++) {
      const l = idOf.get(s.slice(0, i));
      const r = idOf.get(s.slice(i));
      if (l !== undefined && r !== undefined) local.push([l, r]);
    }
    local.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (const [l, r] of local) merges.push([spelled[l]!, spelled[r]!]);
  });
  return merges;
}

const id = z
  .number()
  .int()
  .nonnegative()
  .max(MAX_VOCAB_SIZE - 1, `ids above ${MAX_VOCAB_SIZE - 1} are not supported`);

const addedToken = z.object({
  id,
  content: z.string().min(1, "must be a non-empty string"),
  special: z.boolean().optional(),
  lstrip: z.boolean().optional(),
  rstrip: z.boolean().optional(),
  single_word: z.boolean().optional(),
  normalized: z.boolean().optional(),
});

const byteLevel = z.object({
  type: z.literal("ByteLevel"),
  add_prefix_space: z.boolean().optional(),
  use_regex: z.boolean().optional(),
});
const split = z.object({
  type: z.literal("Split"),
  pattern: z.union([z.object({ Regex: z.string() }), z.object({ String: z.string() })]),
  behavior: z.string(),
  invert: z.boolean().optional(),
});

const fileSchema = z.object({
  added_tokens: z.array(addedToken).nullish(),
  normalizer: z.unknown().nullish(),
  pre_tokenizer: z.union([
    byteLevel,
    z.object({ type: z.literal("Sequence"), pretokenizers: z.tuple([split, byteLevel]) }),
  ]),
  model: z.object({
    type: z.literal("BPE"),
    byte_fallback: z.boolean().nullish(),
    continuing_subword_prefix: z.string().nullish(),
    end_of_word_suffix: z.string().nullish(),
    ignore_merges: z.boolean().nullish(),
    dropout: z.number().nullish(),
    // checked entry by entry below: a zod record would drop a token spelled "__proto__"
    vocab: z.custom<Record<string, unknown>>(
      (v) => typeof v === "object" && v !== null && !Array.isArray(v),
      "must be an object from token to id",
    ),
    merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
  }),
});

function fail(msg: string): never {
  throw new TokenizerError(`tokenizer.json: ${msg}`);
}

/**
 * Parse a `tokenizer.json` (text or object) into a spec.
 *
 * Reads byte-level BPE: `model.type` BPE, a `ByteLevel` pre-tokenizer (alone, or after one
 * `Split` with a regex, behavior `Isolated`), no normalizer; `added_tokens` with all their
 * flags. Loading takes time in proportion to the file's size.
 *
 * @throws {@link TokenizerError} naming the field, for anything it cannot read: invalid JSON,
 *   an unsupported component, an id that is negative, fractional, repeated or not below
 *   {@link MAX_VOCAB_SIZE}, a token outside the byte-level alphabet, a merge of (or into) a
 *   token not in the vocabulary, a pattern that is not a valid regex or may backtrack
 *   catastrophically, clashing added tokens.
 */
export function parseHuggingFaceJSON(json: string | object): TokenizerSpec {
  let obj: unknown = json;
  if (typeof json === "string") {
    try {
      obj = JSON.parse(json);
    } catch (err) {
      fail(`not valid JSON (${(err as Error).message})`);
    }
  }
  const parsed = fileSchema.safeParse(obj);
  if (!parsed.success) {
    throw new TokenizerError(
      `${formatIssues("tokenizer.json", parsed.error)} (this package reads byte-level BPE tokenizers: model.type BPE with a ByteLevel pre-tokenizer)`,
    );
  }
  const file = parsed.data;
  if (file.normalizer != null) fail("normalizers are not supported (normalizer must be null)");
  if (file.model.byte_fallback) fail("model.byte_fallback is not supported by a byte-level tokenizer");
  if (file.model.continuing_subword_prefix || file.model.end_of_word_suffix) {
    fail("model.continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  if (file.model.dropout) fail("model.dropout is not supported");
  let pattern: string;
  const pre = file.pre_tokenizer;
  if (pre.type === "ByteLevel") {
    if (pre.add_prefix_space) fail("pre_tokenizer.add_prefix_space = true is not supported");
    if (pre.use_regex === false) fail("a ByteLevel pre-tokenizer without a regex is not supported");
    pattern = GPT2_PATTERN;
  } else {
    const [sp, bl] = pre.pretokenizers;
    if (bl.add_prefix_space) fail("pre_tokenizer.pretokenizers[1].add_prefix_space = true is not supported");
    if (bl.use_regex) fail("pre_tokenizer.pretokenizers[1]: a Split followed by a ByteLevel that splits again (use_regex true) is not supported");
    if (sp.behavior !== "Isolated" || sp.invert) fail("pre_tokenizer.pretokenizers[0]: only Split with behavior Isolated, invert false, is supported");
    if (!("Regex" in sp.pattern)) fail("pre_tokenizer.pretokenizers[0].pattern: only a Split with a Regex pattern is supported");
    pattern = sp.pattern.Regex;
    compilePattern(pattern, "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex");
  }

  // ---- the vocabulary: own entries of the object as parsed ----
  const vocab = new Map<string, number>();
  const tokens: Uint8Array[] = [];
  const spellingOf: string[] = [];
  const rawVocab = (obj as { model: { vocab: Record<string, unknown> } }).model.vocab;
  for (const [spelling, value] of Object.entries(rawVocab)) {
    const where = `model.vocab[${JSON.stringify(spelling)}]`;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) fail(`${where}: id ${JSON.stringify(value)} is not a non-negative integer`);
    if (value >= MAX_VOCAB_SIZE) fail(`${where}: id ${value} is above ${MAX_VOCAB_SIZE - 1}, the largest id this package supports`);
    if (spelling.length === 0) fail(`${where}: a token cannot be empty`);
    const bytes = byteLevelToBytes(spelling);
    if (!bytes) fail(`model.vocab entry ${JSON.stringify(spelling)} is not a byte-level token`);
    if (tokens[value]) fail(`model.vocab has two tokens with id ${value}: ${JSON.stringify(spellingOf[value])} and ${JSON.stringify(spelling)}`);
    tokens[value] = bytes;
    spellingOf[value] = spelling;
    vocab.set(spelling, value);
  }

  // ---- merges: both parts and the merged token must be in the vocabulary ----
  const merges: [number, number][] = file.model.merges.map((m, i) => {
    let pair: [string, string];
    if (typeof m === "string") {
      const parts = m.split(" ");
      if (parts.length !== 2) fail(`model.merges[${i}] ${JSON.stringify(m)} is not two tokens separated by a space`);
      pair = [parts[0]!, parts[1]!];
    } else {
      pair = m;
    }
    const a = vocab.get(pair[0]);
    const b = vocab.get(pair[1]);
    if (a === undefined || b === undefined) {
      fail(`model.merges[${i}] ${JSON.stringify(pair)} names a token that is not in model.vocab`);
    }
    if (!vocab.has(pair[0] + pair[1])) {
      fail(`model.merges[${i}] ${JSON.stringify(pair)} makes ${JSON.stringify(pair[0] + pair[1])}, which is not in model.vocab`);
    }
    return [a, b];
  });

  // ---- added tokens, special or not, with their flags ----
  const addedTokens: AddedTokenSpec[] = [];
  const byContent = new Map<string, number>();
  const byId = new Map<number, number>();
  const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
  (file.added_tokens ?? []).forEach((t, i) => {
    const where = `added_tokens[${i}]`;
    if (!t.content.isWellFormed()) fail(`${where}.content has a lone surrogate`);
    const sameContent = byContent.get(t.content);
    if (sameContent !== undefined) fail(`${where}: ${JSON.stringify(t.content)} is also added_tokens[${sameContent}]`);
    const sameId = byId.get(t.id);
    if (sameId !== undefined) fail(`${where}: id ${t.id} is also the id of added_tokens[${sameId}]`);
    const ordinary = tokens[t.id];
    if (ordinary && utf8.decode(ordinary) !== t.content) {
      fail(`${where}: ${JSON.stringify(t.content)} has id ${t.id}, which the model.vocab token ${JSON.stringify(spellingOf[t.id])} already has`);
    }
    byContent.set(t.content, i);
    byId.set(t.id, i);
    const special = t.special ?? false;
    addedTokens.push({
      content: t.content,
      id: t.id,
      special,
      lstrip: t.lstrip ?? false,
      rstrip: t.rstrip ?? false,
      singleWord: t.single_word ?? false,
      normalized: t.normalized ?? !special,
    });
  });
  return { tokens, merges, ignoreMerges: file.model.ignore_merges ?? false, pattern, specialTokens: {}, addedTokens };
}

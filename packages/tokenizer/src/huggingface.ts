/**
 * Hugging Face `tokenizer.json` interop for byte-level BPE: the format `tokenizers`
 * (Python/Rust) and `@huggingface/tokenizers` (JavaScript) read.
 */

import { z } from "zod";
import { byteLevelToBytes, bytesToByteLevel, bytesToLatin1 } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { GPT2_PATTERN } from "./patterns.js";
import type { TokenizerSpec } from "./spec.js";

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

/** Build the `tokenizer.json` object for a spec. */
export function toHuggingFaceJSON(spec: TokenizerSpec): HuggingFaceTokenizerJSON {
  const vocab: Record<string, number> = {};
  const spelled: (string | undefined)[] = [];
  spec.tokens.forEach((bytes, id) => {
    if (!bytes) return;
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
    added_tokens: Object.entries(spec.specialTokens)
      .sort((x, y) => x[1] - y[1])
      .map(([content, id]) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
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
  tokens.forEach((bytes, id) => {
    if (bytes) idOf.set(bytesToLatin1(bytes), id);
  });
  const merges: [string, string][] = [];
  tokens.forEach((bytes) => {
    if (!bytes || bytes.length < 2) return;
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

const addedToken = z.object({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  special: z.boolean().optional(),
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
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
  }),
});

function fail(msg: string): never {
  throw new TokenizerError(`tokenizer.json: ${msg}`);
}

/** Parse a `tokenizer.json` (text or object) into a spec; throws a clear error for what it cannot read. */
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
    const issue = parsed.error.issues[0]!;
    fail(
      `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}` +
        " (this package reads byte-level BPE tokenizers: model.type BPE with a ByteLevel pre-tokenizer)",
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
    if (bl.add_prefix_space) fail("pre_tokenizer.add_prefix_space = true is not supported");
    if (bl.use_regex) fail("a Split followed by a ByteLevel that splits again is not supported");
    if (sp.behavior !== "Isolated" || sp.invert) fail("only Split with behavior Isolated, invert false, is supported");
    if (!("Regex" in sp.pattern)) fail("only a Split with a Regex pattern is supported");
    pattern = sp.pattern.Regex;
  }
  const tokens: Uint8Array[] = [];
  for (const [spelling, id] of Object.entries(file.model.vocab)) {
    const bytes = byteLevelToBytes(spelling);
    if (!bytes) fail(`model.vocab entry ${JSON.stringify(spelling)} is not a byte-level token`);
    if (tokens[id]) fail(`model.vocab has two tokens with id ${id}`);
    tokens[id] = bytes;
  }
  const merges: [number, number][] = file.model.merges.map((m, i) => {
    let pair: [string, string];
    if (typeof m === "string") {
      const parts = m.split(" ");
      if (parts.length !== 2) fail(`model.merges[${i}] ${JSON.stringify(m)} is not two tokens separated by a space`);
      pair = [parts[0]!, parts[1]!];
    } else {
      pair = m;
    }
    const a = file.model.vocab[pair[0]];
    const b = file.model.vocab[pair[1]];
    if (a === undefined || b === undefined) {
      fail(`model.merges[${i}] ${JSON.stringify(pair)} names a token that is not in model.vocab`);
    }
    return [a, b];
  });
  const specialTokens: Record<string, number> = {};
  for (const t of file.added_tokens ?? []) {
    if (tokens[t.id]) {
      const same = new TextDecoder("utf-8", { ignoreBOM: true }).decode(tokens[t.id]) === t.content;
      if (same) continue; // an added token that is an ordinary token
      fail(`added token ${JSON.stringify(t.content)} has id ${t.id}, which an ordinary token already has`);
    }
    specialTokens[t.content] = t.id;
  }
  return { tokens, merges, ignoreMerges: file.model.ignore_merges ?? false, pattern, specialTokens };
}

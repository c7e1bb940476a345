/**
 * Pre-tokenization patterns that can match the empty string (bug: `encode("x😀")` with the
 * pattern `a*` never returned, because an empty match advanced `lastIndex` by one UTF-16 unit,
 * into the middle of the surrogate pair, and `u`-mode `exec` stepped back to the pair's start).
 * Every call runs under a vm timeout, so a regression fails instead of hanging the suite.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { Tokenizer, trainBpe } from "../src/index.js";
import { forEachPiece, compilePattern } from "../src/patterns.js";
import { finishes } from "./guard.js";
import { proseEn } from "./corpus.js";
import { referencePieces } from "./split-reference.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- editing loosely typed JSON
type Json = Record<string, any>;

/** The byte ids of "x😀" in a tokenizer made by trainBpe (id = byte value): x, F0 9F 98 80. */
const X_EMOJI_BYTES = [0x78, 0xf0, 0x9f, 0x98, 0x80];

function withPattern(json: Json, pattern: string): Json {
  const j = structuredClone(json);
  j.pre_tokenizer.pretokenizers[0].pattern = { Regex: pattern };
  return j;
}

function pieces(pattern: string, text: string): string[] {
  const out: string[] = [];
  forEachPiece(compilePattern(pattern), text, (p) => out.push(p));
  return out;
}

describe("patterns that can match the empty string", () => {
  let json: Json;
  beforeAll(async () => {
    json = (await trainBpe([proseEn], { vocabSize: 400 })).toJSON() as unknown as Json;
  });

  it('encode("x😀") with the Split pattern a* in tokenizer.json returns the 5 byte ids and decodes back', () => {
    const tok = Tokenizer.fromJSON(withPattern(json, "a*"));
    const ids = finishes(() => tok.encode("x😀"));
    expect(ids).toEqual(X_EMOJI_BYTES);
    expect(tok.decode(ids)).toBe("x😀");
    expect(finishes(() => tok.encodeOrdinary("x😀"))).toEqual(X_EMOJI_BYTES);
    expect(finishes(() => tok.encodeBatch(["x😀", "x😀"]))).toEqual([X_EMOJI_BYTES, X_EMOJI_BYTES]);
  });

  it("gives the ids @huggingface/tokenizers gives for the same file", () => {
    for (const pattern of ["a*", "\\p{L}*", "x?", "(?:)"]) {
      const file = withPattern(json, pattern);
      const ours = Tokenizer.fromJSON(file);
      const hf = new HFTokenizer(file, {});
      for (const text of ["x😀", "😀😀a😀", "aaa😀bb\u{20000}c", "hello world", "", "😀"]) {
        expect(finishes(() => ours.encode(text)), `${pattern} on ${text}`).toEqual(hf.encode(text, { add_special_tokens: false }).ids);
      }
    }
  });

  it("an empty match cuts the text there, one code point on, as Hugging Face's Split does", () => {
    expect(finishes(() => pieces("a*", "x😀"))).toEqual(["x", "😀"]);
    expect(finishes(() => pieces("x*", "xxyx😀😀"))).toEqual(["xx", "y", "x", "😀", "😀"]);
    expect(finishes(() => pieces("\\p{L}*", "ab 😀\u{20000}c"))).toEqual(["ab", " ", "😀", "\u{20000}c"]); // U+20000 is a letter
    expect(finishes(() => pieces("(?=b)", "abc"))).toEqual(["a", "bc"]);
  });

  it("cuts text as Hugging Face's JavaScript Split does (matchAll), for any pattern and text (property)", () => {
    const reference = (pattern: string, text: string): string[] => referencePieces(text, pattern);
    const patterns = ["a*", "\\p{L}*", "\\b", "(?:)", "x?", "(?=a)", "\\s+|a*", "(?<=😀)", "\\p{L}+|\\s+(?!\\S)|\\s+"];
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.string({ unit: fc.constantFrom("a", "b", "x", " ", "😀", "\u{20000}", "中", "\n", "é"), maxLength: 30 }),
        (pattern, text) => {
          expect(finishes(() => pieces(pattern, text), 2000)).toEqual(reference(pattern, text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("trainBpe with the pattern \\p{L}* finishes, and its tokenizer encodes x😀 to the 5 byte ids", async () => {
    const tok = await finishes(() => trainBpe(["x😀", "hello world"], { vocabSize: 300, pattern: "\\p{L}*" }));
    expect(finishes(() => tok.encode("x😀"))).toEqual(X_EMOJI_BYTES);
    expect(tok.decode(X_EMOJI_BYTES)).toBe("x😀");
  });

  it("tiktoken ranks whose pattern can match the empty string", () => {
    const bpe_ranks = "! 0 " + Array.from({ length: 256 }, (_, b) => btoa(String.fromCharCode(b))).join(" ");
    const tok = Tokenizer.fromTiktoken({ pat_str: "a*", special_tokens: {}, bpe_ranks });
    expect(finishes(() => tok.encode("x😀"))).toEqual(X_EMOJI_BYTES);
  });

  it("decode(encode(s)) === s for any text under patterns that match the empty string (property)", () => {
    const toks = ["a*", "\\p{L}*", "\\b", "(?:)", "[\\s\\S]??"].map((p) => Tokenizer.fromJSON(withPattern(json, p)));
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", "b", " ", "😀", "\u{20000}", "中", "\n", "é"), maxLength: 40 }), (s) => {
        for (const tok of toks) expect(finishes(() => tok.decode(tok.encode(s)), 2000)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });
});

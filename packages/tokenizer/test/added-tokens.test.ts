/**
 * Added tokens that are not special (`"special": false` in tokenizer.json, e.g. `<think>`):
 * matched as one id inside ordinary text, as Hugging Face does, and the flag (and every other
 * added-token flag) survives a save.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { Tokenizer, TokenizerError, trainBpe } from "../src/index.js";
import { proseEn } from "./corpus.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- editing loosely typed JSON
type Json = Record<string, any>;

const FLAGS = { single_word: false, lstrip: false, rstrip: false, normalized: false };

function hfIds(json: object, text: string): number[] {
  return new HFTokenizer(json, {}).encode(text, { add_special_tokens: false }).ids;
}

describe("added tokens that are not special", () => {
  let base: Json;
  let thinkId: number;
  /** The trained tokenizer.json with `<think>` added as a non-special token. */
  const withThink = (flags: Partial<typeof FLAGS> = {}): Json => {
    const j = structuredClone(base);
    j.added_tokens.push({ id: thinkId, content: "<think>", ...FLAGS, ...flags, special: false });
    return j;
  };
  beforeAll(async () => {
    base = (await trainBpe([proseEn], { vocabSize: 600 })).toJSON() as unknown as Json;
    thinkId = 600;
  });

  it('encode("hello <think> world") gives <think> as one id, the ids Hugging Face gives, and does not throw', () => {
    const json = withThink();
    const tok = Tokenizer.fromJSON(json);
    const text = "hello <think> world";
    const ids = tok.encode(text);
    expect(ids).toEqual(hfIds(json, text));
    expect(ids).toEqual([...tok.encodeOrdinary("hello "), thinkId, ...tok.encodeOrdinary(" world")]);
    expect(ids.filter((id) => id === thinkId)).toHaveLength(1);
    expect(tok.encodeOrdinary(text)).toEqual(ids);
    expect(tok.encode(text, { allowedSpecial: "all" })).toEqual(ids);
    expect(tok.encode(text, { disallowedSpecial: [] })).toEqual(ids);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.specialTokens.has("<think>")).toBe(false);
    expect(tok.tokenToId("<think>")).toBe(thinkId);
    expect(tok.idToToken(thinkId)).toBe("<think>");
    expect(tok.vocabSize).toBe(thinkId + 1);
  });

  it("keeps special: false (and the other flags) through toJSON, save and load, and Hugging Face reads the saved file alike", async () => {
    const tok = Tokenizer.fromJSON(withThink());
    const entry = (j: Json) => (j.added_tokens as Json[]).find((t) => t.content === "<think>");
    expect(entry(tok.toJSON() as unknown as Json)).toEqual({ id: thinkId, content: "<think>", ...FLAGS, special: false });
    const path = join(mkdtempSync(join(tmpdir(), "batgpt-added-")), "tokenizer.json");
    await tok.save(path);
    const saved = JSON.parse(readFileSync(path, "utf8")) as Json;
    expect(entry(saved)).toEqual({ id: thinkId, content: "<think>", ...FLAGS, special: false });
    const again = await Tokenizer.load(path);
    const text = "a <think>b</think> <|eos|>";
    expect(again.encode(text, { allowedSpecial: "all" })).toEqual(tok.encode(text, { allowedSpecial: "all" }));
    expect(again.encode(text, { allowedSpecial: "all" })).toEqual(hfIds(saved, text));
    expect(again.addedTokens.find((t) => t.content === "<think>")).toEqual({
      content: "<think>", id: thinkId, special: false, lstrip: false, rstrip: false, singleWord: false, normalized: false,
    });
    // the special ones stay special
    expect((saved.added_tokens as Json[]).find((t) => t.content === "<|eos|>")).toMatchObject({ special: true });
  });

  it("lstrip and rstrip swallow the whitespace around the token, as Hugging Face does", () => {
    for (const flags of [{ lstrip: true }, { rstrip: true }, { lstrip: true, rstrip: true }]) {
      const json = withThink(flags);
      const tok = Tokenizer.fromJSON(json);
      for (const text of ["hello <think> world", "a  \t<think>\n\nb", "<think> <think>  x", " <think>"]) {
        expect(tok.encode(text), `${JSON.stringify(flags)} ${JSON.stringify(text)}`).toEqual(hfIds(json, text));
      }
    }
    const tok = Tokenizer.fromJSON(withThink({ lstrip: true, rstrip: true }));
    expect(tok.encode("hello <think> world")).toEqual([...tok.encodeOrdinary("hello"), thinkId, ...tok.encodeOrdinary("world")]);
    expect(Tokenizer.fromJSON(tok.toJSON()).addedTokens.find((t) => t.id === thinkId)).toMatchObject({ lstrip: true, rstrip: true });
  });

  it("whitespace an rstrip swallows can still start the next added token, as Hugging Face does", () => {
    // found by a new-user pass: tokens "x" (rstrip) and " y"; before, " y" was lost inside the stripped space
    const json = structuredClone(base);
    json.added_tokens.push({ id: 600, content: "x", ...FLAGS, rstrip: true, special: false }, { id: 601, content: " y", ...FLAGS, special: false });
    const tok = Tokenizer.fromJSON(json);
    expect(tok.encode("x  y")).toEqual([600, 601]);
    expect(hfIds(json, "x  y")).toEqual([600, 601]);
    // Rust's `find_matches` finds the matches in the original text, then widens them, so the
    // spans may overlap: "x" (rstrip) and " y" both stay tokens. (Hugging Face's JavaScript port
    // gives [600, 121] here; we follow the Rust library, the reference.)
    expect(tok.encode("x y")).toEqual([600, 601]);
  });

  it("single_word matches only outside words, as Hugging Face tokenizers (Rust) does", () => {
    const j = structuredClone(base);
    j.added_tokens.push({ id: 700, content: "cat", ...FLAGS, single_word: true, special: false });
    const tok = Tokenizer.fromJSON(j);
    const plain = Tokenizer.fromJSON(base);
    // "cat" alone is the token; inside "concat", "cats" and "猫cat" (猫 is a letter) it is ordinary text
    expect(tok.encode("cat concat cats")).toEqual([700, ...plain.encode(" concat cats")]);
    expect(tok.encode("a cat!")).toEqual([...plain.encode("a "), 700, ...plain.encode("!")]);
    expect(tok.encode("猫cat")).toEqual(plain.encode("猫cat"));
    expect(tok.encode("cat_")).toEqual(plain.encode("cat_"));
    expect(tok.toJSON().added_tokens.find((t) => t.id === 700)).toMatchObject({ single_word: true });
  });

  it("normalized: false tokens are matched first, then normalized ones between them, as Hugging Face tokenizers (Rust) does", () => {
    const j = structuredClone(base);
    j.added_tokens.push({ id: 700, content: "ab", ...FLAGS, normalized: true, special: false });
    j.added_tokens.push({ id: 701, content: "b<x>", ...FLAGS, normalized: false, special: false });
    const tok = Tokenizer.fromJSON(j);
    // one leftmost-longest pass would take "ab" at 0; the Rust library takes "b<x>" first
    // (its AddedVocabulary splits on the normalized: false tokens, then on the normalized
    // ones; @huggingface/tokenizers for JavaScript makes one pass when there is no normalizer)
    expect(tok.encode("ab<x>ab")).toEqual([...tok.encodeOrdinary("a"), 701, 700]);
    // with both flags alike, the JavaScript library agrees
    for (const t of j.added_tokens) t.normalized = false;
    expect(Tokenizer.fromJSON(j).encode("ab<x>ab")).toEqual(hfIds(j, "ab<x>ab"));
  });

  it("an added special token that is also an ordinary token (GPT-2's <|endoftext|>) stays a special token", () => {
    const j = structuredClone(base);
    j.model.vocab["<|endoftext|>"] = 650;
    j.added_tokens = [{ id: 650, content: "<|endoftext|>", ...FLAGS, special: true }];
    const tok = Tokenizer.fromJSON(j);
    expect(tok.specialTokenId("<|endoftext|>")).toBe(650);
    expect(() => tok.encode("a<|endoftext|>")).toThrow(/not allowed/);
    expect(tok.encode("a<|endoftext|>", { allowedSpecial: "all" })).toEqual(hfIds(j, "a<|endoftext|>"));
    expect(tok.encode("a<|endoftext|>", { allowedSpecial: "all" })).toEqual([...tok.encodeOrdinary("a"), 650]);
    expect(tok.toJSON().added_tokens).toEqual([{ id: 650, content: "<|endoftext|>", ...FLAGS, special: true }]);
  });

  it("added tokens given in a spec: special ones obey allowedSpecial, others always match", () => {
    const tokens = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    const tok = new Tokenizer({
      tokens,
      ignoreMerges: false,
      merges: [],
      pattern: "\\S+|\\s+",
      specialTokens: { "<|eos|>": 300 },
      addedTokens: [
        { content: "<tool>", id: 301 },
        { content: "<|eos|>", id: 300, rstrip: true },
      ],
    });
    expect(tok.encode("x<tool>y")).toEqual([0x78, 301, 0x79]);
    expect(tok.encode("x<|eos|>  y", { allowedSpecial: ["<|eos|>"] })).toEqual([0x78, 300, 0x79]);
    expect(tok.encodeOrdinary("<|eos|>").length).toBe(7);
    expect(() => new Tokenizer({ tokens, ignoreMerges: false, pattern: "x", specialTokens: { "<a>": 300 }, addedTokens: [{ content: "<a>", id: 301 }] })).toThrow(TokenizerError);
    expect(() => new Tokenizer({ tokens, ignoreMerges: false, pattern: "x", specialTokens: {}, addedTokens: [{ content: "<a>", id: 300 }, { content: "<b>", id: 300 }] })).toThrow(/share id 300/);
    expect(() => new Tokenizer({ tokens, ignoreMerges: false, pattern: "x", specialTokens: {}, addedTokens: [{ content: "<a>", id: 65 }] })).toThrow(/ordinary token already has/);
  });

  it("added-token fields that are not booleans are a TokenizerError naming the field", () => {
    const j = withThink();
    j.added_tokens.at(-1).single_word = "yes";
    expect(() => Tokenizer.fromJSON(j)).toThrow(TokenizerError);
    expect(() => Tokenizer.fromJSON(j)).toThrow(/added_tokens\[9\]\.single_word/);
  });

  it("few tokens (found by a regex) and many (found by a trie) match alike, as Hugging Face does (property)", () => {
    const flagsOf = (i: number) => ({ lstrip: i % 3 === 0, rstrip: i % 4 === 0, normalized: i % 2 === 0 });
    const contents = ["ab", "abc", "bc", "c<", "<x>", "b", "x>a", "😀b"];
    const few = structuredClone(base);
    contents.forEach((content, i) => addPlain(few, { id: 700 + i, content, ...flagsOf(i) }));
    const many = structuredClone(few);
    for (let i = 0; i < 600; i++) addPlain(many, { id: 800 + i, content: `\u{E000}${i}` });
    const [a, b] = [Tokenizer.fromJSON(few), Tokenizer.fromJSON(many)];
    const oneNormalization = structuredClone(few);
    for (const t of oneNormalization.added_tokens) t.normalized = false;
    const c = Tokenizer.fromJSON(oneNormalization);
    const hf = new HFTokenizer(oneNormalization, {});
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", "b", "c", "<", "x", ">", " ", "😀", "\u{E000}"), maxLength: 40 }), (text) => {
        expect(b.encode(text)).toEqual(a.encode(text));
        expect(c.encode(text)).toEqual(hf.encode(text, { add_special_tokens: false }).ids);
      }),
      { numRuns: 400 },
    );
  });
});

function addPlain(j: Json, t: Json): void {
  j.added_tokens.push({ ...FLAGS, special: false, ...t });
}

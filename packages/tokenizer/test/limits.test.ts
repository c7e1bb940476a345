/**
 * Size limits: one pre-tokenized piece of 2^24 bytes or more used to be refused (the heap keys
 * packed the position into 24 bits); tiktoken has no such limit.
 */
import { describe, expect, it } from "vitest";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { MAX_VOCAB_SIZE, Tokenizer, TokenizerError, trainBpe } from "../src/index.js";
import { finishes } from "./guard.js";

describe("size limits", () => {
  it("encodeOrdinary of 17,000,000 'a' with cl100k gives 2,125,000 ids, every one the id of aaaaaaaa", () => {
    const tok = Tokenizer.fromTiktoken(cl100k);
    const [eight] = tok.encodeOrdinary("aaaaaaaa");
    expect(eight).toBe(70540);
    const ids = finishes(() => tok.encodeOrdinary("a".repeat(17_000_000)), 100_000);
    expect(ids.length).toBe(2_125_000);
    expect(ids.every((id) => id === 70540)).toBe(true);
    // the encoder is still right on ordinary text after a huge piece (scratch space freed)
    expect(tok.encode("hello world")).toEqual([15339, 1917]);
  });

  it("a piece longer than 2^24 bytes under merges semantics (a trained tokenizer)", async () => {
    const tok = await trainBpe(["ab".repeat(50), "abab abab"], { vocabSize: 300, minFrequency: 1, pattern: "[ab]+|[^ab]+" });
    const text = "ab".repeat(2 ** 23 + 5); // 16,777,226 bytes, one piece
    const ids = finishes(() => tok.encodeOrdinary(text), 100_000);
    expect(tok.decode(ids) === text).toBe(true);
    // merges never make a token longer than the longest training word (100 bytes)
    const longest = ids.reduce((m, id) => Math.max(m, tok.idToBytes(id).length), 0);
    expect(longest).toBeLessThanOrEqual(100);
  });

  it("a regex match longer than V8's backtracking stack allows is a clear TokenizerError, not a RangeError", () => {
    const tok = Tokenizer.fromTiktoken(cl100k);
    const run = () => finishes(() => tok.encodeOrdinary("中".repeat(2 ** 23)), 100_000);
    expect(run).toThrow(TokenizerError);
    expect(run).toThrow(/ran out of backtracking stack matching the text from index 0/);
  });

  it(`ids must be below MAX_VOCAB_SIZE (${MAX_VOCAB_SIZE}), with a clear error`, () => {
    expect(() => Tokenizer.fromTiktoken(cl100k, { "<|x|>": MAX_VOCAB_SIZE })).toThrow(TokenizerError);
    expect(() => Tokenizer.fromTiktoken(cl100k, { "<|x|>": MAX_VOCAB_SIZE })).toThrow(/extraSpecialTokens.*<\|x\|>/);
    expect(Tokenizer.fromTiktoken(cl100k, { "<|x|>": MAX_VOCAB_SIZE - 1 }).vocabSize).toBe(MAX_VOCAB_SIZE);
    expect(() => Tokenizer.fromTiktoken({ pat_str: "\\S+", special_tokens: {}, bpe_ranks: `! ${MAX_VOCAB_SIZE} QQ==` })).toThrow(/line 1 has ranks above 16777215/);
  });
});

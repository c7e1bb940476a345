/** Every public options object is validated at the boundary: a bad option is a TokenizerError naming it. */
import { describe, expect, it } from "vitest";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { encodeOptionsSchema, Tokenizer, TokenizerError, trainBpe, trainBpeOptionsSchema, type EncodeOptions } from "../src/index.js";

const tok = Tokenizer.fromTiktoken(cl100k, { "<|l2r|>": 200_000 });
const bad = (o: unknown) => o as EncodeOptions;

describe("encode options", () => {
  const cases: [string, unknown, RegExp][] = [
    ["allowedSpecial a string", { allowedSpecial: "<|l2r|>" }, /invalid encode options: allowedSpecial: allowedSpecial must be "all" or a list of special tokens, got "<\|l2r\|>"/],
    ["allowedSpecial a number", { allowedSpecial: 5 }, /invalid encode options: allowedSpecial: .*got number/],
    ["allowedSpecial null", { allowedSpecial: null }, /invalid encode options: allowedSpecial: .*got null/],
    ["disallowedSpecial an object", { disallowedSpecial: { a: 1 } }, /invalid encode options: disallowedSpecial/],
    ["a list item that is not a string", { allowedSpecial: [5] }, /invalid encode options: allowedSpecial: lists number 5/],
    ["an unknown special token", { allowedSpecial: ["<|nope|>"] }, /allowedSpecial names unknown special token "<\|nope\|>"/],
    ["a misspelt option", { allowSpecial: "all" }, /invalid encode options: Unrecognized key: "allowSpecial"/],
    ["options that are not an object", "all", /invalid encode options: Invalid input: expected object, received string/],
    ["options null", null, /invalid encode options: Invalid input: expected object, received null/],
  ];
  it.each(cases)("%s", (_name, options, message) => {
    expect(() => tok.encode("x", bad(options))).toThrow(TokenizerError);
    expect(() => tok.encode("x", bad(options))).toThrow(message);
    expect(() => tok.encodeBatch(["x"], bad(options))).toThrow(message);
  });

  it("good options still work, and sets and arrays are both lists", () => {
    const text = "a <|l2r|> b";
    expect(tok.encode(text, { allowedSpecial: new Set(["<|l2r|>"]) })).toEqual(tok.encode(text, { allowedSpecial: ["<|l2r|>"] }));
    expect(tok.encode(text, { allowedSpecial: "all" })).toContain(200_000);
    expect(tok.encode(text, { allowedSpecial: "all", disallowedSpecial: "all" })).toContain(200_000);
    expect(tok.encode(text, { allowedSpecial: undefined, disallowedSpecial: [] })).not.toContain(200_000);
    expect(() => tok.encode(text, { allowedSpecial: ["<|l2r|>"], disallowedSpecial: ["<|l2r|>"] })).toThrow(/not allowed/);
    expect(encodeOptionsSchema.safeParse({ allowedSpecial: "all" }).success).toBe(true);
  });

  it("encodeBatch names the text that is bad", () => {
    expect(() => tok.encodeBatch(["ok", 5 as unknown as string])).toThrow(/texts\[1\]: encode expects a string, got number/);
    expect(() => tok.encodeBatch("abc" as unknown as string[])).toThrow(/encodeBatch expects an array/);
  });
});

describe("trainBpe options", () => {
  const cases: [string, unknown, RegExp][] = [
    ["a misspelt option", { vocabSize: 300, min_frequency: 2 }, /invalid trainBpe options: Unrecognized key: "min_frequency"/],
    ["vocabSize missing", {}, /invalid trainBpe options: vocabSize: Invalid input: expected number, received undefined/],
    ["vocabSize fractional", { vocabSize: 300.5 }, /invalid trainBpe options: vocabSize: Invalid input: expected int/],
    ["vocabSize too large", { vocabSize: 2 ** 24 + 1 }, /invalid trainBpe options: vocabSize: Too big/],
    ["minFrequency negative", { vocabSize: 300, minFrequency: -1 }, /invalid trainBpe options: minFrequency: Too small/],
    ["specialTokens with an empty one", { vocabSize: 300, specialTokens: ["<a>", ""] }, /invalid trainBpe options: specialTokens\[1\]: a special token cannot be the empty string/],
    ["specialTokens twice", { vocabSize: 300, specialTokens: ["<a>", "<a>"] }, /invalid trainBpe options: specialTokens: "<a>" is listed twice/],
    ["onProgress not a function", { vocabSize: 300, onProgress: 5 }, /invalid trainBpe options: onProgress: expected a function/],
    ["a pattern that is not a string", { vocabSize: 300, pattern: 5 }, /invalid trainBpe options: pattern: Invalid input: expected string/],
    ["an invalid pattern", { vocabSize: 300, pattern: "(" }, /invalid trainBpe options: pattern: invalid pre-tokenization pattern/],
    ["a catastrophic pattern", { vocabSize: 300, pattern: "(a*)*" }, /invalid trainBpe options: pattern: .*repeats a group/],
    ["options null", null, /trainBpe: options must be an object/],
  ];
  it.each(cases)("%s", async (_name, options, message) => {
    const run = () => trainBpe(["hello"], options as never);
    await expect(run()).rejects.toThrow(TokenizerError);
    await expect(run()).rejects.toThrow(message);
  });

  it("the schema is exported", () => {
    expect(trainBpeOptionsSchema.safeParse({ vocabSize: 300 }).success).toBe(true);
  });
});

describe("fromTiktoken special tokens", () => {
  it("a bad extra special token names it", () => {
    expect(() => Tokenizer.fromTiktoken(cl100k, { "<|x|>": -1 })).toThrow(/invalid Tokenizer\.fromTiktoken extraSpecialTokens: \["<\|x\|>"\]: Too small/);
    expect(() => Tokenizer.fromTiktoken(cl100k, { "<|x|>": 1.5 })).toThrow(TokenizerError);
    expect(() => Tokenizer.fromTiktoken(cl100k, { "": 300_000 })).toThrow('invalid Tokenizer.fromTiktoken extraSpecialTokens: [""]: Invalid key in record: a special token cannot be the empty string');
    expect(() => Tokenizer.fromTiktoken(cl100k, null as never)).toThrow(/extraSpecialTokens/);
  });
});

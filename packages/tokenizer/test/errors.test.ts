import { describe, expect, it } from "vitest";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { Tokenizer, TokenizerError } from "../src/index.js";

const tok = Tokenizer.fromTiktoken(cl100k, { "<|l2r|>": 200_000 });

describe("bad input gives a clear TokenizerError", () => {
  it("lone surrogates, naming the index", () => {
    expect(() => tok.encode("ok\ud800x")).toThrow(TokenizerError);
    expect(() => tok.encode("ok\ud800x")).toThrow(/lone surrogate U\+D800 at index 2/);
    expect(() => tok.encode("\udc00")).toThrow(/U\+DC00 at index 0/);
    expect(() => tok.encodeOrdinary("a\ud83d")).toThrow(/lone surrogate/);
  });

  it("unknown special tokens", () => {
    expect(() => tok.encode("x", { allowedSpecial: ["<|nope|>"] })).toThrow(/unknown special token "<\|nope\|>"/);
    expect(() => tok.specialTokenId("<|nope|>")).toThrow(TokenizerError);
    expect(tok.specialTokenId("<|l2r|>")).toBe(200_000);
  });

  it("disallowed special tokens in the text", () => {
    expect(() => tok.encode("a <|l2r|> b")).toThrow(/special token <\|l2r\|> at index 2/);
    expect(tok.encode("a <|l2r|> b", { allowedSpecial: ["<|l2r|>"] })).toContain(200_000);
  });

  it("ids outside the vocabulary", () => {
    expect(() => tok.decode([1, -1])).toThrow(/token id -1 is not in the vocabulary/);
    expect(() => tok.decode([150_000])).toThrow(TokenizerError);
  });

  it("non-string input and bad options", () => {
    expect(() => tok.encode(42 as unknown as string)).toThrow(/expects a string, got number/);
    expect(() => tok.encode("x", { allowedSpecial: "<|l2r|>" as unknown as string[] })).toThrow(/allowedSpecial must be/);
  });

  it("malformed tiktoken ranks", () => {
    expect(() => Tokenizer.fromTiktoken({} as never)).toThrow(/tiktoken ranks must be an object/);
    expect(() => Tokenizer.fromTiktoken({ pat_str: "\\s+", special_tokens: {}, bpe_ranks: "! x QQ==" })).toThrow(/line 1/);
    expect(() => Tokenizer.fromTiktoken({ pat_str: "(", special_tokens: {}, bpe_ranks: "! 0 QQ==" })).toThrow(/invalid pre-tokenization pattern/);
  });

  it("special ids that collide", () => {
    expect(() => Tokenizer.fromTiktoken(cl100k, { "<|x|>": 5 })).toThrow(/ordinary token already has/);
  });
});

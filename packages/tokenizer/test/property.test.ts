import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { RESERVED_SPECIAL_TOKENS, Tokenizer, TokenizerError, trainBpe } from "../src/index.js";
import { poemsZh, proseEn } from "./corpus.js";

const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
  fc.string({ unit: "grapheme-composite", maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(" ", "  ", "\t", "\n", "\r\n", "\u3000", "中", "文", "a", "B", "'", "1", "，"), maxLength: 80 }),
);

let trained: Tokenizer;
const tokenizers: [string, () => Tokenizer][] = [
  ["trained on the fixtures (BatGPT pattern)", () => trained],
  ["cl100k_base", () => Tokenizer.fromTiktoken(cl100k)],
];

beforeAll(async () => {
  trained = await trainBpe([poemsZh, proseEn], { vocabSize: 2000 });
});

describe.each(tokenizers)("laws of %s", (_name, get) => {
  it("decode(encode(s)) === s for any well-formed string", () => {
    const tok = get();
    fc.assert(
      fc.property(anyText, (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
  });

  it("ids are integers in [0, vocabSize)", () => {
    const tok = get();
    fc.assert(
      fc.property(anyText, (s) => {
        for (const id of tok.encode(s)) {
          expect(Number.isInteger(id) && id >= 0 && id < tok.vocabSize).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("emits a special token only where allowed", () => {
    const tok = get();
    const specials = [...tok.specialTokens.keys()];
    const specialIds = new Set(tok.specialTokens.values());
    const withSpecials = fc
      .array(fc.oneof(anyText, fc.constantFrom(...specials)), { maxLength: 6 })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(withSpecials, (s) => {
        const count = (ids: number[]) => ids.filter((id) => specialIds.has(id)).length;
        const occurrences = specials.reduce((n, sp) => n + s.split(sp).length - 1, 0);
        // ordinary encoding of text containing special-token text: never a special id
        const asText = tok.encode(s, { disallowedSpecial: [] });
        expect(count(asText)).toBe(0);
        expect(tok.decode(asText)).toBe(s);
        expect(count(tok.encodeOrdinary(s))).toBe(0);
        // the default refuses text that contains a special token
        if (occurrences > 0) expect(() => tok.encode(s)).toThrow(TokenizerError);
        else expect(count(tok.encode(s))).toBe(0);
        // allowed: specials come out as their ids (overlapping matches aside) and decode back
        const allowed = tok.encode(s, { allowedSpecial: "all" });
        expect(count(allowed)).toBeLessThanOrEqual(occurrences);
        expect(tok.decode(allowed)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("encodeBatch equals encoding one by one", () => {
    const tok = get();
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 5 }), (texts) => {
        expect(tok.encodeBatch(texts)).toEqual(texts.map((t) => tok.encode(t)));
      }),
      { numRuns: 100 },
    );
  });
});

describe("reserved special tokens", () => {
  it("a trained tokenizer has every reserved special token after the merges", () => {
    for (const sp of RESERVED_SPECIAL_TOKENS) {
      const id = trained.specialTokenId(sp);
      expect(id).toBeGreaterThanOrEqual(trained.vocabSize - RESERVED_SPECIAL_TOKENS.length);
      expect(trained.encode(sp, { allowedSpecial: [sp] })).toEqual([id]);
      expect(trained.idToToken(id)).toBe(sp);
      expect(trained.tokenToId(sp)).toBe(id);
    }
  });
});

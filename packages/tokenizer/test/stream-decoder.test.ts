import { describe, expect, it } from "vitest";
import fc from "fast-check";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { Tokenizer } from "../src/index.js";

const tok = Tokenizer.fromTiktoken(cl100k);

describe("StreamDecoder", () => {
  it("holds back a character until all its bytes have arrived", () => {
    // 𠮷 is four bytes; cl100k spells it with byte tokens, so the first ids carry no whole character
    const ids = tok.encode("𠮷");
    expect(ids.length).toBeGreaterThan(1);
    const d = tok.decoder();
    const outs = ids.map((id) => d.push(id));
    expect(outs.slice(0, -1).join("")).toBe("");
    expect(outs.at(-1)).toBe("𠮷");
    expect(d.flush()).toBe("");
  });

  it("streaming one id at a time gives exactly decode(ids), never a replacement character midway", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), (s) => {
        const ids = tok.encode(s);
        const d = tok.decoder();
        let out = "";
        for (const id of ids) {
          const piece = d.push(id);
          expect(piece.includes("\ufffd") && !s.includes("\ufffd")).toBe(false);
          out += piece;
        }
        out += d.flush();
        expect(out).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("flush reports an unfinished character as U+FFFD", () => {
    const ids = tok.encode("𠮷");
    const d = tok.decoder();
    d.push(ids.slice(0, -1));
    expect(d.flush()).toBe("\ufffd");
  });
});

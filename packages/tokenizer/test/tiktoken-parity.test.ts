import { describe, expect, it } from "vitest";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import o200k from "js-tiktoken/ranks/o200k_base";
import { Tokenizer } from "../src/index.js";
import { codeCorpus, edgeCases, poemsZh, poetryCorpus, proseEn, randomUnicode } from "./corpus.js";

const corpus: [string, string[]][] = [
  ["poetry", [poemsZh, ...poetryCorpus(300_000)]],
  ["english prose", proseEn.split("\n\n")],
  ["code", codeCorpus()],
  ["random unicode", randomUnicode(2000)],
  ["edge cases", edgeCases],
];

describe.each([
  ["cl100k_base", cl100k],
  ["o200k_base", o200k],
])("parity with js-tiktoken on %s", (_name, ranks) => {
  const ours = Tokenizer.fromTiktoken(ranks);
  const ref = new Tiktoken(ranks);

  it.each(corpus)("gives js-tiktoken's ids on %s", (_kind, texts) => {
    let mismatches = 0;
    let first = "";
    for (const text of texts) {
      const a = ours.encode(text);
      const b = ref.encode(text);
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
        mismatches++;
        first ||= text;
      }
    }
    expect(first).toBe("");
    expect(mismatches).toBe(0);
  });

  it("gives js-tiktoken's ids on the whole corpus as one text, and decodes it back", () => {
    const all = corpus.flatMap(([, t]) => t).join("\n");
    const ids = ours.encode(all);
    expect(ids).toEqual(ref.encode(all));
    expect(ours.decode(ids)).toBe(all);
  });

  it("treats special tokens as tiktoken does", () => {
    const text = "hello <|endoftext|> world";
    expect(() => ours.encode(text)).toThrow(/not allowed/);
    expect(() => ref.encode(text)).toThrow();
    expect(ours.encode(text, { allowedSpecial: "all" })).toEqual(ref.encode(text, "all"));
    expect(ours.encode(text, { disallowedSpecial: [] })).toEqual(ref.encode(text, [], []));
  });
});

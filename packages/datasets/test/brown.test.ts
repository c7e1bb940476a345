import { readFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { brownParagraphs, detokenize } from "../src/index.js";
import { BROWN_ROOT } from "./helpers.js";

describe("detokenize", () => {
  it("joins punctuation and turns `` '' into double quotes", () => {
    expect(detokenize(["He", "said", ",", "``", "yes", "''", "."])).toBe('He said, "yes".');
    expect(detokenize(["a", "(", "b", ")", "c", "--", "d", "?"])).toBe("a (b) c--d?");
  });

  it("alternates single quotes between opening and closing", () => {
    expect(detokenize(["the", "'", "Met", "'", "is", "back"])).toBe("the 'Met' is back");
  });

  it("keeps one of a repeated separator", () => {
    expect(detokenize(["it", "did", ";", ";", "it", "is"])).toBe("it did; it is");
  });

  it("is plain joining with spaces for words without punctuation", () => {
    const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9'-]{0,8}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 20 }), (words) => {
        expect(detokenize(words)).toBe(words.join(" "));
      }),
    );
  });
});

describe("brownParagraphs", () => {
  it("drops tags, splits paragraphs at tabs and headlines", async () => {
    const paragraphs = brownParagraphs(await readFile(join(BROWN_ROOT, "ca01"), "utf8"));
    expect(paragraphs).toEqual([
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
      'The jury said, "it did find; it is well operated". It urged action.',
      "Merger proposed",
      "However, the jury said it believes (as before) that 1/2 of the offices should be combined--not all.",
    ]);
  });

  it("reads single-quoted speech", async () => {
    const paragraphs = brownParagraphs(await readFile(join(BROWN_ROOT, "cb01"), "utf8"));
    expect(paragraphs).toEqual(["He said, 'Don't worry', and left?", "The end."]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prepareCorpus } from "../src/index.js";
import { allDocuments, syntheticPoetry, tempDir } from "./helpers.js";

describe("the split is a partition", () => {
  it("puts every distinct document in exactly one split, for any seed and fraction", async () => {
    const line = fc.string({ unit: fc.constantFrom(..."春花秋月何時了往事知多少風雨"), minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(line, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: -1000, max: 1000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        async (poems, seed, valFraction) => {
          const poetryRoot = await syntheticPoetry(poems.length, poems);
          const corpus = await prepareCorpus({ poetryRoot, sources: ["tang"], includeEnglish: false, seed, valFraction, cacheDir: await tempDir() });
          const train = (await allDocuments(corpus.train.jsonl)).map((d) => d.id);
          const val = (await allDocuments(corpus.val.jsonl)).map((d) => d.id);
          const distinct = new Set(poems.map((p) => p.join("\n"))).size;
          expect(train.length + val.length).toBe(distinct);
          expect(new Set([...train, ...val]).size).toBe(distinct);
          expect(corpus.manifest.duplicatesDropped).toBe(poems.length - distinct);
        },
      ),
      { numRuns: 25 },
    );
  });
});

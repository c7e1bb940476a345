import { describe, expect, it } from "vitest";
import { prepareCorpus } from "../src/index.js";
import { converterFor, scriptConverter } from "../src/script.js";
import { FIXTURES, allDocuments, tempDir } from "./helpers.js";

describe("script conversion", () => {
  it("converts Traditional to Simplified with phrase rules", () => {
    const t2s = scriptConverter("traditional", "simplified");
    expect(t2s("舉頭望山月，低頭思故鄉。")).toBe("举头望山月，低头思故乡。");
    expect(t2s("乾坤")).toBe("乾坤");
    expect(t2s("乾淨")).toBe("干净");
  });

  it("leaves Simplified text unchanged when asked for Simplified", () => {
    const text = "明月几时有？把酒问青天。";
    expect(converterFor("simplified", "simplified")(text)).toBe(text);
  });

  it("keeps Traditional collections verbatim when asked for Traditional", () => {
    const text = "舉頭望山月，低頭思故鄉。";
    expect(converterFor("traditional", "traditional")(text)).toBe(text);
    expect(converterFor("simplified", "traditional")("明月几时有")).toBe("明月幾時有");
  });
});

describe("prepareCorpus script option", () => {
  const base = { ...FIXTURES, includeEnglish: false, valFraction: 0 };

  it("writes Simplified by default, titles and authors included", async () => {
    const corpus = await prepareCorpus({ ...base, cacheDir: await tempDir() });
    const docs = await allDocuments(corpus.train.jsonl);
    const jingyesi = docs.find((d) => d.id === "tang/poet.tang.0/0");
    expect(jingyesi).toEqual({
      id: "tang/poet.tang.0/0",
      source: "tang",
      lang: "zh",
      title: "静夜思",
      author: "李白",
      text: "床前看月光，疑是地上霜。\n举头望山月，低头思故乡。",
    });
    expect(docs.find((d) => d.id === "songci/ci.song.0/0")?.text).toBe("明月几时有？把酒问青天。\n不知天上宫阙，今夕是何年。");
  });

  it("keeps Traditional when script is traditional", async () => {
    const corpus = await prepareCorpus({ ...base, script: "traditional", cacheDir: await tempDir() });
    const docs = await allDocuments(corpus.train.jsonl);
    expect(docs.find((d) => d.id === "tang/poet.tang.0/0")?.text).toBe("牀前看月光，疑是地上霜。\n舉頭望山月，低頭思故鄉。");
    expect(docs.find((d) => d.id === "songci/ci.song.0/0")?.text).toBe("明月幾時有？把酒問青天。\n不知天上宮闕，今夕是何年。");
    expect(corpus.manifest.options.script).toBe("traditional");
  });
});

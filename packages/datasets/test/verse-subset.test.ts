import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DatasetError, checkVerseForm, isValidation, parseCorpusOptions, prepareCorpus } from "../src/index.js";
import type { CorpusDocument, VerseForm } from "../src/index.js";
import { FIXTURES, allDocuments, tempDir } from "./helpers.js";

interface Poem {
  title?: string;
  author: string;
  paragraphs: string[];
}

/** Tang poems (file poet.tang.0.json), in Traditional as chinese-poetry ships them. */
const TANG: Poem[] = [
  /* 0 */ { title: "靜夜思", author: "李白", paragraphs: ["牀前看月光，疑是地上霜。", "舉頭望山月，低頭思故鄉。"] },
  /* 1 */ { title: "春望", author: "杜甫", paragraphs: ["國破山河在，城春草木深。", "感時花濺淚，恨別鳥驚心。", "烽火連三月，家書抵萬金。", "白頭搔更短，渾欲不勝簪。"] },
  /* 2 */ { title: "出塞", author: "王昌齡", paragraphs: ["秦時明月漢時關，萬里長征人未還。", "但使龍城飛將在，不教胡馬度陰山。"] },
  /* 3: a question mark */ { title: "清明", author: "杜牧", paragraphs: ["清明時節雨紛紛，路上行人欲斷魂。", "借問酒家何處有？牧童遙指杏花村。"] },
  /* 4: six lines */ { title: "六句", author: "無名", paragraphs: ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。", "春眠不覺曉，處處聞啼鳥。"] },
  /* 5: lines of 5 and 7 */ { title: "雜言", author: "無名", paragraphs: ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓高高。"] },
  /* 6: a note */ { title: "有注", author: "無名", paragraphs: ["千山鳥飛絕（一作盡），萬徑人蹤滅。", "孤舟蓑笠翁，獨釣寒江雪。"] },
  /* 7: a lost character */ { title: "缺字", author: "無名", paragraphs: ["千山鳥□絕，萬徑人蹤滅。", "孤舟蓑笠翁，獨釣寒江雪。"] },
  /* 8: no title */ { author: "無名", paragraphs: ["紅豆生南國，春來發幾枝。", "願君多採擷，此物最相思。"] },
  /* 9: a title in 《》, one line a paragraph, a character outside the BMP */
  { title: " 《登樓》 ", author: "王之渙", paragraphs: ["𠀋日依山盡，", "黃河入海流。", "欲窮千里目，", "更上一層樓。"] },
  /* 10: the same poem as 0 under another title: a duplicate */ { title: "靜夜思（重出）", author: "李白", paragraphs: ["牀前看月光，疑是地上霜。", "舉頭望山月，低頭思故鄉。"] },
  /* 11: a title with a line break */ { title: "上\n下", author: "無名", paragraphs: ["春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"] },
];

/** Song poems (file poet.song.0.json). */
const SONG: Poem[] = [
  /* 0 */ { title: "題西林壁", author: "蘇軾", paragraphs: ["橫看成嶺側成峰，遠近高低各不同。", "不識廬山真面目，只緣身在此山中。"] },
  /* 1 */ {
    title: "登高",
    author: "杜甫",
    paragraphs: ["風急天高猿嘯哀，渚清沙白鳥飛迴。", "無邊落木蕭蕭下，不盡長江滾滾來。", "萬里悲秋常作客，百年多病獨登臺。", "艱難苦恨繁霜鬢，潦倒新停濁酒杯。"],
  },
  /* 2: one line */ { title: "斷句", author: "無名", paragraphs: ["不應讀到此。"] },
];

async function verseFixture(): Promise<string> {
  const root = await tempDir("batgpt-verse-");
  const dir = join(root, "quantangshi");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "poet.tang.0.json"), JSON.stringify(TANG));
  await writeFile(join(dir, "poet.song.0.json"), JSON.stringify(SONG));
  return root;
}

async function bothSplits(corpus: { train: { jsonl: string }; val: { jsonl: string } }): Promise<{ train: CorpusDocument[]; val: CorpusDocument[] }> {
  return { train: await allDocuments(corpus.train.jsonl), val: await allDocuments(corpus.val.jsonl) };
}

describe('prepareCorpus({ subset: "regular-verse" })', () => {
  it("keeps the regular verse of tang and songshi, in the verse layout, with the form", async () => {
    const poetryRoot = await verseFixture();
    const corpus = await prepareCorpus({ poetryRoot, subset: "regular-verse", cacheDir: await tempDir(), valFraction: 0.3 });
    const { train, val } = await bothSplits(corpus);
    const docs = [...train, ...val].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(docs.map((d) => [d.id, d.form, d.title])).toEqual([
      ["songshi/poet.song.0/0", "七言绝句", "题西林壁"],
      ["songshi/poet.song.0/1", "七言律诗", "登高"],
      ["tang/poet.tang.0/0", "五言绝句", "静夜思"],
      ["tang/poet.tang.0/1", "五言律诗", "春望"],
      ["tang/poet.tang.0/2", "七言绝句", "出塞"],
      ["tang/poet.tang.0/9", "五言绝句", "登楼"],
    ]);
    const byId = new Map(docs.map((d) => [d.id, d]));
    expect(byId.get("tang/poet.tang.0/0")).toEqual({
      id: "tang/poet.tang.0/0",
      source: "tang",
      lang: "zh",
      title: "静夜思",
      author: "李白",
      form: "五言绝句",
      text: "《静夜思》五言绝句\n床前看月光，疑是地上霜。\n举头望山月，低头思故乡。",
    });
    expect(byId.get("tang/poet.tang.0/9")?.text).toBe("《登楼》五言绝句\n𠀋日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。");
    expect(byId.get("songshi/poet.song.0/1")?.text.split("\n")).toHaveLength(5);
    for (const d of docs) expect(checkVerseForm(d.text, d.form as VerseForm)).toEqual({ ok: true, lines: d.form?.endsWith("律诗") ? 8 : 4 });

    // the jsonl rows keep the documented key order, form before text
    const row = JSON.parse((await readFile(corpus.train.jsonl, "utf8")).split("\n")[0] ?? "{}") as object;
    expect(Object.keys(row)).toEqual(["id", "source", "lang", "title", "author", "form", "text"]);
    // train.txt holds the same texts
    expect(await readFile(corpus.train.txt, "utf8")).toBe(`${train.map((d) => d.text).join("\n\n")}\n`);

    const m = corpus.manifest;
    expect(m.options).toMatchObject({ subset: "regular-verse", sources: ["tang", "songshi"], includeEnglish: false });
    expect(m.duplicatesDropped).toBe(1);
    expect(m.verse?.rejected).toEqual({ empty: 0, "other-characters": 1, punctuation: 2, "line-count": 2, "line-length": 1, title: 2 });
    const formCount = (f: VerseForm): number => (m.verse?.train[f].documents ?? 0) + (m.verse?.val[f].documents ?? 0);
    expect({ 五言绝句: formCount("五言绝句"), 七言绝句: formCount("七言绝句"), 五言律诗: formCount("五言律诗"), 七言律诗: formCount("七言律诗") }).toEqual({
      五言绝句: 2,
      七言绝句: 2,
      五言律诗: 1,
      七言律诗: 1,
    });
    for (const split of ["train", "val"] as const) {
      const forms = Object.values(m.verse?.[split] ?? {});
      expect(forms.reduce((n, s) => n + s.documents, 0)).toBe(m.splits[split].documents);
      expect(forms.reduce((n, s) => n + s.bytes, 0)).toBe(m.splits[split].bytes);
    }
    expect(m.sources.map((s) => [s.id, s.documents])).toEqual([
      ["tang", 4],
      ["songshi", 2],
    ]);
  });

  it("puts each poem in the split it has in the whole corpus", async () => {
    const poetryRoot = await verseFixture();
    for (const seed of [0, 1, 2, 3]) {
      const common = { poetryRoot, sources: ["tang", "songshi"] as const, includeEnglish: false, valFraction: 0.5, seed, cacheDir: await tempDir() };
      const verse = await bothSplits(await prepareCorpus({ ...common, sources: [...common.sources], subset: "regular-verse" }));
      const all = await bothSplits(await prepareCorpus({ ...common, sources: [...common.sources] }));
      const allTrain = new Set(all.train.map((d) => d.id));
      const allVal = new Set(all.val.map((d) => d.id));
      for (const d of verse.train) expect(allTrain.has(d.id) && !isValidation(d.id, seed, 0.5)).toBe(true);
      for (const d of verse.val) expect(allVal.has(d.id) && isValidation(d.id, seed, 0.5)).toBe(true);
      // the poem is the same text, laid out
      const allById = new Map([...all.train, ...all.val].map((d) => [d.id, d]));
      for (const d of [...verse.train, ...verse.val]) {
        const body = d.text.slice(d.text.indexOf("\n") + 1).replace(/\n/g, "");
        expect(allById.get(d.id)?.text.replace(/\n/g, "")).toBe(body);
      }
    }
  });

  it("keeps Traditional text with script: traditional (the form names stay as they are)", async () => {
    const corpus = await prepareCorpus({ poetryRoot: await verseFixture(), subset: "regular-verse", script: "traditional", valFraction: 0, cacheDir: await tempDir() });
    const docs = await allDocuments(corpus.train.jsonl);
    expect(docs.find((d) => d.id === "tang/poet.tang.0/0")?.text).toBe("《靜夜思》五言绝句\n牀前看月光，疑是地上霜。\n舉頭望山月，低頭思故鄉。");
  });

  it("caches under its own key, respects a byte cap, and adds English only when asked", async () => {
    const poetryRoot = await verseFixture();
    const cacheDir = await tempDir();
    const verse = await prepareCorpus({ ...FIXTURES, poetryRoot, subset: "regular-verse", cacheDir });
    const all = await prepareCorpus({ ...FIXTURES, poetryRoot, sources: ["tang", "songshi"], includeEnglish: false, cacheDir });
    expect(verse.dir).not.toBe(all.dir);
    expect((await prepareCorpus({ ...FIXTURES, poetryRoot, subset: "regular-verse", cacheDir })).cached).toBe(true);

    const capped = await prepareCorpus({ poetryRoot, subset: "regular-verse", cacheDir, valFraction: 0, maxChineseBytes: 200 });
    expect(capped.manifest.splits.train.bytes).toBeLessThanOrEqual(200);
    expect(capped.manifest.splits.train.documents).toBeGreaterThan(0);

    const withEnglish = await prepareCorpus({ ...FIXTURES, poetryRoot, subset: "regular-verse", includeEnglish: true, cacheDir });
    const docs = [...(await allDocuments(withEnglish.train.jsonl)), ...(await allDocuments(withEnglish.val.jsonl))];
    expect(docs.filter((d) => d.lang === "en")).toHaveLength(2);
    expect(docs.filter((d) => d.lang === "zh").every((d) => d.form !== undefined)).toBe(true);
  });

  it("validates its options", async () => {
    expect(parseCorpusOptions({ subset: "regular-verse" })).toMatchObject({ subset: "regular-verse", sources: ["tang", "songshi"], includeEnglish: false });
    expect(parseCorpusOptions({})).toMatchObject({ subset: "all", sources: ["tang", "songci", "lunyu", "mengxue", "shijing"], includeEnglish: true });
    expect(parseCorpusOptions({ subset: "regular-verse", sources: ["songshi"] }).sources).toEqual(["songshi"]);
    const bad: [unknown, RegExp][] = [
      [{ subset: "verse" }, /invalid corpus options: subset: Invalid option/],
      [{ subset: "regular-verse", sources: ["tang", "songci"] }, /invalid corpus options: sources: the regular-verse subset reads only the poem collections tang and songshi/],
      [{ subset: "regular-verse", sources: [] }, /sources: nothing to read/],
    ];
    for (const [options, message] of bad) {
      const attempt = prepareCorpus(options as never);
      await expect(attempt).rejects.toThrow(DatasetError);
      await expect(attempt).rejects.toThrow(message);
    }
  });
});

describe("the whole corpus", () => {
  it("accepts a cached manifest written before the subset option (same key)", async () => {
    const cacheDir = await tempDir();
    const first = await prepareCorpus({ ...FIXTURES, cacheDir });
    expect(first.manifest.options.subset).toBe("all");
    expect(first.manifest.verse).toBeNull();
    const old = JSON.parse(await readFile(first.manifestPath, "utf8")) as Record<string, unknown> & { options: Record<string, unknown> };
    delete old.verse;
    delete old.options.subset;
    await writeFile(first.manifestPath, JSON.stringify(old));
    const again = await prepareCorpus({ ...FIXTURES, cacheDir });
    expect(again.cached).toBe(true);
    expect(again.manifest).toEqual(first.manifest);
  });
});

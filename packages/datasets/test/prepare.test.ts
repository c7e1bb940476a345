import { readFile, stat, writeFile, mkdir, cp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { DatasetError, isValidation, prepareCorpus } from "../src/index.js";
import type { ProgressEvent } from "../src/index.js";
import { FIXTURES, POETRY_ROOT, allDocuments, listAll, syntheticPoetry, tempDir } from "./helpers.js";

const FILES = ["manifest.json", "train.jsonl", "train.txt", "val.jsonl", "val.txt"];

async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of FILES) out[f] = await readFile(join(dir, f), "utf8");
  return out;
}

describe("prepareCorpus on the fixtures", () => {
  it("writes both splits as txt and jsonl, and a manifest", async () => {
    const cacheDir = await tempDir();
    const corpus = await prepareCorpus({ ...FIXTURES, cacheDir, valFraction: 0.3, seed: 1 });
    expect(corpus.cached).toBe(false);
    expect(corpus.dir.startsWith(cacheDir)).toBe(true);
    expect(corpus.dir).toMatch(/[0-9a-f]{12}$/);
    expect(await listAll(corpus.dir)).toEqual(FILES);

    const train = await allDocuments(corpus.train.jsonl);
    const val = await allDocuments(corpus.val.jsonl);
    const docs = [...train, ...val];
    // 4+3 Tang (one empty, one duplicate) + 3 ci + 2 Analects + 1+2+1 primers (wenzimengqiu skipped) + 2 Shijing + 2 Brown
    expect(docs.filter((d) => d.lang === "zh")).toHaveLength(17);
    expect(docs.filter((d) => d.lang === "en").map((d) => d.id).sort()).toEqual(["brown/ca01", "brown/cb01"]);
    expect(docs.some((d) => d.source === "songshi" || d.text.includes("●"))).toBe(false);
    expect(corpus.manifest.duplicatesDropped).toBe(1);

    // txt = the jsonl texts, separated by blank lines
    expect(await readFile(corpus.train.txt, "utf8")).toBe(`${train.map((d) => d.text).join("\n\n")}\n`);
    expect(await readFile(corpus.val.txt, "utf8")).toBe(val.length === 0 ? "" : `${val.map((d) => d.text).join("\n\n")}\n`);

    // keys in the documented order
    const firstLine = (await readFile(corpus.train.jsonl, "utf8")).split("\n")[0] ?? "";
    const keys = Object.keys(JSON.parse(firstLine) as object);
    expect(keys[0]).toBe("id");
    expect(keys.at(-1)).toBe("text");

    const primers = docs.filter((d) => d.source === "mengxue").map((d) => d.title).sort();
    expect(primers).toEqual(["千字文", "千家诗·访袁拾遗不遇", "弟子规·入则孝", "弟子规·总叙"]);

    const m = corpus.manifest;
    expect(m.createdBy).toMatch(/^@batgpt\/datasets@\d+\.\d+\.\d+/);
    expect(m.splits.train.documents + m.splits.val.documents).toBe(docs.length);
    expect(m.splits.train.zh.bytes + m.splits.train.en.bytes).toBe(m.splits.train.bytes);
    expect(m.splits.train.files.txt.bytes).toBe((await stat(corpus.train.txt)).size);
    expect(m.sources.map((s) => s.id)).toEqual(["tang", "songci", "lunyu", "mengxue", "shijing", "brown"]);
    expect(m.sources.find((s) => s.id === "brown")?.licence).toMatch(/MIT/);
    expect(JSON.parse(await readFile(corpus.manifestPath, "utf8"))).toEqual(m);
  });

  it("is deterministic: the same seed gives byte-identical files", async () => {
    const a = await prepareCorpus({ ...FIXTURES, cacheDir: await tempDir(), valFraction: 0.3, seed: 7 });
    const b = await prepareCorpus({ ...FIXTURES, cacheDir: await tempDir(), valFraction: 0.3, seed: 7 });
    expect(await readAll(b.dir)).toEqual(await readAll(a.dir));
  });

  it("a different seed gives a different split and order", async () => {
    const cacheDir = await tempDir();
    const a = await prepareCorpus({ ...FIXTURES, cacheDir, valFraction: 0.3, seed: 1 });
    const b = await prepareCorpus({ ...FIXTURES, cacheDir, valFraction: 0.3, seed: 2 });
    expect(b.dir).not.toBe(a.dir);
    const valIds = async (p: string): Promise<string[]> => (await allDocuments(p)).map((d) => d.id).sort();
    expect(await valIds(b.val.jsonl)).not.toEqual(await valIds(a.val.jsonl));
    expect(await readFile(b.train.txt, "utf8")).not.toBe(await readFile(a.train.txt, "utf8"));
  });

  it("caches: a second call with the same options rebuilds nothing", async () => {
    const cacheDir = await tempDir();
    const events: ProgressEvent[] = [];
    const first = await prepareCorpus({ ...FIXTURES, cacheDir, onProgress: (e) => events.push(e) });
    expect(events.map((e) => e.stage)).toContain("read");
    expect(events.at(-1)?.stage).toBe("done");
    const mtimes = await Promise.all(FILES.map(async (f) => (await stat(join(first.dir, f))).mtimeMs));

    events.length = 0;
    const second = await prepareCorpus({ ...FIXTURES, cacheDir, onProgress: (e) => events.push(e) });
    expect(second.cached).toBe(true);
    expect(second.dir).toBe(first.dir);
    expect(second.manifest).toEqual(first.manifest);
    expect(events).toEqual([{ stage: "cached", done: 1, total: 1 }]);
    expect(await Promise.all(FILES.map(async (f) => (await stat(join(first.dir, f))).mtimeMs))).toEqual(mtimes);

    const forced = await prepareCorpus({ ...FIXTURES, cacheDir, force: true });
    expect(forced.cached).toBe(false);
    expect(forced.dir).toBe(first.dir);
  });

  it('progress: "json" writes the progress events as JSON lines on stderr; the default prints nothing', async () => {
    const cacheDir = await tempDir();
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => written.push(String(chunk)) > 0);
    try {
      const events: ProgressEvent[] = [];
      await prepareCorpus({ ...FIXTURES, cacheDir, onProgress: (e) => events.push(e) });
      expect(written).toEqual([]);
      await prepareCorpus({ ...FIXTURES, cacheDir, force: true, progress: "json" });
      const lines = written.join("").trim().split("\n").map((l) => JSON.parse(l) as ProgressEvent);
      expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) expect(events).toContainEqual(line);
      expect(lines.at(-1)).toEqual({ stage: "done", done: 1, total: 1 });
    } finally {
      spy.mockRestore();
    }
  });

  it("rebuilds when a cached file is damaged", async () => {
    const cacheDir = await tempDir();
    const first = await prepareCorpus({ ...FIXTURES, cacheDir });
    const original = await readFile(first.train.txt, "utf8");
    await writeFile(first.train.txt, "truncated");
    const again = await prepareCorpus({ ...FIXTURES, cacheDir });
    expect(again.cached).toBe(false);
    expect(await readFile(again.train.txt, "utf8")).toBe(original);
  });

  it("leaves no temporary files, also when a source file is corrupt", async () => {
    const good = await prepareCorpus({ ...FIXTURES, cacheDir: await tempDir() });
    expect((await listAll(good.dir)).some((f) => f.includes(".tmp-"))).toBe(false);

    const poetryRoot = await tempDir("batgpt-bad-poetry-");
    await cp(POETRY_ROOT, poetryRoot, { recursive: true });
    await writeFile(join(poetryRoot, "shijing", "shijing.json"), '[{"title": "broken", ');
    const cacheDir = await tempDir();
    const failed = prepareCorpus({ ...FIXTURES, poetryRoot, cacheDir });
    await expect(failed).rejects.toThrow(DatasetError);
    await expect(failed).rejects.toThrow(/shijing\.json: invalid JSON/);
    expect((await listAll(cacheDir)).filter((f) => f.includes(".tmp-") || f.endsWith("manifest.json"))).toEqual([]);
  });

  it("respects the byte caps, keeping a prefix of the seeded order", async () => {
    const cacheDir = await tempDir();
    const full = await prepareCorpus({ ...FIXTURES, cacheDir, valFraction: 0 });
    const capped = await prepareCorpus({ ...FIXTURES, cacheDir, valFraction: 0, maxChineseBytes: 200, maxEnglishBytes: 0 });
    expect(capped.manifest.splits.train.zh.bytes).toBeLessThanOrEqual(200);
    expect(capped.manifest.splits.train.zh.documents).toBeGreaterThan(0);
    expect(capped.manifest.splits.train.en.documents).toBe(0);
    const fullIds = (await allDocuments(full.train.jsonl)).filter((d) => d.lang === "zh").map((d) => d.id);
    const cappedIds = (await allDocuments(capped.train.jsonl)).map((d) => d.id);
    expect(fullIds.slice(0, cappedIds.length)).toEqual(cappedIds);
  });

  it("reads only the chosen sources, and English only when asked", async () => {
    const corpus = await prepareCorpus({ ...FIXTURES, cacheDir: await tempDir(), sources: ["lunyu"], includeEnglish: false });
    const docs = [...(await allDocuments(corpus.train.jsonl)), ...(await allDocuments(corpus.val.jsonl))];
    expect(new Set(docs.map((d) => d.source))).toEqual(new Set(["lunyu"]));
    expect(corpus.manifest.sources.map((s) => s.id)).toEqual(["lunyu"]);
  });

  it("roughly respects valFraction", async () => {
    const poetryRoot = await syntheticPoetry(4000);
    const corpus = await prepareCorpus({ poetryRoot, sources: ["tang"], includeEnglish: false, valFraction: 0.1, cacheDir: await tempDir() });
    const { train, val } = corpus.manifest.splits;
    expect(train.documents + val.documents).toBe(4000);
    expect(val.documents / 4000).toBeGreaterThan(0.08);
    expect(val.documents / 4000).toBeLessThan(0.12);
  });

  it("splits by a seeded hash of the id, near the requested fraction", () => {
    const ids = Array.from({ length: 20000 }, (_, i) => `tang/poet.tang.${i % 57}/${i}`);
    for (const fraction of [0.02, 0.25]) {
      const share = ids.filter((id) => isValidation(id, 0, fraction)).length / ids.length;
      expect(Math.abs(share - fraction)).toBeLessThan(0.01);
    }
    expect(ids.filter((id) => isValidation(id, 0, 0))).toEqual([]);
  });
});

describe("options", () => {
  const bad: [unknown, RegExp][] = [
    [{ valFraction: 2 }, /valFraction/],
    [{ script: "klingon" }, /script/],
    [{ sources: ["tang", "nope"] }, /invalid corpus options: sources\[1\]/],
    [{ maxChineseBytes: -1 }, /maxChineseBytes/],
    [{ seed: 1.5 }, /seed/],
    [{ seeds: 3 }, /seeds/],
    [{ sources: [], includeEnglish: false }, /sources: nothing to read/],
    [{ onProgress: 3 }, /onProgress/],
    [{ progress: "loud" }, /invalid corpus options: progress: Invalid option/],
  ];
  for (const [options, message] of bad) {
    it(`rejects ${JSON.stringify(options)}`, async () => {
      const attempt = prepareCorpus(options as never);
      await expect(attempt).rejects.toThrow(DatasetError);
      await expect(attempt).rejects.toThrow(message);
    });
  }

  it("names a missing corpus folder", async () => {
    const cacheDir = await tempDir();
    const brownRoot = join(cacheDir, "nothing-here");
    await mkdir(brownRoot);
    await expect(prepareCorpus({ ...FIXTURES, brownRoot, cacheDir })).rejects.toThrow(/no Brown corpus files/);
    await expect(prepareCorpus({ ...FIXTURES, poetryRoot: join(cacheDir, "missing"), cacheDir })).rejects.toThrow(/cannot list the corpus files/);
  });
});

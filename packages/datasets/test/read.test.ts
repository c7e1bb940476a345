import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DatasetError, readTextLines, sampleLines } from "../src/index.js";
import { allDocuments, tempDir } from "./helpers.js";

describe("readDocuments", () => {
  it("streams rows and skips blank lines", async () => {
    const path = join(await tempDir(), "ok.jsonl");
    await writeFile(path, '{"id":"a","source":"tang","lang":"zh","text":"一"}\n\n{"id":"b","source":"brown","lang":"en","title":"T","text":"two"}\n');
    expect(await allDocuments(path)).toEqual([
      { id: "a", source: "tang", lang: "zh", text: "一" },
      { id: "b", source: "brown", lang: "en", title: "T", text: "two" },
    ]);
  });

  it("names the file and line of a line that is not JSON", async () => {
    const path = join(await tempDir(), "bad.jsonl");
    await writeFile(path, '{"id":"a","source":"s","lang":"zh","text":"x"}\n{"id":"b","source":"s","lang":"zh","text":"y"}\n{oops\n');
    const attempt = allDocuments(path);
    await expect(attempt).rejects.toThrow(DatasetError);
    await expect(attempt).rejects.toThrow(`${path}:3: invalid JSON`);
  });

  it("names the file, line and field of a row that is not a document", async () => {
    const path = join(await tempDir(), "bad-row.jsonl");
    await writeFile(path, '{"id":"a","source":"s","lang":"fr","text":"x"}\n');
    await expect(allDocuments(path)).rejects.toThrow(`${path}:1: invalid corpus document: lang: Invalid option`);
  });
});

describe("readTextLines and sampleLines", () => {
  it("streams lines, optionally without the blank ones", async () => {
    const path = join(await tempDir(), "t.txt");
    await writeFile(path, "a\nb\n\nc\r\n");
    const all: string[] = [];
    for await (const line of readTextLines(path)) all.push(line);
    expect(all).toEqual(["a", "b", "", "c"]);
    const text: string[] = [];
    for await (const line of readTextLines(path, { skipBlank: true })) text.push(line);
    expect(text).toEqual(["a", "b", "c"]);
  });

  it("samples deterministically, in file order", async () => {
    const path = join(await tempDir(), "s.txt");
    await writeFile(path, Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join("\n"));
    const a = await sampleLines(path, 10, 3);
    expect(a).toHaveLength(10);
    expect(await sampleLines(path, 10, 3)).toEqual(a);
    expect(await sampleLines(path, 10, 4)).not.toEqual(a);
    const numbers = a.map((l) => Number(l.split(" ")[1]));
    expect([...numbers].sort((x, y) => x - y)).toEqual(numbers);
    expect(await sampleLines(path, 5000, 3)).toHaveLength(1000);
    await expect(sampleLines(path, -1)).rejects.toThrow(DatasetError);
  });
});

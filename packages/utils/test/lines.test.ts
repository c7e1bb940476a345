import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNumberedLines } from "../src/index.js";

describe("readNumberedLines", () => {
  it("streams the lines with their 1-based numbers, \\n and \\r\\n alike, blank lines included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-lines-"));
    try {
      const path = join(dir, "a.txt");
      writeFileSync(path, "一\r\n\n三\n四");
      const got: [string, number][] = [];
      for await (const l of readNumberedLines(path)) got.push(l);
      expect(got).toEqual([["一", 1], ["", 2], ["三", 3], ["四", 4]]);
      await expect((async () => {
        for await (const _ of readNumberedLines(join(dir, "missing.txt"))) void _;
      })()).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("drops a byte-order mark at the start of the file, and only there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-lines-"));
    try {
      const path = join(dir, "bom.jsonl");
      writeFileSync(path, '\uFEFF{"a":1}\n\uFEFFb');
      const got: [string, number][] = [];
      for await (const l of readNumberedLines(path)) got.push(l);
      expect(got).toEqual([['{"a":1}', 1], ["\uFEFFb", 2]]);
      expect(JSON.parse(got[0]![0])).toEqual({ a: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

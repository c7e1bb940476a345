import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AtomicTextWriter, tmpPath, writeFileAtomic } from "../src/atomic.js";

describe("atomic writes", () => {
  it("two writers of one path in one process never share a temporary file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "batgpt-atomic-"));
    const path = join(dir, "manifest.json");
    expect(tmpPath(path)).not.toBe(tmpPath(path));
    // with one temp name per process, one writer renamed the other's file away (ENOENT)
    await Promise.all(Array.from({ length: 8 }, (_, i) => writeFileAtomic(path, `writer ${i}\n`.repeat(10_000))));
    expect(await readFile(path, "utf8")).toMatch(/^(writer \d\n){10000}$/);
    const a = new AtomicTextWriter(join(dir, "a.txt"));
    const b = new AtomicTextWriter(join(dir, "a.txt"));
    await a.write("first\n");
    await b.write("second\n");
    await a.commit();
    await b.abort();
    expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("first\n");
    expect((await readdir(dir)).sort()).toEqual(["a.txt", "manifest.json"]);
    await rm(dir, { recursive: true, force: true });
  });
});

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { AtomicTextWriter, pathExists, resolveAtomicDir, tmpPath, withAtomicFile, writeDirAtomic, writeFileAtomic } from "../src/atomic.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "batgpt-utils-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomic and withAtomicFile", () => {
  it("a failure at any point of the write leaves the old file whole, and no temporary file (property)", async () => {
    const dir = await tempDir();
    const path = join(dir, "f.txt");
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), fc.string({ minLength: 1, maxLength: 4096 }), fc.option(fc.nat({ max: 4096 })), async (old, next, failAt) => {
        await writeFileAtomic(path, old);
        const write = withAtomicFile(path, async (fh) => {
          const bytes = Buffer.from(next, "utf8");
          if (failAt !== null) {
            // a failure mid-way (a full disk, a bad tensor) after `failAt` bytes
            await fh.writeFile(bytes.subarray(0, Math.min(failAt, bytes.length)));
            throw new Error("disk full");
          }
          await fh.writeFile(bytes);
          return bytes.length;
        });
        if (failAt === null) {
          expect(await write).toBe(Buffer.byteLength(next));
          expect(await readFile(path, "utf8")).toBe(next);
        } else {
          await expect(write).rejects.toThrow("disk full");
          expect(await readFile(path, "utf8")).toBe(old);
        }
        expect(await readdir(dir)).toEqual(["f.txt"]);
      }),
      { numRuns: 60 },
    );
  });

  it("a reader never sees a partial file while writers replace it", async () => {
    const dir = await tempDir();
    const path = join(dir, "big.txt");
    const versions = Array.from({ length: 6 }, (_, i) => `${i}`.repeat(300_000 + i));
    await writeFileAtomic(path, versions[0]!);
    let writing = true;
    const seen = new Set<number>();
    const reader = (async () => {
      while (writing) {
        const text = await readFile(path, "utf8");
        const i = versions.indexOf(text);
        expect(i, `a read of ${text.length} characters is one whole version`).toBeGreaterThanOrEqual(0);
        seen.add(i);
      }
    })();
    for (let round = 0; round < 4; round++) await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    writing = false;
    await reader;
    expect(seen.size).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(["big.txt"]);
  });

  it("concurrent writers of one path never share a temporary file; the last rename wins whole", async () => {
    const dir = await tempDir();
    const path = join(dir, "manifest.json");
    expect(tmpPath(path)).not.toBe(tmpPath(path));
    expect(tmpPath(path)).toMatch(new RegExp(`^${path.replace(/[.]/g, "\\.")}\\.tmp-${process.pid}-[0-9a-f]{12}$`));
    // with one temp name per process, one writer renamed the other's file away (ENOENT)
    await Promise.all(Array.from({ length: 8 }, (_, i) => writeFileAtomic(path, `writer ${i}\n`.repeat(10_000))));
    expect(await readFile(path, "utf8")).toMatch(/^(writer \d\n){10000}$/);
    expect(await readdir(dir)).toEqual(["manifest.json"]);
  });

  it("writes bytes, creates the parent folder, and removes the temporary file when the rename fails", async () => {
    const dir = await tempDir();
    await writeFileAtomic(join(dir, "a", "b", "c.bin"), new Uint8Array([1, 2, 255]));
    expect([...(await readFile(join(dir, "a", "b", "c.bin")))]).toEqual([1, 2, 255]);
    // a non-empty folder where the file should go: the rename fails
    await mkdir(join(dir, "taken", "inside"), { recursive: true });
    await expect(writeFileAtomic(join(dir, "taken"), "x")).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["a", "taken"]);
    // pathExists: only "no such file" is "no"
    expect(await pathExists(join(dir, "a", "b", "c.bin"))).toBe(true);
    expect(await pathExists(join(dir, "nothing"))).toBe(false);
    expect(await pathExists(join(dir, "a", "b", "c.bin", "below-a-file"))).toBe(false);
    await expect(pathExists("\0")).rejects.toThrow();
  });
});

describe("AtomicTextWriter", () => {
  it("counts UTF-8 bytes and SHA-256 across many writes; nothing is at the path before commit", async () => {
    const dir = await tempDir();
    const path = join(dir, "sub", "train.txt");
    const out = new AtomicTextWriter(path);
    let text = "";
    for (let i = 0; i < 3000; i++) {
      const piece = `第${i}行 line ${i} ${"明月".repeat(i % 300)}\n`;
      text += piece;
      await out.write(piece);
    }
    expect(existsSync(path)).toBe(false);
    const { bytes, sha256 } = await out.commit();
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(await readFile(path, "utf8")).toBe(text);
    expect(await readdir(join(dir, "sub"))).toEqual(["train.txt"]);
  });

  it("two writers of one path: one commits, the other aborts, and only the committed file is left", async () => {
    const dir = await tempDir();
    const a = new AtomicTextWriter(join(dir, "a.txt"));
    const b = new AtomicTextWriter(join(dir, "a.txt"));
    expect(a.tmp).not.toBe(b.tmp);
    await a.write("first\n");
    await b.write("second\n");
    await a.commit();
    await b.abort();
    expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("first\n");
    expect(await readdir(dir)).toEqual(["a.txt"]);
  });
});

describe("writeDirAtomic and resolveAtomicDir", () => {
  const fill = (files: Record<string, string>) => async (tmp: string) => {
    for (const [name, text] of Object.entries(files)) await writeFile(join(tmp, name), text);
  };

  it("replaces a directory as a whole; a failing fill leaves the old one and no temporary directory", async () => {
    const root = await tempDir();
    const dir = join(root, "ckpt");
    await writeDirAtomic(dir, fill({ "a.json": "1", "b.json": "1" }));
    await writeDirAtomic(dir, fill({ "a.json": "2" }));
    expect(await readdir(dir)).toEqual(["a.json"]);
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("2");
    await expect(
      writeDirAtomic(dir, async (tmp) => {
        await writeFile(join(tmp, "a.json"), "3");
        throw new Error("killed mid-save");
      }),
    ).rejects.toThrow("killed mid-save");
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("2");
    expect(await readdir(root)).toEqual(["ckpt"]);
  });

  it("writes to one directory run in call order, so the last call wins", async () => {
    const root = await tempDir();
    const dir = join(root, "d");
    await Promise.all(Array.from({ length: 5 }, (_, i) => writeDirAtomic(dir, fill({ "n.txt": String(i) }))));
    expect(await readFile(join(dir, "n.txt"), "utf8")).toBe("4");
    expect(await readdir(root)).toEqual(["d"]);
  });

  it("after a crash between the renames, readers find the newest complete .old- copy; the next write cleans up", async () => {
    const root = await tempDir();
    const dir = join(root, "run");
    expect(await resolveAtomicDir(dir)).toBeUndefined();
    await mkdir(`${dir}.old-7-999-5`);
    await mkdir(`${dir}.old-7-1000-10`); // newer than -1000-2 by the numbers, not the string
    await mkdir(`${dir}.old-7-1000-2`);
    await mkdir(`${dir}.old-7-2000-0`); // newest, but incomplete by the check below
    await mkdir(`${dir}.tmp-4194305-3000-0`); // a dead process's temp directory: never read
    await mkdir(`${dir}.tmp-${process.ppid}-3000-1`); // a write in progress in a running process
    await mkdir(`${dir}.old-junk`); // not one of ours
    const complete = async (d: string) => !d.endsWith("-2000-0");
    expect(await resolveAtomicDir(dir, complete)).toBe(`${dir}.old-7-1000-10`);
    expect(await resolveAtomicDir(dir)).toBe(`${dir}.old-7-2000-0`);
    await writeDirAtomic(dir, fill({ "x.txt": "new" }));
    expect(await resolveAtomicDir(dir)).toBe(dir);
    expect((await readdir(root)).sort()).toEqual(["run", "run.old-junk", `run.tmp-${process.ppid}-3000-1`]);
  });
});

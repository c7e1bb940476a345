import { mkdtemp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { readDocuments } from "../src/index.js";
import type { CorpusDocument } from "../src/index.js";

export const POETRY_ROOT = fileURLToPath(new URL("./fixtures/poetry", import.meta.url));
export const BROWN_ROOT = fileURLToPath(new URL("./fixtures/brown", import.meta.url));

/** Options that read only the fixtures. */
export const FIXTURES = { poetryRoot: POETRY_ROOT, brownRoot: BROWN_ROOT } as const;

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temporary folder, removed after the test file. */
export async function tempDir(prefix = "batgpt-datasets-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** All documents of a JSONL file. */
export async function allDocuments(path: string): Promise<CorpusDocument[]> {
  const out: CorpusDocument[] = [];
  for await (const doc of readDocuments(path)) out.push(doc);
  return out;
}

/** Every file under `dir`, recursively, as relative paths. */
export async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/**
 * Write a synthetic `chinese-poetry`-shaped folder holding `count` distinct Tang
 * poems (Traditional), 500 a file, and return its path.
 */
export async function syntheticPoetry(count: number, poems?: string[][]): Promise<string> {
  const root = await tempDir("batgpt-poetry-");
  const dir = join(root, "quantangshi");
  await mkdir(dir, { recursive: true });
  const all = poems ?? Array.from({ length: count }, (_, i) => [`第${i}首詩，風月滿樓臺。`, `春來花發${i}，舉頭望鄉關。`]);
  for (let start = 0, file = 0; start < all.length; start += 500, file += 1000) {
    const rows = all.slice(start, start + 500).map((paragraphs, j) => ({ title: `詩${start + j}`, author: "無名", paragraphs }));
    await writeFile(join(dir, `poet.tang.${file}.json`), JSON.stringify(rows));
  }
  return root;
}

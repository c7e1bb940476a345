import { formatIssues, readNumberedLines as numberedLines } from "@batgpt/utils";
import type { CorpusDocument } from "./document.js";
import { corpusDocumentSchema } from "./document.js";
import { DatasetError } from "./errors.js";
import { mulberry32 } from "./hash.js";


/**
 * Stream the documents of a corpus JSONL file (`train.jsonl`, `val.jsonl`).
 * Blank lines are skipped; every other line must be a valid {@link CorpusDocument}.
 *
 * @example
 * ```ts
 * for await (const doc of readDocuments(corpus.val.jsonl)) if (doc.lang === "zh") console.log(doc.title);
 * ```
 * @throws {DatasetError} `path:line: …` for a line that is not JSON or not a document
 *   (`path:3: invalid corpus document: lang: Invalid option: expected one of "zh"|"en"`).
 */
export async function* readDocuments(jsonlPath: string): AsyncGenerator<CorpusDocument> {
  for await (const [line, n] of numberedLines(jsonlPath)) {
    if (line.trim().length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetError(`${jsonlPath}:${n}: invalid JSON: ${(error as Error).message}`, { cause: error });
    }
    const parsed = corpusDocumentSchema.safeParse(value);
    if (!parsed.success) throw new DatasetError(`${jsonlPath}:${n}: ${formatIssues("corpus document", parsed.error)}`, { cause: parsed.error });
    yield parsed.data;
  }
}

/**
 * Stream the lines of a text file (e.g. `train.txt`), without their line endings.
 * In the corpus `.txt` files a blank line separates documents; pass
 * `{ skipBlank: true }` to get only the lines of text.
 */
export async function* readTextLines(txtPath: string, options: { skipBlank?: boolean } = {}): AsyncGenerator<string> {
  for await (const [line] of numberedLines(txtPath)) {
    if (options.skipBlank === true && line.trim().length === 0) continue;
    yield line;
  }
}

/**
 * A seeded uniform sample of `n` non-blank lines of a text file, in file order
 * (reservoir sampling: one pass, memory for `n` lines). Fewer than `n` lines in
 * the file gives all of them. The same file, `n` and `seed` give the same sample.
 */
export async function sampleLines(path: string, n: number, seed = 0): Promise<string[]> {
  if (!Number.isInteger(n) || n < 0) throw new DatasetError(`sampleLines: n must be a non-negative integer, got ${n}`);
  const random = mulberry32(seed);
  const reservoir: [number, string][] = [];
  let seen = 0;
  for await (const [line, lineNo] of numberedLines(path)) {
    if (line.trim().length === 0) continue;
    seen++;
    if (reservoir.length < n) {
      reservoir.push([lineNo, line]);
    } else {
      const j = Math.floor(random() * seen);
      if (j < n) reservoir[j] = [lineNo, line];
    }
  }
  return reservoir.sort((a, b) => a[0] - b[0]).map(([, line]) => line);
}

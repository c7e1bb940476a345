import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * The lines of a UTF-8 text file, streamed (the file is never read whole), each with its 1-based
 * line number, for readers whose errors name `path:line`. Handles `\n` and `\r\n`, and drops a
 * UTF-8 byte-order mark at the start of the file (as editors on Windows write it).
 *
 * @example
 * ```ts
 * for await (const [line, n] of readNumberedLines("data.jsonl")) if (line.trim()) parse(line, n);
 * ```
 * @throws the file system's error when the file cannot be read.
 */
export async function* readNumberedLines(path: string): AsyncGenerator<[line: string, lineNumber: number]> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      yield [n === 1 && line.startsWith("\uFEFF") ? line.slice(1) : line, n];
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

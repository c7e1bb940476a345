/**
 * Reading the platform's JSONL inputs: one object a line, blank lines skipped, a leading UTF-8
 * byte-order mark dropped (as `@batgpt/utils`' line reader does), errors naming the line.
 */
import type { z } from "zod";
import { AnnotateError, issuesText } from "./errors.js";

/**
 * Parse every non-blank line of `text` with `schema`.
 *
 * @returns the parsed values with their 1-based line numbers.
 * @throws {AnnotateError} `invalid`, naming the first line that is not JSON or not valid.
 */
export function parseJsonl<T extends z.ZodType>(text: string, schema: T): { line: number; value: z.output<T> }[] {
  const out: { line: number; value: z.output<T> }[] = [];
  (text.startsWith("\uFEFF") ? text.slice(1) : text).split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new AnnotateError("invalid", `line ${i + 1}: not JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new AnnotateError("invalid", `line ${i + 1}: ${issuesText(parsed.error, "(line)")}`);
    out.push({ line: i + 1, value: parsed.data });
  });
  return out;
}

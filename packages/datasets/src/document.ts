import { z } from "zod";
import { VERSE_FORM_NAMES } from "./verse.js";
import type { VerseForm } from "./verse.js";

/** The language of a corpus document. */
export type Language = "zh" | "en";

/**
 * One document of the corpus: a poem, a chapter of a classic, or one Brown
 * corpus text. This is the shape of every row of `train.jsonl` / `val.jsonl`.
 */
export interface CorpusDocument {
  /** Stable id, unique in the corpus: `<source>/<file>/<n>` or `brown/<file>`. */
  id: string;
  /** The source collection id (`tang`, `songci`, …, `brown`). */
  source: string;
  /** `zh` for the Chinese collections, `en` for the Brown corpus. */
  lang: Language;
  /** Title (poem title, 词牌, chapter), when the source has one. */
  title?: string;
  /** Author, when the source has one. */
  author?: string;
  /** The regular-verse form (`五言绝句`, …), in a corpus made with `subset: "regular-verse"`. */
  form?: VerseForm;
  /** The text: lines separated by `\n`, never a blank line, no leading/trailing whitespace. */
  text: string;
}

/** Zod schema of a JSONL row, used by `readDocuments` to reject bad rows. */
export const corpusDocumentSchema = z.strictObject({
  id: z.string().min(1),
  source: z.string().min(1),
  lang: z.enum(["zh", "en"]),
  title: z.string().optional(),
  author: z.string().optional(),
  form: z.enum(VERSE_FORM_NAMES).optional(),
  text: z.string(),
});

/** Normalise a list of lines into document text: trimmed lines, no blank lines. */
export function joinLines(lines: readonly string[]): string {
  const out: string[] = [];
  for (const raw of lines) {
    for (const piece of raw.split(/\r\n|\r|\n/)) {
      const line = piece.trim();
      if (line.length > 0) out.push(line);
    }
  }
  return out.join("\n");
}

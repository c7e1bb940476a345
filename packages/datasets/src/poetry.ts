import type { CorpusDocument } from "./document.js";
import { joinLines } from "./document.js";

/**
 * Extraction of documents from the JSON files of `chinese-poetry`.
 *
 * The collections differ in shape (`paragraphs`, `para` or `content`; flat
 * arrays of poems, or books of chapters of poems), so one walker handles them
 * all: an object whose text field is a string or a list of strings is one
 * document; an object whose `content` is a list of objects is a book, and its
 * children are walked. Notes, comments, prefaces and biographies are skipped.
 */

const TEXT_KEYS = ["paragraphs", "para", "content"] as const;
const TITLE_KEYS = ["title", "subchapter", "chapter", "rhythmic"] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: Json | undefined): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  return s.length > 0 ? s : undefined;
}

function textOf(v: Json | undefined): string[] | undefined {
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) return v as string[];
  return undefined;
}

interface Context {
  /** Title of the enclosing book (e.g. 千家詩), prefixed to its children's titles. */
  book?: string;
  author?: string;
}

/**
 * All documents in one parsed `chinese-poetry` JSON file, in file order.
 * Ids are `<source>/<file stem>/<n>`; documents with no text are skipped.
 */
export function extractPoetryDocuments(json: unknown, source: string, fileStem: string): CorpusDocument[] {
  const docs: CorpusDocument[] = [];
  const emit = (title: string | undefined, author: string | undefined, lines: readonly string[]): void => {
    const text = joinLines(lines);
    if (text.length === 0) return;
    const doc: CorpusDocument = { id: `${source}/${fileStem}/${docs.length}`, source, lang: "zh", text };
    if (title !== undefined) doc.title = title;
    if (author !== undefined) doc.author = author;
    docs.push(doc);
  };

  const walk = (node: Json, ctx: Context, depth: number): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child, ctx, depth);
      return;
    }
    if (!isObject(node)) return;
    let own: string | undefined;
    for (const key of TITLE_KEYS) {
      own = nonEmptyString(node[key]);
      if (own !== undefined) break;
    }
    const author = nonEmptyString(node.author) ?? ctx.author;
    for (const key of TEXT_KEYS) {
      const lines = textOf(node[key]);
      if (lines !== undefined) {
        const title = ctx.book !== undefined && own !== undefined && own !== ctx.book ? `${ctx.book}·${own}` : (own ?? ctx.book);
        emit(title, author, lines);
        return;
      }
    }
    const children = node.content;
    if (Array.isArray(children)) {
      // Only the outermost book title is kept as a prefix (千家詩·春眠, not 千家詩·五言絕句·春眠).
      const book = depth === 0 ? own : ctx.book;
      const next: Context = {};
      if (book !== undefined) next.book = book;
      if (author !== undefined) next.author = author;
      walk(children, next, depth + 1);
    }
  };

  walk(json as Json, {}, 0);
  return docs;
}

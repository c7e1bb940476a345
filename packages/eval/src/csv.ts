/**
 * Reading multiple-choice questions from CSV in the layouts of C-Eval
 * (`id,question,A,B,C,D,answer[,explanation]`) and CMMLU (`,Question,A,B,C,D,Answer`, the first
 * column an unnamed index), with csv-parse: RFC 4180 quoting (commas, quotes and newlines inside
 * quoted fields), a UTF-8 byte-order mark, CRLF or LF line ends.
 */
import { parse } from "csv-parse/sync";
import { EvalDataError } from "./errors.js";

/** One question of a multiple-choice exam. */
export interface Question {
  /** The `id` column (C-Eval), the unnamed index column (CMMLU), else the row number from 0. */
  id: string;
  question: string;
  /** The choice texts, in letter order (`choices[0]` is A). */
  choices: string[];
  /** The correct letter; `null` where the split has no answers (C-Eval's `test`). */
  answer: string | null;
  /** C-Eval's optional `explanation` (dev split), for chain-of-thought shots. */
  explanation?: string;
  /** The line of the file the row starts on (1-based; the header is line 1), for messages. */
  line: number;
}

/** The choice letters a CSV can hold, in order: a header has `A`, `B`, … up to the last one present. */
export const CHOICE_LETTERS = "ABCDEFGHIJ";

/** What {@link parseQuestionsCsv} read: the questions and their choice letters. */
export interface QuestionsCsv {
  questions: Question[];
  /** The choice letters (`["A", "B", "C", "D"]` for both benchmarks). */
  letters: string[];
}

interface CsvErrorLike {
  code?: string;
  lines?: number;
  message: string;
}

/**
 * Parse a CSV of questions. Column names are matched without regard to case (`question` and
 * `Question`, `answer` and `Answer`); the choices are the columns `A`, `B`, … (at least two,
 * consecutive from A); `id` (or a first column with an empty name) and `explanation` are optional,
 * other columns are ignored. An empty or absent `answer` reads as `null` (an unanswered split, such
 * as C-Eval's `test` files, which have no answer column).
 *
 * @param text The file's text (a leading byte-order mark is dropped).
 * @param source The name used in messages (the file path).
 * @throws {EvalDataError} naming `source`, the data row (1-based) and its line for: a CSV that does
 *   not parse (an unclosed quote, a stray quote), a row whose field count differs from the header's,
 *   a missing `question` / `A` / `B` column, an answer that is not one of the letters, or
 *   a duplicate column name; for a file with no question rows.
 */
export function parseQuestionsCsv(text: string, source = "(csv)"): QuestionsCsv {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { bom: true, columns: false, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof rows;
  } catch (e) {
    const err = e as CsvErrorLike;
    // an unclosed quote is only found at the end of the file: say so rather than point at the end
    const hint = err.code === "CSV_QUOTE_NOT_CLOSED" ? " (the parser reached this line inside a quoted field: look for an opening quote that is never closed above it)" : "";
    throw new EvalDataError(`not a valid CSV (${err.code ?? "parse error"}): ${err.message}${hint}`, source, err.lines);
  }
  const head = rows[0];
  if (head === undefined) throw new EvalDataError("the file is empty (no header row)", source);
  const header = head.record.map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const seen = new Set<string>();
  for (const h of lower) {
    if (h !== "" && seen.has(h)) throw new EvalDataError(`the header names the column ${JSON.stringify(h)} twice`, source, head.info.lines);
    seen.add(h);
  }
  const col = (name: string): number => lower.indexOf(name);
  const need = (name: string): number => {
    const i = col(name);
    if (i < 0) throw new EvalDataError(`the header has no ${JSON.stringify(name)} column (it has ${header.map((h) => JSON.stringify(h)).join(", ")}); the C-Eval layout is id,question,A,B,C,D,answer and the CMMLU one ,Question,A,B,C,D,Answer`, source, head.info.lines);
    return i;
  };
  const qCol = need("question");
  // C-Eval's test files have no answer column: their questions read as unanswered
  const aCol = col("answer");
  const letters: string[] = [];
  for (const L of CHOICE_LETTERS) {
    if (col(L.toLowerCase()) < 0) break;
    letters.push(L);
  }
  if (letters.length < 2) need(letters.length === 0 ? "a" : "b");
  const choiceCols = letters.map((L) => col(L.toLowerCase()));
  const idCol = col("id") >= 0 ? col("id") : lower[0] === "" ? 0 : -1;
  const exCol = col("explanation");
  const questions: Question[] = [];
  rows.slice(1).forEach(({ record, info: end }, r) => {
    const row = r + 1;
    // csv-parse counts lines to the end of the record; a quoted field may span several
    const info = { lines: end.lines - record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0) };
    if (record.length !== header.length) {
      throw new EvalDataError(`row ${row} has ${record.length} fields, the header has ${header.length} (an unquoted comma or a missing field?)`, source, info.lines);
    }
    const answer = aCol < 0 ? "" : record[aCol]!.trim();
    if (answer !== "" && !letters.includes(answer)) {
      throw new EvalDataError(`row ${row}: the answer ${JSON.stringify(answer)} is not one of ${letters.join(", ")}`, source, info.lines);
    }
    const q: Question = {
      id: idCol >= 0 ? record[idCol]! : String(r),
      question: record[qCol]!,
      choices: choiceCols.map((c) => record[c]!),
      answer: answer === "" ? null : answer,
      line: info.lines,
    };
    if (exCol >= 0 && record[exCol] !== "") q.explanation = record[exCol]!;
    questions.push(q);
  });
  if (questions.length === 0) throw new EvalDataError("the file has a header but no question rows", source);
  return { questions, letters };
}

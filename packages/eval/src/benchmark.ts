/**
 * Benchmarks on disk: C-Eval's and CMMLU's official layouts read from a local directory (nothing
 * is downloaded), and any exam of your own in the C-Eval layout.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseQuestionsCsv, type Question } from "./csv.js";
import { EvalDataError } from "./errors.js";
import { CEVAL_FORMAT, CMMLU_FORMAT, type PromptFormat } from "./prompt.js";
import { CEVAL_CATEGORIES, CEVAL_SUBJECTS, CMMLU_CATEGORIES, CMMLU_SUBJECTS, type SubjectInfo } from "./subjects.js";

/** One subject: its questions, the dev questions its shots come from, and where it counts. */
export interface Subject {
  /** The file key (`computer_network`). */
  key: string;
  /** The name the prompt uses (the Chinese name for the official subjects). */
  name: string;
  /** The categories whose averages include it (may be empty). */
  categories: string[];
  /** The choice letters (`A`–`D`). */
  letters: string[];
  /** The questions evaluated (the split loaded). */
  questions: Question[];
  /** The shots, in file order (the dev split; empty where there is none). */
  dev: Question[];
  /** The file the questions came from, for messages (absent for a subject built in memory). */
  file?: string;
}

/** A benchmark ready for {@link evaluateMultipleChoice}. */
export interface Benchmark {
  /** `"ceval"`, `"cmmlu"`, or the name given. */
  name: string;
  /** The split evaluated (`val`, `test`). */
  split: string;
  format: PromptFormat;
  /** The categories in report order. */
  categories: readonly string[];
  subjects: Subject[];
}

/** Options of {@link loadCEval} and {@link loadCMMLU}. */
export interface LoadOptions {
  /** The split evaluated. Default C-Eval `"val"` (its `test` answers are not public), CMMLU `"test"`. */
  split?: string;
  /** Only these subject keys (default: every subject file found), in this order. */
  subjects?: readonly string[];
  /** Prompt names of subjects not in the official map (a lab's own exams); default the key. */
  names?: Readonly<Record<string, string>>;
  /** Categories of subjects not in the official map; default none. */
  categories?: Readonly<Record<string, readonly string[]>>;
  /** The prompt format (default the benchmark's own). */
  format?: PromptFormat;
  /** The benchmark's name in reports (default `"ceval"` / `"cmmlu"`). */
  name?: string;
}

function readQuestions(file: string): { questions: Question[]; letters: string[] } {
  return parseQuestionsCsv(readFileSync(file, "utf8"), file);
}

function requireDir(dir: string, what: string): void {
  if (!existsSync(dir)) throw new EvalDataError(`${what}: the directory ${dir} does not exist (download the benchmark yourself and point to it; nothing is fetched at run time)`);
}

function subjectInfo(key: string, official: Readonly<Record<string, SubjectInfo>>, opts: LoadOptions): { name: string; categories: string[] } {
  const info = official[key];
  return {
    name: opts.names?.[key] ?? info?.zh ?? key,
    categories: [...(opts.categories?.[key] ?? info?.categories ?? [])],
  };
}

function pick(found: string[], opts: LoadOptions, where: string): string[] {
  if (opts.subjects === undefined && found.length === 0) throw new EvalDataError(`no subject files in ${where}`);
  const missing = (opts.subjects ?? []).filter((s) => !found.includes(s));
  if (missing.length > 0) throw new EvalDataError(`no file for subject ${missing.map((s) => JSON.stringify(s)).join(", ")} in ${where}`);
  const keys = opts.subjects === undefined ? found : [...opts.subjects];
  // a name or category for a subject that is not loaded is a typo, not a wish
  for (const [option, map] of [["names", opts.names], ["categories", opts.categories]] as const) {
    const unknown = Object.keys(map ?? {}).filter((k) => !keys.includes(k));
    if (unknown.length > 0) throw new EvalDataError(`${option} names subject ${unknown.map((s) => JSON.stringify(s)).join(", ")}, which is not loaded (the subjects are ${keys.join(", ")})`);
  }
  return keys;
}

function subjectOf(key: string, info: { name: string; categories: string[] }, evalFile: string, devFile: string | undefined): Subject {
  const main = readQuestions(evalFile);
  const dev = devFile !== undefined && existsSync(devFile) ? readQuestions(devFile) : undefined;
  if (dev !== undefined && dev.letters.join("") !== main.letters.join("")) {
    throw new EvalDataError(`the dev file has choices ${dev.letters.join("")} and the evaluated one ${main.letters.join("")}`, devFile);
  }
  return { key, ...info, letters: main.letters, questions: main.questions, dev: dev?.questions ?? [], file: evalFile };
}

/**
 * C-Eval from `dir` in its official layout: `{dev,val,test}/{subject}_{split}.csv` (as the
 * `ceval-exam` archive unpacks), or the same files directly in `dir`; columns
 * `id,question,A,B,C,D,answer[,explanation]`. Any directory of CSVs in this layout is an exam the
 * harness runs: subjects not in C-Eval take their prompt name and categories from `options`.
 *
 * @throws {EvalDataError} for a missing directory, no subject files, a requested subject without a
 *   file, or a file that does not parse (with its line).
 */
export function loadCEval(dir: string, options: LoadOptions = {}): Benchmark {
  requireDir(dir, "C-Eval");
  const split = options.split ?? "val";
  const at = (s: string, key: string): string => {
    const nested = join(dir, s, `${key}_${s}.csv`);
    return existsSync(nested) ? nested : join(dir, `${key}_${s}.csv`);
  };
  const suffix = `_${split}.csv`;
  const list = (d: string): string[] => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith(suffix)).map((f) => f.slice(0, -suffix.length)) : []);
  const found = [...new Set([...list(join(dir, split)), ...list(dir)])].sort();
  const keys = pick(found, options, `${dir} (files *${suffix} in ${join(dir, split)} or ${dir})`);
  return {
    name: options.name ?? "ceval",
    split,
    format: options.format ?? CEVAL_FORMAT,
    categories: CEVAL_CATEGORIES,
    subjects: keys.map((key) => subjectOf(key, subjectInfo(key, CEVAL_SUBJECTS, options), at(split, key), at("dev", key))),
  };
}

/**
 * CMMLU from `dir` in its official layout: `dev/{subject}.csv` and `test/{subject}.csv`, columns
 * `,Question,A,B,C,D,Answer` (the first an unnamed index).
 *
 * @throws {EvalDataError} as {@link loadCEval}.
 */
export function loadCMMLU(dir: string, options: LoadOptions = {}): Benchmark {
  requireDir(dir, "CMMLU");
  const split = options.split ?? "test";
  const splitDir = join(dir, split);
  const found = existsSync(splitDir) ? readdirSync(splitDir).filter((f) => f.endsWith(".csv")).map((f) => f.slice(0, -4)).sort() : [];
  const keys = pick(found, options, splitDir);
  return {
    name: options.name ?? "cmmlu",
    split,
    format: options.format ?? CMMLU_FORMAT,
    categories: CMMLU_CATEGORIES,
    subjects: keys.map((key) => subjectOf(key, subjectInfo(key, CMMLU_SUBJECTS, options), join(splitDir, `${key}.csv`), join(dir, "dev", `${key}.csv`))),
  };
}

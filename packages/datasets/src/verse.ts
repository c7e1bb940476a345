import { formatIssues } from "@batgpt/utils";
import { z } from "zod";
import { DatasetError } from "./errors.js";

/**
 * Regular verse (近体诗): the forms, the text layout of a verse document, and the checks.
 *
 * The forms follow the rules of 近体诗 (regulated verse of the Tang and later): a quatrain
 * (绝句) has 4 lines, a regulated poem (律诗) 8; every line of a poem has the same number of
 * Han characters, 5 (五言) or 7 (七言); the lines go in couplets (联), `，` after the first line of
 * a couplet and `。` after the second. Only this outer form is checked — tones (平仄), rhyme and
 * parallelism are not. Longer regulated poems (排律) and six-line poems are not regular verse here.
 *
 * Layout of a verse document (fixed: the training text, the prompts and the checks share it):
 *
 * ```
 * 《静夜思》五言绝句
 * 床前明月光，疑是地上霜。
 * 举头望明月，低头思故乡。
 * ```
 *
 * a title line `《{title}》{form}`, then one line per couplet. The four form names are always
 * written in Simplified characters, also in a Traditional corpus.
 */

/** The size of a poem: Han characters per line and number of lines. */
export interface VerseShape {
  /** Han characters in every line (punctuation not counted). */
  charsPerLine: number;
  /** Lines of the poem (two per couplet, so even). */
  lines: number;
}

/**
 * The four forms of regular verse (近体诗) and their shapes: 绝句 (quatrain) 4 lines,
 * 律诗 (regulated verse) 8 lines; 五言 five, 七言 seven Han characters per line.
 */
export const VERSE_FORMS = {
  五言绝句: { charsPerLine: 5, lines: 4 },
  七言绝句: { charsPerLine: 7, lines: 4 },
  五言律诗: { charsPerLine: 5, lines: 8 },
  七言律诗: { charsPerLine: 7, lines: 8 },
} as const satisfies Record<string, VerseShape>;

/** The name of a regular-verse form: `五言绝句`, `七言绝句`, `五言律诗` or `七言律诗`. */
export type VerseForm = keyof typeof VERSE_FORMS;

/** The form names, in the order of {@link VERSE_FORMS}. */
export const VERSE_FORM_NAMES = Object.keys(VERSE_FORMS) as readonly VerseForm[] as readonly [VerseForm, ...VerseForm[]];

/**
 * Why a poem is not in the requested form (a few stable strings, for reports):
 * - `empty`: no poem text (nothing after the title line);
 * - `other-characters`: a character that is neither Han, punctuation nor whitespace (a Latin
 *   letter, a digit, `□` for a lost character, …);
 * - `punctuation`: a punctuation mark other than `，` and `。` (`,` `.` `？` `（` `《` …), or `，`/`。`
 *   in the wrong place (`。` after an odd line, `，` after an even one, a line without its mark,
 *   two marks in a row);
 * - `line-count`: not the requested number of lines (too few, or more: a fifth line of a quatrain);
 * - `line-length`: a line with another number of Han characters than requested.
 *
 * The checks run in this order and the first failure is the reason: the characters, then the
 * line count, then each line's length, then the `，`/`。` alternation.
 */
export const VERSE_FORM_REASONS = ["empty", "other-characters", "punctuation", "line-count", "line-length"] as const;

/** One of {@link VERSE_FORM_REASONS}. */
export type VerseFormReason = (typeof VERSE_FORM_REASONS)[number];

/** The result of {@link checkVerseForm}. */
export interface VerseFormCheck {
  /** True when the poem has exactly the requested form. */
  ok: boolean;
  /** Why not, when `ok` is false. */
  reason?: VerseFormReason;
  /** Lines of the poem found (a trailing line without its `，`/`。` counts); 0 when empty. */
  lines: number;
}

/** The result of {@link formRate}. */
export interface FormRateReport {
  /** `passed / samples`; 0 when there are no samples. */
  formRate: number;
  /** Number of poems checked. */
  samples: number;
  /** Number in the requested form. */
  passed: number;
  /** Failures by reason; every reason is present (0 when none). */
  reasons: Record<VerseFormReason, number>;
}

/** A poem split into lines: see {@link classifyVerse}. */
export type VerseClassification = { ok: true; form: VerseForm; lines: string[] } | { ok: false; reason: VerseFormReason };

/** The parts of a verse document: see {@link parseVerse}. */
export interface VerseParts {
  title: string;
  form: VerseForm;
  /** The poem's lines, Han characters only (no punctuation). */
  lines: string[];
}

const HAN = /^\p{Script=Han}$/u;
const PUNCTUATION = /^\p{P}$/u;
const WHITESPACE = /^\s$/u;
const TITLE_LINE = /^《([^《》\n]+)》(五言绝句|七言绝句|五言律诗|七言律诗)$/;

/** True when `ch` (one code point) is a Han character (`\p{Script=Han}`, any CJK block). */
function isHan(ch: string): boolean {
  return HAN.test(ch);
}

interface ScannedLine {
  /** The Han characters of the line. */
  chars: string[];
  /** The mark that ended it: `，`, `。`, or `""` when the text (or a whitespace run) ended it first. */
  end: "，" | "。" | "";
}

/**
 * Split a poem into lines ended by `，` or `。`. Whitespace is allowed between lines (after a
 * mark); whitespace after Han characters ends the line without a mark. Counts code points, so
 * a Han character outside the Basic Multilingual Plane counts once. `reason` is the first
 * character-level fault in text order (a character that does not belong, a mark with no line
 * before it), or `empty`; the lines are still counted past it.
 */
function scanPoem(poem: string): { lines: ScannedLine[]; reason?: VerseFormReason } {
  const lines: ScannedLine[] = [];
  let reason: VerseFormReason | undefined;
  let current: string[] = [];
  for (const ch of poem) {
    if (ch === "，" || ch === "。") {
      if (current.length === 0) reason ??= "punctuation"; // `，，`, a leading `。`
      lines.push({ chars: current, end: ch });
      current = [];
    } else if (WHITESPACE.test(ch)) {
      if (current.length > 0) {
        lines.push({ chars: current, end: "" });
        current = [];
      }
    } else {
      if (!isHan(ch)) reason ??= PUNCTUATION.test(ch) ? "punctuation" : "other-characters";
      current.push(ch);
    }
  }
  if (current.length > 0) lines.push({ chars: current, end: "" });
  if (lines.length === 0) reason = "empty";
  return reason === undefined ? { lines } : { lines, reason };
}

/** The first failure of `lines` against `shape`, or undefined when they fit. */
function shapeFailure(lines: readonly ScannedLine[], shape: VerseShape): VerseFormReason | undefined {
  if (lines.length !== shape.lines) return "line-count";
  if (lines.some((l) => l.chars.length !== shape.charsPerLine)) return "line-length";
  if (lines.some((l, i) => l.end !== (i % 2 === 0 ? "，" : "。"))) return "punctuation";
  return undefined;
}

const FORM_NAME_PREFIX = new RegExp(`^(?:${VERSE_FORM_NAMES.join("|")})`, "u");

/** The poem part of a text: without a leading `《…》…` title line, and up to the first blank line. */
function poemPart(text: string): string {
  let poem = text.replace(/^\s+/u, "");
  if (poem.startsWith("《")) {
    const newline = poem.indexOf("\n");
    if (newline >= 0) poem = poem.slice(newline + 1);
    else {
      // the title line and the poem on one line: `《静夜思》五言绝句 床前明月光，…`
      const close = poem.indexOf("》");
      poem = close < 0 ? "" : poem.slice(close + 1).replace(FORM_NAME_PREFIX, "");
    }
  }
  const blank = /\n[^\S\n]*\n/u.exec(poem);
  return blank === null ? poem : poem.slice(0, blank.index);
}

const shapeSchema = z.strictObject({
  charsPerLine: z.number().int().positive(),
  lines: z
    .number()
    .int()
    .positive()
    .refine((n) => n % 2 === 0, { message: "expected an even number of lines (two a couplet)" }),
});
const formSchema = z.union([z.enum(VERSE_FORM_NAMES), shapeSchema]);

/**
 * The shape of a form name, or a custom shape after checking it.
 * @throws {DatasetError} `invalid verse form: …` for an unknown name or a bad shape.
 */
export function verseShape(form: VerseForm | VerseShape): VerseShape {
  if (typeof form === "string" && !(VERSE_FORM_NAMES as readonly string[]).includes(form)) {
    throw new DatasetError(`invalid verse form: ${JSON.stringify(form)} is not one of ${VERSE_FORM_NAMES.join(", ")} (or pass { charsPerLine, lines })`);
  }
  const parsed = formSchema.safeParse(form);
  if (!parsed.success) throw new DatasetError(formatIssues("verse form", parsed.error), { cause: parsed.error });
  return typeof parsed.data === "string" ? VERSE_FORMS[parsed.data] : parsed.data;
}

/**
 * Check that a poem has exactly the requested form: `shape.lines` lines of `shape.charsPerLine`
 * Han characters each, `，` after the odd lines and `。` after the even ones, nothing else but
 * whitespace between lines, and nothing after the last `。` (a quatrain that goes on to a fifth
 * line fails with `line-count`).
 *
 * The input may be the poem alone or a whole verse document: a first line starting with `《`
 * (the title line `《静夜思》五言绝句`, e.g. from {@link versePrompt}) is skipped, and the poem ends at
 * the first blank line — the separator between documents in `train.txt` — so a sample that
 * finishes its poem and starts the next document still passes. Its lines may be laid out one
 * couplet a line (as in the corpus), one line a line, or all on one line.
 *
 * @param form a {@link VerseForm} name (`"五言绝句"`) or a custom `{ charsPerLine, lines }`.
 * @example
 * ```ts
 * checkVerseForm("《静夜思》五言绝句\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句");
 * // { ok: true, lines: 4 }
 * checkVerseForm("床前明月光，疑是地上霜。", "五言绝句"); // { ok: false, reason: "line-count", lines: 2 }
 * ```
 * @throws {DatasetError} for an unknown form name or a bad shape.
 */
export function checkVerseForm(poem: string, form: VerseForm | VerseShape): VerseFormCheck {
  if (typeof poem !== "string") throw new DatasetError(`checkVerseForm: the poem must be a string, got ${poem === null ? "null" : typeof poem}`);
  return checkShape(poem, verseShape(form));
}

function checkShape(text: string, shape: VerseShape): VerseFormCheck {
  const { lines, reason: fault } = scanPoem(poemPart(text));
  const reason = fault ?? shapeFailure(lines, shape);
  return reason === undefined ? { ok: true, lines: lines.length } : { ok: false, reason, lines: lines.length };
}

/**
 * The **form rate** of generated poems: the fraction in exactly the requested form
 * ({@link checkVerseForm} on each), with the failures counted by reason. SFT, reward and PPO
 * report it for the verse task.
 *
 * @example
 * ```ts
 * const report = formRate(samples, "五言绝句");
 * console.log(report.formRate, report.reasons["line-length"]);
 * ```
 * @throws {DatasetError} for an unknown form name or a bad shape.
 */
export function formRate(poems: readonly string[], form: VerseForm | VerseShape): FormRateReport {
  if (!Array.isArray(poems)) throw new DatasetError(`formRate: poems must be an array of strings, got ${typeof poems === "string" ? "one string (wrap it: [poem])" : typeof poems}`);
  const bad = poems.findIndex((p) => typeof p !== "string");
  if (bad >= 0) throw new DatasetError(`formRate: poems[${bad}] is ${typeof poems[bad]}, not a string`);
  const shape = verseShape(form);
  const reasons = Object.fromEntries(VERSE_FORM_REASONS.map((r) => [r, 0])) as Record<VerseFormReason, number>;
  let passed = 0;
  for (const poem of poems) {
    const check = checkShape(poem, shape);
    if (check.ok) passed++;
    else if (check.reason !== undefined) reasons[check.reason]++;
  }
  return { formRate: poems.length === 0 ? 0 : passed / poems.length, samples: poems.length, passed, reasons };
}

/**
 * Which regular-verse form a poem has, if any: the test that picks the corpus' verse subset.
 * The poem (text only, no title line) must have 4 or 8 lines, all of 5 or all of 7 Han
 * characters, with `，`/`。` alternating and nothing else but whitespace between lines.
 *
 * @example
 * ```ts
 * classifyVerse("床前明月光，疑是地上霜。\n举头望明月，低头思故乡。");
 * // { ok: true, form: "五言绝句", lines: ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"] }
 * ```
 */
export function classifyVerse(poem: string): VerseClassification {
  const { lines, reason: fault } = scanPoem(poem);
  if (fault !== undefined) return { ok: false, reason: fault };
  if (lines.length !== 4 && lines.length !== 8) return { ok: false, reason: "line-count" };
  const chars = lines[0]?.chars.length ?? 0;
  if (chars !== 5 && chars !== 7) return { ok: false, reason: "line-length" };
  const form = formOf(chars, lines.length);
  const reason = shapeFailure(lines, VERSE_FORMS[form]);
  if (reason !== undefined) return { ok: false, reason };
  return { ok: true, form, lines: lines.map((l) => l.chars.join("")) };
}

function formOf(charsPerLine: 5 | 7, lines: 4 | 8): VerseForm {
  if (charsPerLine === 5) return lines === 4 ? "五言绝句" : "五言律诗";
  return lines === 4 ? "七言绝句" : "七言律诗";
}

/**
 * A poem title as the verse layout holds it: trimmed, without an outer `《…》`, each run of
 * spaces inside made one space (`春词  其一` → `春词 其一`); `undefined` when it is empty or holds
 * a line break, `《` or `》` (which would break the title line).
 */
export function verseTitle(title: string | undefined): string | undefined {
  if (title === undefined) return undefined;
  let t = title.trim();
  if (t.startsWith("《") && t.endsWith("》")) t = t.slice(1, -1).trim();
  if (t.length === 0 || /[\n\r\u2028\u2029《》]/u.test(t)) return undefined;
  return t.replace(/\s+/gu, " ");
}

function checkedTitle(title: string): string {
  const t = verseTitle(title);
  if (t === undefined) throw new DatasetError(`invalid verse title ${JSON.stringify(title)}: it must be non-empty, on one line, with no 《 or 》 inside`);
  return t;
}

function checkedForm(form: VerseForm): VerseShape {
  if (!Object.hasOwn(VERSE_FORMS, form)) throw new DatasetError(`invalid verse form ${JSON.stringify(form)}: expected one of ${VERSE_FORM_NAMES.join(", ")}`);
  return VERSE_FORMS[form];
}

function checkedLine(line: string, shape: VerseShape, index: number): string {
  const chars = [...line];
  if (chars.length !== shape.charsPerLine || !chars.every(isHan)) {
    throw new DatasetError(`invalid verse line ${index + 1} ${JSON.stringify(line)}: expected ${shape.charsPerLine} Han characters and nothing else`);
  }
  return line;
}

/**
 * The text of a verse document, in the corpus layout: the title line `《{title}》{form}`, then one
 * line per couplet, `，` between its two lines and `。` after.
 *
 * @param title the poem's title (trimmed; an outer `《…》` is removed).
 * @param lines the poem's lines, Han characters only, as many and as long as `form` says.
 * @example
 * ```ts
 * verseText("静夜思", "五言绝句", ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"]);
 * // "《静夜思》五言绝句\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"
 * ```
 * @throws {DatasetError} for a bad title, an unknown form, or lines that do not fit the form.
 */
export function verseText(title: string, form: VerseForm, lines: readonly string[]): string {
  const t = checkedTitle(title);
  const shape = checkedForm(form);
  if (lines.length !== shape.lines) throw new DatasetError(`invalid verse: ${form} has ${shape.lines} lines, got ${lines.length}`);
  const couplets: string[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    couplets.push(`${checkedLine(lines[i] ?? "", shape, i)}，${checkedLine(lines[i + 1] ?? "", shape, i + 1)}。`);
  }
  return `《${t}》${form}\n${couplets.join("\n")}`;
}

/**
 * The prompt that asks a model for a poem: the title line `《{title}》{form}\n`, and when
 * `firstLine` is given, that line and its `，` (the model writes the rest).
 *
 * @param firstLine the poem's first line, Han characters only (a trailing `，` is accepted).
 * @example
 * ```ts
 * versePrompt("静夜思", "五言绝句"); // "《静夜思》五言绝句\n"
 * versePrompt("静夜思", "五言绝句", "床前明月光"); // "《静夜思》五言绝句\n床前明月光，"
 * ```
 * @throws {DatasetError} for a bad title, an unknown form, or a first line of the wrong length.
 */
export function versePrompt(title: string, form: VerseForm, firstLine?: string): string {
  const t = checkedTitle(title);
  const shape = checkedForm(form);
  const head = `《${t}》${form}\n`;
  if (firstLine === undefined) return head;
  return `${head}${checkedLine(firstLine.endsWith("，") ? firstLine.slice(0, -1) : firstLine, shape, 0)}，`;
}

/**
 * Read a verse document back into its title, form and lines: the inverse of {@link verseText}.
 * Returns `undefined` when the text is not a verse document whose poem is in its stated form.
 *
 * @example
 * ```ts
 * parseVerse("《静夜思》五言绝句\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。");
 * // { title: "静夜思", form: "五言绝句", lines: ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"] }
 * ```
 */
export function parseVerse(text: string): VerseParts | undefined {
  const newline = text.indexOf("\n");
  if (newline < 0) return undefined;
  const head = TITLE_LINE.exec(text.slice(0, newline));
  if (head === null) return undefined;
  const [, title = "", name = ""] = head;
  const form = name as VerseForm;
  const { lines, reason } = scanPoem(text.slice(newline + 1));
  if (reason !== undefined || shapeFailure(lines, VERSE_FORMS[form]) !== undefined) return undefined;
  return { title, form, lines: lines.map((l) => l.chars.join("")) };
}

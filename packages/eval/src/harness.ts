/**
 * The multiple-choice harness: a benchmark's questions, prompted as its official code prompts
 * them, scored two ways, averaged per subject, per category and overall.
 *
 * - `answer_only`: the next-token log-probabilities of the answer letters after the prompt; the
 *   highest is the prediction (C-Eval's and CMMLU's answer-only method: `llama.py` /
 *   `hf_causal_model.py` compare the logits of A/B/C/D at the last position).
 * - `loglikelihood`: the log-likelihood of each choice's text as the continuation of the prompt;
 *   `acc` takes the highest, `acc_norm` the highest per character of the choice
 *   (lm-evaluation-harness's `multiple_choice` output type; its continuation tokens are those of
 *   `encode(prompt + choice)` after `encode(prompt)`, as here).
 *
 * Averages follow CMMLU's `get_results`: a category's accuracy is the mean of its subjects'
 * accuracies, the average the mean over all subjects.
 */
import { parseOptions, type BatGPTModel } from "@batgpt/core";
import { createProgress, progressModeSchema } from "@batgpt/utils";
import { z } from "zod";
import type { Benchmark, Subject } from "./benchmark.js";
import type { Question } from "./csv.js";
import { EvalDataError } from "./errors.js";
import { buildPrompt, type FittedPrompt, type PromptFormat } from "./prompt.js";
import { nextTokenLogProbs, sequenceLogProbs } from "./scoring.js";

/** What the harness needs of a tokenizer (`@batgpt/tokenizer`'s `Tokenizer` has it). */
export interface HarnessTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** The two scorings; see the module comment. */
export const SCORINGS = ["answer_only", "loglikelihood"] as const;
/** One of {@link SCORINGS}. */
export type Scoring = (typeof SCORINGS)[number];

/** Options of {@link evaluateMultipleChoice}, validated with zod. */
export const multipleChoiceOptionsSchema = z
  .object({
    /** Shots from the dev split (the first k, in file order, as both official harnesses). Default 0. */
    shots: z.number().int().min(0).default(0),
    /** Default both. */
    scoring: z.array(z.enum(SCORINGS)).nonempty().default([...SCORINGS]),
    /**
     * Token budget of a prompt (CMMLU's `max_length`); default the model's `max_seq_len`, the
     * most it reads. Shots are dropped to fit it (see `buildPrompt`).
     */
    maxLength: z.number().int().positive().optional(),
    /** Rows of `max_seq_len` tokens per forward pass. Default 8. */
    rows: z.number().int().positive().default(8),
    /** Keep every question's predictions in the report. Default true. */
    predictions: z.boolean().default(true),
    /** Progress on stderr, counted in questions. Default `"none"`. */
    progress: progressModeSchema.default("none"),
  })
  .strict();

/** Options of {@link evaluateMultipleChoice}; see {@link multipleChoiceOptionsSchema}. */
export type MultipleChoiceOptions = z.input<typeof multipleChoiceOptionsSchema>;

/** Accuracies (fractions in [0, 1]) under each scoring run. */
export interface Accuracies {
  answer_only?: { acc: number };
  loglikelihood?: { acc: number; acc_norm: number };
}

/** The token scored for one answer letter. */
export interface AnswerToken {
  letter: string;
  /** The token that follows the answer cue in a shot (what the model sees after `答案：`). */
  id: number;
  text: string;
  /** The first token of `encode(letter)` alone, as the official code scores it. */
  bareId: number;
  /** How `id` was found: `"after-cue"`, or `"bare"` when the cue and letter merge into one token. */
  source: "after-cue" | "bare";
}

/** One question's predictions. */
export interface Prediction {
  id: string;
  answer: string;
  answer_only?: string;
  /** Softmax over the letters' logits: the probability of the correct letter. */
  answer_only_conf?: number;
  loglikelihood?: string;
  loglikelihood_norm?: string;
}

/** One subject's result. */
export interface SubjectResult extends Accuracies {
  subject: string;
  name: string;
  categories: string[];
  questions: number;
  /** Mean shots kept per prompt. */
  shots: number;
  /** Shots dropped in all, to fit the context. */
  shotsDropped: number;
  /** Prompts that kept only the question (the header did not fit either). */
  headerDropped: number;
  /** Prompts (or prompt + choice) cut from the left to the model's context. */
  truncated: number;
  predictions?: Prediction[];
}

/** What {@link evaluateMultipleChoice} measured; `JSON.stringify` it for the JSON report. */
export interface MultipleChoiceReport {
  benchmark: string;
  split: string;
  format: string;
  shots: number;
  scoring: Scoring[];
  letters: string[];
  /** `1 / letters`: the accuracy of a guess. */
  chance: number;
  answerTokens: AnswerToken[];
  /** True when a scored letter token is not `encode(letter)` (the report then says which). */
  answerTokensDiffer: boolean;
  /** Maximum prompt tokens (before the scored letter or choice). */
  maxLength: number;
  questions: number;
  shotsDropped: number;
  truncated: number;
  subjects: SubjectResult[];
  /** Per category, the mean over its subjects, with the subject count. */
  categories: Record<string, Accuracies & { subjects: number }>;
  /** The mean over all subjects. */
  average: Accuracies;
}

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/**
 * The token each answer letter is scored as: the one that follows the tokens of a question that
 * ends at the answer cue, in the same question written with that answer (as in a shot). For many
 * tokenizers this differs from `encode("A")` alone (a letter after `：` versus at the start).
 */
export function answerTokens(tokenizer: HarnessTokenizer, format: PromptFormat, letters: readonly string[], sample: Question): AnswerToken[] {
  const open = tokenizer.encode(format.example(sample, letters, false));
  return letters.map((letter) => {
    const bareId = tokenizer.encode(letter)[0]!;
    const shot = tokenizer.encode(format.example({ ...sample, answer: letter }, letters, true));
    const clean = shot.length > open.length && open.every((t, i) => shot[i] === t);
    const id = clean ? shot[open.length]! : bareId;
    return { letter, id, text: tokenizer.decode([id]), bareId, source: clean ? "after-cue" : "bare" };
  });
}

interface Prepared {
  prompt: FittedPrompt;
  ids: number[];
  truncated: boolean;
}

function prepare(tokenizer: HarnessTokenizer, bench: Benchmark, subject: Subject, q: Question, shots: number, maxLength: number): Prepared {
  const countTokens = (t: string) => tokenizer.encode(t).length;
  const prompt = buildPrompt(bench.format, subject.name, subject.letters, subject.dev, q, shots, { maxTokens: maxLength, countTokens });
  const all = tokenizer.encode(prompt.text);
  // the pieces' counts can differ from the whole's; the model reads at most maxLength − 1 prompt tokens and the letter
  const keep = maxLength - 1;
  return { prompt, ids: all.length > keep ? all.slice(all.length - keep) : all, truncated: all.length > keep };
}

/**
 * The prompt the harness gives question `index` of `subject` (its key), for inspection. With a
 * tokenizer and `maxLength`, shots are dropped to fit as in an evaluation.
 *
 * @throws {EvalDataError} for an unknown subject or index.
 */
export function questionPrompt(bench: Benchmark, subject: string, index: number, options: { shots?: number; tokenizer?: HarnessTokenizer; maxLength?: number } = {}): FittedPrompt {
  const s = bench.subjects.find((x) => x.key === subject);
  if (s === undefined) throw new EvalDataError(`no subject ${JSON.stringify(subject)} in ${bench.name} (it has ${bench.subjects.map((x) => x.key).join(", ")})`);
  const q = s.questions[index];
  if (q === undefined) throw new EvalDataError(`subject ${subject} has ${s.questions.length} questions, no index ${index}`);
  const fit = options.tokenizer && options.maxLength ? { maxTokens: options.maxLength, countTokens: (t: string) => options.tokenizer!.encode(t).length } : undefined;
  return buildPrompt(bench.format, s.name, s.letters, s.dev, q, options.shots ?? 0, fit);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function averageOf(results: readonly Accuracies[], scoring: readonly Scoring[]): Accuracies {
  const out: Accuracies = {};
  if (scoring.includes("answer_only")) out.answer_only = { acc: mean(results.map((r) => r.answer_only!.acc)) };
  if (scoring.includes("loglikelihood")) out.loglikelihood = { acc: mean(results.map((r) => r.loglikelihood!.acc)), acc_norm: mean(results.map((r) => r.loglikelihood!.acc_norm)) };
  return out;
}

/**
 * Evaluate `model` on `bench` (see the module comment for the scorings and averages).
 *
 * @throws ConfigError (core) naming the field for bad options; {@link EvalDataError} when a question
 *   has no answer (C-Eval's `test` split: evaluate `val`),
 *   when `shots` exceeds a subject's dev questions, or when subjects differ in their letters.
 */
export async function evaluateMultipleChoice(model: BatGPTModel, tokenizer: HarnessTokenizer, bench: Benchmark, options: MultipleChoiceOptions = {}): Promise<MultipleChoiceReport> {
  const opts = parseOptions(multipleChoiceOptionsSchema, options, "evaluateMultipleChoice options");
  const maxLength = Math.min(opts.maxLength ?? model.config.max_seq_len, model.config.max_seq_len);
  const first = bench.subjects[0];
  if (first === undefined) throw new EvalDataError(`${bench.name} has no subjects`);
  const letters = first.letters;
  for (const s of bench.subjects) {
    if (s.letters.join("") !== letters.join("")) throw new EvalDataError(`subject ${s.key} has choices ${s.letters.join("")}, ${first.key} has ${letters.join("")}`);
    const unanswered = s.questions.find((q) => q.answer === null);
    if (unanswered) {
      throw new EvalDataError(`subject ${s.key}: question id ${unanswered.id} has no answer (an empty answer field, or no answer column; C-Eval's test answers are not public: evaluate its val split)`, s.file, unanswered.line);
    }
    if (opts.shots > s.dev.length) throw new EvalDataError(`${opts.shots}-shot needs ${opts.shots} dev questions; subject ${s.key} has ${s.dev.length}`);
  }
  const tokens = answerTokens(tokenizer, bench.format, letters, first.dev[0] ?? first.questions[0]!);
  const letterIds = tokens.map((t) => t.id);
  const total = bench.subjects.reduce((n, s) => n + s.questions.length, 0);
  const progress = await createProgress(`eval ${bench.name}`, { mode: opts.progress, total, unit: "questions" });
  const subjects: SubjectResult[] = [];
  try {
    let done = 0;
    for (const s of bench.subjects) {
      const prepared = s.questions.map((q) => prepare(tokenizer, bench, s, q, opts.shots, maxLength));
      const preds: Prediction[] = s.questions.map((q) => ({ id: q.id, answer: q.answer! }));
      let truncated = prepared.filter((p) => p.truncated).length;
      const result: SubjectResult = {
        subject: s.key,
        name: s.name,
        categories: s.categories,
        questions: s.questions.length,
        shots: mean(prepared.map((p) => p.prompt.shots)),
        shotsDropped: prepared.reduce((n, p) => n + p.prompt.shotsDropped, 0),
        headerDropped: prepared.filter((p) => p.prompt.headerDropped).length,
        truncated: 0,
      };
      if (opts.scoring.includes("answer_only")) {
        const lp = nextTokenLogProbs(model, prepared.map((p) => p.ids), letterIds, { rows: opts.rows });
        let right = 0;
        preds.forEach((p, i) => {
          const row = lp.subarray(i * letters.length, (i + 1) * letters.length);
          const pick = letters[argmax(row)]!;
          const max = Math.max(...row);
          const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
          p.answer_only = pick;
          p.answer_only_conf = Math.exp(row[letters.indexOf(p.answer)]! - max) / z;
          if (pick === p.answer) right++;
        });
        result.answer_only = { acc: right / preds.length };
      }
      if (opts.scoring.includes("loglikelihood")) {
        const T = model.config.max_seq_len;
        const seqs: number[][] = [];
        const scored: number[] = [];
        s.questions.forEach((q, i) => {
          const context = tokenizer.encode(prepared[i]!.prompt.text);
          q.choices.forEach((choice) => {
            const whole = tokenizer.encode(prepared[i]!.prompt.text + choice);
            const cont = whole.slice(context.length);
            const seq = [...context, ...cont];
            if (seq.length > T) truncated++;
            seqs.push(seq.length > T ? seq.slice(seq.length - T) : seq);
            scored.push(Math.min(cont.length, T));
          });
        });
        const lps = sequenceLogProbs(model, seqs, "forward", { rows: opts.rows });
        let right = 0;
        let rightNorm = 0;
        preds.forEach((p, i) => {
          const q = s.questions[i]!;
          const ll = q.choices.map((choice, j) => {
            const k = i * letters.length + j;
            const lp = lps[k]!;
            let sum = 0;
            for (let t = lp.length - scored[k]!; t < lp.length; t++) sum += lp[t]!;
            return sum;
          });
          const norm = ll.map((v, j) => v / Math.max(1, [...q.choices[j]!].length));
          p.loglikelihood = letters[argmax(ll)]!;
          p.loglikelihood_norm = letters[argmax(norm)]!;
          if (p.loglikelihood === p.answer) right++;
          if (p.loglikelihood_norm === p.answer) rightNorm++;
        });
        result.loglikelihood = { acc: right / preds.length, acc_norm: rightNorm / preds.length };
      }
      result.truncated = truncated;
      if (opts.predictions) result.predictions = preds;
      subjects.push(result);
      done += s.questions.length;
      progress.update(done, total, { subject: s.key });
    }
  } finally {
    progress.stop();
  }
  const categories: MultipleChoiceReport["categories"] = {};
  const names = [...bench.categories, ...new Set(subjects.flatMap((r) => r.categories).filter((c) => !bench.categories.includes(c)))];
  for (const c of names) {
    const inCat = subjects.filter((r) => r.categories.includes(c));
    if (inCat.length > 0) categories[c] = { ...averageOf(inCat, opts.scoring), subjects: inCat.length };
  }
  return {
    benchmark: bench.name,
    split: bench.split,
    format: bench.format.name,
    shots: opts.shots,
    scoring: [...opts.scoring],
    letters: [...letters],
    chance: 1 / letters.length,
    answerTokens: tokens,
    answerTokensDiffer: tokens.some((t) => t.id !== t.bareId),
    maxLength,
    questions: total,
    shotsDropped: subjects.reduce((n, r) => n + r.shotsDropped, 0),
    truncated: subjects.reduce((n, r) => n + r.truncated, 0),
    subjects,
    categories,
    average: averageOf(subjects, opts.scoring),
  };
}

const pct = (x: number | undefined): string => (x === undefined ? "" : (100 * x).toFixed(1));

/**
 * The report as a Markdown table: one row per subject, then per category and the average;
 * accuracies in percent. Notes below it say the chance level, the shots dropped, and which letter
 * tokens differ from `encode(letter)`.
 */
export function reportMarkdown(report: MultipleChoiceReport): string {
  const cols = ["subject", "category", "n"];
  if (report.scoring.includes("answer_only")) cols.push("answer-only acc");
  if (report.scoring.includes("loglikelihood")) cols.push("choice acc", "choice acc_norm");
  const cells = (a: Accuracies): string[] => [
    ...(report.scoring.includes("answer_only") ? [pct(a.answer_only?.acc)] : []),
    ...(report.scoring.includes("loglikelihood") ? [pct(a.loglikelihood?.acc), pct(a.loglikelihood?.acc_norm)] : []),
  ];
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [`| ${cols.join(" | ")} |`, `| ${cols.map((_, i) => (i < 1 ? "---" : i < 2 ? "---" : "---:")).join(" | ")} |`];
  for (const r of report.subjects) lines.push(`| ${[esc(`${r.name} (${r.subject})`), esc(r.categories.join(", ")), String(r.questions), ...cells(r)].join(" | ")} |`);
  for (const [c, a] of Object.entries(report.categories)) lines.push(`| **${esc(c)}** | ${a.subjects} subjects | | ${cells(a).join(" | ")} |`);
  lines.push(`| **Average** | ${report.subjects.length} subjects | ${report.questions} | ${cells(report.average).join(" | ")} |`);
  const notes = [
    `${report.benchmark} ${report.split}, ${report.shots}-shot, ${report.format} prompt; chance is ${pct(report.chance)}%.`,
    ...(report.shotsDropped > 0 ? [`${report.shotsDropped} shots were dropped to fit prompts into ${report.maxLength} tokens.`] : []),
    ...(report.truncated > 0 ? [`${report.truncated} prompt(s), or prompt + choice, were cut from the left to the model's context.`] : []),
    ...(report.answerTokensDiffer
      ? [`The letter scored is the token after the answer cue: ${report.answerTokens.map((t) => `${t.letter} → ${t.id} ${JSON.stringify(t.text)} (encode("${t.letter}") is ${t.bareId})`).join(", ")}.`]
      : []),
  ];
  return `${lines.join("\n")}\n\n${notes.join("\n")}\n`;
}

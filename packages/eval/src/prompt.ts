/**
 * The prompts of C-Eval and CMMLU, character for character as their official evaluation code
 * writes them, and the fitting of a k-shot prompt into a model's context.
 *
 * - C-Eval, answer-only (`code/evaluator_series/evaluators/*.py` of
 *   https://github.com/hkust-nlp/ceval, `generate_few_shot_prompt` and `format_example`):
 *   `以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。\n\n`, then each shot as
 *   `{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案：{answer}\n\n`, then the question in the same
 *   form ending at `答案：`.
 * - CMMLU (`src/mp_utils.py` of https://github.com/haonan-li/CMMLU, `gen_prompt` and
 *   `format_example`): `以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n`, then each
 *   shot as `题目：{question}\nA. {A}\n…\n答案是：{answer}\n\n`, then the question ending at `答案是：`.
 *
 * `{subject}` is the subject's Chinese name as each repository maps it (see subjects.ts).
 */
import type { Question } from "./csv.js";
import { EvalDataError } from "./errors.js";

/** How one benchmark writes its prompts; implement it to run the harness with a prompt of your own. */
export interface PromptFormat {
  /** A name for reports (`"ceval"`, `"cmmlu"`). */
  readonly name: string;
  /** The instruction that opens every prompt, with its trailing blank line. */
  header(subject: string): string;
  /**
   * One question with its choices, ending with the answer cue; with `answer`, followed by the
   * letter and the blank line that separates shots.
   */
  example(q: Question, letters: readonly string[], answer: boolean): string;
  /** The text right before the answer letter (`答案：`, `答案是：`). */
  readonly answerCue: string;
}

function choicesText(q: Question, letters: readonly string[]): string {
  return letters.map((L, i) => `\n${L}. ${q.choices[i]}`).join("");
}

function shotAnswer(q: Question, answer: boolean): string {
  if (!answer) return "";
  if (q.answer === null) throw new EvalDataError(`question ${q.id} (line ${q.line}) has no answer and cannot be a shot`);
  return `${q.answer}\n\n`;
}

/** C-Eval's answer-only prompt. */
export const CEVAL_FORMAT: PromptFormat = {
  name: "ceval",
  header: (subject) => `以下是中国关于${subject}考试的单项选择题，请选出其中的正确答案。\n\n`,
  example: (q, letters, answer) => `${q.question}${choicesText(q, letters)}\n答案：${shotAnswer(q, answer)}`,
  answerCue: "答案：",
};

/** CMMLU's direct-answer prompt. */
export const CMMLU_FORMAT: PromptFormat = {
  name: "cmmlu",
  header: (subject) => `以下是关于${subject}的单项选择题，请直接给出正确答案的选项。\n\n`,
  example: (q, letters, answer) => `题目：${q.question}${choicesText(q, letters)}\n答案是：${shotAnswer(q, answer)}`,
  answerCue: "答案是：",
};

/** A prompt and what fitting it into the context removed. */
export interface FittedPrompt {
  text: string;
  /** Shots kept. */
  shots: number;
  /** Shots dropped to fit the context. */
  shotsDropped: number;
  /** True when even the header did not fit and only the question is left (CMMLU's rule). */
  headerDropped: boolean;
}

/**
 * The `k`-shot prompt of `q`: the header, the first `k` of `dev` with their answers, then `q`.
 *
 * With `maxTokens` and `countTokens`, CMMLU's rule (`gen_prompt` in `mp_utils.py`) fits it into
 * the context: when header and question alone take more than `maxTokens`, the prompt is the
 * question alone; otherwise, while the shots' tokens are at least `maxTokens` minus those of
 * header and question, every shot of the greatest length is dropped (the longest first; ties go
 * together, as there). Token counts are of each piece alone, as there.
 *
 * @throws {EvalDataError} when `k` exceeds the shots in `dev`, or a shot has no answer.
 */
export function buildPrompt(
  format: PromptFormat,
  subject: string,
  letters: readonly string[],
  dev: readonly Question[],
  q: Question,
  k: number,
  fit?: { maxTokens: number; countTokens: (text: string) => number },
): FittedPrompt {
  if (!Number.isInteger(k) || k < 0) throw new EvalDataError(`shots must be a non-negative integer, got ${k}`);
  if (k > dev.length) throw new EvalDataError(`${k}-shot needs ${k} dev questions, the subject has ${dev.length}`);
  const header = format.header(subject);
  const end = format.example(q, letters, false);
  let shots = dev.slice(0, k).map((s) => format.example(s, letters, true));
  if (fit === undefined) return { text: header + shots.join("") + end, shots: k, shotsDropped: 0, headerDropped: false };
  const startEnd = fit.countTokens(header) + fit.countTokens(end);
  if (startEnd > fit.maxTokens) return { text: end, shots: 0, shotsDropped: k, headerDropped: true };
  let lengths = shots.map((s) => fit.countTokens(s));
  while (shots.length > 0 && lengths.reduce((a, b) => a + b, 0) >= fit.maxTokens - startEnd) {
    const longest = Math.max(...lengths);
    shots = shots.filter((_, i) => lengths[i] !== longest);
    lengths = lengths.filter((n) => n !== longest);
  }
  return { text: header + shots.join("") + end, shots: shots.length, shotsDropped: k - shots.length, headerDropped: false };
}

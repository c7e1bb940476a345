/**
 * # 07 — Evaluate the verse models: perplexity both ways, and a multiple-choice exam
 *
 * BatGPT is evaluated on C-Eval and CMMLU. This script gives the models of the earlier examples
 * the same harness (@batgpt/eval), on data of their own world:
 *
 * 1. **Perplexity** on the held-out verse (example 02's validation tokens), read forward and
 *    backward, with a sliding window; and bits per byte, which does not depend on the tokenizer.
 * 2. **A multiple-choice exam in the C-Eval layout**, written from the corpus to
 *    `runs/07-eval/exam/{dev,val}/{subject}_{split}.csv`: `next_line` (which line follows a given
 *    line of a held-out quatrain) and `previous_line` (which precedes it), each with three
 *    distractors, lines of the same length from other held-out poems, at the same place in their
 *    poem; and `line_order` (which of four orderings of a held-out line's characters is the poet's).
 *    It is prompted with C-Eval's official prompt (`以下是中国关于{subject}考试的单项选择题…`
 *    … `答案：`), 0-shot and 3-shot (shots from the dev split, written from training poems), and
 *    scored both ways: the answer letter's next-token probability (C-Eval's answer-only method)
 *    and each choice's log-likelihood (lm-evaluation-harness's acc / acc_norm). Chance is 25%.
 *
 * The models: example 02's pretrained model (trained first when it is missing), and, where they
 * exist, example 03's SFT model and example 05's PPO-ptx policy. None of them ever saw an exam
 * prompt; the pretrained model knows verse, not how to answer with a letter.
 *
 * Run: `npm run example:07` (a few minutes on 2 cores once the models exist). `--questions N`
 * sets the questions per subject (default 200), `--print-prompt` prints one 3-shot prompt. Writes
 * `runs/07-eval/`: the exam, `report-<model>-<k>shot.json` and `.md` for each model and shot
 * count, `perplexity.json`; the last line of output is JSON with the headline numbers.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCheckpoint, Rng, selectBackend, TokenFile } from "@batgpt/core";
import { prepareCorpus } from "@batgpt/datasets";
import { evaluateMultipleChoice, loadCEval, perplexity, questionPrompt, reportMarkdown, type MultipleChoiceReport, type PerplexityResult } from "@batgpt/eval";
import { pretrain, type PretrainOutput } from "./02-pretrain.js";
import { readPoems, type Poem } from "./lib/instructions.js";
import { isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";

const NAME = "07-eval";
const FORM = "五言绝句";
const SUBJECTS = {
  next_line: { name: "古诗下句", ask: (line: string) => `“${line}”的下一句是？`, offset: 1 },
  previous_line: { name: "古诗上句", ask: (line: string) => `“${line}”的上一句是？`, offset: -1 },
  line_order: { name: "诗句语序", ask: () => "下列哪一句是原诗中的句子？", offset: 0 },
} as const;
type SubjectKey = keyof typeof SUBJECTS;
/** 0- and 3-shot: five shots (both benchmarks' default) do not fit 256 tokens here, and CMMLU's rule drops shots of equal length together. */
const SHOTS = [0, 3] as const;

/** Per model: perplexities and accuracies (fractions), the keys of the JSON line. */
export interface ModelHeadline {
  perplexityForward: number;
  perplexityBackward: number;
  bitsPerByteForward: number;
  bitsPerByteBackward: number;
  /** Average over the subjects, per shot count: answer-only acc, choice log-likelihood acc and acc_norm. */
  answerOnly0: number;
  choice0: number;
  choiceNorm0: number;
  answerOnly3: number;
  choice3: number;
  choiceNorm3: number;
  /** line_order alone, 0-shot, by choice log-likelihood: does the model know verse word order? */
  lineOrderChoice0: number;
  /** Shots dropped to fit 3-shot prompts into the context, of 3 per question. */
  shotsDropped3: number;
}

export interface EvalHeadline {
  models: Record<string, ModelHeadline>;
  questions: number;
  perplexityTokens: number;
  chance: number;
  evalSeconds: number;
  backend: string;
}

const stripped = (line: string) => line.replace(/[，。]$/u, "");
const csvField = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * `n` questions of `subject` from `poems`: a line, the line after (or before) it as the answer,
 * three distractors from other poems at that same place; or (`line_order`) a line and three
 * reorderings of its characters. The answer at a random letter.
 */
function questions(subject: SubjectKey, poems: readonly Poem[], n: number, rng: Rng): string[][] {
  const { ask, offset } = SUBJECTS[subject];
  const usable = poems.filter((p) => p.lines.length === 4 && p.lines.every((l) => [...stripped(l)].length === 5));
  const rows: string[][] = [];
  for (let i = 0; rows.length < n && i < usable.length * 4; i++) {
    const poem = usable[rng.int(usable.length)]!;
    const at = offset === 1 ? rng.int(3) : offset === -1 ? 1 + rng.int(3) : rng.int(4);
    const answer = stripped(poem.lines[at + offset]!);
    if (offset === 0 && new Set(answer).size < 4) continue; // too few distinct characters for three reorderings
    const distractors = new Set<string>();
    while (distractors.size < 3) {
      const other = offset === 0 ? rng.shuffle([...answer]).join("") : stripped(usable[rng.int(usable.length)]!.lines[at + offset]!);
      if (other !== answer) distractors.add(other);
    }
    const choices = rng.shuffle([answer, ...distractors]);
    rows.push([String(rows.length), ask(stripped(poem.lines[at]!)), ...choices, "ABCD"[choices.indexOf(answer)]!]);
  }
  return rows;
}

function writeExam(dir: string, split: "dev" | "val", subject: SubjectKey, rows: string[][]): void {
  mkdirSync(join(dir, split), { recursive: true });
  const lines = ["id,question,A,B,C,D,answer", ...rows.map((r) => r.map(csvField).join(","))];
  writeFileSync(join(dir, split, `${subject}_${split}.csv`), lines.join("\n") + "\n");
}

/** Evaluate the pretrained model and, where they exist, the SFT and PPO models. */
export async function evaluateModels(
  options: { pretrained?: PretrainOutput; sftCheckpoint?: string; ppoCheckpoint?: string; questions?: number; perplexityTokens?: number; dir?: string; printPrompt?: boolean } = {},
): Promise<EvalHeadline> {
  const { dir = runDir(NAME) } = options;
  const nQuestions = options.questions ?? 200;
  const backend = await selectBackend();
  const pretrained = options.pretrained ?? (await pretrain({ dir: runDir("02-pretrain"), reuse: true }));
  startRun(dir, ["perplexity.json"]);

  // ## 1. The models
  const sftCheckpoint = options.sftCheckpoint ?? join(runDir("03-sft"), "checkpoint");
  const ppoCheckpoint = options.ppoCheckpoint ?? join(runDir("05-ppo"), "checkpoint");
  const candidates: [string, string][] = [
    ["pretrained", pretrained.paths.checkpoint],
    ["sft", sftCheckpoint],
    ["ppo", ppoCheckpoint],
  ];
  const found = candidates.filter(([name, path]) => {
    const there = existsSync(join(path, "config.json"));
    if (!there) console.log(`no ${name} model at ${path} (run its example to include it)`);
    return there;
  });

  // ## 2. The exam, in the C-Eval layout: dev from training poems (the shots), val from held-out ones
  const { subset, maxChineseBytes, maxEnglishBytes } = pretrained.config.tokenizer;
  const corpus = await prepareCorpus({ subset, maxChineseBytes: maxChineseBytes ?? undefined, maxEnglishBytes: maxEnglishBytes ?? undefined });
  const trainPoems = (await readPoems(corpus.train.jsonl, [FORM])).get(FORM)!;
  const heldOut = (await readPoems(corpus.val.jsonl, [FORM])).get(FORM)!;
  const examDir = join(dir, "exam");
  const rng = new Rng(7);
  for (const subject of Object.keys(SUBJECTS) as SubjectKey[]) {
    writeExam(examDir, "dev", subject, questions(subject, trainPoems, 5, rng));
    writeExam(examDir, "val", subject, questions(subject, heldOut, nQuestions, rng));
  }
  const names = Object.fromEntries(Object.entries(SUBJECTS).map(([k, v]) => [k, v.name]));
  const exam = loadCEval(examDir, { name: "verse-exam", names, categories: { next_line: ["Humanities"], previous_line: ["Humanities"], line_order: ["Humanities"] } });
  console.log(`exam: ${exam.subjects.map((s) => `${s.key} (${s.name}) ${s.questions.length} questions`).join(", ")} in ${examDir}; chance is 25%`);
  if (options.printPrompt) console.log(`\none 3-shot prompt, as the model reads it:\n${questionPrompt(exam, "next_line", 0, { shots: 3 }).text}\n`);

  // ## 3. Held-out text for perplexity: example 02's validation tokens
  const val = await TokenFile.open(pretrained.paths.validation);
  const pplTokens = Array.from(val.tokens.subarray(0, Math.min(val.length, options.perplexityTokens ?? 16384)));

  // ## 4. Each model: perplexity both ways, the exam 0-shot and 3-shot
  const t0 = performance.now();
  const models: Record<string, ModelHeadline> = {};
  const perplexities: Record<string, PerplexityResult> = {};
  for (const [name, path] of found) {
    const { model, tokenizer: tok } = await loadCheckpoint(path);
    if (!tok) throw new Error(`${path} holds no tokenizer.json`);
    const ppl = await perplexity(model, tok, pplTokens, { window: 128, stride: 64 });
    perplexities[name] = ppl;
    console.log(`\n## ${name} (${path})\nperplexity on ${ppl.tokens} held-out tokens (window ${ppl.window}, stride ${ppl.stride}): forward ${ppl.forward!.perplexity.toFixed(2)} (${ppl.forward!.bitsPerByte.toFixed(3)} bits/byte), backward ${ppl.backward!.perplexity.toFixed(2)} (${ppl.backward!.bitsPerByte.toFixed(3)} bits/byte)`);
    const reports: Record<number, MultipleChoiceReport> = {};
    for (const shots of SHOTS) {
      const report = await evaluateMultipleChoice(model, tok, exam, { shots, progress: "auto" });
      reports[shots] = report;
      writeFileSync(join(dir, `report-${name}-${shots}shot.json`), JSON.stringify(report, null, 2) + "\n");
      const md = reportMarkdown(report);
      writeFileSync(join(dir, `report-${name}-${shots}shot.md`), md);
      console.log(`\n${name}, ${shots}-shot:\n${md}`);
    }
    const avg = (k: number) => reports[k]!.average;
    models[name] = {
      perplexityForward: round(ppl.forward!.perplexity, 2),
      perplexityBackward: round(ppl.backward!.perplexity, 2),
      bitsPerByteForward: round(ppl.forward!.bitsPerByte),
      bitsPerByteBackward: round(ppl.backward!.bitsPerByte),
      answerOnly0: round(avg(0).answer_only!.acc),
      choice0: round(avg(0).loglikelihood!.acc),
      choiceNorm0: round(avg(0).loglikelihood!.acc_norm),
      answerOnly3: round(avg(3).answer_only!.acc),
      choice3: round(avg(3).loglikelihood!.acc),
      choiceNorm3: round(avg(3).loglikelihood!.acc_norm),
      lineOrderChoice0: round(reports[0]!.subjects.find((r) => r.subject === "line_order")!.loglikelihood!.acc),
      shotsDropped3: reports[3]!.shotsDropped,
    };
    model.dispose();
  }
  writeFileSync(join(dir, "perplexity.json"), JSON.stringify(perplexities, null, 2) + "\n");

  // ## 5. Side by side
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log("\n| model | ppl forward | ppl backward | bits/byte fwd | answer-only 0/3-shot | choice acc 0/3-shot | choice acc_norm 0/3-shot | line_order choice 0-shot |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, m] of Object.entries(models)) {
    console.log(`| ${name} | ${m.perplexityForward} | ${m.perplexityBackward} | ${m.bitsPerByteForward} | ${pct(m.answerOnly0)} / ${pct(m.answerOnly3)} | ${pct(m.choice0)} / ${pct(m.choice3)} | ${pct(m.choiceNorm0)} / ${pct(m.choiceNorm3)} | ${pct(m.lineOrderChoice0)} |`);
  }
  console.log("(chance is 25% on four choices)");
  const headline: EvalHeadline = { models, questions: nQuestions, perplexityTokens: pplTokens.length, chance: 0.25, evalSeconds: Math.round((performance.now() - t0) / 1000), backend: backend.name };
  await writeManifest(dir, { example: NAME, config: { questions: nQuestions, models: found.map(([n]) => n) }, headline, files: { exam: "exam", perplexity: "perplexity.json" }, finishedAt: new Date().toISOString() });
  return headline;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { questions: { type: "string" }, "print-prompt": { type: "boolean" } } });
  const headline = await evaluateModels({ questions: Number(values.questions ?? 200), printPrompt: values["print-prompt"] ?? false });
  console.log(JSON.stringify(headline));
}

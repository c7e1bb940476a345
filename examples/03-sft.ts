/**
 * # 03 — Instruction-tune the verse model: continue, precede, write on a title, follow up
 *
 * BatGPT's instruction tuning (arXiv 2307.00360, §3.2) trains on ⟨prompt, response⟩ pairs and
 * multi-turn dialogues, the history concatenated into the context and the loss on the answer
 * only. This script builds such an instruction set from the verse corpus, fine-tunes the model
 * of example 02 on it with `@batgpt/sft`, and measures on held-out poems, before and after:
 *
 * - **answer loss**: nats per answer token of held-out conversations of every task;
 * - **next line**: `续写《题》：<the first lines>` → the next line, greedy; exact match, and the
 *   share of answers that are a well-formed line (five Han characters and `，` or `。`);
 * - **previous line**: BatGPT's model also reads backward, so the same conversations are tuned
 *   right to left to write the *prompt* for a given answer; reading backward from a line, the
 *   first thing the model writes is the line before it; exact match;
 * - **form rate** of quatrains written on held-out titles (`以《题》为题，写一首五言绝句。`), and of
 *   seven-character quatrains and of multi-turn follow-ups (`再来一首。`, `现在写七言的。`).
 *
 * The conversations use the official BatGPT chat format (the default template of
 * `@batgpt/sft`: `[Turn i]`, `[User]`, `[Assistant]`, `<|eot|>` closing each answer) and are
 * packed several to a row of 256 tokens, each read on its own.
 *
 * Run: `npm run example:03`. It fine-tunes example 02's checkpoint (`runs/02-pretrain/`,
 * reused when it matches, else trained first) and writes `runs/03-sft/`. The last line of
 * output is JSON with the headline numbers. `npm run example:03 -- --steps 3000` trains longer.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCheckpoint, ReplicaPool, resolveWorkers, Rng, selectBackend, type BatGPTModel, type Direction, type EvalRecord } from "@batgpt/core";
import { formRate, prepareCorpus, type VerseForm } from "@batgpt/datasets";
import { evaluateAnswerLoss, formatConversation, renderChat, SampleTooLongError, trainSft, type FormattedSample, type Message } from "@batgpt/sft";
import type { Tokenizer } from "@batgpt/tokenizer";
import { pretrain, type PretrainConfig, type PretrainOutput } from "./02-pretrain.js";
import { findRun, isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";
import { FORM_RATE_SAMPLING } from "./lib/verse.js";
import { ANOTHER, body, continueConversation, continuePrompt, NOW_SEVEN, onTitle, readPoems, type Poem } from "./lib/instructions.js";

const NAME = "03-sft";

/** The options of this step; the defaults are the real run's sizes. */
export interface SftExampleOptions {
  /** Example 02's output. Default: example 02's step, reused when it matches. */
  pretrained?: PretrainOutput;
  /** Optimizer steps (forward instructions and backward samples interleaved). Default 1500. */
  steps?: number;
  /** Backward samples (previous line) per forward conversation. Default 0.25. */
  backwardShare?: number;
  /** Packed rows of 256 tokens (the model's context) a step. Default 4. */
  batchSize?: number;
  /** Peak learning rate (cosine after a linear warmup). Default 2e-3. */
  lr?: number;
  /** Training conversations built from the corpus, in all. Default 12000. */
  samples?: number;
  /** Held-out prompts per measurement. Default 50. */
  heldOut?: number;
  /** Data-parallel replicas. Default `"auto"`: `BATGPT_WORKERS`, else the cores. */
  workers?: number | "auto";
  /** Output folder. Default `runs/03-sft/`. */
  dir?: string;
  /** Reuse an earlier run in `dir` made with the same options and pretrained model. Default false. */
  reuse?: boolean;
}

/** The headline numbers (the keys of the JSON line). Rates are fractions of `heldOut` prompts. */
export interface SftHeadline {
  answerLossBefore: number;
  answerLossAfter: number;
  /** Five-character quatrains on held-out titles. */
  formRateBefore: number;
  formRateAfter: number;
  nextLineMatchBefore: number;
  nextLineMatchAfter: number;
  /** Answers to the next-line prompt that are one well-formed five-character line. */
  nextLineFormBefore: number;
  nextLineFormAfter: number;
  prevLineMatchBefore: number;
  prevLineMatchAfter: number;
  /** Seven-character quatrains on held-out titles (a form example 02 never pretrained on). */
  formRate7Before: number;
  formRate7After: number;
  /** The second turn's poem in the requested form (再来一首 → 五言, 现在写七言的 → 七言). */
  followUpFormRateBefore: number;
  followUpFormRateAfter: number;
  steps: number;
  trainSeconds: number;
  workers: number;
  backend: string;
}

/** What makes one run: recorded in its manifest. */
export interface SftExampleConfig {
  pretrained: PretrainConfig;
  steps: number;
  backwardShare: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  samples: number;
  heldOut: number;
  seed: number;
}

/** What this step hands to the next one. */
export interface SftExampleOutput {
  headline: SftHeadline;
  config: SftExampleConfig;
  /** `checkpoint` holds the tuned model (and `tokenizer_config.json` with the chat template). */
  paths: { dir: string; checkpoint: string; manifest: string };
  reused: boolean;
}

// ## The instruction set
// Poems of the corpus (title, form, lines) and the instructions made of them live in
// lib/instructions.ts, shared with example 04.

/** The tasks, mixed: what each conversation asks and where its answer is checked. */
function conversations(five: Poem[], seven: Poem[], n: number, rng: Rng): Message[][] {
  const pick = <T>(xs: T[]) => xs[rng.int(xs.length)]!;
  const out: Message[][] = [];
  for (let i = 0; i < n; i++) {
    const r = rng.float();
    const p = pick(five);
    if (r < 0.4) out.push(continueConversation(p, 1 + rng.int(3)));
    else if (r < 0.65) out.push([{ role: "user", content: onTitle(p.title, "五言绝句") }, { role: "assistant", content: body(p) }]);
    else if (r < 0.8) {
      const q = pick(seven);
      out.push([{ role: "user", content: onTitle(q.title, "七言绝句") }, { role: "assistant", content: body(q) }]);
    } else {
      // multi-turn: a quatrain on a title, then "another one" or "now seven characters"
      const [ask, next] = r < 0.9 ? [ANOTHER, pick(five)] : [NOW_SEVEN, pick(seven)];
      out.push([
        { role: "user", content: onTitle(p.title, "五言绝句") },
        { role: "assistant", content: body(p) },
        { role: "user", content: ask },
        { role: "assistant", content: body(next) },
      ]);
    }
  }
  return out;
}

/** Format conversations to ids and loss masks; ones whose answer cannot fit are counted, never cut. */
function format(convs: Message[][], tok: Tokenizer, maxLength: number, lossOn: "last" | "last-prompt" = "last"): { samples: FormattedSample[]; tooLong: number; droppedTurns: number } {
  const samples: FormattedSample[] = [];
  let tooLong = 0;
  for (const messages of convs) {
    try {
      samples.push(formatConversation({ messages }, tok, { maxLength, lossOn }));
    } catch (err) {
      if (!(err instanceof SampleTooLongError)) throw err;
      tooLong++;
    }
  }
  return { samples, tooLong, droppedTurns: samples.reduce((n, s) => n + s.droppedTurns, 0) };
}

// ## The measurements
const HAN_LINE_5 = /^\p{Script=Han}{5}[，。]$/u;
const LAST_LINE = /([^，。：\n]+[，。])\s*$/u;

/** The held-out prompts of every measurement, from the validation split. */
interface HeldOut {
  next: { prompt: string; answer: string }[];
  prev: { suffix: string; answer: string }[];
  titles5: string[];
  titles7: string[];
  followUps: { prompt: string; form: VerseForm }[];
  /** Held-out conversations of every task, for the answer loss. */
  loss: FormattedSample[];
}

function heldOutSet(five: Poem[], seven: Poem[], n: number, tok: Tokenizer, seqLen: number): HeldOut {
  const rng = new Rng(99);
  const gen = (messages: Message[]) => renderChat(messages, { addGenerationPrompt: true });
  const next = five.slice(0, n).map((p) => {
    const m = continueConversation(p, 1 + rng.int(3));
    return { prompt: gen(m.slice(0, 1)), answer: m[1]!.content };
  });
  // backward: the rendered answer of a continue conversation; the model writes what precedes it
  const prev = five.slice(n, 2 * n).map((p) => {
    const k = 1 + rng.int(3);
    const full = renderChat(continueConversation(p, k));
    const user = continuePrompt(p, k);
    return { suffix: full.slice(full.indexOf(user) + user.length), answer: p.lines[k - 1]! };
  });
  const followUps = five.slice(2 * n, 3 * n).map((p, i) => {
    const [ask, form] = i % 2 === 0 ? [ANOTHER, "五言绝句" as const] : [NOW_SEVEN, "七言绝句" as const];
    const history: Message[] = [{ role: "user", content: onTitle(p.title, "五言绝句") }, { role: "assistant", content: body(p) }, { role: "user", content: ask }];
    return { prompt: gen(history), form };
  });
  const loss = format(conversations(five.slice(3 * n), seven, 4 * n, rng), tok, seqLen).samples;
  return { next, prev, titles5: five.slice(0, n).map((p) => p.title), titles7: seven.slice(0, n).map((p) => p.title), followUps, loss };
}

/** Every measurement of one model, generating on every replica. */
async function measure(model: BatGPTModel, tok: Tokenizer, held: HeldOut, workers: number | "auto") {
  const padId = tok.specialTokenId("<|pad|>");
  const stopTokens = [tok.specialTokenId("<|eot|>"), tok.specialTokenId("<|eos|>")];
  const pool = await ReplicaPool.start(model, { workers, tokenizer: tok });
  try {
    const run = (prompts: string[], direction: Direction, o: { temperature: number; maxNewTokens: number }) =>
      pool.generate(prompts, { ...FORM_RATE_SAMPLING, ...o, direction, stopTokens, allowedSpecial: ["<|eot|>"] });
    const nextGen = await run(held.next.map((x) => x.prompt), "forward", { temperature: 0, maxNewTokens: 12 });
    const nextAnswers = nextGen.map((g) => g.text.trim());
    const prevGen = await run(held.prev.map((x) => x.suffix), "backward", { temperature: 0, maxNewTokens: 12 });
    const prevAnswers = prevGen.map((g) => LAST_LINE.exec(g.text)?.[1] ?? "");
    const prevShown = prevGen.map((g, i) => prevAnswers[i] || `(no line in ${JSON.stringify(g.text)})`);
    const rate = async (prompts: string[], forms: VerseForm[]) => {
      const gens = await run(prompts, "forward", { temperature: FORM_RATE_SAMPLING.temperature, maxNewTokens: 64 });
      const poems = gens.map((g) => g.text.trim());
      const passed = poems.filter((p, i) => formRate([`《题》${forms[i]!}\n${p}`], forms[i]!).passed === 1).length;
      return { rate: passed / poems.length, poems };
    };
    const five = await rate(held.titles5.map((t) => renderChat([{ role: "user", content: onTitle(t, "五言绝句") }], { addGenerationPrompt: true })), held.titles5.map(() => "五言绝句"));
    const seven = await rate(held.titles7.map((t) => renderChat([{ role: "user", content: onTitle(t, "七言绝句") }], { addGenerationPrompt: true })), held.titles7.map(() => "七言绝句"));
    const followUp = await rate(held.followUps.map((f) => f.prompt), held.followUps.map((f) => f.form));
    const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
    return {
      answerLoss: evaluateAnswerLoss(model, held.loss, padId),
      nextLineMatch: share(nextAnswers.map((a, i) => a === held.next[i]!.answer)),
      nextLineForm: share(nextAnswers.map((a) => HAN_LINE_5.test(a))),
      prevLineMatch: share(prevAnswers.map((a, i) => a === held.prev[i]!.answer)),
      formRate: five.rate,
      formRate7: seven.rate,
      followUpFormRate: followUp.rate,
      shown: { next: nextAnswers, prev: prevShown, five: five.poems, seven: seven.poems, followUp: followUp.poems },
    };
  } finally {
    await pool.close();
  }
}

type Measured = Awaited<ReturnType<typeof measure>>;

function printMeasures(label: string, m: Measured): void {
  console.log(
    `  ${label}: answer loss ${m.answerLoss.toFixed(3)} nats/token; next line exact ${m.nextLineMatch.toFixed(2)} (well-formed ${m.nextLineForm.toFixed(2)}); ` +
      `previous line exact ${m.prevLineMatch.toFixed(2)}; form rate 五言 ${m.formRate.toFixed(2)}, 七言 ${m.formRate7.toFixed(2)}, follow-ups ${m.followUpFormRate.toFixed(2)}`,
  );
}

/** Build the instruction set from the corpus, fine-tune example 02's model on it, and measure before and after. */
export async function sft(options: SftExampleOptions = {}): Promise<SftExampleOutput> {
  const { dir = runDir(NAME), reuse = false, workers = "auto" } = options;
  const paths = { dir, checkpoint: join(dir, "checkpoint"), manifest: join(dir, "manifest.json") };

  // ## 1. The pretrained model
  const backend = await selectBackend();
  resolveWorkers(workers);
  const pretrained = options.pretrained ?? (await pretrain({ dir: runDir("02-pretrain"), reuse: true }));
  const seqLen = pretrained.config.model.max_seq_len ?? 256;
  const config: SftExampleConfig = {
    pretrained: pretrained.config,
    steps: options.steps ?? 1500,
    backwardShare: options.backwardShare ?? 0.25,
    batchSize: options.batchSize ?? 4,
    seqLen,
    lr: options.lr ?? 2e-3,
    samples: options.samples ?? 12000,
    heldOut: options.heldOut ?? 50,
    seed: 1,
  };
  const earlier = reuse ? findRun<SftExampleConfig, SftHeadline>(dir, NAME, config) : undefined;
  if (earlier) {
    console.log(`reusing ${paths.checkpoint}: tuned ${earlier.finishedAt} with the same options and pretrained model`);
    return { headline: earlier.headline, config, paths, reused: true };
  }
  startRun(dir, ["metrics.jsonl"]);
  const { model, tokenizer: tok } = await loadCheckpoint(pretrained.paths.checkpoint);
  if (!tok) throw new Error(`${pretrained.paths.checkpoint} holds no tokenizer.json`);
  console.log(`base model: ${pretrained.paths.checkpoint} (form rate ${pretrained.headline.formRate} on its own prompt \`《题》五言绝句\\n\`, after ${pretrained.headline.steps} steps)`);

  // ## 2. The instruction set
  // Training conversations come from the training split's five- and seven-character quatrains;
  // every held-out prompt from the validation split, so no measured poem or title was tuned on.
  const { subset, maxChineseBytes, maxEnglishBytes } = pretrained.config.tokenizer;
  const corpus = await prepareCorpus({ subset, maxChineseBytes: maxChineseBytes ?? undefined, maxEnglishBytes: maxEnglishBytes ?? undefined });
  const forms: VerseForm[] = ["五言绝句", "七言绝句"];
  const train = await readPoems(corpus.train.jsonl, forms);
  const val = await readPoems(corpus.val.jsonl, forms);
  const rng = new Rng(config.seed);
  const convs = conversations(train.get("五言绝句")!, train.get("七言绝句")!, config.samples, rng);
  const fwd = format(convs, tok, seqLen);
  // backward samples: continue conversations, the loss on the prompt, read right to left
  const backwardConvs = Array.from({ length: Math.round(config.samples * config.backwardShare) }, () => {
    const five = train.get("五言绝句")!;
    return continueConversation(five[rng.int(five.length)]!, 1 + rng.int(3));
  });
  const bwd = format(backwardConvs, tok, seqLen, "last-prompt");
  const held = heldOutSet(val.get("五言绝句")!, val.get("七言绝句")!, config.heldOut, tok, seqLen);
  const mean = (s: FormattedSample[]) => s.reduce((n, x) => n + x.ids.length, 0) / s.length;
  console.log(
    `instructions: ${fwd.samples.length} forward conversations (mean ${mean(fwd.samples).toFixed(0)} tokens; ${fwd.tooLong} too long to keep, ${fwd.droppedTurns} early turns dropped to fit ${seqLen}), ` +
      `${bwd.samples.length} backward samples; held out: ${config.heldOut} prompts per measurement, ${held.loss.length} conversations for the answer loss`,
  );
  console.log(`  e.g. ${JSON.stringify(renderChat(convs.find((c) => c.length === 4)!))}`);

  // ## 3. Before tuning
  console.log("\nmeasuring the base model on the held-out prompts");
  const before = await measure(model, tok, held, workers);
  printMeasures("before", before);

  // ## 4. Tuning: forward instructions and backward samples, interleaved
  // Packed rows of 256 tokens, each conversation read on its own, the loss on the answers. The
  // backward samples carry `direction: "backward"`: `trainSft` gives them batches of their own,
  // read right to left, between the forward ones, so neither reading is tuned at the other's cost.
  const heldBackward = format(held.prev.map((_, i) => continueConversation(val.get("五言绝句")![config.heldOut + i]!, 2)), tok, seqLen, "last-prompt").samples;
  const t0 = performance.now();
  console.log(`\ntuning for ${config.steps} steps (${config.batchSize} packed rows of ${seqLen} tokens a step, forward and backward batches interleaved)`);
  const r = await trainSft(
    {
      model,
      train: [...fwd.samples, ...bwd.samples],
      validation: held.loss,
      tokenizer: tok,
      // the held-out answer loss of each direction apart, so a reader sees neither is sacrificed
      evaluate: (m) => ({ "eval/backward_loss": evaluateAnswerLoss(m, heldBackward, tok.specialTokenId("<|pad|>")) }),
      callbacks: {
        onEval: (e: EvalRecord) =>
          console.log(`  step ${String(e.step).padStart(4)}: held-out answer loss ${e["eval/loss"]!.toFixed(3)} (forward tasks), ${e["eval/backward_loss"]!.toFixed(3)} (previous line, backward)`),
      },
    },
    {
      batchSize: config.batchSize,
      seqLen,
      packing: true,
      lr: config.lr,
      warmupSteps: 50,
      seed: config.seed,
      workers,
      steps: config.steps,
      evalEvery: Math.max(1, Math.floor(config.steps / 3)),
      metricsPath: join(dir, "metrics.jsonl"),
      checkpointDir: paths.checkpoint,
    },
  );
  const trainSeconds = (performance.now() - t0) / 1000;
  console.log(`(${Math.round(trainSeconds)} s on ${r.workers} replica(s), ${Math.round(r.tokensPerSecond)} tokens/s; checkpoint in ${paths.checkpoint})`);

  // ## 5. After tuning, side by side
  console.log("\nmeasuring the tuned model on the same prompts");
  const after = await measure(model, tok, held, workers);
  printMeasures("before", before);
  printMeasures("after ", after);
  const show = (title: string, rows: [string, string, string][]) => {
    console.log(`\n${title}`);
    for (const [q, x, y] of rows) console.log(`  ${q}\n    base:  ${JSON.stringify(x)}\n    tuned: ${JSON.stringify(y)}`);
  };
  show("next line (greedy):", held.next.slice(0, 3).map((x, i) => [`${JSON.stringify(x.prompt.split("[User] ")[1]!.split("\n")[0])} (the poem: ${x.answer})`, before.shown.next[i]!, after.shown.next[i]!]));
  show("previous line (backward, greedy):", held.prev.slice(0, 3).map((x, i) => [`before ${JSON.stringify(x.suffix.split("[Assistant] ")[1]!.split("\n")[0])} (the poem: ${x.answer})`, before.shown.prev[i]!, after.shown.prev[i]!]));
  show("a quatrain on a held-out title:", held.titles5.slice(0, 3).map((t, i) => [onTitle(t, "五言绝句"), before.shown.five[i]!, after.shown.five[i]!]));
  show("follow-ups:", held.followUps.slice(0, 2).map((f, i) => [f.prompt.split("[User] ").at(-1)!.split("\n")[0]!, before.shown.followUp[i]!, after.shown.followUp[i]!]));
  model.dispose();

  // ## 6. Hand it on
  const headline: SftHeadline = {
    answerLossBefore: round(before.answerLoss),
    answerLossAfter: round(after.answerLoss),
    formRateBefore: round(before.formRate),
    formRateAfter: round(after.formRate),
    nextLineMatchBefore: round(before.nextLineMatch),
    nextLineMatchAfter: round(after.nextLineMatch),
    nextLineFormBefore: round(before.nextLineForm),
    nextLineFormAfter: round(after.nextLineForm),
    prevLineMatchBefore: round(before.prevLineMatch),
    prevLineMatchAfter: round(after.prevLineMatch),
    formRate7Before: round(before.formRate7),
    formRate7After: round(after.formRate7),
    followUpFormRateBefore: round(before.followUpFormRate),
    followUpFormRateAfter: round(after.followUpFormRate),
    steps: config.steps,
    trainSeconds: Math.round(trainSeconds),
    workers: r.workers,
    backend: backend.name,
  };
  await writeManifest(dir, { example: NAME, config, headline, files: { checkpoint: "checkpoint", metrics: "metrics.jsonl" }, finishedAt: new Date().toISOString() });
  return { headline, config, paths, reused: false };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { steps: { type: "string" } } });
  const { headline } = await sft({ steps: Number(values.steps ?? process.env.BATGPT_STEPS ?? 1500) });
  console.log(JSON.stringify(headline));
}

/**
 * # 02 — Pretrain a small bidirectional BatGPT that writes regular verse
 *
 * BatGPT's pretraining is bidirectional autoregression: one network, one set of weights,
 * reads each window left to right after `<|l2r|>` (predicting every next token) and right to
 * left after `<|r2l|>` (predicting every previous token). The loss is the sum of both.
 *
 * This script pretrains a small model on regular verse (Tang and Song quatrains and regulated
 * verse, each a title line `《静夜思》五言绝句` and its couplets) for a few minutes on the CPU,
 * on every core (data-parallel worker threads). It shows the validation loss falling in both
 * directions and the **form rate** rising: given a held-out title and a form, the share of 50
 * sampled poems (temperature 0.8) whose every line has the right number of Han characters, with
 * `，` and `。` in place and the right number of lines. Then it trains a forward-only model on
 * the same data for the same steps to compare, and writes poems forward (from a title) and
 * backward (the lines that come before a last line).
 *
 * Run: `npm run example:02`. It trains its tokenizer with example 01's step on the verse subset
 * (`runs/01-tokenizer-verse/`, reused when it matches) and writes `runs/02-pretrain/`. The last
 * line of output is JSON with the headline numbers. `npm run example:02 -- --steps 2000` (or
 * `BATGPT_STEPS=2000`) trains longer; `BATGPT_WORKERS=1` trains on one core.
 *
 * Other scripts call the step, {@link pretrain}; the demo with fewer steps and no forward-only
 * comparison.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { countParameters, createModel, generate, ReplicaPool, resolveWorkers, selectBackend, TokenFile, tokenizeToFile, train, type BatGPTConfigInput, type EvalRecord, type TrainerResult } from "@batgpt/core";
import { readDocuments, type VerseForm } from "@batgpt/datasets";
import { tokenizer, type TokenizerConfig, type TokenizerOutput } from "./01-tokenizer.js";
import { findRun, isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";
import { FORM_RATE_SAMPLING, formPrompts, measureFormRate } from "./lib/verse.js";

const NAME = "02-pretrain";

/** The tokenizer this example asks example 01 for: byte-level BPE trained on the verse subset. */
export const VERSE_TOKENIZER = { vocabSize: 2048, subset: "regular-verse" } as const;

/** The options of this step; the defaults are the real run's sizes. */
export interface PretrainOptions {
  /** Example 01's output. Default: example 01's step on the verse subset ({@link VERSE_TOKENIZER}), reused when it matches. */
  tokenizer?: TokenizerOutput;
  /**
   * Which forms to pretrain on. Default: five-character quatrains (五言绝句, 16.7k poems). All four
   * forms (227k poems) also work, but the same budget then buys a lower five-character form rate.
   */
  forms?: VerseForm[];
  /** The form whose form rate is measured. Default 五言绝句 (five-character quatrains). */
  evalForm?: VerseForm;
  /** Model size, in the official config's keys. Default: hidden 96, 3 layers, 3 heads, SwiGLU 256, 256 positions (0.73M parameters; 256 so that example 03's chat-formatted, multi-turn samples fit). */
  model?: BatGPTConfigInput;
  /** Optimizer steps, for each model. Default 1200. */
  steps?: number;
  /** Windows per step. Default 4 (of 256 tokens: 1024 tokens a step). */
  batchSize?: number;
  /** Tokens per window. Default: the model's `max_seq_len`. */
  seqLen?: number;
  /** Peak learning rate (cosine schedule after a linear warmup). Default 4e-3. */
  lr?: number;
  /** Warmup steps. Default 30. */
  warmupSteps?: number;
  /** How many evaluations over the run (the last at the final step). Default 4. */
  evals?: number;
  /** Validation windows per evaluation. Default 64. */
  evalWindows?: number;
  /** Poems sampled for each form rate. Default 50. */
  formSamples?: number;
  /** Also train a forward-only model the same way, to compare. Default true. */
  compareForwardOnly?: boolean;
  /** Data-parallel replicas (this thread + workers). Default `"auto"`: `BATGPT_WORKERS`, else the cores. */
  workers?: number | "auto";
  /** Output folder. Default `runs/02-pretrain/`. */
  dir?: string;
  /** Reuse an earlier run in `dir` made with the same options and tokenizer, instead of training. Default false. */
  reuse?: boolean;
}

/** The headline numbers (the keys of the JSON line). */
export interface PretrainHeadline {
  /** Form rate of the bidirectional model after the last step (fraction of `formSamples` poems). */
  formRate: number;
  valLossFwd: number;
  valLossBwd: number;
  /** Null when the forward-only comparison was not run. */
  forwardOnlyValLoss: number | null;
  forwardOnlyFormRate: number | null;
  steps: number;
  /** Training tokens per second of the bidirectional model (each token once; it reads each twice). */
  tokensPerSec: number;
  workers: number;
  /** Wall seconds of the bidirectional model's training, evaluations included. */
  trainSeconds: number;
  backend: string;
}

/** What makes one pretraining run: recorded in its manifest. */
export interface PretrainConfig {
  tokenizer: TokenizerConfig;
  forms: VerseForm[];
  evalForm: VerseForm;
  model: BatGPTConfigInput;
  knobs: { steps: number; batchSize: number; seqLen: number; lr: number; warmupSteps: number; evalEvery: number; evalWindows: number; seed: number };
  formSamples: number;
  sampling: typeof FORM_RATE_SAMPLING;
  compareForwardOnly: boolean;
}

/** What this step hands to the next one. */
export interface PretrainOutput {
  headline: PretrainHeadline;
  config: PretrainConfig;
  /** `checkpoint` holds the bidirectional model (config.json, model.safetensors, tokenizer.json). */
  paths: { dir: string; checkpoint: string; train: string; validation: string; manifest: string };
  reused: boolean;
}


/** Tokenize the verse corpus, pretrain bidirectionally (and forward-only to compare), measure the form rate, write poems both ways. */
export async function pretrain(options: PretrainOptions = {}): Promise<PretrainOutput> {
  const { dir = runDir(NAME), reuse = false, compareForwardOnly = true, forms = ["五言绝句"], evalForm = "五言绝句", workers = "auto" } = options;
  const paths = { dir, checkpoint: join(dir, "checkpoint"), train: join(dir, "train.bin"), validation: join(dir, "val.bin"), manifest: join(dir, "manifest.json") };

  // ## 1. Backend, corpus and tokenizer
  // wasm is the embedded default; @tensorflow/tfjs-node(-gpu) is used instead when installed.
  // The corpus is the regular-verse subset of the default corpus: every poem has 4 or 8 lines of
  // 5 or 7 Han characters, and its document starts with its title and form. The tokenizer is
  // example 01's step run on that subset at 2048 ids (small vocabulary, cheap LM head).
  const backend = await selectBackend();
  resolveWorkers(workers); // a bad BATGPT_WORKERS fails here, not after the tokenizer
  const { tok, corpus, config: tokenizerConfig, paths: tokenizerPaths } =
    options.tokenizer ?? (await tokenizer({ ...VERSE_TOKENIZER, dir: runDir("01-tokenizer-verse"), reuse: true }));
  console.log(`tokenizer: ${tok.vocabSize} ids from ${tokenizerPaths.tokenizer}, trained on ${(corpus.manifest.splits.train.bytes / 1e6).toFixed(1)} MB`);

  // The official BatGPT architecture (RMSNorm, rotary on half of each head, SwiGLU, QKV bias,
  // untied head) at a laptop size, and the training knobs.
  const model = options.model ?? { hidden_size: 96, n_layer: 3, n_head: 3, ffn_hidden_size: 256, max_seq_len: 256 };
  const steps = options.steps ?? 1200;
  const knobs = {
    steps,
    batchSize: options.batchSize ?? 4,
    seqLen: options.seqLen ?? model.max_seq_len ?? 64,
    lr: options.lr ?? 4e-3,
    warmupSteps: options.warmupSteps ?? 30,
    evalEvery: Math.max(1, Math.floor(steps / (options.evals ?? 4))),
    evalWindows: options.evalWindows ?? 64,
    seed: 1,
  };
  const formSamples = options.formSamples ?? 50;
  const config: PretrainConfig = { tokenizer: tokenizerConfig, forms, evalForm, model, knobs, formSamples, sampling: FORM_RATE_SAMPLING, compareForwardOnly };
  const earlier = reuse ? findRun<PretrainConfig, PretrainHeadline>(dir, NAME, config) : undefined;
  if (earlier) {
    console.log(`reusing ${paths.checkpoint}: trained ${earlier.finishedAt} with the same options and tokenizer`);
    return { headline: earlier.headline, config, paths, reused: true };
  }
  startRun(dir, ["bidirectional.jsonl", "forward-only.jsonl"]);

  // ## 2. Token files
  // The poems of the chosen forms, joined with <|eos|> into one stream of ids stored as Uint16
  // on disk; training reads random windows of it with the seeded generator.
  async function* poems(path: string) {
    for await (const d of readDocuments(path)) if (d.form !== undefined && forms.includes(d.form as VerseForm)) yield d.text;
  }
  await tokenizeToFile(poems(corpus.train.jsonl), tok, paths.train);
  await tokenizeToFile(poems(corpus.val.jsonl), tok, paths.validation);
  const trainFile = await TokenFile.open(paths.train);
  const valFile = await TokenFile.open(paths.validation);
  console.log(`train ${trainFile.length} tokens, validation ${valFile.length} tokens (forms: ${forms.join(" ")})`);

  // ## 3. The form rate
  // Prompts are held-out titles with the form asked for: `《题》五言绝句\n`. The model writes the
  // poem and stops with <|eos|>; formRate (in @batgpt/datasets) checks each one.
  const held = await formPrompts(corpus.val.jsonl, evalForm, formSamples);
  const prompts = held.map((p) => p.prompt);
  const formEval = (label: string) => async (_m: unknown, { replicas }: { replicas: ReplicaPool }) => {
    const r = await measureFormRate(replicas, prompts, evalForm);
    console.log(`  ${label}: form rate ${r.formRate.toFixed(2)} (${r.passed}/${r.samples}; failures ${JSON.stringify(Object.fromEntries(Object.entries(r.reasons).filter(([, n]) => n > 0)))}), e.g. ${JSON.stringify(r.poems[0])}`);
    return { "eval/form_rate": r.formRate };
  };

  // ## 4. The model, pretrained both ways
  const bidirectional = createModel(model, { tokenizer: tok, seed: 1 });
  console.log(`model: ${(countParameters(bidirectional.config) / 1e6).toFixed(2)}M parameters, backend ${backend.name}`);
  console.log(`\npretraining bidirectionally for ${steps} steps (loss = CE forward + CE backward; a uniform guess is ${Math.log(tok.vocabSize).toFixed(2)} each)`);
  const printEval = (label: string) => (e: EvalRecord) =>
    console.log(`  ${label} step ${String(e.step).padStart(4)}: val loss forward ${e["eval/loss_forward"]!.toFixed(3)}, backward ${e["eval/loss_backward"]!.toFixed(3)}, form rate ${e["eval/form_rate"]!.toFixed(2)}`);
  const t0 = performance.now();
  const bi: TrainerResult = await train(
    { model: bidirectional, tokenizer: tok, data: trainFile, validation: valFile, evaluate: formEval("bidirectional"), callbacks: { onEval: printEval("bidirectional") } },
    { ...knobs, workers, metricsPath: join(dir, "bidirectional.jsonl"), checkpointDir: paths.checkpoint },
  );
  const trainSeconds = (performance.now() - t0) / 1000;
  const biLast = bi.evals.at(-1)!;
  console.log(`(${Math.round(bi.tokensPerSecond)} tokens/s on ${bi.workers} replica(s), each token read both ways; ${Math.round(trainSeconds)} s with evaluations; checkpoint in ${paths.checkpoint})`);

  // ## 5. The same budget of steps, forward only
  // Same data order, same seed, same initial weights: only the loss differs (weights 1, 0).
  let foLast: EvalRecord | undefined;
  if (compareForwardOnly) {
    console.log(`\nthe same ${steps} steps for a forward-only model (loss = CE forward)`);
    const forwardOnly = createModel(model, { tokenizer: tok, seed: 1 });
    const fo = await train(
      { model: forwardOnly, tokenizer: tok, data: trainFile, validation: valFile, evaluate: formEval("forward-only "), callbacks: { onEval: printEval("forward-only ") } },
      { ...knobs, workers, lossWeightBackward: 0, metricsPath: join(dir, "forward-only.jsonl") },
    );
    forwardOnly.dispose();
    foLast = fo.evals.at(-1)!;
    console.log(`\nafter ${steps} steps:`);
    console.log(`  bidirectional  val loss forward ${biLast["eval/loss_forward"]!.toFixed(3)}  backward ${biLast["eval/loss_backward"]!.toFixed(3)}  form rate ${biLast["eval/form_rate"]!.toFixed(2)}`);
    console.log(`  forward-only   val loss forward ${foLast["eval/loss_forward"]!.toFixed(3)}  backward ${foLast["eval/loss_backward"]!.toFixed(3)} (never trained to read backward)  form rate ${foLast["eval/form_rate"]!.toFixed(2)}`);
    const d = biLast["eval/loss_forward"]! - foLast["eval/loss_forward"]!;
    console.log(`  the backward objective ${d <= 0 ? "helped" : "cost"} the forward loss ${Math.abs(d).toFixed(3)} nats at equal steps (it also did twice the work per step)`);
  }

  // ## 6. Poems both ways
  // Forward from a held-out title; backward from a poem's last line, which the model reads right
  // to left and precedes with the lines (and the title) it thinks came before.
  const pool = await ReplicaPool.start(bidirectional, { workers, tokenizer: tok });
  try {
    const shown = await pool.generate(prompts.slice(0, 4), { ...FORM_RATE_SAMPLING, seed: 7 });
    console.log(`\nforward, from held-out titles (${evalForm}):`);
    for (const [i, g] of shown.entries()) console.log(`  ${(prompts[i]! + g.text).replaceAll("\n", " ")}`);
  } finally {
    await pool.close();
  }
  const lastLine = held[0]!.text.split("\n").at(-1)!;
  const bwd = await generate(bidirectional, tok, lastLine, { ...FORM_RATE_SAMPLING, direction: "backward", seed: 7 });
  console.log(`backward, what comes before "${lastLine}":\n  ${(bwd.text + lastLine).replaceAll("\n", " ")}`);
  bidirectional.dispose();

  // ## 7. Hand it on
  // The manifest is written last: a run that stopped halfway is never reused.
  const headline: PretrainHeadline = {
    formRate: round(biLast["eval/form_rate"]!),
    valLossFwd: round(biLast["eval/loss_forward"]!),
    valLossBwd: round(biLast["eval/loss_backward"]!),
    forwardOnlyValLoss: foLast ? round(foLast["eval/loss_forward"]!) : null,
    forwardOnlyFormRate: foLast ? round(foLast["eval/form_rate"]!) : null,
    steps,
    tokensPerSec: Math.round(bi.tokensPerSecond),
    workers: bi.workers,
    trainSeconds: Math.round(trainSeconds),
    backend: backend.name,
  };
  const files = { checkpoint: "checkpoint", train: "train.bin", validation: "val.bin", metrics: "bidirectional.jsonl" };
  await writeManifest(dir, { example: NAME, config, headline, files, finishedAt: new Date().toISOString() });
  return { headline, config, paths, reused: false };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { steps: { type: "string" } } });
  const { headline } = await pretrain({ steps: Number(values.steps ?? process.env.BATGPT_STEPS ?? 1200) });
  console.log(JSON.stringify(headline));
}

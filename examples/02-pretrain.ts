/**
 * # 02 — Pretrain a small bidirectional BatGPT on classical poetry
 *
 * BatGPT's pretraining is bidirectional autoregression: one network, one set of weights,
 * reads each window left to right after `<|l2r|>` (predicting every next token) and right to
 * left after `<|r2l|>` (predicting every previous token). The loss is the sum of both.
 *
 * This script pretrains a small model on the default corpus for a few minutes on the CPU,
 * shows the validation loss falling in both directions, compares the forward loss with a
 * forward-only model trained on the same data with the same seed for the same number of steps,
 * then generates forward (continue a line) and backward (write the line before a line).
 *
 * Run: `npm run example:02`. It starts from example 01's tokenizer and corpus in
 * `runs/01-tokenizer/` (running 01 first when they are missing or were made with other options)
 * and writes `runs/02-pretrain/`. The last line of output is JSON with the headline numbers.
 * `npm run example:02 -- --steps 1000` (or `BATGPT_STEPS=1000 npm run example:02`) trains longer.
 *
 * Other scripts call the step, {@link pretrain}; the demo with a tiny model and no forward-only
 * comparison.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { countParameters, createModel, generate, selectBackend, TokenFile, tokenizeToFile, train, type BatGPTConfigInput, type EvalRecord } from "@batgpt/core";
import { readDocuments } from "@batgpt/datasets";
import { tokenizer, type TokenizerConfig, type TokenizerOutput } from "./01-tokenizer.js";
import { findRun, isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";

const NAME = "02-pretrain";

/** The options of this step; the defaults are the real run's sizes. */
export interface PretrainOptions {
  /** Example 01's output. Default: reuse `runs/01-tokenizer/` made with 01's defaults, or run 01 first. */
  tokenizer?: TokenizerOutput;
  /** Model size, in the official config's keys. Default: hidden 128, 4 layers, 4 heads, SwiGLU 344, 64 positions. */
  model?: BatGPTConfigInput;
  /** Optimizer steps, for each model. Default 400. */
  steps?: number;
  /** Windows per step. Default 8. */
  batchSize?: number;
  /** Tokens per window. Default: the model's `max_seq_len`. */
  seqLen?: number;
  /** Peak learning rate (cosine schedule after a linear warmup). Default 3e-3. */
  lr?: number;
  /** Warmup steps. Default 20. */
  warmupSteps?: number;
  /** How many validations over the run (the last at the final step). Default 5. */
  evals?: number;
  /** Validation windows per validation. Default 64. */
  evalWindows?: number;
  /** Also train a forward-only model the same way, to compare. Default true. */
  compareForwardOnly?: boolean;
  /** Output folder. Default `runs/02-pretrain/`. */
  dir?: string;
  /** Reuse an earlier run in `dir` made with the same options and tokenizer, instead of training. Default false. */
  reuse?: boolean;
}

/** The headline numbers (the keys of the JSON line). */
export interface PretrainHeadline {
  valLossFwd: number;
  valLossBwd: number;
  /** Null when the forward-only comparison was not run. */
  forwardOnlyValLoss: number | null;
  steps: number;
  tokensPerSec: number;
  backend: string;
}

/** What makes one pretraining run: recorded in its manifest. */
export interface PretrainConfig {
  tokenizer: TokenizerConfig;
  model: BatGPTConfigInput;
  knobs: { steps: number; batchSize: number; seqLen: number; lr: number; warmupSteps: number; evalEvery: number; evalWindows: number; seed: number };
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

/** Tokenize the corpus, pretrain bidirectionally (and forward-only to compare), generate both ways. */
export async function pretrain(options: PretrainOptions = {}): Promise<PretrainOutput> {
  const { dir = runDir(NAME), reuse = false, compareForwardOnly = true } = options;
  const paths = { dir, checkpoint: join(dir, "checkpoint"), train: join(dir, "train.bin"), validation: join(dir, "val.bin"), manifest: join(dir, "manifest.json") };

  // ## 1. Backend, corpus and tokenizer
  // wasm is the embedded default; @tensorflow/tfjs-node(-gpu) is used instead when installed.
  // The tokenizer and the corpus are example 01's output.
  const backend = await selectBackend();
  const { tok, corpus, config: tokenizerConfig, paths: tokenizerPaths } = options.tokenizer ?? (await tokenizer({ reuse: true }));
  console.log(`tokenizer: ${tok.vocabSize} ids from ${tokenizerPaths.tokenizer}, trained on ${(corpus.manifest.splits.train.bytes / 1e6).toFixed(1)} MB`);

  // The official BatGPT architecture (RMSNorm, rotary on half of each head, SwiGLU, QKV bias,
  // untied head) at a laptop size, and the training knobs.
  const model = options.model ?? { hidden_size: 128, n_layer: 4, n_head: 4, ffn_hidden_size: 344, max_seq_len: 64 };
  const steps = options.steps ?? 400;
  const knobs = {
    steps,
    batchSize: options.batchSize ?? 8,
    seqLen: options.seqLen ?? model.max_seq_len ?? 64,
    lr: options.lr ?? 3e-3,
    warmupSteps: options.warmupSteps ?? 20,
    evalEvery: Math.max(1, Math.floor(steps / (options.evals ?? 5))),
    evalWindows: options.evalWindows ?? 64,
    seed: 1,
  };
  const config: PretrainConfig = { tokenizer: tokenizerConfig, model, knobs, compareForwardOnly };
  const earlier = reuse ? findRun<PretrainConfig, PretrainHeadline>(dir, NAME, config) : undefined;
  if (earlier) {
    console.log(`reusing ${paths.checkpoint}: trained ${earlier.finishedAt} with the same options and tokenizer`);
    return { headline: earlier.headline, config, paths, reused: true };
  }
  startRun(dir, ["bidirectional.jsonl", "forward-only.jsonl"]);

  // ## 2. Token files
  // Documents are joined with <|eos|> into one stream of ids stored as Uint16 on disk; training
  // reads random windows from it with the seeded generator.
  async function* texts(path: string) {
    for await (const d of readDocuments(path)) yield d.text;
  }
  await tokenizeToFile(texts(corpus.train.jsonl), tok, paths.train);
  await tokenizeToFile(texts(corpus.val.jsonl), tok, paths.validation);
  const trainFile = await TokenFile.open(paths.train);
  const valFile = await TokenFile.open(paths.validation);
  console.log(`train ${trainFile.length} tokens, validation ${valFile.length} tokens`);

  // ## 3. The model
  const bidirectional = createModel(model, { tokenizer: tok, seed: 1 });
  console.log(`model: ${(countParameters(bidirectional.config) / 1e6).toFixed(2)}M parameters, backend ${backend.name}`);

  // ## 4. Pretrain both directions
  console.log(`\npretraining bidirectionally for ${steps} steps (loss = CE forward + CE backward; a uniform guess is ${Math.log(tok.vocabSize).toFixed(2)})`);
  const printEval = (label: string) => (e: EvalRecord) =>
    console.log(`  ${label} step ${String(e.step).padStart(4)}: val loss forward ${e["eval/loss_forward"]!.toFixed(3)}, backward ${e["eval/loss_backward"]!.toFixed(3)}`);
  const bi = await train({ model: bidirectional, tokenizer: tok, data: trainFile, validation: valFile, callbacks: { onEval: printEval("bidirectional") } }, { ...knobs, metricsPath: join(dir, "bidirectional.jsonl"), checkpointDir: paths.checkpoint });
  const biLast = bi.evals.at(-1)!;

  // ## 5. The same budget of steps, forward only
  // Same data order, same seed, same initial weights: only the loss differs (weights 1, 0).
  let forwardOnlyValLoss: number | null = null;
  if (compareForwardOnly) {
    console.log(`\nthe same ${steps} steps for a forward-only model (loss = CE forward)`);
    // the same model; only the training config differs: no backward loss
    const forwardOnly = createModel(model, { tokenizer: tok, seed: 1 });
    const fo = await train({ model: forwardOnly, data: trainFile, validation: valFile, callbacks: { onEval: printEval("forward-only ") } }, { ...knobs, lossWeightBackward: 0, metricsPath: join(dir, "forward-only.jsonl") });
    forwardOnly.dispose();
    const foLast = fo.evals.at(-1)!;
    forwardOnlyValLoss = foLast["eval/loss_forward"]!;
    console.log("\nvalidation loss (nats per token) after", steps, "steps:");
    console.log(`  bidirectional  forward ${biLast["eval/loss_forward"]!.toFixed(3)}  backward ${biLast["eval/loss_backward"]!.toFixed(3)}`);
    console.log(`  forward-only   forward ${foLast["eval/loss_forward"]!.toFixed(3)}  backward ${foLast["eval/loss_backward"]!.toFixed(3)} (never trained to read backward)`);
    console.log(`  the backward objective ${biLast["eval/loss_forward"]! <= foLast["eval/loss_forward"]! ? "helped" : "cost"} the forward loss ${Math.abs(biLast["eval/loss_forward"]! - foLast["eval/loss_forward"]!).toFixed(3)} nats at equal steps (it also did twice the work per step)`);
  }

  // ## 6. Generate in both directions
  const sampling = { maxNewTokens: 24, temperature: 0.8, topP: 0.8, seed: 7 };
  const fwd = await generate(bidirectional, tok, "床前明月光，", sampling);
  console.log(`\nforward  (continue "床前明月光，"): 床前明月光，${fwd.text}`);
  const bwd = await generate(bidirectional, tok, "低头思故乡。", { ...sampling, direction: "backward" });
  console.log(`backward (what comes before "低头思故乡。"): ${bwd.text}低头思故乡。`);
  console.log(`(${Math.round(bi.tokensPerSecond)} tokens/s, each read both ways; checkpoint in ${paths.checkpoint})`);
  bidirectional.dispose();

  // ## 7. Hand it on
  // The manifest is written last: a run that stopped halfway is never reused.
  const headline: PretrainHeadline = {
    valLossFwd: round(biLast["eval/loss_forward"]!),
    valLossBwd: round(biLast["eval/loss_backward"]!),
    forwardOnlyValLoss: forwardOnlyValLoss === null ? null : round(forwardOnlyValLoss),
    steps,
    tokensPerSec: Math.round(bi.tokensPerSecond),
    backend: backend.name,
  };
  const files = { checkpoint: "checkpoint", train: "train.bin", validation: "val.bin", metrics: "bidirectional.jsonl" };
  await writeManifest(dir, { example: NAME, config, headline, files, finishedAt: new Date().toISOString() });
  return { headline, config, paths, reused: false };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { steps: { type: "string" } } });
  const { headline } = await pretrain({ steps: Number(values.steps ?? process.env.BATGPT_STEPS ?? 400) });
  console.log(JSON.stringify(headline));
}

/**
 * # 05 — PPO-ptx: the SFT policy against the reward model, without forgetting the corpus
 *
 * BatGPT (arXiv 2307.00360, §3.4) ends with reinforcement learning: the SFT policy is optimised
 * with PPO against the reward model, with a per-token KL penalty to the frozen SFT policy and a
 * pretraining loss mixed in (InstructGPT's PPO-ptx, Ouyang et al. 2022, eq. 2). This script runs
 * it with `@batgpt/ppo` on the verse task:
 *
 * - the **policy** is example 03's SFT model, the **reward** example 04's reward model (scores
 *   normalised by its stored statistics), the **critic** a value head on the policy's trunk
 *   initialised from the reward model's head;
 * - **prompts**: "write a 五言绝句 on 《title》" for titles of the training poems;
 * - **ptx**: windows of example 02's pretraining tokens, mixed into every PPO step's loss;
 * - each iteration prints the reward model's mean score, the KL to the SFT policy (nats a
 *   response) and the pretraining-corpus loss (held-out windows, both directions);
 * - then the **same run with γ_ptx = 0** (plain PPO), to see what the ptx term keeps;
 * - the **form rate** is measured by code (`formRate`: four lines of five Han characters, ，
 *   and 。 in place) on poems written from held-out titles before and after, so a gain in reward
 *   that is not a gain in form (reward hacking) shows.
 *
 * Run: `npm run example:05` (reuses examples 02–04, or trains them first). Writes
 * `runs/05-ppo/` (the PPO-ptx policy in `checkpoint/`, which example 07 evaluates); the last line
 * of output is JSON with the headline numbers.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { evaluate, loadCheckpoint, ReplicaPool, resolveWorkers, Rng, selectBackend, TokenFile, WindowLoader, type BatGPTModel, type TokenBatch } from "@batgpt/core";
import { formRate, prepareCorpus, type VerseForm } from "@batgpt/datasets";
import { trainPpo, type IterationRecord } from "@batgpt/ppo";
import { loadRewardModel } from "@batgpt/reward";
import { renderChat } from "@batgpt/sft";
import type { Tokenizer } from "@batgpt/tokenizer";
import { pretrain, type PretrainOutput } from "./02-pretrain.js";
import { sft, type SftExampleOutput } from "./03-sft.js";
import { reward, type RewardExampleOutput } from "./04-reward.js";
import { onTitle, readPoems } from "./lib/instructions.js";
import { isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";
import { FORM_RATE_SAMPLING } from "./lib/verse.js";

const NAME = "05-ppo";
const FORM: VerseForm = "五言绝句";

/** The options of this step; the defaults are the real run's sizes. */
export interface PpoExampleOptions {
  pretrained?: PretrainOutput;
  tuned?: SftExampleOutput;
  rewarded?: RewardExampleOutput;
  /** PPO iterations of each run. Default 24. */
  iterations?: number;
  /** Responses an iteration. Default 32. */
  rolloutBatchSize?: number;
  /** γ_ptx of the first run. Default 0.2. */
  ptxCoef?: number;
  /** Peak learning rate (constant). Default 1e-4. */
  lr?: number;
  /** Subtracted from the score of a response that never reaches a stop token. Default 1. */
  missingEosPenalty?: number;
  /** Held-out titles for the form rate. Default 50. */
  formSamples?: number;
  workers?: number | "auto";
  dir?: string;
}

/** The headline numbers (the keys of the JSON line). */
export interface PpoHeadline {
  /** Mean reward-model score (normalised) of the rollouts of the first and of the last 4 iterations, with ptx (one iteration's mean is noisy: ±0.2 at 32 responses). */
  rewardStart: number;
  rewardEnd: number;
  /** KL to the SFT policy (nats a response, k1) over the last 4 iterations, with ptx. */
  klEnd: number;
  /** Held-out pretraining-corpus loss (nats a token, both directions' mean): SFT policy, after PPO-ptx, after plain PPO. */
  ptxLossBefore: number;
  ptxLossWith: number;
  ptxLossWithout: number;
  /** The same run with γ_ptx = 0. */
  rewardEndWithout: number;
  klEndWithout: number;
  /** Share of poems on held-out titles in the form: SFT policy, after PPO-ptx, after plain PPO. */
  formRateBefore: number;
  formRateAfter: number;
  formRateAfterWithout: number;
  iterations: number;
  /** Share of PPO-ptx's wall time spent generating rollouts. */
  generationShare: number;
  trainSeconds: number;
  workers: number;
  backend: string;
}

/** The form rate of poems written on `titles` in the chat format, sampled on every replica. */
async function formRateOf(model: BatGPTModel, tok: Tokenizer, titles: string[], workers: number | "auto"): Promise<{ rate: number; poems: string[] }> {
  const pool = await ReplicaPool.start(model, { workers, tokenizer: tok });
  try {
    const prompts = titles.map((t) => renderChat([{ role: "user", content: onTitle(t, FORM) }], { addGenerationPrompt: true }));
    const stopTokens = [tok.specialTokenId("<|eot|>"), tok.specialTokenId("<|eos|>")];
    const gens = await pool.generate(prompts, { ...FORM_RATE_SAMPLING, stopTokens, allowedSpecial: ["<|eot|>"] });
    const poems = gens.map((g) => g.text.trim());
    const passed = poems.filter((p) => formRate([`《题》${FORM}\n${p}`], FORM).passed === 1).length;
    return { rate: passed / poems.length, poems };
  } finally {
    await pool.close();
  }
}

/** The mean of `key` over the first (`"first"`) or last 4 iterations. */
const mean4 = (its: IterationRecord[], key: string, which: "first" | "last") => {
  const xs = which === "first" ? its.slice(0, 4) : its.slice(-4);
  return xs.reduce((s, x) => s + x[key]!, 0) / xs.length;
};

/** Held-out pretraining loss (nats a token): the mean of the two directions over 24 windows of 64 tokens. */
const corpusLoss = (model: BatGPTModel, val: TokenFile) => (evaluate(model, val, 64, 8, 24, "forward") + evaluate(model, val, 64, 8, 24, "backward")) / 2;

/** Run PPO-ptx and plain PPO from the SFT model against the reward model; measure both. */
export async function ppo(options: PpoExampleOptions = {}): Promise<{ headline: PpoHeadline; dir: string }> {
  const { dir = runDir(NAME), workers = "auto" } = options;
  const backend = await selectBackend();
  resolveWorkers(workers);
  const pretrained = options.pretrained ?? (await pretrain({ dir: runDir("02-pretrain"), reuse: true }));
  const tuned = options.tuned ?? (await sft({ pretrained, dir: runDir("03-sft"), reuse: true }));
  const rewarded = options.rewarded ?? (await reward({ tuned, dir: runDir("04-reward"), reuse: true }));
  startRun(dir, ["metrics-ptx.jsonl", "metrics-plain.jsonl"]);
  // the PPO-ptx policy is saved in checkpoint/ (example 07 evaluates it); an earlier one goes first
  rmSync(join(dir, "checkpoint"), { recursive: true, force: true });
  const iterations = options.iterations ?? 24;
  const rolloutBatchSize = options.rolloutBatchSize ?? 32;

  // ## 1. The roles and the data
  const rm = await loadRewardModel(rewarded.paths.checkpoint);
  const sftModel = (await loadCheckpoint(tuned.paths.checkpoint)).model;
  const tok = rm.tokenizer;
  const trainFile = await TokenFile.open(pretrained.paths.train);
  const valFile = await TokenFile.open(pretrained.paths.validation);
  const { subset, maxChineseBytes, maxEnglishBytes } = tuned.config.pretrained.tokenizer;
  const corpus = await prepareCorpus({ subset, maxChineseBytes: maxChineseBytes ?? undefined, maxEnglishBytes: maxEnglishBytes ?? undefined });
  const trainTitles = (await readPoems(corpus.train.jsonl, [FORM])).get(FORM)!.map((p) => p.title);
  const heldTitles = (await readPoems(corpus.val.jsonl, [FORM])).get(FORM)!.slice(0, options.formSamples ?? 50).map((p) => p.title);
  const prompts = new Rng(3).shuffle([...trainTitles]).slice(0, 2000).map((t) => onTitle(t, FORM));
  console.log(`policy: ${tuned.paths.checkpoint}; reward model: ${rewarded.paths.checkpoint} (held-out accuracy ${rewarded.headline.heldOutAccuracy}); ${prompts.length} prompts like ${JSON.stringify(prompts[0])}`);

  const before = await formRateOf(sftModel, tok, heldTitles, workers);
  const ptxLossBefore = corpusLoss(sftModel, valFile);
  console.log(`SFT policy: form rate ${before.rate.toFixed(2)} on ${heldTitles.length} held-out titles, pretraining-corpus loss ${ptxLossBefore.toFixed(3)} nats/token`);

  // ## 2. Two runs from the same SFT policy: PPO-ptx, then γ_ptx = 0
  const run = async (ptxCoef: number, tag: string) => {
    const policy = sftModel.clone();
    const ptx = new WindowLoader(trainFile, { seqLen: 64, batchSize: 4, rng: new Rng(11) });
    const t0 = performance.now();
    console.log(`\n${tag} (γ_ptx = ${ptxCoef}): ${iterations} iterations of ${rolloutBatchSize} responses`);
    const r = await trainPpo(
      {
        policy,
        reference: sftModel,
        reward: rm,
        tokenizer: tok,
        prompts,
        ptx: { next: () => ptx.nextBatch() as TokenBatch, state: () => ptx.state(), restore: (s: unknown) => ptx.restore(s as never) },
        evaluate: (m: BatGPTModel) => ({ "eval/ptx_loss": corpusLoss(m, valFile) }),
        callbacks: {
          onIteration: (it: IterationRecord) =>
            console.log(
              `  iteration ${String(it.iteration).padStart(2)}: reward ${it["objective/scores"].toFixed(3).padStart(6)}, KL ${it["objective/kl"].toFixed(3)} nats, pretraining-corpus loss ${it["eval/ptx_loss"]!.toFixed(3)}, ` +
                `length ${it.response_length.toFixed(1)}, approx-KL ${it["policy/approxkl"]!.toExponential(1)}, clipfrac ${it["policy/clipfrac"]!.toFixed(2)}, generating ${(100 * it["time/generation_share"]).toFixed(0)}%`,
            ),
        },
      },
      {
        iterations,
        rolloutBatchSize,
        miniBatchSize: 8,
        ppoEpochs: 2,
        maxNewTokens: 40,
        temperature: 0.8,
        lr: options.lr ?? 1e-4,
        missingEosPenalty: options.missingEosPenalty ?? 1,
        klCoef: 0.05,
        ptxCoef,
        seed: 1,
        workers,
        progress: "none",
        metricsPath: join(dir, `metrics-${tag}.jsonl`),
        ...(tag === "ptx" ? { checkpointDir: join(dir, "checkpoint") } : {}),
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    const form = await formRateOf(policy, tok, heldTitles, workers);
    const loss = corpusLoss(policy, valFile);
    policy.dispose();
    const share = r.iterations.reduce((s: number, x: IterationRecord) => s + x["time/generation_share"], 0) / r.iterations.length;
    console.log(`${tag}: reward ${mean4(r.iterations, "objective/scores", "first").toFixed(3)} → ${mean4(r.iterations, "objective/scores", "last").toFixed(3)} (first and last 4 iterations), form rate ${before.rate.toFixed(2)} → ${form.rate.toFixed(2)}, corpus loss ${ptxLossBefore.toFixed(3)} → ${loss.toFixed(3)} (${Math.round(seconds)} s on ${r.workers} replica(s))`);
    console.log(`  e.g. 《${heldTitles[0]}》: ${JSON.stringify(form.poems[0])}`);
    return { r, form, loss, seconds, share };
  };
  const withPtx = await run(options.ptxCoef ?? 0.2, "ptx");
  const plain = await run(0, "plain");
  sftModel.dispose();
  rm.model.dispose();

  const headline: PpoHeadline = {
    rewardStart: round(mean4(withPtx.r.iterations, "objective/scores", "first")),
    rewardEnd: round(mean4(withPtx.r.iterations, "objective/scores", "last")),
    klEnd: round(mean4(withPtx.r.iterations, "objective/kl", "last")),
    ptxLossBefore: round(ptxLossBefore),
    ptxLossWith: round(withPtx.loss),
    ptxLossWithout: round(plain.loss),
    rewardEndWithout: round(mean4(plain.r.iterations, "objective/scores", "last")),
    klEndWithout: round(mean4(plain.r.iterations, "objective/kl", "last")),
    formRateBefore: round(before.rate),
    formRateAfter: round(withPtx.form.rate),
    formRateAfterWithout: round(plain.form.rate),
    iterations,
    generationShare: round(withPtx.share),
    trainSeconds: Math.round(withPtx.seconds + plain.seconds),
    workers: withPtx.r.workers,
    backend: backend.name,
  };
  await writeManifest(dir, { example: NAME, config: { iterations, rolloutBatchSize, ptxCoef: options.ptxCoef ?? 0.2 }, headline, files: { checkpoint: "checkpoint", metrics: "metrics-ptx.jsonl", plain: "metrics-plain.jsonl" }, finishedAt: new Date().toISOString() });
  return { headline, dir };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { iterations: { type: "string" } } });
  const { headline } = await ppo({ iterations: Number(values.iterations ?? process.env.BATGPT_ITERATIONS ?? 24) });
  console.log(JSON.stringify(headline));
}

/**
 * # 04 — Preferences and the reward model: constructed pairs, an AI judge, a scalar head
 *
 * BatGPT (arXiv 2307.00360, §3.3) collects pairwise preferences from people and from AI feedback
 * and trains a reward model on them. This script does both on the verse task, with
 * `@batgpt/reward`:
 *
 * - **constructed pairs** from the corpus, whose label is known by construction: the real next
 *   line of a poem against a line from another poem, against the real line made one character
 *   too short or too long, and against a repeat of the line before; a quatrain on a title against
 *   the same quatrain broken (one line a character short or long);
 * - **AI-judged pairs**: two answers a prompt sampled from the SFT model of example 03 (two seeds
 *   and temperatures, on every core), judged by the same SFT model (the verdict tokens'
 *   log-probabilities after a judging prompt), in both orders: a verdict stands when both orders
 *   agree, else the mean of its probabilities over both orders decides (balanced position
 *   calibration), written as comparison records (`source: "ai"`), read back and turned into TRL
 *   pairs;
 * - **the reward model**: the SFT trunk plus a `score` head, trained on both with the pairwise
 *   loss, measured on constructed pairs built from held-out poems it never saw.
 *
 * It also asks the AI judge about the held-out constructed pairs: `judgeAgreement` is the share of
 * them where its verdict is the constructed label, `judgeConsistency` the share it judged the
 * same in both orders.
 *
 * Run: `npm run example:04` (reuses example 03's checkpoint, or trains it first). Writes
 * `runs/04-reward/`; the last line of output is JSON with the headline numbers.
 * `npm run example:04 -- --steps 1200` trains longer.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCheckpoint, resolveWorkers, Rng, selectBackend, type BatGPTModel } from "@batgpt/core";
import { prepareCorpus, type VerseForm } from "@batgpt/datasets";
import {
  encodePairs,
  evaluatePairs,
  judge,
  loadComparisons,
  modelJudge,
  samplePairs,
  score,
  toPreferencePairs,
  trainRewardModel,
  writeComparisons,
  type CandidatePair,
  type EncodedPair,
  type StandardExplicitPair,
} from "@batgpt/reward";
import { applyChatTemplate } from "@batgpt/tokenizer";
import { sft, type SftExampleConfig, type SftExampleOutput } from "./03-sft.js";
import { body, continuePrompt, onTitle, readPoems, type Poem } from "./lib/instructions.js";
import { findRun, isMain, round, runDir, startRun, writeManifest } from "./lib/runs.js";

const NAME = "04-reward";

/** The options of this step; the defaults are the real run's sizes. */
export interface RewardExampleOptions {
  /** Example 03's output. Default: example 03's step, reused when it matches. */
  tuned?: SftExampleOutput;
  /** Optimizer steps of the reward model. Default 600. */
  steps?: number;
  /** Pairs a step. Default 8. */
  batchSize?: number;
  /** Peak learning rate (cosine after a linear warmup). Default 1e-3. */
  lr?: number;
  /** Constructed training pairs. Default 4000. */
  pairs?: number;
  /** Held-out constructed pairs of each kind. Default 50. */
  heldOut?: number;
  /** Prompts whose two sampled answers the AI judge compares (for training). Default 200. */
  judgePrompts?: number;
  /** Data-parallel replicas. Default `"auto"`: `BATGPT_WORKERS`, else the cores. */
  workers?: number | "auto";
  /** Output folder. Default `runs/04-reward/`. */
  dir?: string;
  /** Reuse an earlier run in `dir` made with the same options and SFT model. Default false. */
  reuse?: boolean;
}

/** The kinds of constructed pair: what the rejected response is. */
const KINDS = ["other-poem", "wrong-length", "repeat", "broken-quatrain"] as const;
type Kind = (typeof KINDS)[number];

/** The headline numbers (the keys of the JSON line). */
export interface RewardHeadline {
  /** Share of held-out constructed pairs (all kinds) the reward model ranks right, after training. */
  heldOutAccuracy: number;
  /** The same with the new head before training (about 0.5). */
  heldOutAccuracyBefore: number;
  /** After training, by kind. */
  accuracyByKind: Record<Kind, number>;
  /** Share of held-out constructed pairs where the AI judge's verdict (calibrated over both orders where they disagree) is the label. */
  judgeAgreement: number;
  /** Share of held-out constructed pairs the AI judge judged the same in both orders. */
  judgeConsistency: number;
  /** AI-judged pairs kept for training (not ties), of `judgePrompts`. */
  aiPairs: number;
  /** Consistency of the AI judge on the sampled pairs. */
  aiConsistency: number;
  trainPairs: number;
  /** Reward mean and standard deviation over the training responses (stored for PPO). */
  rewardMean: number;
  rewardStd: number;
  steps: number;
  trainSeconds: number;
  workers: number;
  backend: string;
}

/** What makes one run: recorded in its manifest. */
export interface RewardExampleConfig {
  tuned: SftExampleConfig;
  steps: number;
  batchSize: number;
  lr: number;
  pairs: number;
  heldOut: number;
  judgePrompts: number;
  seed: number;
}

/** What this step hands to the next one. */
export interface RewardExampleOutput {
  headline: RewardHeadline;
  config: RewardExampleConfig;
  /** `checkpoint` holds the reward model (`reward_config.json` with its statistics). */
  paths: { dir: string; checkpoint: string; comparisons: string; manifest: string };
  reused: boolean;
}

// ## Constructed pairs
// Each has a known label: the chosen response is the poet's, the rejected one is broken in one way.
interface Constructed extends StandardExplicitPair {
  kind: Kind;
}

/** The line with one character dropped or one inserted (from `donor`), at a random place: the wrong length. */
function wrongLength(line: string, donor: string, rng: Rng): string {
  const chars = [...line.slice(0, -1)];
  const punct = line.slice(-1);
  const at = rng.int(chars.length);
  if (rng.float() < 0.5) chars.splice(at, 1);
  else chars.splice(at, 0, [...donor][rng.int(donor.length - 1)]!);
  return chars.join("") + punct;
}

/** One constructed pair of `kind` from poem `p` (and `other`, another poem of the same form). */
function construct(kind: Kind, p: Poem, other: Poem, rng: Rng): Constructed {
  if (kind === "broken-quatrain") {
    const i = rng.int(p.lines.length);
    const broken = { ...p, lines: p.lines.map((l, j) => (j === i ? wrongLength(l, other.lines[j]!, rng) : l)) };
    return { kind, prompt: onTitle(p.title, p.form), chosen: body(p), rejected: body(broken) };
  }
  const k = 1 + rng.int(p.lines.length - 1);
  const rejected = kind === "other-poem" ? other.lines[k]! : kind === "wrong-length" ? wrongLength(p.lines[k]!, other.lines[k]!, rng) : p.lines[k - 1]!;
  return { kind, prompt: continuePrompt(p, k), chosen: p.lines[k]!, rejected };
}

function constructedPairs(poems: Poem[], n: number, rng: Rng): Constructed[] {
  return Array.from({ length: n }, (_, i) => {
    const p = poems[rng.int(poems.length)]!;
    let other = poems[rng.int(poems.length)]!;
    while (other === p) other = poems[rng.int(poems.length)]!;
    return construct(KINDS[i % KINDS.length]!, p, other, rng);
  });
}

const accuracy = (model: BatGPTModel, pairs: EncodedPair[], padId: number) => evaluatePairs(model, pairs, padId, 16)["rewards/accuracy"];

/** Build preference pairs on the verse task, add AI-judged ones, train the reward model, measure it on held-out pairs. */
export async function reward(options: RewardExampleOptions = {}): Promise<RewardExampleOutput> {
  const { dir = runDir(NAME), reuse = false, workers = "auto" } = options;
  const paths = { dir, checkpoint: join(dir, "checkpoint"), comparisons: join(dir, "ai-comparisons.jsonl"), manifest: join(dir, "manifest.json") };

  // ## 1. The SFT model
  const backend = await selectBackend();
  resolveWorkers(workers);
  const tuned = options.tuned ?? (await sft({ dir: runDir("03-sft"), reuse: true }));
  const config: RewardExampleConfig = {
    tuned: tuned.config,
    steps: options.steps ?? 600,
    batchSize: options.batchSize ?? 8,
    lr: options.lr ?? 1e-3,
    pairs: options.pairs ?? 4000,
    heldOut: options.heldOut ?? 50,
    judgePrompts: options.judgePrompts ?? 200,
    seed: 1,
  };
  const earlier = reuse ? findRun<RewardExampleConfig, RewardHeadline>(dir, NAME, config) : undefined;
  if (earlier) {
    console.log(`reusing ${paths.checkpoint}: trained ${earlier.finishedAt} with the same options and SFT model`);
    return { headline: earlier.headline, config, paths, reused: true };
  }
  startRun(dir, ["metrics.jsonl", "ai-comparisons.jsonl"]);
  const { model: policy, tokenizer: tok } = await loadCheckpoint(tuned.paths.checkpoint);
  if (!tok) throw new Error(`${tuned.paths.checkpoint} holds no tokenizer.json`);
  const padId = tok.specialTokenId("<|pad|>");
  console.log(`SFT model: ${tuned.paths.checkpoint} (form rate on held-out titles ${tuned.headline.formRateAfter}, answer loss ${tuned.headline.answerLossAfter})`);

  // ## 2. Constructed pairs: training ones from the training split, held-out ones from validation
  const { subset, maxChineseBytes, maxEnglishBytes } = tuned.config.pretrained.tokenizer;
  const corpus = await prepareCorpus({ subset, maxChineseBytes: maxChineseBytes ?? undefined, maxEnglishBytes: maxEnglishBytes ?? undefined });
  const form: VerseForm = "五言绝句";
  const trainPoems = (await readPoems(corpus.train.jsonl, [form])).get(form)!.filter((p) => p.lines.length === 4);
  const valPoems = (await readPoems(corpus.val.jsonl, [form])).get(form)!.filter((p) => p.lines.length === 4);
  const rng = new Rng(config.seed);
  const constructed = constructedPairs(trainPoems, config.pairs, rng);
  const heldOut = constructedPairs(valPoems, config.heldOut * KINDS.length, new Rng(99));
  console.log(`constructed pairs: ${constructed.length} for training, ${heldOut.length} held out (${config.heldOut} of each kind: ${KINDS.join(", ")})`);
  for (const kind of KINDS) {
    const e = heldOut.find((x) => x.kind === kind)!;
    console.log(`  ${kind.padEnd(15)} ${JSON.stringify(e.prompt)} → chosen ${JSON.stringify(e.chosen)}, rejected ${JSON.stringify(e.rejected)}`);
  }

  // ## 3. AI feedback: two sampled answers a prompt, judged by the SFT model in both orders
  const sftJudge = modelJudge(policy, tok, { id: "03-sft-judge" });
  const judgeRng = new Rng(7);
  const judgeSource = Array.from({ length: config.judgePrompts }, (_, i) => {
    const p = trainPoems[judgeRng.int(trainPoems.length)]!;
    return i % 2 === 0 ? { prompt: continuePrompt(p, 1 + judgeRng.int(3)), maxNewTokens: 12 } : { prompt: onTitle(p.title, form), maxNewTokens: 64 };
  });
  const stopTokens = [tok.specialTokenId("<|eot|>"), tok.specialTokenId("<|eos|>")];
  const render = (prompt: string) => applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true });
  const t0 = performance.now();
  const candidates: CandidatePair[] = [];
  for (const maxNewTokens of [12, 64]) {
    const group = judgeSource.filter((s) => s.maxNewTokens === maxNewTokens);
    const sampled = await samplePairs(policy, tok, group.map((s) => render(s.prompt)), { maxNewTokens, stopTokens, temperatures: [0.7, 1.2], seeds: [11, 12], workers });
    // a sampled special token's text cannot go into a message (only the template writes those)
    const clean = (t: string) => !t.includes("<|") && t.trim().length > 0;
    sampled.forEach((s, i) => {
      const pair = { prompt: group[i]!.prompt, responseA: s.a.text.trim(), responseB: s.b.text.trim() };
      // the judge reads both answers in one prompt: it must fit the model's context
      const fits = sftJudge.promptTokens({ ...pair, criterion: "overall" }) <= policy.config.max_seq_len;
      if (clean(s.a.text) && clean(s.b.text) && pair.responseA !== pair.responseB && fits) candidates.push(pair);
    });
  }
  // consistent verdicts only would keep nothing from a judge that always answers A first; the
  // mean of its probabilities over both orders (balanced position calibration) decides those pairs
  const judged = await judge(candidates, sftJudge, { inconsistent: "calibrate" });
  await writeComparisons(paths.comparisons, judged.records);
  const { records } = await loadComparisons(paths.comparisons);
  const ai = toPreferencePairs(records, { ties: "drop" });
  console.log(
    `AI feedback: ${candidates.length} sampled pairs (of ${config.judgePrompts} prompts; identical answers, ones with a special token's text, and pairs too long for the judge's context left out), judged in both orders in ${Math.round((performance.now() - t0) / 1000)} s: ` +
      `the same in both orders on ${judged.consistency.toFixed(2)}, ${judged.records.length} verdicts (calibrated where the orders disagree) → ${ai.pairs.length} pairs (${ai.dropped.ties} ties dropped), records in ${paths.comparisons}`,
  );
  const aiExample = records.find((r) => r.verdict === "A" || r.verdict === "B");
  if (aiExample) console.log(`  e.g. ${JSON.stringify(aiExample.prompt)}: A ${JSON.stringify(aiExample.response_a)} vs B ${JSON.stringify(aiExample.response_b)} → ${aiExample.verdict} (P(A) ${(aiExample.metadata!.probability_a as number).toFixed(2)})`);

  // the judge on held-out constructed pairs, A and B in random order: does it agree with the labels?
  const order = new Rng(5);
  const asked = heldOut.map((p) => (order.float() < 0.5 ? { pair: { prompt: p.prompt, responseA: p.chosen, responseB: p.rejected }, label: "A" } : { pair: { prompt: p.prompt, responseA: p.rejected, responseB: p.chosen }, label: "B" }));
  const onHeldOut = await judge(asked.map((a) => a.pair), sftJudge, { inconsistent: "calibrate" });
  const agrees = (keep: (i: number) => boolean) => onHeldOut.verdicts.filter((v, i) => keep(i) && v === asked[i]!.label).length;
  const judgeAgreement = agrees(() => true) / asked.length;
  const consistentRight = agrees((i) => onHeldOut.records[i]!.metadata!.consistent !== false);
  const firstA = onHeldOut.records.filter((r) => (r.metadata!.probability_a as number) > 0.5).length / asked.length;
  console.log(
    `  the judge on the ${asked.length} held-out constructed pairs (A and B in random order): answers A when asked first on ${firstA.toFixed(2)}, the same in both orders on ${onHeldOut.consistency.toFixed(2)} ` +
      `(${consistentRight} of those right); calibrated over both orders it agrees with the label on ${judgeAgreement.toFixed(2)} (chance 0.50)`,
  );
  policy.dispose();

  // ## 4. The reward model: the SFT trunk and a new `score` head, trained on both kinds of pair
  const { model } = await loadCheckpoint(tuned.paths.checkpoint);
  model.addHead("score", { outputs: 1 }, { seed: config.seed });
  const heldEnc = (kind?: Kind) => encodePairs(model, tok, heldOut.filter((p) => kind === undefined || p.kind === kind)).pairs;
  const before = accuracy(model, heldEnc(), padId);
  const train = [...constructed.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })), ...ai.pairs];
  console.log(`\ntraining the reward model for ${config.steps} steps (${config.batchSize} pairs a step) on ${train.length} pairs (${constructed.length} constructed + ${ai.pairs.length} AI-judged); held-out accuracy with the new head: ${before.toFixed(2)}`);
  const t1 = performance.now();
  const r = await trainRewardModel(
    {
      model,
      tokenizer: tok,
      train,
      validation: heldOut,
      callbacks: {
        onEval: (e) =>
          console.log(`  step ${String(e.step).padStart(4)}: held-out accuracy ${e["eval/rewards/accuracy"]!.toFixed(3)}, margin ${e["eval/rewards/margin"]!.toFixed(3)}, loss ${e["eval/loss"]!.toFixed(3)}`),
      },
    },
    {
      steps: config.steps,
      batchSize: config.batchSize,
      lr: config.lr,
      warmupSteps: 30,
      seed: config.seed,
      workers,
      evalEvery: Math.max(1, Math.floor(config.steps / 3)),
      metricsPath: join(dir, "metrics.jsonl"),
      checkpointDir: paths.checkpoint,
    },
  );
  const trainSeconds = (performance.now() - t1) / 1000;
  console.log(`(${Math.round(trainSeconds)} s on ${r.workers} replica(s); reward over the training responses: mean ${r.stats.mean.toFixed(3)}, std ${r.stats.std.toFixed(3)}, in ${paths.checkpoint}/reward_config.json)`);

  // ## 5. What it learned, kind by kind
  const accuracyByKind = Object.fromEntries(KINDS.map((k) => [k, round(accuracy(model, heldEnc(k), padId))])) as Record<Kind, number>;
  const heldOutAccuracy = accuracy(model, heldEnc(), padId);
  console.log(`\nheld-out accuracy: ${before.toFixed(3)} → ${heldOutAccuracy.toFixed(3)} (chance 0.5); by kind: ${KINDS.map((k) => `${k} ${accuracyByKind[k].toFixed(2)}`).join(", ")}`);
  console.log("scores of held-out pairs (normalised by the stored statistics):");
  for (const kind of KINDS) {
    const e = heldOut.find((x) => x.kind === kind)!;
    const [c, j] = score(model, tok, [e.prompt, e.prompt], [e.chosen, e.rejected], { normalize: r.stats });
    console.log(`  ${kind.padEnd(15)} chosen ${c!.toFixed(2).padStart(6)} ${JSON.stringify(e.chosen)}   rejected ${j!.toFixed(2).padStart(6)} ${JSON.stringify(e.rejected)}`);
  }
  model.dispose();

  // ## 6. Hand it on
  const headline: RewardHeadline = {
    heldOutAccuracy: round(heldOutAccuracy),
    heldOutAccuracyBefore: round(before),
    accuracyByKind,
    judgeAgreement: round(judgeAgreement),
    judgeConsistency: round(onHeldOut.consistency),
    aiPairs: ai.pairs.length,
    aiConsistency: round(judged.consistency),
    trainPairs: train.length,
    rewardMean: round(r.stats.mean),
    rewardStd: round(r.stats.std),
    steps: config.steps,
    trainSeconds: Math.round(trainSeconds),
    workers: r.workers,
    backend: backend.name,
  };
  await writeManifest(dir, { example: NAME, config, headline, files: { checkpoint: "checkpoint", metrics: "metrics.jsonl", comparisons: "ai-comparisons.jsonl" }, finishedAt: new Date().toISOString() });
  return { headline, config, paths, reused: false };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { steps: { type: "string" } } });
  const { headline } = await reward({ steps: Number(values.steps ?? process.env.BATGPT_STEPS ?? 600) });
  console.log(JSON.stringify(headline));
}

/**
 * Rollouts: sample a response to each prompt from the policy (core's KV-cache generation on
 * every replica), score it, and turn it into PPO's training numbers — the policy's and the
 * reference's log-probabilities of every response token, the critic's values, the per-token
 * rewards (−β·KL plus the score on the last token), GAE advantages (whitened) and returns.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatGPTModel, Generation, ReplicaPool } from "@batgpt/core";
import { gae, klPerToken, PpoError, tokenRewards, whiten, type KlEstimator } from "./algorithms.js";
import { policyForward, VALUE_HEAD, type PpoMinibatch } from "./loss.js";

/**
 * A reward for each response: `scores[i]` for `responses[i]` (the generated text, without the
 * stop token) to `prompts[i]` (the prompt as given, before the chat template). `generations`
 * holds the token ids. A reward model (`rewardModelScorer`) or any function, sync or async.
 */
export type RewardFunction = (batch: { prompts: string[]; responses: string[]; generations: Generation[] }) => number[] | Promise<number[]>;

/** One sampled response with everything PPO trains on (arrays over the response tokens). */
export interface RolloutRow {
  /** Prompt + response ids in reading order (no direction token); the response is the last `logProbs.length`. */
  ids: number[];
  /** log π_old of each response token (nats). */
  logProbs: number[];
  /** The critic's value of the state before each response token. */
  values: number[];
  advantages: number[];
  returns: number[];
}

/** What one rollout measured (TRL's names where it has them). */
export interface RolloutStats {
  /** Mean score of the reward function (before clipping and the missing-EOS penalty). */
  "objective/scores": number;
  /** Mean over responses of Σ_t kl_t (nats), with the run's estimator. */
  "objective/kl": number;
  /** Mean over responses of Σ_t −log π(a_t) (nats): the sampled responses' entropy estimate. */
  "objective/entropy": number;
  /** Mean over responses of Σ_t −β·kl_t. */
  "objective/non_score_reward": number;
  /** Mean over responses of the score used (clipped, penalised) plus the non-score reward. */
  "objective/rlhf_reward": number;
  /** β used for this rollout. */
  beta: number;
  /** Mean response length (tokens, counting a stop token). */
  response_length: number;
  /** Share of responses that ended with a stop token. */
  "val/eos_rate": number;
  /** Seconds spent sampling. */
  "time/generation": number;
  /** Seconds of the rest of the rollout (scoring, forward passes, advantages). */
  "time/scoring": number;
}

/** Settings of {@link makeRollout}. */
export interface RolloutOptions {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  stopTokens: number[];
  seed: number;
  beta: number;
  klEstimator: KlEstimator;
  gamma: number;
  lambda: number;
  whitenAdvantages: boolean;
  whitenRewards: boolean;
  /** Clip scores to ±this (DeepSpeed-Chat's reward clip; Infinity: no clip). */
  scoreClip: number;
  /** Subtract this from the score of a response that never reached a stop token (TRL's `missing_eos_penalty`). */
  missingEosPenalty?: number | undefined;
  /** Prompts a `generate` call. */
  generateBatchSize: number;
  /** Rows a forward pass of the policy and the reference. */
  forwardBatchSize: number;
}

/** Right-pad rows of ids into one `TokenBatch`-shaped block. */
function padIds(rows: readonly (readonly number[])[], padId: number): { ids: Int32Array; batch: number; seqLen: number } {
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(padId);
  rows.forEach((r, i) => ids.set(r, i * T));
  return { ids, batch: rows.length, seqLen: T };
}

/**
 * A minibatch of rollout rows, right-padded to the longest, with the per-position arrays of
 * {@link PpoMinibatch} (response positions filled, the rest 0).
 */
export function minibatch(rows: readonly RolloutRow[], padId: number): PpoMinibatch {
  const base = padIds(rows.map((r) => r.ids), padId);
  const N = base.batch * base.seqLen;
  const mb: PpoMinibatch = { ...base, mask: new Float32Array(N), oldLogProbs: new Float32Array(N), oldValues: new Float32Array(N), advantages: new Float32Array(N), returns: new Float32Array(N) };
  rows.forEach((r, i) => {
    const at = i * base.seqLen + r.ids.length - r.logProbs.length;
    mb.mask.fill(1, at, at + r.logProbs.length);
    mb.oldLogProbs.set(r.logProbs, at);
    mb.oldValues.set(r.values, at);
    mb.advantages.set(r.advantages, at);
    mb.returns.set(r.returns, at);
  });
  return mb;
}

/**
 * Per-row response log-probabilities (and, with `withValues`, values) of `model` on prompt +
 * response rows, `forwardBatchSize` rows a pass, without gradient.
 */
function responseNumbers(model: BatGPTModel, rows: readonly { ids: number[]; n: number }[], padId: number, batchSize: number, withValues: boolean): { logProbs: number[][]; values: number[][] } {
  const logProbs: number[][] = [];
  const values: number[][] = [];
  for (let s = 0; s < rows.length; s += batchSize) {
    const chunk = rows.slice(s, s + batchSize);
    const b = padIds(chunk.map((r) => r.ids), padId);
    const [lp, v] = tf.tidy(() => {
      if (withValues) {
        const out = policyForward(model, b, VALUE_HEAD);
        return [out.logProbs.dataSync(), out.values.dataSync()];
      }
      return [model.tokenLogProbs(b, "forward").dataSync(), undefined];
    });
    chunk.forEach((r, i) => {
      const end = i * b.seqLen + r.ids.length;
      logProbs.push(Array.from(lp.subarray(end - r.n, end)));
      if (v) values.push(Array.from(v.subarray(end - r.n, end)));
    });
  }
  return { logProbs, values };
}

/**
 * One rollout: sample a response to each of `prompts` (already rendered, e.g. with the chat
 * template) on `replicas`, score it with `reward` (given the unrendered `rawPrompts`), and compute
 * the rows PPO trains on with `policy` (its log-probabilities and values, recomputed in one
 * forward pass as TRL does, so they match the training forward exactly) and `reference`.
 *
 * @throws {PpoError} when the reward function returns the wrong number of scores or a non-finite
 *   one, or a prompt + response does not fit the model's context.
 */
export async function makeRollout(
  replicas: ReplicaPool,
  policy: BatGPTModel,
  reference: BatGPTModel,
  reward: RewardFunction,
  prompts: readonly string[],
  rawPrompts: readonly string[],
  padId: number,
  o: RolloutOptions,
): Promise<{ rows: RolloutRow[]; stats: RolloutStats; generations: Generation[] }> {
  const t0 = performance.now();
  const generations = await replicas.generate([...prompts], {
    maxNewTokens: o.maxNewTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    stopTokens: o.stopTokens,
    seed: o.seed,
    allowedSpecial: "all",
    batchSize: o.generateBatchSize,
  });
  const t1 = performance.now();
  const max = policy.config.max_seq_len;
  const rows = generations.map((g, i) => {
    if (g.ids.length === 0) throw new PpoError(`rollout: the response to prompt ${i} is empty (maxNewTokens must be >= 1)`);
    const ids = [...g.promptIds, ...g.ids];
    // the direction token and all but the last id are read: ids.length positions
    if (ids.length > max) throw new PpoError(`rollout: prompt ${i} and its response are ${ids.length} tokens, more than the model's max_seq_len ${max} (shorten the prompt or maxNewTokens)`);
    return { ids, n: g.ids.length };
  });
  const scores = await reward({ prompts: [...rawPrompts], responses: generations.map((g) => g.text), generations });
  if (!Array.isArray(scores) || scores.length !== prompts.length) throw new PpoError(`the reward function gave ${Array.isArray(scores) ? scores.length : typeof scores} scores for ${prompts.length} responses`);
  const bad = scores.findIndex((s) => typeof s !== "number" || !Number.isFinite(s));
  if (bad >= 0) throw new PpoError(`the reward function gave ${scores[bad]} for response ${bad}: scores must be finite numbers`);
  const actor = responseNumbers(policy, rows, padId, o.forwardBatchSize, true);
  const ref = responseNumbers(reference, rows, padId, o.forwardBatchSize, false);

  let klSum = 0, entropySum = 0, nonScore = 0, used = 0, length = 0, eos = 0;
  const perRow = rows.map((r, i) => {
    const kl = klPerToken(actor.logProbs[i]!, ref.logProbs[i]!, o.klEstimator);
    const ended = generations[i]!.finishReason === "stop";
    const s = Math.max(-o.scoreClip, Math.min(o.scoreClip, scores[i]!)) - (!ended && o.missingEosPenalty !== undefined ? o.missingEosPenalty : 0);
    const rewards = tokenRewards(kl, s, o.beta);
    const k = kl.reduce((a, b) => a + b, 0);
    klSum += k;
    nonScore += -o.beta * k;
    used += s;
    entropySum += -actor.logProbs[i]!.reduce((a, b) => a + b, 0);
    length += r.n;
    eos += ended ? 1 : 0;
    return rewards;
  });
  if (o.whitenRewards) {
    // TRL's whiten_rewards: over every response token of the rollout, keeping the mean
    const flat = Float64Array.from(perRow.flatMap((x) => [...x]));
    whiten(flat, new Uint8Array(flat.length).fill(1), false);
    let at = 0;
    for (const r of perRow) {
      r.set(flat.subarray(at, at + r.length));
      at += r.length;
    }
  }
  const out: RolloutRow[] = rows.map((r, i) => {
    const g = gae(perRow[i]!, actor.values[i]!, o.gamma, o.lambda);
    return { ids: r.ids, logProbs: actor.logProbs[i]!, values: actor.values[i]!, advantages: Array.from(g.advantages), returns: Array.from(g.returns) };
  });
  if (o.whitenAdvantages) {
    const flat = Float64Array.from(out.flatMap((r) => r.advantages));
    if (flat.length >= 2) {
      whiten(flat, new Uint8Array(flat.length).fill(1));
      let at = 0;
      for (const r of out) {
        const n = r.advantages.length;
        r.advantages = Array.from(flat.subarray(at, at + n));
        at += n;
      }
    }
  }
  const n = rows.length;
  const stats: RolloutStats = {
    "objective/scores": scores.reduce((a, b) => a + b, 0) / n,
    "objective/kl": klSum / n,
    "objective/entropy": entropySum / n,
    "objective/non_score_reward": nonScore / n,
    "objective/rlhf_reward": (used + nonScore) / n,
    beta: o.beta,
    response_length: length / n,
    "val/eos_rate": eos / n,
    "time/generation": (t1 - t0) / 1000,
    "time/scoring": (performance.now() - t1) / 1000,
  };
  return { rows: out, stats, generations };
}

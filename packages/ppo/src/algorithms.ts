/**
 * The numbers of PPO for language models, on plain arrays (one response at a time): the
 * per-token KL estimators, the per-token reward (Ziegler et al. 2019; InstructGPT, Ouyang et al.
 * 2022, eq. 2), generalised advantage estimation (Schulman et al. 2016), masked whitening, and
 * the KL controllers (fixed, and the adaptive one of Ziegler et al. 2019 §2.2), written as TRL's
 * `PPOTrainer` computes them (trl/trainer/ppo_trainer.py, trl/trainer/utils.py).
 */
import { parseOptions } from "@batgpt/core";
import { z } from "zod";

/** Thrown for inputs these functions cannot use (arrays of different lengths, a bad option). */
export class PpoError extends Error {
  override name = "PpoError";
}

/**
 * The per-token KL estimators of Schulman's "Approximating KL divergence" (2020), as TRL's
 * `kl_estimator`: with `logr = log π_ref(a) − log π(a)` for a token `a` sampled from π,
 * `k1 = −logr` (unbiased, can be negative) and `k3 = (e^logr − 1) − logr` (unbiased, ≥ 0, lower
 * variance). Both estimate KL(π ‖ π_ref) in nats.
 */
export const KL_ESTIMATORS = ["k1", "k3"] as const;
/** One of {@link KL_ESTIMATORS}. */
export type KlEstimator = (typeof KL_ESTIMATORS)[number];

/**
 * Per-token KL estimates `[n]` (nats) of a response from its token log-probabilities under the
 * policy and under the reference.
 *
 * @throws {PpoError} when the arrays differ in length or the estimator is unknown.
 */
export function klPerToken(logProbs: ArrayLike<number>, refLogProbs: ArrayLike<number>, estimator: KlEstimator = "k1"): Float64Array {
  if (logProbs.length !== refLogProbs.length) throw new PpoError(`klPerToken: ${logProbs.length} log-probabilities but ${refLogProbs.length} reference ones`);
  const out = new Float64Array(logProbs.length);
  for (let t = 0; t < out.length; t++) {
    const logr = refLogProbs[t]! - logProbs[t]!;
    if (estimator === "k1") out[t] = -logr;
    else if (estimator === "k3") out[t] = Math.expm1(logr) - logr;
    else throw new PpoError(`klPerToken: estimator must be one of ${KL_ESTIMATORS.join(", ")}, got ${JSON.stringify(estimator)}`);
  }
  return out;
}

/**
 * The per-token reward of one response of `n` tokens: `r_t = −β · kl_t`, plus the sequence's
 * `score` (the reward model's, already normalised and clipped) on the last token — InstructGPT's
 * `r_θ(x, y) − β log(π(y|x) / π_SFT(y|x))` spread over the tokens as TRL and DeepSpeed-Chat do.
 *
 * @throws {PpoError} for an empty response.
 */
export function tokenRewards(kl: ArrayLike<number>, score: number, beta: number): Float64Array {
  if (kl.length === 0) throw new PpoError("tokenRewards: a response of 0 tokens has nowhere to put its score");
  const r = new Float64Array(kl.length);
  for (let t = 0; t < r.length; t++) r[t] = -beta * kl[t]!;
  r[r.length - 1]! += score;
  return r;
}

/**
 * Generalised advantage estimation over one response (Schulman et al. 2016, eq. 16), the episode
 * ending after its last token (the value after it is 0):
 *
 *     δ_t = r_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},   returns_t = A_t + V_t
 *
 * `rewards` and `values` are `[n]`, one per response token (`values[t]` = V of the state before
 * token t). Returns the advantages and the returns (the critic's targets), each `[n]`.
 *
 * @throws {PpoError} when the arrays differ in length or γ, λ are outside [0, 1].
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float64Array; returns: Float64Array } {
  if (rewards.length !== values.length) throw new PpoError(`gae: ${rewards.length} rewards but ${values.length} values`);
  if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1)) throw new PpoError(`gae: gamma and lambda must be in [0, 1], got ${gamma} and ${lambda}`);
  const n = rewards.length;
  const advantages = new Float64Array(n);
  const returns = new Float64Array(n);
  let next = 0;
  for (let t = n - 1; t >= 0; t--) {
    const nextValue = t + 1 < n ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lambda * next;
    advantages[t] = next;
    returns[t] = next + values[t]!;
  }
  return { advantages, returns };
}

/**
 * Whiten values in place over the entries where `mask` is 1 (TRL's `masked_whiten`): subtract
 * the masked mean (unless `shiftMean` is false, when it is added back) and divide by the square
 * root of the masked variance (unbiased, with Bessel's correction) plus 1e-8. Entries where
 * `mask` is 0 are left as they are. Returns the mean and standard deviation it used.
 *
 * @throws {PpoError} when the arrays differ in length or the mask selects fewer than 2 entries.
 */
export function whiten(values: Float32Array | Float64Array, mask: ArrayLike<number>, shiftMean = true): { mean: number; std: number } {
  if (values.length !== mask.length) throw new PpoError(`whiten: ${values.length} values but ${mask.length} mask entries`);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (!mask[i]) continue;
    n++;
    sum += values[i]!;
  }
  if (n < 2) throw new PpoError(`whiten: needs at least 2 masked entries to estimate a variance, got ${n}`);
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (mask[i]) ss += (values[i]! - mean) ** 2;
  const variance = ss / (n - 1);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  for (let i = 0; i < values.length; i++) {
    if (!mask[i]) continue;
    values[i] = (values[i]! - mean) * scale + (shiftMean ? 0 : mean);
  }
  return { mean, std: Math.sqrt(variance) };
}

/** Settings of the KL coefficient β: fixed, or adaptive (Ziegler et al. 2019) when `target` is set. */
export const klControlSchema = z.strictObject({
  /** β at the start (TRL's `kl_coef`, default 0.05). */
  beta: z.number().finite().nonnegative().default(0.05),
  /** Adaptive control: the KL (nats per response, summed over its tokens) to hold. Unset: β stays fixed. */
  target: z.number().positive().optional(),
  /** Adaptive control: the horizon in responses (Ziegler et al.'s `K_β`; TRL's default 10000). */
  horizon: z.number().positive().default(10000),
});

/** {@link klControlSchema} as a user passes it. */
export type KlControlOptions = z.input<typeof klControlSchema>;

/** β and how it moves. */
export interface KlController {
  /** The current β. */
  readonly value: number;
  /** Update after an iteration whose mean KL per response was `kl`, over `responses` responses. */
  update(kl: number, responses: number): void;
}

/** A β that never moves. */
export class FixedKlController implements KlController {
  constructor(readonly value: number) {}
  update(): void {}
}

/**
 * The adaptive controller of Ziegler et al. 2019 (§2.2), as TRL's `AdaptiveKLController`:
 *
 *     e = clip(KL / target − 1, −0.2, 0.2),   β ← β · (1 + e · n / horizon)
 *
 * with n the responses of the iteration: β grows while the KL is above the target and shrinks
 * below it, by at most 20% of `n / horizon` an update.
 */
export class AdaptiveKlController implements KlController {
  value: number;
  constructor(
    beta: number,
    readonly target: number,
    readonly horizon: number,
  ) {
    if (!(target > 0) || !(horizon > 0)) throw new PpoError(`AdaptiveKlController: target and horizon must be > 0, got ${target} and ${horizon}`);
    this.value = beta;
  }
  update(kl: number, responses: number): void {
    if (!Number.isFinite(kl)) return;
    const error = Math.min(0.2, Math.max(-0.2, kl / this.target - 1));
    this.value *= 1 + (error * responses) / this.horizon;
  }
}

/** The controller that `options` describe (adaptive when `target` is set). */
export function klController(options: KlControlOptions = {}): KlController {
  const o = parseOptions(klControlSchema, options, "KL control options");
  return o.target === undefined ? new FixedKlController(o.beta) : new AdaptiveKlController(o.beta, o.target, o.horizon);
}

/**
 * The PPO-ptx loss of one minibatch (InstructGPT, Ouyang et al. 2022, eq. 2; BatGPT §3.4):
 *
 *     loss = L_ppo + γ_ptx · L_pretrain + γ_sft · L_sft
 *     L_ppo = L_clip + c_v · L_value − c_ent · H
 *
 * with the clipped surrogate `L_clip = mean(max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)))`, `ρ = π/π_old`
 * per response token (Schulman et al. 2017, eq. 7), the clipped value loss
 * `L_value = ½ · mean(max((V − R)², (clip(V, V_old − ε_v, V_old + ε_v) − R)²))` and the policy's
 * entropy H, all means over response tokens, as TRL's `PPOTrainer` computes them; `L_pretrain` is
 * core's bidirectional language-modelling loss on pretraining windows and `L_sft` the SFT
 * package's answer loss on SFT batches.
 */
import * as tf from "@tensorflow/tfjs-core";
import { directionalInput, languageModelingObjective, splitTokenBatch, type BatGPTModel, type DirectionWeights, type Objective, type TokenBatch } from "@batgpt/core";
import { answerTokens, sftObjective, type SftBatch } from "@batgpt/sft";
import { tokenLogProbs } from "@batgpt/core/ops";
import { PpoError } from "./algorithms.js";

/** The head the critic's value is read from (TRL's `PolicyAndValueWrapper` names it `value_model`). */
export const VALUE_HEAD = "value";

/**
 * A minibatch of rollouts: rows of prompt + response ids (no direction token; the model reads
 * them forward after `<|l2r|>`), right-padded to `seqLen`, and per position (`[batch · seqLen]`,
 * aligned with `ids`): `mask` 1 at response tokens; the rollout's log-probability of the token
 * under the policy (`oldLogProbs`, nats) and value of the state before it (`oldValues`); the
 * advantage and the return (the critic's target) from GAE.
 */
export interface PpoMinibatch extends TokenBatch {
  mask: Float32Array;
  oldLogProbs: Float32Array;
  oldValues: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
}

/**
 * One optimizer step's data. `ppo` is a rollout minibatch; `ptx` a batch of pretraining windows;
 * `sft` an SFT batch; any may be absent (DeepSpeed-Chat's variant alternates a step of `ppo`
 * with a step of `ptx`). `scale` is set by the objective's split (each part's share of the
 * step's tokens, times the number of shards): a shard's means are scaled by it so that the
 * trainer's weighted sum of shards is the mean over the whole batch.
 */
export interface PpoBatch {
  ppo?: PpoMinibatch;
  ptx?: TokenBatch;
  sft?: SftBatch;
  scale?: { ppo: number; ptx: number; sft: number };
}

/** The coefficients of the loss (plain JSON, so the objective can be rebuilt in worker threads). */
export interface PpoLossOptions {
  /** ε of the clipped surrogate (TRL's `cliprange`, 0.2). */
  clipRange: number;
  /** ε_v of the clipped value loss (TRL's `cliprange_value`, 0.2). */
  clipRangeValue: number;
  /** c_v, the value loss's weight (TRL's `vf_coef`, 0.1). */
  vfCoef: number;
  /** c_ent, the entropy bonus's weight (0: none, as TRL). */
  entropyCoef: number;
  /** γ_ptx: the weight of the pretraining loss (InstructGPT's γ; 0 disables it). */
  ptxCoef: number;
  /** γ_sft: the weight of the SFT answer loss (0 disables it). */
  sftCoef: number;
  /** Direction weights of the pretraining loss (default: both directions, as BatGPT pretrains). */
  ptxWeights?: DirectionWeights;
}

/**
 * The policy's per-token log-probabilities, values and entropies on a minibatch, each `[B·T]`
 * aligned with `batch.ids` (the value at position j is the value head at the state before token
 * j), from one forward pass of the trunk. Units: nats.
 */
export function policyForward(model: BatGPTModel, batch: TokenBatch, head = VALUE_HEAD): { logProbs: tf.Tensor1D; values: tf.Tensor1D; entropy: tf.Tensor1D } {
  const { ids, batch: B, seqLen: T } = batch;
  const { input, targets } = directionalInput(ids, B, T, "forward", model.startToken("forward"));
  return tf.tidy(() => {
    const hidden = model.hidden(input, B, T).hidden; // [B·T, H]
    const logits = model.head(hidden); // [B·T, V]
    const logProbs = tokenLogProbs(logits, tf.tensor1d(targets, "int32"));
    const values = model.headOutput(head, hidden).reshape([B * T]) as tf.Tensor1D;
    // H = logsumexp(z) − Σ softmax(z)·z
    const entropy = tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(tf.softmax(logits), logits), 1)) as tf.Tensor1D;
    return { logProbs, values, entropy };
  });
}

/** `Σ mask·x / Σ mask` (0 when the mask is empty). */
function maskedMean(x: tf.Tensor, mask: tf.Tensor, count: number): tf.Scalar {
  return tf.div(tf.sum(tf.mul(x, mask)), Math.max(count, 1e-30)) as tf.Scalar;
}

/**
 * The PPO loss of a minibatch from the policy's new log-probabilities, values and entropies
 * (each `[B·T]`, as {@link policyForward} returns them) and the rollout's numbers in `batch`, with
 * TRL's metrics: `loss/policy`, `loss/value`, `policy/approxkl` (½·mean((log ρ)²)),
 * `policy/clipfrac` (share of tokens whose clipped term is the larger), `policy/entropy`,
 * `val/vpred`, `val/clipfrac`, `val/ratio`. Means are over response tokens (`mask`).
 *
 * @throws {PpoError} when the minibatch has no response token.
 */
export function ppoLoss(
  out: { logProbs: tf.Tensor1D; values: tf.Tensor1D; entropy: tf.Tensor1D },
  batch: PpoMinibatch,
  options: Pick<PpoLossOptions, "clipRange" | "clipRangeValue" | "vfCoef" | "entropyCoef">,
): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
  const n = responseTokens(batch);
  if (n === 0) throw new PpoError("ppoLoss: the minibatch has no response token (every mask entry is 0)");
  const { clipRange: eps, clipRangeValue: epsV, vfCoef, entropyCoef } = options;
  return tf.tidy(() => {
    const mask = tf.tensor1d(batch.mask);
    const adv = tf.tensor1d(batch.advantages);
    const ret = tf.tensor1d(batch.returns);
    const oldV = tf.tensor1d(batch.oldValues);
    const logRatio = tf.mul(tf.sub(out.logProbs, tf.tensor1d(batch.oldLogProbs)), mask); // 0 off the response
    const ratio = tf.exp(logRatio);
    const pg1 = tf.mul(tf.neg(adv), ratio);
    const pg2 = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - eps, 1 + eps));
    const policyLoss = maskedMean(tf.maximum(pg1, pg2), mask, n);
    const vClipped = tf.add(oldV, tf.clipByValue(tf.sub(out.values, oldV), -epsV, epsV));
    const vf1 = tf.square(tf.sub(out.values, ret));
    const vf2 = tf.square(tf.sub(vClipped, ret));
    const valueLoss = tf.mul(0.5, maskedMean(tf.maximum(vf1, vf2), mask, n)) as tf.Scalar;
    const entropy = maskedMean(out.entropy, mask, n);
    let loss = tf.add(policyLoss, tf.mul(vfCoef, valueLoss)) as tf.Scalar;
    if (entropyCoef !== 0) loss = tf.sub(loss, tf.mul(entropyCoef, entropy)) as tf.Scalar;
    const metrics: Record<string, tf.Scalar> = {
      "loss/policy": policyLoss,
      "loss/value": valueLoss,
      "policy/approxkl": tf.mul(0.5, maskedMean(tf.square(logRatio), mask, n)) as tf.Scalar,
      "policy/clipfrac": maskedMean(tf.cast(tf.greater(pg2, pg1), "float32"), mask, n),
      "policy/entropy": entropy,
      "val/vpred": maskedMean(out.values, mask, n),
      "val/clipfrac": maskedMean(tf.cast(tf.greater(vf2, vf1), "float32"), mask, n),
      "val/ratio": maskedMean(ratio, mask, n),
    };
    return { loss, metrics };
  });
}

/** Response tokens of a minibatch: Σ mask. */
export function responseTokens(batch: Pick<PpoMinibatch, "mask">): number {
  let n = 0;
  for (const m of batch.mask) n += m;
  return n;
}

const ptxTokens = (b: TokenBatch) => b.batch * b.seqLen;

/** Rows `[from, from + rows)` of every per-position array of a minibatch. */
function sliceMinibatch(b: PpoMinibatch, from: number, rows: number): PpoMinibatch {
  const T = b.seqLen;
  const cut = <A extends Int32Array | Float32Array>(a: A) => a.slice(from * T, (from + rows) * T) as A;
  return {
    ids: cut(b.ids),
    batch: rows,
    seqLen: T,
    mask: cut(b.mask),
    oldLogProbs: cut(b.oldLogProbs),
    oldValues: cut(b.oldValues),
    advantages: cut(b.advantages),
    returns: cut(b.returns),
  };
}

/** Row counts of `batch` rows cut into at most `parts` near-equal shards (core's `splitTokenBatch` rule). */
function rowCounts(rows: number, parts: number): number[] {
  const n = Math.min(parts, rows);
  return Array.from({ length: n }, (_, i) => Math.floor(rows / n) + (i < rows % n ? 1 : 0));
}

/**
 * The PPO-ptx objective for core's `runTrainer`: on a {@link PpoBatch},
 * `L_ppo + γ_ptx · L_pretrain + γ_sft · L_sft` (each part present in the batch), logging the
 * PPO metrics of {@link ppoLoss}, `loss/ptx` and `loss/sft`. It splits by rows (each part
 * separately) so it runs on worker replicas.
 */
export function ppoObjective(options: PpoLossOptions): Objective<PpoBatch> {
  const lm = languageModelingObjective(options.ptxWeights ?? { forward: 1, backward: 1 });
  const sft = sftObjective({ direction: "forward" });
  const sums = (b: PpoBatch) => ({ ppo: b.ppo ? responseTokens(b.ppo) : 0, ptx: b.ptx ? ptxTokens(b.ptx) : 0, sft: b.sft ? answerTokens(b.sft) : 0 });
  return {
    loss(model, batch) {
      const scale = batch.scale ?? { ppo: 1, ptx: 1, sft: 1 };
      const terms: tf.Scalar[] = [];
      const metrics: Record<string, tf.Scalar> = {};
      if (batch.ppo && responseTokens(batch.ppo) > 0) {
        const r = ppoLoss(policyForward(model, batch.ppo), batch.ppo, options);
        terms.push(tf.mul(r.loss, scale.ppo) as tf.Scalar);
        for (const [k, v] of Object.entries(r.metrics)) metrics[k] = tf.mul(v, scale.ppo) as tf.Scalar;
      }
      if (batch.ptx) {
        const l = lm.loss(model, batch.ptx).loss;
        metrics["loss/ptx"] = tf.mul(l, scale.ptx) as tf.Scalar;
        if (options.ptxCoef !== 0) terms.push(tf.mul(l, options.ptxCoef * scale.ptx) as tf.Scalar);
      }
      if (batch.sft && answerTokens(batch.sft) > 0) {
        const l = sft.loss(model, batch.sft).loss;
        metrics["loss/sft"] = tf.mul(l, scale.sft) as tf.Scalar;
        if (options.sftCoef !== 0) terms.push(tf.mul(l, options.sftCoef * scale.sft) as tf.Scalar);
      }
      if (terms.length === 0) throw new PpoError("ppoObjective: the batch holds nothing to train on (no response token, pretraining window or answer token)");
      return { loss: terms.length === 1 ? terms[0]! : (tf.addN(terms) as tf.Scalar), metrics };
    },
    tokens: (b) => (b.ppo ? ptxTokens(b.ppo) : 0) + (b.ptx ? ptxTokens(b.ptx) : 0) + (b.sft ? ptxTokens(b.sft) : 0),
    split(batch, parts) {
      const full = sums(batch);
      const ppoRows = batch.ppo ? rowCounts(batch.ppo.batch, parts) : [];
      const ptx = batch.ptx ? splitTokenBatch(batch.ptx, parts) : [];
      const sftParts = batch.sft ? sft.split!(batch.sft, parts).map((p) => p.batch) : [];
      const n = Math.max(ppoRows.length, ptx.length, sftParts.length);
      let from = 0;
      const shards: PpoBatch[] = [];
      for (let i = 0; i < n; i++) {
        const shard: PpoBatch = {};
        if (batch.ppo && i < ppoRows.length) {
          shard.ppo = sliceMinibatch(batch.ppo, from, ppoRows[i]!);
          from += ppoRows[i]!;
        }
        if (i < ptx.length) shard.ptx = ptx[i]!;
        if (i < sftParts.length) shard.sft = sftParts[i]!;
        shards.push(shard);
      }
      // a shard's means times (its tokens / the batch's) · n: the mean of the n shards is the batch's mean
      return shards.map((s) => {
        const mine = sums(s);
        const share = (k: "ppo" | "ptx" | "sft") => (full[k] > 0 ? (mine[k] / full[k]) * n : 0);
        return { batch: { ...s, scale: { ppo: share("ppo"), ptx: share("ptx"), sft: share("sft") } }, weight: 1 };
      });
    },
    replica: { module: import.meta.url, export: "ppoObjective", options: { ...options } },
  };
}

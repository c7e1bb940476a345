/**
 * Parameter and FLOP counting, next to the model as nanoGPT keeps `estimate_mfu`.
 * A multiply-add is 2 FLOPs; training is forward + backward ≈ 3 × forward.
 */
import { modelDims, type BatGPTConfig } from "./config.js";

/** FLOPs per token of one sequence of `seqLen` tokens. */
export interface FlopsPerToken {
  /** Forward pass: every matmul (projections, MLP, LM head) and attention (QKᵀ and AV over the whole window, as computed). */
  forward: number;
  /** Forward + backward: 3 × forward. */
  training: number;
  /** Of `forward`: the attention score and value products. */
  attention: number;
  /** Of `forward`: the LM head. */
  lmHead: number;
}

/** FLOPs per token for a config at a sequence length. */
export function flopsPerToken(c: BatGPTConfig, seqLen: number): FlopsPerToken {
  const { kvDim } = modelDims(c);
  const H = c.hidden_size;
  const F = c.ffn_hidden_size;
  const perLayerMatmul = 2 * (H * H + 2 * H * kvDim + H * H + H * 2 * F + F * H);
  // scores QKᵀ and weighted values AV, each 2·seqLen·H per token (full square, masked after)
  const perLayerAttention = 2 * 2 * seqLen * H;
  const lmHead = 2 * H * c.vocab_size;
  const attention = c.n_layer * perLayerAttention;
  const forward = c.n_layer * perLayerMatmul + attention + lmHead;
  return { forward, training: 3 * forward, attention, lmHead };
}

/**
 * Model FLOPs utilisation: achieved FLOP/s (training FLOPs of the tokens processed per second)
 * over a peak FLOP/s measured on the same machine.
 */
export function estimateMfu(c: BatGPTConfig, seqLen: number, tokensPerSecond: number, peakFlops: number): number {
  return (flopsPerToken(c, seqLen).training * tokensPerSecond) / peakFlops;
}

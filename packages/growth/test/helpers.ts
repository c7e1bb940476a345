import * as tf from "@tensorflow/tfjs-core";
import { createModel, Rng, type BatGPTConfigInput, type BatGPTModel } from "@batgpt/core";

/**
 * A model whose weights are far from the initialisation (norm gains 0.5–1.5, biases ≠ 0, weights
 * of unit scale), so that logits are of order 1–10 and a growth rule that is off shows.
 */
export function trainedLikeModel(config: BatGPTConfigInput, seed: number): BatGPTModel {
  const model = createModel({ vocab_size: 24, max_seq_len: 12, l2r_token_id: 1, r2l_token_id: 2, bos_token_id: 3, ...config }, { seed });
  const rng = new Rng(seed + 1000);
  for (const [name, v] of model.params) {
    const size = v.size;
    let values: Float32Array;
    if (name.includes("layernorm") || name.includes("ln_f")) values = Float32Array.from({ length: size }, () => 0.5 + rng.float());
    else if (name.endsWith(".bias")) values = rng.normals(size, 0.2);
    else if (v.shape.length === 2 && !name.includes("embeddings")) values = rng.normals(size, 1 / Math.sqrt(v.shape[0]!));
    else values = rng.normals(size, 1);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, "float32")));
  }
  return model;
}

/** `rows` random sequences of `length` ordinary token ids (above the special ids 0–3). */
export function randomIds(rng: Rng, rows: number, length: number, vocab = 24): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length }, () => 4 + rng.int(vocab - 4)));
}

/** Loading a whole checkpoint into a ready model. */
import type { Tokenizer } from "@batgpt/tokenizer";
import { assignWeights, readCheckpoint, type ReadCheckpointOptions } from "./checkpoint.js";
import type { BatGPTConfig } from "./config.js";
import { BatGPTModel } from "./model.js";
import { emptyParameters } from "./params.js";

/**
 * Load a checkpoint directory (`config.json`, `model.safetensors`, `tokenizer.json`) written by
 * {@link saveCheckpoint} or by the official PyTorch code's `save_pretrained` in float32/bf16/fp16.
 * The directory is found and read by {@link readCheckpoint} (so an interrupted save's
 * `<dir>.old-…` is used when `<dir>` is missing, and non-finite weights are refused unless
 * `options.allowNonFinite`).
 *
 * @throws {CheckpointError} naming the file (and tensor) for every failure to read the checkpoint.
 * @throws {ConfigError} for invalid options (the message names the field).
 */
export async function loadCheckpoint(
  dir: string,
  options?: ReadCheckpointOptions,
): Promise<{ model: BatGPTModel; tokenizer: Tokenizer | undefined; config: BatGPTConfig; state: Record<string, unknown> | undefined }> {
  const ckpt = await readCheckpoint(dir, options);
  const params = emptyParameters(ckpt.config);
  try {
    assignWeights(params, ckpt.weights);
  } catch (err) {
    for (const v of params.values()) v.dispose();
    throw err;
  } finally {
    for (const t of ckpt.weights.values()) t.dispose();
    if (ckpt.optimizer) for (const t of ckpt.optimizer.values()) t.dispose();
  }
  return { model: new BatGPTModel(ckpt.config, params), tokenizer: ckpt.tokenizer, config: ckpt.config, state: ckpt.state };
}

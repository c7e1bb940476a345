import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { BatGPTModel, createModel, selectBackend } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";

export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** Every fixture file's text, the tokenizer's training corpus (so their characters are tokens). */
function fixtureTexts(dir = FIXTURES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? fixtureTexts(join(dir, e.name)) : [readFileSync(join(dir, e.name), "utf8")]));
}

let tokenizer: Tokenizer | undefined;
export async function fixtureTokenizer(): Promise<Tokenizer> {
  await selectBackend({ backend: "wasm", log: false });
  tokenizer ??= await trainBpe([...fixtureTexts(), "以下是中国关于考试的单项选择题，请选出其中的正确答案。答案：A 答案是：B 题目："], { vocabSize: 600, minFrequency: 1 });
  return tokenizer;
}

export const TINY = { hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 128 } as const;

/** A model whose logits get `bias` added at every position: it favours the tokens given. */
export class BiasedModel extends BatGPTModel {
  constructor(
    base: BatGPTModel,
    private readonly bias: tf.Tensor1D,
  ) {
    super(base.config, base.params);
  }
  override head(hidden: tf.Tensor2D): tf.Tensor2D {
    return tf.add(super.head(hidden), this.bias);
  }
}

/** A tiny random model, plus `boost` nats on each of `favoured` (token ids). */
export async function favouring(favoured: readonly number[], boost = 60, config: Record<string, number> = {}): Promise<BatGPTModel> {
  const tok = await fixtureTokenizer();
  const base = createModel({ ...TINY, ...config }, { tokenizer: tok, seed: 3 });
  const b = new Float32Array(base.config.vocab_size);
  for (const id of favoured) b[id] = boost;
  return new BiasedModel(base, tf.keep(tf.tensor1d(b)));
}

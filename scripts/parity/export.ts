/**
 * Parity check, TypeScript side: write two tiny @batgpt/core checkpoints and our logits for a few
 * sequences, for `check.py` to load into the official BatGPT PyTorch code and compare.
 *
 *   npm run build && npx tsx scripts/parity/export.ts [OUT_DIR]     (default /tmp/batgpt-parity)
 *
 * Writes OUT_DIR/plain/ (default `direction_scheme: "token"`), OUT_DIR/head/ (the same kind of
 * model, other seed, with `model.addHead("score")`), and OUT_DIR/expected.json: for each
 * checkpoint and each sequence, the exact input ids the trunk read (the direction token the model
 * prepends, then the sequence) and our logits `model.logits([ids], { direction })`, float32.
 *
 * Every parameter is perturbed after initialisation (norm weights and q/k/v biases included, which
 * start at 1 and 0) so that a mix-up of tensors, a wrong transpose or a dropped bias shows.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createModel, directionalInput, Rng, saveCheckpoint, selectBackend } from "@batgpt/core";
import type { BatGPTModel, Direction } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import type { Tokenizer } from "@batgpt/tokenizer";

const outDir = process.argv[2] ?? "/tmp/batgpt-parity";

const CORPUS = [
  "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
  "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
  "The moon is bright tonight, and the river runs to the sea.",
  "Bidirectional autoregressive pretraining reads every sequence both ways.",
];

const MODEL = {
  hidden_size: 64,
  n_layer: 2,
  n_head: 4,
  num_heads_per_kv: 2,
  ffn_hidden_size: 96,
  max_seq_len: 32,
  // larger than the default 0.02 so that logits are O(1) and a small relative error shows
  initializer_range: 0.2,
} as const;

/** Add N(0, std²) noise to every parameter: norm weights move off 1, biases off 0. */
function perturb(model: BatGPTModel, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of model.params) {
    const std = v.shape.length === 1 ? 0.2 : 0.05;
    const noise = rng.normals(v.size, std);
    const cur = v.dataSync() as Float32Array;
    const next = new Float32Array(v.size);
    for (let i = 0; i < v.size; i++) next[i] = cur[i]! + noise[i]!;
    if (!next.every(Number.isFinite)) throw new Error(`perturbing ${name} gave a non-finite value`);
    const t = tf.tensor(next, v.shape, "float32");
    v.assign(t);
    t.dispose();
  }
}

interface Case {
  checkpoint: string;
  direction: Direction;
  /** The sequence as passed to `model.logits` (reading order, no direction token). */
  ids: number[];
  /** What the trunk read: the direction token, then the sequence in reading order without its last token. */
  input: number[];
  /** `[T, vocab]` row-major, float32 values. */
  logits: number[];
  /** Per head, its output on the final hidden states: `[T, outputs]` row-major. */
  heads: Record<string, number[]>;
}

/** The sequences: encoded text of a few lengths, the longest filling max_seq_len. */
function sequences(tok: Tokenizer): number[][] {
  const all = tok.encode(CORPUS.join(" "));
  if (all.length < MODEL.max_seq_len) throw new Error(`corpus encodes to ${all.length} tokens, need ${MODEL.max_seq_len}`);
  return [all.slice(0, 1), all.slice(3, 10), all.slice(5, 22), all.slice(all.length - MODEL.max_seq_len)];
}

function casesOf(model: BatGPTModel, name: string, seqs: number[][]): Case[] {
  const out: Case[] = [];
  for (const direction of ["forward", "backward"] as const) {
    for (const ids of seqs) {
      const t = model.logits([ids], { direction });
      const logits = Array.from(t.dataSync());
      t.dispose();
      const { input } = directionalInput(Int32Array.from(ids), 1, ids.length, direction, model.startToken(direction));
      const heads: Record<string, number[]> = {};
      for (const head of Object.keys(model.config.heads)) {
        heads[head] = tf.tidy(() => Array.from(model.headOutput(head, model.hidden(input, 1, ids.length, { direction }).hidden).dataSync()));
      }
      out.push({ checkpoint: name, direction, ids, input: Array.from(input), logits, heads });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const backend = await selectBackend({ backend: "cpu", log: false });
  const tok = await trainBpe(CORPUS, { vocabSize: 300, minFrequency: 1 });
  const seqs = sequences(tok);

  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });

  const plain = createModel(MODEL, { seed: 1, tokenizer: tok });
  perturb(plain, 101);
  await saveCheckpoint(join(outDir, "plain"), { model: plain, tokenizer: tok });

  const withHead = createModel(MODEL, { seed: 2, tokenizer: tok });
  withHead.addHead("score", {}, { seed: 3 });
  perturb(withHead, 102);
  await saveCheckpoint(join(outDir, "head"), { model: withHead, tokenizer: tok });

  const cases = [...casesOf(plain, "plain", seqs), ...casesOf(withHead, "head", seqs)];
  const expected = {
    backend: backend.name,
    vocab_size: plain.config.vocab_size,
    l2r_token_id: plain.startToken("forward"),
    r2l_token_id: plain.startToken("backward"),
    heads: { plain: Object.keys(plain.config.heads), head: Object.keys(withHead.config.heads) },
    cases,
  };
  await writeFile(join(outDir, "expected.json"), `${JSON.stringify(expected)}\n`);
  console.log(`wrote ${outDir}/{plain,head,expected.json}: ${cases.length} cases, vocab ${expected.vocab_size}, backend ${backend.name}`);
  plain.dispose();
  withHead.dispose();
}

await main();

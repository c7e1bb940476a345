/** The tiny model, tokenizer and token file that the training tests share. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { TokenFile, tokenizeToFile } from "../src/data.js";

/** A 2-layer model small enough to train in a test. */
export const tiny = { hidden_size: 32, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 48, max_seq_len: 16 };

/** 40 copies of a quatrain (each with its number and an optional suffix), tokenized into a temp dir on wasm. */
export async function trainFixture(suffix = ""): Promise<{ tok: Tokenizer; file: TokenFile; dir: string }> {
  const text = Array.from({ length: 40 }, (_, i) => `床前明月光，疑是地上霜。举头望明月，低头思故乡。${i}${suffix}`);
  await selectBackend({ backend: "wasm", log: false });
  const tok = await trainBpe(text, { vocabSize: 320, minFrequency: 1 });
  const dir = mkdtempSync(join(tmpdir(), "batgpt-train-"));
  await tokenizeToFile(text, tok, join(dir, "train.bin"));
  return { tok, file: await TokenFile.open(join(dir, "train.bin")), dir };
}

/** Our BPE training, timed on the corpus train text. */

import { readFile } from "node:fs/promises";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { utf8Bytes } from "./corpus.js";
import { log, round } from "./timing.js";

/** What training produced and what the SentencePiece run needs to see the same text. */
export interface TrainResult {
  tokenizer: Tokenizer;
  /** Wall seconds: read the file, split lines, pre-tokenize, count, merge. */
  seconds: number;
  /** UTF-8 bytes of the non-blank lines trained on (newlines not counted). */
  bytes: number;
  lines: number;
  maxLineBytes: number;
}

/**
 * Train with `trainBpe` (default BatGPT pattern and specials) on the non-blank lines of `txtPath`,
 * one text per line — the same units `spm_train` reads. The timed region starts before the file
 * is read and ends when `trainBpe` resolves, so it includes reading, pre-tokenization, counting
 * and merging (single-threaded: trainBpe runs on the main thread).
 */
export async function benchTrain(txtPath: string, vocabSize: number): Promise<TrainResult> {
  let lastLog = 0;
  const t0 = performance.now();
  const text = await readFile(txtPath, "utf8");
  const lines = text.split("\n").filter((l) => l.length > 0);
  const tokenizer = await trainBpe(lines, {
    vocabSize,
    onProgress: (p) => {
      if (p.elapsedMs - lastLog < 2000 && p.stage !== "done") return;
      lastLog = p.elapsedMs;
      log(`train ${p.stage}: ${round(p.bytes / 1e6, 1)} MB, ${p.words} words, ${p.merges}/${p.targetMerges} merges, ${round(p.elapsedMs / 1000, 1)} s`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  let bytes = 0;
  let maxLineBytes = 0;
  for (const l of lines) {
    const b = utf8Bytes(l);
    bytes += b;
    if (b > maxLineBytes) maxLineBytes = b;
  }
  return { tokenizer, seconds, bytes, lines: lines.length, maxLineBytes };
}

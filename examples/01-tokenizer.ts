/**
 * # 01 — Train a byte-level BPE tokenizer on the default corpus
 *
 * BatGPT reads Chinese and English. Its tokenizer is byte-level BPE: every string can be
 * encoded (no unknown token), and frequent byte sequences — Han characters, common words,
 * two-character poetic phrases — become single tokens.
 *
 * Run: `npm run example:01` (well under a minute on a laptop core). It writes
 * `runs/01-tokenizer/` (`tokenizer.json` and `manifest.json`), which example 02 reuses. The
 * last line of output is JSON with the headline numbers.
 *
 * Other scripts call the step, {@link tokenizer}: example 02 with `reuse: true`, the demo with a
 * smaller corpus into its own folder.
 */
import { join } from "node:path";
import { prepareCorpus, readDocuments, type CorpusDocument, type CorpusSubset, type PreparedCorpus } from "@batgpt/datasets";
import { Tokenizer, trainBpe } from "@batgpt/tokenizer";
import { createProgress } from "@batgpt/utils";
import { findRun, isMain, runDir, startRun, writeManifest } from "./lib/runs.js";
import { printTokenizerReport, type TokenizerReport } from "./lib/tokenizer-report.js";

const NAME = "01-tokenizer";

/** The options of this step; the defaults are the real run's sizes. */
export interface TokenizerOptions {
  /** Vocabulary size: 256 bytes + merges + 9 special tokens. Default 8192. */
  vocabSize?: number;
  /** Cap on the Chinese text, UTF-8 bytes (train + validation). Default: the whole default corpus. */
  maxChineseBytes?: number;
  /** Cap on the English text, UTF-8 bytes (train + validation). Default: the whole default corpus. */
  maxEnglishBytes?: number;
  /**
   * Which documents: `"all"` (the default corpus: poems, ci, classics, primers and English prose)
   * or `"regular-verse"` (Tang and Song quatrains and regulated verse with their titles and forms,
   * as example 02 pretrains on).
   */
  subset?: CorpusSubset;
  /** Output folder. Default `runs/01-tokenizer/`. */
  dir?: string;
  /** Reuse an earlier run in `dir` made with the same options on the same corpus, instead of training. Default false. */
  reuse?: boolean;
}

/** What makes one tokenizer: recorded in its manifest, and by the later steps that use it. */
export interface TokenizerConfig {
  vocabSize: number;
  maxChineseBytes: number | null;
  maxEnglishBytes: number | null;
  subset: CorpusSubset;
  /** The prepared corpus's key (a hash of its options, data and library versions). */
  corpusKey: string;
}

/** What this step hands to the next one. */
export interface TokenizerOutput {
  tok: Tokenizer;
  corpus: PreparedCorpus;
  config: TokenizerConfig;
  report: TokenizerReport;
  paths: { dir: string; tokenizer: string; manifest: string };
  /** True when an earlier run was reused and nothing was trained. */
  reused: boolean;
}

/** Prepare the corpus, train the tokenizer, save it and report what it learned. */
export async function tokenizer(options: TokenizerOptions = {}): Promise<TokenizerOutput> {
  const { vocabSize = 8192, maxChineseBytes, maxEnglishBytes, subset = "all", dir = runDir(NAME), reuse = false } = options;

  // ## 1. The corpus
  // Tang poems, Song ci, the Analects, the Shijing and children's primers from `chinese-poetry`,
  // converted to Simplified characters, plus English prose from the Brown corpus. The split
  // into train and validation is deterministic (a seeded hash of each document's id), and the
  // files are cached under .cache/ so the second run starts at once.
  const prep = await createProgress("corpus", { unit: "docs", intervalMs: 2000 });
  const corpus = await prepareCorpus({ subset, maxChineseBytes, maxEnglishBytes, onProgress: (e) => prep.update(e.done, e.total, { step: e.stage }) });
  prep.stop();
  const { train, val } = corpus.manifest.splits;
  console.log(`corpus: ${corpus.dir}`);
  console.log(`  train ${(train.bytes / 1e6).toFixed(1)} MB in ${train.documents} docs (${train.zh.documents} Chinese, ${train.en.documents} English), validation ${val.documents} docs`);

  const config: TokenizerConfig = { vocabSize, maxChineseBytes: maxChineseBytes ?? null, maxEnglishBytes: maxEnglishBytes ?? null, subset, corpusKey: corpus.manifest.key };
  const paths = { dir, tokenizer: join(dir, "tokenizer.json"), manifest: join(dir, "manifest.json") };
  const earlier = reuse ? findRun<TokenizerConfig, TokenizerReport>(dir, NAME, config) : undefined;
  if (earlier) {
    const tok = await Tokenizer.load(paths.tokenizer);
    console.log(`reusing ${paths.tokenizer}: ${tok.vocabSize} ids, trained ${earlier.finishedAt} with the same options on the same corpus`);
    return { tok, corpus, config, report: earlier.headline, paths, reused: true };
  }

  // ## 2. Train
  // `trainBpe` streams text, cuts it into pieces with the BatGPT pattern (Han runs stand
  // alone, so merges learn phrases like 明月 rather than "，明"), counts pairs once, and then
  // keeps the counts up to date as merges are made. 8192 = 256 bytes + merges + 9 specials.
  startRun(dir);
  const bar = await createProgress("train", { unit: "merges", intervalMs: 2000 });
  const t0 = performance.now();
  async function* trainTexts() {
    for await (const doc of readDocuments(corpus.train.jsonl)) yield doc.text;
  }
  const trained = await trainBpe(trainTexts(), {
    vocabSize,
    onProgress: (p) => bar.update(p.merges, p.targetMerges, { MB: (p.bytes / 1e6).toFixed(1) }),
  });
  bar.stop();
  const trainSeconds = (performance.now() - t0) / 1000;

  // ## 3. Save and reload
  // The file is a Hugging Face `tokenizer.json`: it loads back here, in `@huggingface/tokenizers`
  // with the same ids (and it is the format Python's `tokenizers` reads).
  await trained.save(paths.tokenizer);
  const tok = await Tokenizer.load(paths.tokenizer);
  console.log(`saved and reloaded ${paths.tokenizer}`);

  // ## 4. What it learned
  // Compression on held-out text, for Chinese and English separately.
  const heldOut: CorpusDocument[] = [];
  for await (const doc of readDocuments(corpus.val.jsonl)) heldOut.push(doc);
  const report = printTokenizerReport(tok, heldOut, trainSeconds, train.bytes);

  // Special tokens never come from ordinary text; the bidirectional model marks the reading
  // direction with one of them.
  const l2r = tok.specialTokenId("<|l2r|>");
  const ids = tok.encode("<|l2r|>床前明月光", { allowedSpecial: ["<|l2r|>"] });
  console.log(`with a direction token: ${JSON.stringify(ids)} (<|l2r|> = ${l2r})`);

  // ## 5. Hand it on
  // The manifest is written last: a run that stopped halfway is never reused.
  await writeManifest(dir, { example: NAME, config, headline: report, files: { tokenizer: "tokenizer.json" }, finishedAt: new Date().toISOString() });
  return { tok, corpus, config, report, paths, reused: false };
}

if (isMain(import.meta.url)) {
  const { report } = await tokenizer();
  console.log(JSON.stringify(report));
}

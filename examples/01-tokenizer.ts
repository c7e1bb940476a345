/**
 * # 01 — Train a byte-level BPE tokenizer on the default corpus
 *
 * BatGPT reads Chinese and English. Its tokenizer is byte-level BPE: every string can be
 * encoded (no unknown token), and frequent byte sequences — Han characters, common words,
 * two-character poetic phrases — become single tokens.
 *
 * Run: `npm run example:01` (about a minute on a laptop core). The last line of output is
 * JSON with the headline numbers.
 */
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { prepareCorpus, readDocuments, type CorpusDocument } from "@batgpt/datasets";
import { Tokenizer, trainBpe } from "@batgpt/tokenizer";
import { progress } from "./lib/progress.js";
import { printTokenizerReport } from "./lib/tokenizer-report.js";

// ## 1. The corpus
// Tang poems, Song ci, the Analects, the Shijing and children's primers from `chinese-poetry`,
// converted to Simplified characters, plus English prose from the Brown corpus. The split
// into train and validation is deterministic (a seeded hash of each document's id), and the
// files are cached under .cache/ so the second run starts at once.
const prep = progress("corpus", "docs");
const corpus = await prepareCorpus({ onProgress: (e) => prep.update(e.done, e.total, { step: e.stage }) });
prep.stop();
const { train, val } = corpus.manifest.splits;
console.log(`corpus: ${corpus.dir}`);
console.log(`  train ${(train.bytes / 1e6).toFixed(1)} MB in ${train.documents} docs, validation ${val.documents} docs`);

// ## 2. Train
// `trainBpe` streams text, cuts it into pieces with the BatGPT pattern (Han runs stand
// alone, so merges learn phrases like 明月 rather than "，明"), counts pairs once, and then
// keeps the counts up to date as merges are made. 8192 = 256 bytes + merges + 9 specials.
const bar = progress("train", "merges");
const t0 = performance.now();
async function* trainTexts() {
  for await (const doc of readDocuments(corpus.train.jsonl)) yield doc.text;
}
const tok = await trainBpe(trainTexts(), {
  vocabSize: 8192,
  onProgress: (p) => bar.update(p.merges, p.targetMerges, { MB: (p.bytes / 1e6).toFixed(1) }),
});
bar.stop();
const trainSeconds = (performance.now() - t0) / 1000;

// ## 3. Save and reload
// The file is a Hugging Face `tokenizer.json`: it loads back here, in `@huggingface/tokenizers`
// with the same ids (and it is the format Python's `tokenizers` reads).
const dir = mkdtempSync(join(tmpdir(), "batgpt-01-"));
const path = join(dir, "tokenizer.json");
await tok.save(path);
const reloaded = await Tokenizer.load(path);
console.log(`saved and reloaded ${path}`);

// ## 4. What it learned
// Compression on held-out text, for Chinese and English separately.
const heldOut: CorpusDocument[] = [];
for await (const doc of readDocuments(corpus.val.jsonl)) heldOut.push(doc);
const report = printTokenizerReport(reloaded, heldOut, trainSeconds, train.bytes);

// Special tokens never come from ordinary text; the bidirectional model marks the reading
// direction with one of them.
const l2r = reloaded.specialTokenId("<|l2r|>");
const ids = reloaded.encode("<|l2r|>床前明月光", { allowedSpecial: ["<|l2r|>"] });
console.log(`with a direction token: ${JSON.stringify(ids)} (<|l2r|> = ${l2r})`);

console.log(JSON.stringify(report));

/**
 * Tokenizer benchmark: `npm run bench:tokenizer [-- --quick]` from the repo root.
 *
 * 1. Encode throughput of ours (`Tokenizer.fromTiktoken`) vs js-tiktoken vs gpt-tokenizer on the
 *    same ranks (cl100k_base; o200k_base nested) and the same Chinese / English / mixed text.
 * 2. `trainBpe` time for the trained vocabulary size on the default corpus's train split.
 * 3. SentencePiece BPE (`spm_train`, if on PATH) on the same file: training time, and bytes per
 *    token of both tokenizers on the held-out split.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with the results.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { encodeTexts, loadCorpus, readAll, utf8Bytes } from "./lib/corpus.js";
import { benchEncode, type EncodeResult } from "./lib/encode-bench.js";
import { parseOptions } from "./lib/options.js";
import { spmEncodeCounts, spmTrain, spmTrainArgs, spmVersion, which } from "./lib/spm.js";
import { gcAvailable, log, round, timed } from "./lib/timing.js";
import { benchTrain } from "./lib/train.js";

const wallStart = performance.now();
const opts = parseOptions();
const notes: string[] = [];
log(`options ${JSON.stringify(opts)}`);

// ---- corpus (not timed) ----
const [corpus, prepSeconds] = await (async () => {
  const t0 = performance.now();
  const c = await loadCorpus(opts);
  return [c, (performance.now() - t0) / 1000] as const;
})();
const split = corpus.manifest.splits;
log(`corpus ${corpus.dir} (${corpus.cached ? "cached" : `built in ${round(prepSeconds, 1)} s`}): train ${round(split.train.bytes / 1e6, 2)} MB, val ${round(split.val.bytes / 1e6, 2)} MB`);
const trainDocs = await readAll(corpus.train.jsonl);
const texts = encodeTexts(trainDocs, opts.encodeMB, opts.warmupMB);
trainDocs.length = 0;

// ---- 1. encode throughput ----
const encodeResults: EncodeResult[] = [];
for (const ranks of opts.o200k ? (["cl100k_base", "o200k_base"] as const) : (["cl100k_base"] as const)) {
  encodeResults.push(await benchEncode(ranks, texts, opts.tiktokenMB, opts.repeats, opts.protocol, opts.sameSlice));
}
const cl100k = encodeResults[0]!;
const o200k = encodeResults[1];
for (const r of encodeResults) for (const m of r.mismatches) notes.push(`${r.ranks}: ids differ: ${m}`);

// ---- 2. our training ----
log(`training ours: vocabSize ${opts.vocabSize} on ${corpus.train.txt}`);
const train = await benchTrain(corpus.train.txt, opts.vocabSize);
log(`trained in ${round(train.seconds, 2)} s (${round(train.bytes / 1e6, 2)} MB, ${train.lines} lines, vocab ${train.tokenizer.vocabSize})`);
if (train.bytes < 20e6) notes.push(`trained on ${round(train.bytes / 1e6, 2)} MB, under the 20 MB of the full run (caps or --quick)`);

// ---- held-out lines (val split, one line at a time, as spm_encode reads them) ----
const heldOut: { line: string; lang: "zh" | "en" }[] = [];
for (const doc of await readAll(corpus.val.jsonl)) for (const line of doc.text.split("\n")) if (line.length > 0) heldOut.push({ line, lang: doc.lang });
const heldBytes = { zh: 0, en: 0 };
const oursTokens = { zh: 0, en: 0 };
for (const { line, lang } of heldOut) {
  heldBytes[lang] += utf8Bytes(line);
  oursTokens[lang] += train.tokenizer.encodeOrdinary(line).length;
}
const bpt = (b: { zh: number; en: number }, t: { zh: number; en: number }): number => round((b.zh + b.en) / (t.zh + t.en), 3);
const bytesPerToken = bpt(heldBytes, oursTokens);
const oursByLang = { zh: round(heldBytes.zh / oursTokens.zh, 3), en: round(heldBytes.en / oursTokens.en, 3) };

// ---- 3. SentencePiece ----
let spmTrainSeconds: number | null = null;
let spmBytesPerToken: number | null = null;
let spmByLang: { zh: number; en: number } | null = null;
let spmInfo: Record<string, unknown> | null = null;
const spmTrainPath = which("spm_train");
const spmEncodePath = which("spm_encode");
if (!opts.spm) {
  notes.push("SentencePiece skipped (--no-spm / BENCH_SPM=0)");
} else if (!spmTrainPath || !spmEncodePath) {
  notes.push(
    `SentencePiece comparison skipped: ${!spmTrainPath ? "spm_train" : "spm_encode"} is not on PATH ` +
      "(Debian/Ubuntu: apt-get install sentencepiece); spmTrainSeconds, spmTrainRatio, spmBytesPerToken are null",
  );
} else {
  const dir = mkdtempSync(join(tmpdir(), "bench-tokenizer-spm-"));
  try {
    const args = spmTrainArgs(corpus.train.txt, join(dir, "spm"), opts.vocabSize, train.lines, train.maxLineBytes);
    log(`spm_train ${args.join(" ")}`);
    spmTrainSeconds = spmTrain(spmTrainPath, args, join(dir, "spm_train.log"));
    log(`spm_train took ${round(spmTrainSeconds, 2)} s`);
    const input = join(dir, "heldout.txt");
    writeFileSync(input, heldOut.map((h) => h.line).join("\n") + "\n");
    const [counts, encSeconds] = timed(() => spmEncodeCounts(spmEncodePath, join(dir, "spm.model"), input, join(dir, "heldout.ids"), join(dir, "spm_encode.log")));
    if (counts.length !== heldOut.length) throw new Error(`spm_encode returned ${counts.length} lines for ${heldOut.length} input lines`);
    const spmTokens = { zh: 0, en: 0 };
    counts.forEach((n, i) => (spmTokens[heldOut[i]!.lang] += n));
    spmBytesPerToken = bpt(heldBytes, spmTokens);
    spmByLang = { zh: round(heldBytes.zh / spmTokens.zh, 3), en: round(heldBytes.en / spmTokens.en, 3) };
    spmInfo = { version: spmVersion(spmTrainPath) ?? null, args: args.map((a) => a.replace(dir, "<tmp>")), encodeSeconds: round(encSeconds, 3), heldOutTokens: spmTokens };
    notes.push(
      "bytesPerToken: UTF-8 bytes of the original held-out lines (newlines not counted) / tokens, both tokenizers encoding one line at a time; " +
        "spm normalizes (NFKC, e.g. full-width ，→, ; collapses spaces; adds a ▁ prefix per line) but bytes are counted on the original text for both",
    );
    notes.push("vocabSize 8192 means different things: ours = 256 bytes + merges + 9 special tokens; spm = 3 meta + 256 byte-fallback pieces + required characters (~6.5k Han at coverage 0.9995) + merges");
  } catch (err) {
    notes.push(`SentencePiece comparison failed: ${(err as Error).message}`);
    spmTrainSeconds = null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- result ----
const mbOf = (s: { bytes: number }): number => round(s.bytes / 1e6, 3);
const pick = (r: EncodeResult) => ({
  oursMBps: r.oursMBps,
  tiktokenMBps: r.tiktokenMBps,
  gptTokenizerMBps: r.gptTokenizerMBps,
  encodeRatio: r.encodeRatio,
  idsIdentical: r.idsIdentical,
});
const detail = (r: EncodeResult) => ({
  onTiktokenSlice: r.onTiktokenSlice,
  tokens: r.tokens,
  bytesPerToken: r.bytesPerToken,
  runsSeconds: r.runsSeconds,
});
const result = {
  ...pick(cl100k),
  idsIdentical: encodeResults.every((r) => r.idsIdentical),
  o200k: o200k ? pick(o200k) : null,
  trainSeconds: round(train.seconds, 3),
  spmTrainSeconds: spmTrainSeconds === null ? null : round(spmTrainSeconds, 3),
  spmTrainRatio: spmTrainSeconds === null ? null : round(train.seconds / spmTrainSeconds, 3),
  bytesPerToken,
  spmBytesPerToken,
  bytesPerTokenByLang: { ours: oursByLang, spm: spmByLang },
  config: {
    quick: opts.quick,
    ranks: "cl100k_base (headline keys); o200k_base in `o200k`",
    encoders: Object.fromEntries(["ours", "tiktoken", "gptTokenizer"].map((n, i) => [n, ["@batgpt/tokenizer Tokenizer.fromTiktoken(ranks).encode", "js-tiktoken/lite new Tiktoken(ranks).encode", "gpt-tokenizer/encoding/<ranks> encode"][i]])),
    encodeText: {
      source: "train split of the default corpus (prepareCorpus), whole documents joined by a blank line; zh, en, mixed and warm-up slices are disjoint",
      zhMB: mbOf(texts.zh),
      enMB: mbOf(texts.en),
      mixedMB: mbOf(texts.mixed),
      mixedZhShare: "about half the bytes, documents alternated by language",
      warmupMB: mbOf(texts.warmup),
      tiktokenSliceMB: opts.tiktokenMB,
      tiktokenSlice: `js-tiktoken encodes only a ~${opts.tiktokenMB} MB prefix (whole documents) of each slice (it is ~0.5 MB/s on Chinese); its MB/s is measured on that prefix. ${opts.sameSlice ? "Ours and gpt-tokenizer are also timed on the same prefix (details.*.onTiktokenSlice)" : "Pass --same-slice to also time ours and gpt-tokenizer on that prefix"}`,
    },
    protocol:
      `${opts.protocol}: each encoder encodes the warm-up text once (JIT); then ${opts.repeats} timed repeats per slice, encoder order rotated each repeat. ` +
      "Before every timed run the encoder's caches are emptied (ours: fresh Tokenizer.fromTiktoken instance, which also drops its lazily filled pair table; " +
      "gpt-tokenizer: clearMergeCache(); js-tiktoken 1.0.21 has no cache), " +
      (opts.protocol === "primed"
        ? "then each encoder that has caches (ours, gpt-tokenizer) encodes the warm-up text again (disjoint from the timed text), "
        : "caches are left empty (cold), ") +
      `a full GC is run (${gcAvailable ? "available" : "NOT available"}), and one encode(text) call on the whole slice is timed; ` +
      "MB/s = UTF-8 bytes / 1e6 / median seconds. " +
      "idsIdentical: ours = gpt-tokenizer on each full slice and ours = js-tiktoken = gpt-tokenizer on each js-tiktoken slice (ids of the first repeat), for every ranks",
    cacheProtocol: opts.protocol,
    repeats: opts.repeats,
    encodeRatio: "min over zh/en/mixed of oursMBps / max(tiktokenMBps, gptTokenizerMBps)",
    train: {
      vocabSize: opts.vocabSize,
      trainedVocabSize: train.tokenizer.vocabSize,
      file: "train.txt of the corpus: non-blank lines, one text per line, the same file spm_train reads",
      MB: round(train.bytes / 1e6, 3),
      lines: train.lines,
      timed: "read file + split lines + trainBpe (pre-tokenization, counting, merges); single-threaded; corpus preparation excluded",
      corpusCaps: { maxChineseBytes: opts.maxChineseBytes ?? null, maxEnglishBytes: opts.maxEnglishBytes ?? null },
    },
    heldOut: { split: "val", lines: heldOut.length, zhMB: round(heldBytes.zh / 1e6, 3), enMB: round(heldBytes.en / 1e6, 3), oursTokens },
    spm: spmInfo,
    corpus: { dir: corpus.dir, key: corpus.manifest.key, trainMB: round(split.train.bytes / 1e6, 3), valMB: round(split.val.bytes / 1e6, 3) },
  },
  details: Object.fromEntries(encodeResults.map((r) => [r.ranks, detail(r)])),
  backend: "js",
  runtime: `node ${process.version}`,
  cores: availableParallelism(),
  machine: cpus()[0]?.model ?? "unknown",
  wallSeconds: round((performance.now() - wallStart) / 1000, 1),
  notes,
};
console.log(JSON.stringify(result));

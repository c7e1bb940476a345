/** Benchmark options: defaults in one place, overridable by argv (`--name=value`) or env (`BENCH_NAME`). */

/** Everything the tokenizer benchmark can be told. */
export interface BenchOptions {
  /** Small sizes for development (`--quick`, `BENCH_QUICK=1`). */
  quick: boolean;
  /** MB (10^6 UTF-8 bytes) of each of zh / en / mixed text encoded by ours and gpt-tokenizer. */
  encodeMB: number;
  /** MB of each slice given to js-tiktoken (a prefix of the same text; it is ~0.5 MB/s on Chinese). */
  tiktokenMB: number;
  /** Also time ours and gpt-tokenizer on the js-tiktoken slice (`--same-slice`; off by default, it adds ~40 s). */
  sameSlice: boolean;
  /** MB of text (disjoint from the timed slices) each encoder encodes once before timing. */
  warmupMB: number;
  /** Cache treatment before each timed encode: `primed` (default) or `cold`. */
  protocol: "primed" | "cold";
  /** Timed repeats per encoder and text; the median is reported. */
  repeats: number;
  /** Vocabulary size trained by ours and by SentencePiece. */
  vocabSize: number;
  /** Chinese / English caps passed to `prepareCorpus` (undefined: no cap, the full default corpus). */
  maxChineseBytes: number | undefined;
  maxEnglishBytes: number | undefined;
  /** Also benchmark o200k_base (reported in a nested object). */
  o200k: boolean;
  /** Run the SentencePiece comparison when `spm_train` is on PATH. */
  spm: boolean;
}

const HELP = `usage: npm run bench:tokenizer [-- options]
  --quick               small run for development (BENCH_QUICK=1)
  --encode-mb=N         MB of each of zh/en/mixed for ours and gpt-tokenizer (BENCH_ENCODE_MB, default 2)
  --tiktoken-mb=N       MB prefix of each slice for js-tiktoken (BENCH_TIKTOKEN_MB, default 0.5)
  --same-slice          also time ours and gpt-tokenizer on the js-tiktoken slice (BENCH_SAME_SLICE=1)
  --warmup-mb=N         MB of warm-up text per language (BENCH_WARMUP_MB, default 0.25)
  --protocol=P          primed (default): reset caches, encode the warm-up text, time unseen text;
                        cold: reset caches only (BENCH_PROTOCOL)
  --repeats=N           timed repeats, median reported, >= 3 (BENCH_REPEATS, default 5)
  --vocab-size=N        trained vocabulary size (BENCH_VOCAB_SIZE, default 8192)
  --max-chinese-bytes=N corpus cap (BENCH_MAX_CHINESE_BYTES, default none; quick 2e6)
  --max-english-bytes=N corpus cap (BENCH_MAX_ENGLISH_BYTES, default none; quick 1e6)
  --no-o200k            skip the o200k_base encode comparison (BENCH_O200K=0)
  --no-spm              skip SentencePiece even if spm_train is installed (BENCH_SPM=0)`;

function fail(msg: string): never {
  console.error(`bench:tokenizer: ${msg}\n${HELP}`);
  process.exit(2);
}

function positive(name: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    fail(`${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function flag(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  return !["0", "false", "no", "off", ""].includes(raw.toLowerCase());
}

/** Parse `process.argv` and `process.env` into {@link BenchOptions}. */
export function parseOptions(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const args = new Map<string, string>();
  for (const a of argv) {
    if (a === "--help" || a === "-h") {
      console.log(HELP);
      process.exit(0);
    }
    const m = /^--(no-)?([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unknown argument ${JSON.stringify(a)}`);
    args.set(m[2]!, m[1] ? "0" : (m[3] ?? "1"));
  }
  const known = new Set(["quick", "encode-mb", "tiktoken-mb", "same-slice", "warmup-mb", "protocol", "repeats", "vocab-size", "max-chinese-bytes", "max-english-bytes", "o200k", "spm"]);
  for (const k of args.keys()) if (!known.has(k)) fail(`unknown option --${k}`);
  const get = (name: string): string | undefined => args.get(name) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`];

  const quick = flag(get("quick")) ?? false;
  const num = (name: string, dflt: number, integer = false): number => {
    const raw = get(name);
    return raw === undefined ? dflt : positive(`--${name}`, raw, integer);
  };
  const cap = (name: string, dflt: number | undefined): number | undefined => {
    const raw = get(name);
    return raw === undefined ? dflt : positive(`--${name}`, raw, true);
  };
  const repeats = num("repeats", quick ? 3 : 5, true);
  if (repeats < 3) fail("--repeats must be at least 3 (the median of at least 3 runs is reported)");
  const protocol = get("protocol") ?? "primed";
  if (protocol !== "primed" && protocol !== "cold") fail(`--protocol must be primed or cold, got ${JSON.stringify(protocol)}`);
  const opts: BenchOptions = {
    protocol,
    quick,
    encodeMB: num("encode-mb", quick ? 0.3 : 2),
    tiktokenMB: num("tiktoken-mb", quick ? 0.1 : 0.5),
    sameSlice: flag(get("same-slice")) ?? false,
    warmupMB: num("warmup-mb", quick ? 0.05 : 0.25),
    repeats,
    vocabSize: num("vocab-size", 8192, true),
    maxChineseBytes: cap("max-chinese-bytes", quick ? 2_000_000 : undefined),
    maxEnglishBytes: cap("max-english-bytes", quick ? 1_000_000 : undefined),
    o200k: flag(get("o200k")) ?? true,
    spm: flag(get("spm")) ?? true,
  };
  if (opts.tiktokenMB > opts.encodeMB) opts.tiktokenMB = opts.encodeMB;
  return opts;
}

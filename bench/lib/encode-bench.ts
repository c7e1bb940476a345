/** Encode throughput of ours vs js-tiktoken vs gpt-tokenizer on the same ranks and the same text. */

import { prefixOf, type EncodeTexts, type Slice } from "./corpus.js";
import { makeEncoders, type RanksName } from "./encoders.js";
import { fullGc, log, median, round, timed } from "./timing.js";

/** A number per text kind. */
export interface PerLang {
  zh: number;
  en: number;
  mixed: number;
}

const LANGS = ["zh", "en", "mixed"] as const;
type Lang = (typeof LANGS)[number];

/** Encode results for one set of ranks. */
export interface EncodeResult {
  ranks: RanksName;
  oursMBps: PerLang;
  tiktokenMBps: PerLang;
  gptTokenizerMBps: PerLang;
  /** min over zh/en/mixed of ours / max(tiktoken, gptTokenizer), from the three numbers above. */
  encodeRatio: number;
  /** All three encoders on the smaller js-tiktoken slice (only with `sameSlice`). */
  onTiktokenSlice: { oursMBps: PerLang; gptTokenizerMBps: PerLang; tiktokenMBps: PerLang } | null;
  /** Ours = gpt-tokenizer on every full slice and ours = js-tiktoken = gpt-tokenizer on every js-tiktoken slice. */
  idsIdentical: boolean;
  /** Our token count on each full slice, and UTF-8 bytes per token. */
  tokens: PerLang;
  bytesPerToken: PerLang;
  /** Per-run seconds, for the curious: encoder → lang → [full-slice runs] (js-tiktoken: its slice). */
  runsSeconds: Record<string, Record<Lang, number[]>>;
  mismatches: string[];
}

function sameIds(a: readonly number[], b: readonly number[]): string | undefined {
  if (a.length !== b.length) {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return `lengths ${a.length} vs ${b.length}, first difference at ${i}`;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at token ${i}: ${a[i]} vs ${b[i]}`;
  return undefined;
}

function perLang(f: (l: Lang) => number): PerLang {
  return { zh: f("zh"), en: f("en"), mixed: f("mixed") };
}

/**
 * How caches are treated before each timed run. `primed`: reset, then encode the warm-up text
 * (disjoint from the timed text) so each encoder's caches hold the same unrelated text, as in a
 * long-running process meeting new text. `cold`: reset only, every cache empty.
 */
export type CacheProtocol = "primed" | "cold";

/**
 * Protocol: each encoder first encodes the warm-up text once (disjoint from the timed text, for the
 * JIT). Then for each repeat, in an order rotated every repeat, each encoder is reset (caches
 * emptied), primed with the warm-up text if the protocol says so and it has caches, a full GC is
 * run, and one `encode(text)` call on the whole slice is timed. Ours and gpt-tokenizer get the full
 * slice (and, with `sameSlice`, also the js-tiktoken slice); js-tiktoken gets its slice only: a
 * prefix of whole documents of the same text. The ids of repeat 0 are compared across encoders.
 * MB/s = UTF-8 MB of the slice / median seconds.
 */
export async function benchEncode(
  ranks: RanksName,
  texts: EncodeTexts,
  tiktokenMB: number,
  repeats: number,
  protocol: CacheProtocol,
  sameSlice: boolean,
): Promise<EncodeResult> {
  const encoders = await makeEncoders(ranks);
  for (const e of encoders) {
    e.reset();
    const [, s] = timed(() => e.encode(texts.warmup.text));
    log(`${ranks} warm-up ${e.name}: ${round(texts.warmup.bytes / 1e6 / s, 2)} MB/s on ${round(texts.warmup.bytes / 1e6, 2)} MB`);
  }
  type Runs = Record<string, Record<Lang, number[]>>;
  const full: Runs = {};
  const small: Runs = {};
  for (const e of encoders) {
    full[e.name] = { zh: [], en: [], mixed: [] };
    small[e.name] = { zh: [], en: [], mixed: [] };
  }
  const mismatches: string[] = [];
  const tokens: PerLang = { zh: 0, en: 0, mixed: 0 };
  const smallSlices = {} as Record<Lang, Slice>;
  const mbps = (runs: Runs, e: string, lang: Lang, slice: Slice): number => round(slice.bytes / 1e6 / median(runs[e]![lang]), 2);
  for (const lang of LANGS) {
    const big = texts[lang];
    const little = prefixOf(big, tiktokenMB);
    smallSlices[lang] = little;
    for (let r = 0; r < repeats; r++) {
      // ids of repeat 0, by encoder and slice, for the identity check
      const ids = new Map<string, number[]>();
      const order = encoders.map((_, i) => encoders[(i + r) % encoders.length]!);
      for (const e of order) {
        const runs: [Slice, Runs, "full" | "small"][] = [];
        if (e.name !== "tiktoken") runs.push([big, full, "full"]);
        if (e.name === "tiktoken" || sameSlice) runs.push([little, small, "small"]);
        for (const [slice, into, kind] of runs) {
          e.reset();
          if (protocol === "primed" && e.cached) e.encode(texts.warmup.text);
          fullGc();
          const [out, s] = timed(() => e.encode(slice.text));
          into[e.name]![lang].push(s);
          if (r === 0) ids.set(`${e.name} ${kind}`, out);
        }
      }
      if (r > 0) continue;
      // untimed: the js-tiktoken slice through ours and gpt-tokenizer, if not timed above
      for (const e of encoders) {
        if (!ids.has(`${e.name} small`)) {
          e.reset();
          ids.set(`${e.name} small`, e.encode(little.text));
        }
      }
      const compare = (a: string, b: string): void => {
        const why = sameIds(ids.get(a)!, ids.get(b)!);
        if (why !== undefined) mismatches.push(`${lang}: ${a} slice vs ${b} slice: ${why}`);
      };
      compare("ours full", "gptTokenizer full");
      compare("ours small", "tiktoken small");
      compare("ours small", "gptTokenizer small");
      tokens[lang] = ids.get("ours full")!.length;
    }
    log(
      `${ranks} ${protocol} ${lang}: ours ${mbps(full, "ours", lang, big)} MB/s, gpt-tokenizer ${mbps(full, "gptTokenizer", lang, big)} MB/s ` +
        `on ${round(big.bytes / 1e6, 2)} MB; js-tiktoken ${mbps(small, "tiktoken", lang, little)} MB/s on ${round(little.bytes / 1e6, 2)} MB` +
        (sameSlice ? ` (there: ours ${mbps(small, "ours", lang, little)}, gpt-tokenizer ${mbps(small, "gptTokenizer", lang, little)} MB/s)` : ""),
    );
  }
  const mb = (runs: Runs, e: string, slices: Record<Lang, Slice>): PerLang => perLang((l) => mbps(runs, e, l, slices[l]));
  const oursMBps = mb(full, "ours", texts);
  const gptTokenizerMBps = mb(full, "gptTokenizer", texts);
  const tiktokenMBps = mb(small, "tiktoken", smallSlices);
  const encodeRatio = round(Math.min(...LANGS.map((l) => oursMBps[l] / Math.max(tiktokenMBps[l], gptTokenizerMBps[l]))), 3);
  const runsSeconds: Runs = {};
  for (const e of encoders) {
    const src = e.name === "tiktoken" ? small : full;
    runsSeconds[e.name] = perLangArrays((l) => src[e.name]![l].map((s) => round(s, 4)));
  }
  return {
    ranks,
    oursMBps,
    tiktokenMBps,
    gptTokenizerMBps,
    encodeRatio,
    onTiktokenSlice: sameSlice ? { oursMBps: mb(small, "ours", smallSlices), gptTokenizerMBps: mb(small, "gptTokenizer", smallSlices), tiktokenMBps } : null,
    idsIdentical: mismatches.length === 0,
    tokens,
    bytesPerToken: perLang((l) => round(texts[l].bytes / tokens[l], 3)),
    runsSeconds,
    mismatches,
  };
}

function perLangArrays(f: (l: Lang) => number[]): Record<Lang, number[]> {
  return { zh: f("zh"), en: f("en"), mixed: f("mixed") };
}


/**
 * What the tokenizer stage shows: vocabulary size, compression on held-out Chinese and
 * English text, the longest Chinese tokens learned, and a few lines cut into tokens.
 */
import type { Tokenizer } from "@batgpt/tokenizer";
import type { CorpusDocument } from "@batgpt/datasets";

/** UTF-8 bytes per token of `docs` under `tok`. */
export function bytesPerToken(tok: Tokenizer, docs: readonly CorpusDocument[]): number {
  let bytes = 0;
  let tokens = 0;
  for (const d of docs) {
    bytes += Buffer.byteLength(d.text);
    tokens += tok.encodeOrdinary(d.text).length;
  }
  return tokens === 0 ? 0 : bytes / tokens;
}

/** A line cut into its tokens, `|` between them; tokens that end mid-character show their bytes. */
export function showTokens(tok: Tokenizer, line: string): string {
  const parts: string[] = [];
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  for (const id of tok.encodeOrdinary(line)) {
    const bytes = tok.idToBytes(id);
    try {
      parts.push(fatal.decode(bytes));
    } catch {
      parts.push(`<${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")}>`);
    }
  }
  return parts.join("|");
}

/** The `n` longest tokens made only of Han characters, longest first. */
export function longestChineseTokens(tok: Tokenizer, n: number): string[] {
  const han = /^[\u3400-\u4dbf\u4e00-\u9fff]+$/u;
  const dec = new TextDecoder("utf-8", { fatal: false });
  const found: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    if ([...tok.specialTokens.values()].includes(id)) continue;
    const text = dec.decode(tok.idToBytes(id));
    if (han.test(text) && text.length >= 2) found.push(text);
  }
  return found.sort((a, b) => b.length - a.length || a.localeCompare(b, "zh")).slice(0, n);
}

export interface TokenizerReport {
  vocabSize: number;
  bytesPerTokenZh: number;
  /** Null when the corpus has no English (the regular-verse subset). */
  bytesPerTokenEn: number | null;
  trainSeconds: number;
  trainMB: number;
}

/** Print the report to stdout and return its headline numbers. */
export function printTokenizerReport(
  tok: Tokenizer,
  heldOut: readonly CorpusDocument[],
  trainSeconds: number,
  trainBytes: number,
): TokenizerReport {
  const zh = heldOut.filter((d) => d.lang === "zh");
  const en = heldOut.filter((d) => d.lang === "en");
  const report: TokenizerReport = {
    vocabSize: tok.vocabSize,
    bytesPerTokenZh: round(bytesPerToken(tok, zh)),
    bytesPerTokenEn: en.length === 0 ? null : round(bytesPerToken(tok, en)),
    trainSeconds: round(trainSeconds),
    trainMB: round(trainBytes / 1e6),
  };
  console.log(`\nvocabulary: ${tok.vocabSize} tokens (256 bytes, ${tok.vocabSize - 256 - tok.specialTokens.size} merges, ${tok.specialTokens.size} special)`);
  console.log(`trained on ${report.trainMB} MB in ${report.trainSeconds} s`);
  console.log(`held-out compression: Chinese ${report.bytesPerTokenZh} bytes/token (${zh.length} docs)` + (en.length > 0 ? `, English ${report.bytesPerTokenEn} bytes/token (${en.length} docs)` : ""));
  console.log(`  (a Han character is 3 bytes: ${round(report.bytesPerTokenZh / 3)} characters per token)`);
  console.log(`longest Chinese tokens: ${longestChineseTokens(tok, 12).join(" ")}`);
  console.log("a few held-out lines, cut into tokens:");
  const samples = [
    ...zh.slice(0, 3).map((d) => d.text.split("\n").find((l) => l.length >= 5) ?? d.text),
    ...en.slice(0, 2).map((d) => d.text.slice(0, 100)),
  ];
  for (const line of samples) console.log(`  ${showTokens(tok, line)}`);
  return report;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Loading tiktoken rank files, in the shape `js-tiktoken` ships them. */

import { latin1ToBytes } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import type { TokenizerSpec } from "./spec.js";

/**
 * A tiktoken rank object as `js-tiktoken` ships it, e.g. the default export of
 * `js-tiktoken/ranks/cl100k_base`.
 */
export interface TiktokenRanks {
  /** The pre-tokenization pattern. */
  pat_str: string;
  /** Special tokens and their ids. */
  special_tokens: Record<string, number>;
  /** Compressed ranks: lines of `<tag> <first rank> <base64 token> <base64 token> …`. */
  bpe_ranks: string;
}

/** Parse tiktoken ranks into a {@link TokenizerSpec} (ranks semantics: the rank is the id). */
export function parseTiktokenRanks(
  ranks: TiktokenRanks,
  extraSpecialTokens: Readonly<Record<string, number>> = {},
): TokenizerSpec {
  if (
    !ranks ||
    typeof ranks.pat_str !== "string" ||
    typeof ranks.bpe_ranks !== "string" ||
    typeof ranks.special_tokens !== "object"
  ) {
    throw new TokenizerError(
      "tiktoken ranks must be an object { pat_str: string, special_tokens: object, bpe_ranks: string }, " +
        "such as the default export of js-tiktoken/ranks/cl100k_base",
    );
  }
  const tokens: Uint8Array[] = [];
  const lines = ranks.bpe_ranks.split("\n");
  lines.forEach((line, lineNo) => {
    if (!line) return;
    const fields = line.split(" ");
    const offset = Number(fields[1]);
    if (fields.length < 2 || !Number.isInteger(offset) || offset < 0) {
      throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} does not start with '<tag> <rank>'`);
    }
    for (let i = 2; i < fields.length; i++) {
      let binary: string;
      try {
        binary = atob(fields[i]!);
      } catch {
        throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} has a token that is not base64: ${fields[i]}`);
      }
      tokens[offset + i - 2] = latin1ToBytes(binary);
    }
  });
  const specialTokens = { ...ranks.special_tokens, ...extraSpecialTokens };
  return { tokens, pattern: ranks.pat_str, specialTokens, ignoreMerges: true };
}

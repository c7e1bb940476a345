/** Loading tiktoken rank files, in the shape `js-tiktoken` ships them. */

import { parseOptions } from "@batgpt/utils/options";
import { z } from "zod";
import { latin1ToBytes } from "./bytes.js";
import { TokenizerError } from "./errors.js";
import { compilePattern } from "./patterns.js";
import { MAX_VOCAB_SIZE, type TokenizerSpec } from "./spec.js";

const specialTokensSchema = z.record(
  z.string().min(1, "a special token cannot be the empty string"),
  z.number().int().nonnegative().max(MAX_VOCAB_SIZE - 1, `ids above ${MAX_VOCAB_SIZE - 1} are not supported`),
);

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

/**
 * Parse tiktoken ranks into a {@link TokenizerSpec} (ranks semantics: the rank is the id).
 *
 * @throws {@link TokenizerError} naming the line or special token, for malformed ranks, a rank
 *   not below {@link MAX_VOCAB_SIZE}, or a bad special token.
 */
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
  compilePattern(ranks.pat_str, "tiktoken ranks: pat_str");
  const tokens: Uint8Array[] = [];
  const lines = ranks.bpe_ranks.split("\n");
  lines.forEach((line, lineNo) => {
    if (!line) return;
    const fields = line.split(" ");
    const offset = Number(fields[1]);
    if (fields.length < 2 || !Number.isInteger(offset) || offset < 0) {
      throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} does not start with '<tag> <rank>'`);
    }
    if (offset + fields.length - 2 > MAX_VOCAB_SIZE) {
      throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} has ranks above ${MAX_VOCAB_SIZE - 1}, the largest id this package supports`);
    }
    for (let i = 2; i < fields.length; i++) {
      let binary: string;
      try {
        binary = atob(fields[i]!);
      } catch {
        throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} has a token that is not base64: ${fields[i]}`);
      }
      if (binary.length === 0) throw new TokenizerError(`tiktoken ranks: line ${lineNo + 1} has an empty token`);
      tokens[offset + i - 2] = latin1ToBytes(binary);
    }
  });
  const specialTokens = {
    ...parseOptions(specialTokensSchema, ranks.special_tokens, "tiktoken ranks special_tokens", TokenizerError),
    ...parseOptions(specialTokensSchema, extraSpecialTokens, "Tokenizer.fromTiktoken extraSpecialTokens", TokenizerError),
  };
  return { tokens, pattern: ranks.pat_str, specialTokens, ignoreMerges: true };
}

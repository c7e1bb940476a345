import { TokenizerError } from "./errors.js";

/**
 * Pre-tokenization patterns. Text is first cut into pieces by one of these regular
 * expressions (compiled with the `u` and `g` flags); BPE merges never cross a piece.
 *
 * The patterns use only syntax that JavaScript's `u` mode and Oniguruma (the engine of
 * Hugging Face `tokenizers`) read the same way, so a saved `tokenizer.json` cuts text
 * exactly as this package does. Case-insensitive contractions are spelled out because
 * Node 20 has no inline `(?i:)` groups.
 */

/** GPT-2's pattern (`r50k_base`, `p50k_base`). */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** GPT-4's pattern (`cl100k_base`), as `js-tiktoken` ships it. */
export const CL100K_PATTERN =
  "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Han ideographs: the CJK Unified Ideographs with extensions A–H, the compatibility
 * blocks, and 〇. Written as literal ranges so both regex engines agree.
 */
const HAN = "\u3007\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\u{20000}-\u{323AF}";

/**
 * The default BatGPT.js pattern: GPT-4's, with runs of Han characters cut out as pieces
 * of their own. In GPT-4's pattern `\p{L}+` lumps Han and Latin letters together and
 * glues the preceding punctuation mark to a Chinese phrase (`，明月`), so Chinese merges
 * learn punctuation-phrase pairs. Here a Han run is its own piece (`明月`), letters of
 * other scripts form words as in GPT-4, and punctuation (`，` `。`) stands alone.
 */
export const BATGPT_PATTERN =
  `[${HAN}]+` +
  "|'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])" +
  `|[^\\r\\n\\p{L}\\p{N}]?(?:(?![${HAN}])[\\p{L}\\p{M}])+` +
  "|\\p{N}{1,3}" +
  "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" +
  "|\\s*[\\r\\n]+" +
  "|\\s+(?!\\S)" +
  "|\\s+";

/** Compile a pre-tokenization pattern, with a clear error if it is not a valid `u`-mode regex. */
export function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "gu");
  } catch (err) {
    throw new TokenizerError(`invalid pre-tokenization pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

import type { BpeModel } from "./bpe.js";

/**
 * The largest number of ids a tokenizer may have: every id (ordinary, special or added) is
 * below 2^24 (16,777,216). Ids index typed arrays and the trainer's pair keys; the largest
 * vocabularies in use are under 300,000.
 */
export const MAX_VOCAB_SIZE = 2 ** 24;

/**
 * A token matched in the text before pre-tokenization, as Hugging Face's `added_tokens`:
 * its text never goes through BPE, it becomes its id.
 */
export interface AddedTokenSpec {
  /** The text that is matched (non-empty, well-formed). */
  content: string;
  /** Its id: a new id, or the id of the ordinary token with the same bytes. */
  id: number;
  /**
   * `true`: a special token, encoded as its id only where `encode`'s `allowedSpecial` option
   * allows it. `false` (default): matched everywhere it occurs, in `encode` and
   * `encodeOrdinary`, as Hugging Face does.
   */
  special?: boolean;
  /** Also swallow the whitespace just before the token (Hugging Face `lstrip`). Default false. */
  lstrip?: boolean;
  /** Also swallow the whitespace just after the token (Hugging Face `rstrip`). Default false. */
  rstrip?: boolean;
  /**
   * Match only where the token is not inside a word: no word character (letter, mark, digit,
   * connector) just before or after it (Hugging Face `single_word`). Default false.
   */
  singleWord?: boolean;
  /**
   * Hugging Face `normalized`: match after the normalizer. This package reads no normalizer, so
   * the only effect is Hugging Face's order: tokens with `normalized: false` are matched first,
   * then tokens with `normalized: true` in the text between them. Default `!special`.
   */
  normalized?: boolean;
}

/** An added token with every flag resolved (see {@link AddedTokenSpec}). */
export interface AddedToken {
  readonly content: string;
  readonly id: number;
  readonly special: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly singleWord: boolean;
  readonly normalized: boolean;
}

/** Everything a {@link Tokenizer} is made of; what `tokenizer.json` and tiktoken ranks load into. */
export interface TokenizerSpec extends BpeModel {
  /** Pre-tokenization regex (JavaScript `u` mode source, no flags). */
  pattern: string;
  /**
   * Special tokens: their text and id. An id must not be an ordinary token's, unless that
   * token's bytes are the special token's UTF-8 text.
   */
  specialTokens: Readonly<Record<string, number>>;
  /**
   * More added tokens, and the flags of special ones: an entry with `special: true` (or whose
   * content is in `specialTokens`, with the same id) is a special token.
   */
  addedTokens?: readonly AddedTokenSpec[];
}

/**
 * Call `fn` for every id that has a token, in id order. Fast for dense arrays and for sparse
 * ones alike (a vocabulary with one id near {@link MAX_VOCAB_SIZE} and a few hundred tokens
 * is visited in time proportional to its tokens, not its largest id).
 */
export function forEachToken(
  tokens: ReadonlyArray<Uint8Array | undefined>,
  fn: (bytes: Uint8Array, id: number) => void,
): void {
  if (tokens.length <= 1 << 20) {
    for (let id = 0; id < tokens.length; id++) {
      const t = tokens[id];
      if (t !== undefined) fn(t, id);
    }
    return;
  }
  for (const key of Object.keys(tokens)) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0) continue;
    const t = tokens[id];
    if (t !== undefined) fn(t, id);
  }
}

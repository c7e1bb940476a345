import type { BpeModel } from "./bpe.js";

/** Everything a {@link Tokenizer} is made of; what `tokenizer.json` and tiktoken ranks load into. */
export interface TokenizerSpec extends BpeModel {
  /** Pre-tokenization regex (JavaScript `u` mode source, no flags). */
  pattern: string;
  /** Special tokens: their text and id. Ids must not collide with ordinary tokens. */
  specialTokens: Readonly<Record<string, number>>;
}

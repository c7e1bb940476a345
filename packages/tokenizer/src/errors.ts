/**
 * The error every `@batgpt/tokenizer` function throws for bad input: a corrupt
 * `tokenizer.json`, an unknown special token, a lone surrogate, an id out of range.
 * The message says what was wrong and where.
 */
export class TokenizerError extends Error {
  override name = "TokenizerError";
}

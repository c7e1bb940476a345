/**
 * The special tokens every BatGPT.js tokenizer reserves. They are never produced by
 * ordinary text unless the caller allows them in `encode(text, { allowedSpecial })`.
 */
export const SPECIAL_TOKENS = {
  /** Beginning of a document. */
  bos: "<|bos|>",
  /** End of a document. */
  eos: "<|eos|>",
  /** Padding for batches. */
  pad: "<|pad|>",
  /** Direction token: the sequence that follows is read left to right (next-token prediction). */
  l2r: "<|l2r|>",
  /** Direction token: the sequence that follows is read right to left (previous-token prediction). */
  r2l: "<|r2l|>",
  /** Chat role marker: a system turn follows. */
  system: "<|system|>",
  /** Chat role marker: a user turn follows. */
  user: "<|user|>",
  /** Chat role marker: an assistant turn follows. */
  assistant: "<|assistant|>",
  /** End of one chat turn. */
  eot: "<|eot|>",
} as const;

/** The reserved special tokens in id order (they follow the ordinary vocabulary). */
export const RESERVED_SPECIAL_TOKENS: readonly string[] = Object.values(SPECIAL_TOKENS);

/**
 * Streaming decoder: turns token ids into text one id at a time, as a model generates
 * them. A Chinese character is three UTF-8 bytes and a token may end in the middle of
 * one; the decoder holds incomplete bytes back until the character is whole, so the
 * concatenated output equals `decode(allIds)`.
 */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
  private readonly bytesOf: (ids: readonly number[]) => Uint8Array;

  /** @param bytesOf maps ids to their bytes (a tokenizer's `decodeBytes`). */
  constructor(bytesOf: (ids: readonly number[]) => Uint8Array) {
    this.bytesOf = bytesOf;
  }

  /** Add one id (or several) and return the text that is now complete (may be `""`). */
  push(ids: number | readonly number[]): string {
    return this.utf8.decode(this.bytesOf(typeof ids === "number" ? [ids] : ids), { stream: true });
  }

  /** End the stream: returns what is left, with U+FFFD for a trailing incomplete character. */
  flush(): string {
    return this.utf8.decode();
  }
}

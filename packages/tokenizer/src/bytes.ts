/** Byte-level helpers: UTF-8 encoding into a reusable buffer, and GPT-2's byte ↔ character map. */

import { TokenizerError } from "./errors.js";

/**
 * Encode `s` as UTF-8 into `buf` starting at 0; returns the byte length, or -1 if `buf`
 * is too small. Hand-written because `TextEncoder.encodeInto` costs more than the work
 * for the short pieces a pre-tokenizer yields. `s` must be well-formed (no lone surrogates).
 */
export function utf8Encode(s: string, buf: Uint8Array): number {
  const n = s.length;
  if (buf.length < n * 3) return -1;
  let j = 0;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[j++] = c;
    } else if (c < 0x800) {
      buf[j++] = 0xc0 | (c >> 6);
      buf[j++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(++i);
      c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      buf[j++] = 0xf0 | (c >> 18);
      buf[j++] = 0x80 | ((c >> 12) & 0x3f);
      buf[j++] = 0x80 | ((c >> 6) & 0x3f);
      buf[j++] = 0x80 | (c & 0x3f);
    } else {
      buf[j++] = 0xe0 | (c >> 12);
      buf[j++] = 0x80 | ((c >> 6) & 0x3f);
      buf[j++] = 0x80 | (c & 0x3f);
    }
  }
  return j;
}

/** Throw a {@link TokenizerError} naming the first lone surrogate in `s`, if it has one. */
export function assertWellFormed(s: string, what = "text"): void {
  if (s.isWellFormed()) return;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    } else if (!(c >= 0xdc00 && c <= 0xdfff)) {
      continue;
    }
    throw new TokenizerError(
      `${what} contains a lone surrogate U+${c.toString(16).toUpperCase().padStart(4, "0")} at index ${i}; ` +
        "it has no UTF-8 encoding (use String.prototype.toWellFormed() to replace it with U+FFFD)",
    );
  }
}

/** A byte string as a "binary" string: one char per byte (char code = byte value). */
export function bytesToLatin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Inverse of {@link bytesToLatin1}. */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** `Uint8Array` bytes to a UTF-8 string, or `undefined` if they are not valid UTF-8. */
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
export function tryDecodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

let byteToCharCache: string[] | undefined;
let charToByteCache: Map<string, number> | undefined;

/**
 * GPT-2's reversible map from the 256 byte values to printable characters, used by the
 * Hugging Face `ByteLevel` pre-tokenizer to spell byte-level tokens in `tokenizer.json`
 * (a space is `Ġ`, a newline `Ċ`).
 */
export function byteToUnicode(): string[] {
  if (byteToCharCache) return byteToCharCache;
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i]!)));
  byteToCharCache = table;
  return table;
}

/** Spell bytes the way `tokenizer.json` does (see {@link byteToUnicode}). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  const table = byteToUnicode();
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += table[bytes[i]!];
  return s;
}

/** Inverse of {@link bytesToByteLevel}; `undefined` if `s` has a character outside the map. */
export function byteLevelToBytes(s: string): Uint8Array | undefined {
  if (!charToByteCache) {
    charToByteCache = new Map(byteToUnicode().map((c, b) => [c, b]));
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = charToByteCache.get(s[i]!);
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

/**
 * Added tokens (Hugging Face `added_tokens`, special or not): found in the text before
 * pre-tokenization, leftmost first and longest at a position, as Hugging Face `tokenizers`
 * does (Aho-Corasick, leftmost-longest), with its `lstrip`, `rstrip` and `single_word` rules.
 */

import type { AddedToken } from "./spec.js";

/** Unicode `White_Space` (Rust's `char::is_whitespace`, the `\s` of the `regex` crate); all in the BMP. */
export function isWhiteSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** A word character as the Rust `regex` crate's Unicode `\w` has it. */
const WORD = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;

function isSurrogatePair(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  const d = text.charCodeAt(i + 1);
  return c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff;
}

/** Whether the code point that ends at `i` is a word character. */
function wordBefore(text: string, i: number): boolean {
  const from = i >= 2 && isSurrogatePair(text, i - 2) ? i - 2 : i - 1;
  return WORD.test(text.slice(from, i));
}

/** Whether the code point that starts at `i` is a word character. */
function wordAt(text: string, i: number): boolean {
  return WORD.test(text.slice(i, isSurrogatePair(text, i) ? i + 2 : i + 1));
}

/** What `encode` does with a matched added token: emit its id. */
export const EMIT = 0;
/** What `encode` does with a matched added token: throw (a disallowed special token). */
export const THROW = 1;
/** What `encode` does with a matched added token: leave its text to be encoded as ordinary text. */
export const TEXT = 2;

/** The most UTF-16 units all added tokens' contents may have together (bounds the trie's memory). */
export const MAX_ADDED_UNITS = 1 << 20;
/** Up to this many tokens (of this many UTF-16 units in all), a regex finds them (faster than the trie). */
const REGEX_TOKENS = 512;
const REGEX_UNITS = 1 << 16;

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/**
 * Finds added tokens in text: a regex of the tokens, longest first (the engine skips text
 * that cannot start a token quickly), or for many tokens a trie over UTF-16 units with a
 * table of the units tokens start with. A search costs O(text length × longest token) at worst.
 */
export class AddedTokenMatcher {
  /** The tokens, in the order given; `find` returns an index into this list. */
  readonly tokens: readonly AddedToken[];
  /** Start and end (exclusive) of the last match. */
  start = 0;
  end = 0;
  private readonly first = new Uint8Array(65536);
  /** Trie: the child of node n by UTF-16 unit c is `edges.get(n * 65536 + c)`; the token index that ends at a node, or -1. */
  private readonly edges = new Map<number, number>();
  private readonly terminal: number[] = [-1];
  /** For few tokens: their alternation, longest first, so a match is the leftmost-longest one. */
  private readonly re: RegExp | undefined;
  private readonly indexOf = new Map<string, number>();

  constructor(tokens: readonly AddedToken[]) {
    this.tokens = tokens;
    tokens.forEach((t, index) => {
      let node = 0;
      for (let i = 0; i < t.content.length; i++) {
        const key = node * 65536 + t.content.charCodeAt(i);
        let child = this.edges.get(key);
        if (child === undefined) {
          child = this.terminal.length;
          this.terminal.push(-1);
          this.edges.set(key, child);
        }
        node = child;
      }
      this.terminal[node] = index;
      this.first[t.content.charCodeAt(0)] = 1;
      this.indexOf.set(t.content, index);
    });
    const units = tokens.reduce((n, t) => n + t.content.length, 0);
    if (tokens.length <= REGEX_TOKENS && units <= REGEX_UNITS) {
      const sorted = tokens.map((t) => t.content).sort((a, b) => b.length - a.length);
      this.re = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
    }
  }

  /**
   * The leftmost, then longest, token that lies within `text[from, to)`: its index (and
   * {@link start}, {@link end}), or -1.
   */
  find(text: string, from: number, to: number): number {
    const re = this.re;
    if (re === undefined) return this.findInTrie(text, from, to);
    re.lastIndex = from;
    const m = re.exec(text);
    if (m === null || m.index >= to) return -1;
    const end = m.index + m[0].length;
    // a token that runs past `to`: the first one within lies at or after this position
    if (end > to) return this.findInTrie(text, m.index, to);
    this.start = m.index;
    this.end = end;
    return this.indexOf.get(m[0])!;
  }

  private findInTrie(text: string, from: number, to: number): number {
    const first = this.first;
    const edges = this.edges;
    const terminal = this.terminal;
    for (let i = from; i < to; i++) {
      if (first[text.charCodeAt(i)] === 0) continue;
      let node = 0;
      let best = -1;
      let bestEnd = i;
      for (let j = i; j < to; j++) {
        const child = edges.get(node * 65536 + text.charCodeAt(j));
        if (child === undefined) break;
        node = child;
        const t = terminal[node]!;
        if (t >= 0) {
          best = t;
          bestEnd = j + 1;
        }
      }
      if (best >= 0) {
        this.start = i;
        this.end = bestEnd;
        return best;
      }
    }
    return -1;
  }

  /**
   * Split `text[from, to)` as Hugging Face's added vocabulary does: each token found (that
   * `action` does not leave as text) goes to `onToken`, the text between them to `onText`.
   *
   * @param action what to do with each token, by index; for {@link THROW} `onToken` is
   *   called with `disallowed` true (before any strip rule) and should throw.
   */
  split(
    text: string,
    from: number,
    to: number,
    action: Uint8Array,
    onText: (start: number, end: number) => void,
    onToken: (token: AddedToken, start: number, disallowed: boolean) => void,
  ): void {
    let done = from; // text before `done` has been given out
    let at = from; // where the next search starts; strictly increases
    while (at < to) {
      const k = this.find(text, at, to);
      if (k < 0) break;
      let start = this.start;
      let end = this.end;
      at = end;
      const act = action[k]!;
      if (act === TEXT) continue;
      const t = this.tokens[k]!;
      if (act === THROW) {
        onToken(t, start, true);
        continue;
      }
      if (t.singleWord && ((start > from && wordBefore(text, start)) || (end < to && wordAt(text, end)))) continue;
      if (t.lstrip) while (start > done && isWhiteSpace(text.charCodeAt(start - 1))) start--;
      if (t.rstrip) while (end < to && isWhiteSpace(text.charCodeAt(end))) end++;
      if (start > done) onText(done, start);
      onToken(t, start, false);
      // as Rust's `find_matches`: the matches are those of the original text, so whitespace an
      // rstrip swallowed can still start the next token (their spans then overlap)
      done = end;
    }
    if (done < to) onText(done, to);
  }
}

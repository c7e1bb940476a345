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

/**
 * Compile a pre-tokenization pattern (`g` and `u` flags).
 *
 * @param where names the field or option the pattern came from, for the error message.
 * @throws {@link TokenizerError} if it is not a valid `u`-mode regex, or if it has a repeated
 *   group that itself contains a repetition (see {@link nestedRepetition}).
 */
export function compilePattern(pattern: string, where = "pre-tokenization pattern"): RegExp {
  if (typeof pattern !== "string") throw new TokenizerError(`${where} must be a string, got ${typeof pattern}`);
  let re: RegExp;
  try {
    re = new RegExp(pattern, "gu");
  } catch (err) {
    throw new TokenizerError(`${where}: invalid pre-tokenization pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  const nested = nestedRepetition(pattern);
  if (nested !== undefined) {
    throw new TokenizerError(
      `${where}: the pre-tokenization pattern ${JSON.stringify(pattern)} repeats a group that itself repeats ` +
        `(${JSON.stringify(nested)}); such patterns can backtrack for exponential time on some texts, so they are refused`,
    );
  }
  return re;
}

/**
 * The first group in a (valid, `u`-mode) regex source that is repeated a variable number of
 * times (`*`, `+`, `{n,}`, `{n,m}` with m > n, m > 1) and itself contains such a repetition,
 * such as `(a+)+`, `(?:\s*\w+)*` or `(?:\d{1,3})+`: the shape behind most catastrophic
 * backtracking. `undefined` if there is none. A heuristic: it finds the common shapes, not
 * every slow pattern (`(a|a)+` is slow too). The patterns of GPT-2, GPT-4, GPT-4o, Llama 3,
 * Qwen 2 and this package have none.
 */
export function nestedRepetition(source: string): string | undefined {
  // one frame per open group: where it starts and whether a repetition occurs inside it
  const stack: { start: number; repeats: boolean }[] = [{ start: 0, repeats: false }];
  // the atom a quantifier would apply to: a closed group (with its frame) or anything else
  let lastGroup: { start: number; repeats: boolean } | undefined;
  const n = source.length;
  let i = 0;
  while (i < n) {
    const c = source[i]!;
    if (c === "\\") {
      // an escape: \p{..}, \u{..}, \x.., \c., or one character
      const d = source[i + 1];
      if ((d === "p" || d === "P" || d === "u" || d === "k") && (source[i + 2] === "{" || source[i + 2] === "<")) {
        const close = source.indexOf(source[i + 2] === "{" ? "}" : ">", i + 3);
        i = close < 0 ? n : close + 1;
      } else {
        i += 2;
      }
      lastGroup = undefined;
      continue;
    }
    if (c === "[") {
      // a class: skip to its closing bracket (u mode has no nested classes)
      i++;
      if (source[i] === "^") i++;
      while (i < n && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      i++;
      lastGroup = undefined;
      continue;
    }
    if (c === "(") {
      stack.push({ start: i, repeats: false });
      i++;
      lastGroup = undefined;
      continue;
    }
    if (c === ")") {
      const frame = stack.length > 1 ? stack.pop()! : stack[0]!;
      lastGroup = { start: frame.start, repeats: frame.repeats };
      if (frame.repeats) stack[stack.length - 1]!.repeats = true;
      i++;
      continue;
    }
    // a quantifier?
    let repeats = false;
    let end = i;
    if (c === "*" || c === "+") {
      repeats = true;
      end = i + 1;
    } else if (c === "?") {
      end = i + 1;
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 40));
      if (m) {
        end = i + m[0].length;
        // {n} repeats a fixed number of times: no choice, no backtracking
        repeats = m[2] !== undefined && (m[3] === "" || Number(m[3]) > Math.max(1, Number(m[1])));
      }
    }
    if (end > i) {
      if (repeats) {
        if (lastGroup?.repeats) return source.slice(lastGroup.start, end);
        stack[stack.length - 1]!.repeats = true;
      }
      if (source[end] === "?") end++; // lazy
      i = end;
      lastGroup = undefined;
      continue;
    }
    lastGroup = undefined;
    i++;
  }
  return undefined;
}

function regexOverflow(text: string, at: number, err: RangeError): TokenizerError {
  return new TokenizerError(
    `pre-tokenization: the regex ran out of backtracking stack matching the text from index ${at} ` +
      `(${text.length - at} UTF-16 units left; ${err.message}). JavaScript's regex engine limits one match to a few ` +
      "million characters: split such a text, or use a pattern that bounds its runs (e.g. \\p{L}{1,65536} for \\p{L}+)",
  );
}

/** Index just after the code point that starts at `i` (surrogate pairs are one code point). */
export function nextCodePoint(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return i + 2;
  }
  return i + 1;
}

/**
 * Cut `text` into pre-tokenized pieces, as Hugging Face's `Split` pre-tokenizer with behavior
 * `Isolated` does: every non-empty match of `re` is a piece, and so is the text between two
 * matches (tiktoken would drop that text; its own patterns leave none). An empty match cuts
 * the text there but yields no piece, and the search goes on one code point (not one UTF-16
 * unit) further, so a pattern such as `a*` cuts `"x😀"` into `"x"` and `"😀"`.
 *
 * Every step moves the search position forward, so this always ends: after at most
 * `text.length` searches of `re`.
 *
 * @param re a regex with the `g` (or `y`) flag, as {@link compilePattern} makes.
 * @throws {@link TokenizerError} when V8's regex engine runs out of backtracking stack: one
 *   match of a repeated class or group is limited to a few million characters (about 4
 *   million for text outside Latin-1, such as 4 million Han characters without punctuation).
 */
export function forEachPiece(re: RegExp, text: string, onPiece: (piece: string) => void): void {
  const n = text.length;
  let last = 0; // the text before `last` has been given out
  let at = 0; // where the next search starts; strictly increases
  while (at < n) {
    re.lastIndex = at;
    let m: RegExpExecArray | null;
    try {
      m = re.exec(text);
    } catch (err) {
      if (err instanceof RangeError) throw regexOverflow(text, at, err);
      throw err;
    }
    if (m === null) break;
    const start = m.index;
    if (start < at) throw new TokenizerError("pre-tokenization regex must have the g or y flag"); // cannot go back
    const len = m[0].length;
    if (start > last) onPiece(text.slice(last, start));
    if (len > 0) {
      onPiece(m[0]);
      last = at = start + len;
    } else {
      last = start;
      at = nextCodePoint(text, start);
    }
  }
  if (last < n) onPiece(last === 0 ? text : text.slice(last));
}

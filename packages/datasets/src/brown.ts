/**
 * The Brown corpus (form C, tagged) as readable prose.
 *
 * Each file holds one text: sentences of `word/tag` tokens, one sentence a
 * line; a line that starts with a tab starts a paragraph, and headline lines
 * (every tag ending in `-hl`) stand alone. Detokenizing drops the tags, joins
 * punctuation to its word, and turns the ``` `` ``` and `''` quotes into `"`.
 */

/** Tokens that attach to the word before them. */
const CLOSE = new Set([",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "%"]);
/** Tokens that attach to the word after them. */
const OPEN = new Set(["(", "[", "{", "``"]);

/** Split `word/tag` at the last slash (words may contain slashes: `1/2/cd`). */
function splitToken(token: string): { word: string; tag: string } {
  const slash = token.lastIndexOf("/");
  if (slash <= 0) return { word: token, tag: "" };
  return { word: token.slice(0, slash), tag: token.slice(slash + 1) };
}

/**
 * Join the words of one paragraph into prose: `He said , `` yes '' .` →
 * `He said, "yes".` Single quotes `'` alternate between opening and closing.
 */
export function detokenize(words: readonly string[]): string {
  let out = "";
  let glueNext = true; // no space before the next token
  let singleOpen = false;
  let previous = "";
  for (const w of words) {
    // The corpus sometimes repeats a separator (`;/. ;/.`): keep one.
    if ((w === ";" || w === ",") && w === previous) continue;
    previous = w;
    let text = w;
    let attachLeft = false;
    let attachRight = false;
    if (w === "``" || w === "''") text = '"';
    if (CLOSE.has(w)) attachLeft = true;
    else if (OPEN.has(w)) attachRight = true;
    else if (w === "--") attachLeft = attachRight = true;
    else if (w === "'") {
      if (singleOpen) attachLeft = true;
      else attachRight = true;
      singleOpen = !singleOpen;
    }
    if (!(glueNext || attachLeft) && out.length > 0) out += " ";
    out += text;
    glueNext = attachRight;
  }
  return out;
}

/**
 * The paragraphs of one tagged Brown file, detokenized, in order.
 * Empty paragraphs are dropped.
 */
export function brownParagraphs(tagged: string): string[] {
  const paragraphs: string[][] = [];
  let current: string[] | undefined;
  let lastWasHeadline = false;
  for (const line of tagged.split(/\r?\n/)) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    const parsed = tokens.map(splitToken);
    const headline = parsed.every((t) => t.tag.endsWith("-hl"));
    if (current === undefined || line.startsWith("\t") || headline || lastWasHeadline) {
      current = [];
      paragraphs.push(current);
    }
    for (const t of parsed) current.push(t.word);
    lastWasHeadline = headline;
  }
  return paragraphs.map(detokenize).filter((p) => p.length > 0);
}

/** One tagged Brown file as document text: its paragraphs, one a line. */
export function brownText(tagged: string): string {
  return brownParagraphs(tagged).join("\n");
}

/**
 * Cut a text into pieces as `Tokenizer.encodeOrdinary` does, written independently: the way
 * Hugging Face's JavaScript `Split` does it (`matchAll` steps over an empty match by one code
 * point; matches and the text between them are pieces).
 */
export function referencePieces(text: string, pattern: string): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const m of text.matchAll(new RegExp(pattern, "gu"))) {
    if (m.index > prev) out.push(text.slice(prev, m.index));
    if (m[0].length > 0) out.push(m[0]);
    prev = m.index + m[0].length;
  }
  if (prev < text.length) out.push(text.slice(prev));
  return out;
}

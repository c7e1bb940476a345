import { Rng } from "@batgpt/core";

/** Seeded synthetic text: made-up words from syllables, Zipf-like frequencies, one sentence a line. */
export function syntheticLines(seed: number, lines: number): string[] {
  const rng = new Rng(seed);
  const syllables = ["ka", "to", "ri", "men", "sha", "lo", "pe", "qu", "zin", "dor", "el", "an", "is", "or", "ul", "bra", "kri", "sto", "fen", "gal", "mo", "nu", "ti", "vex", "wy", "yo", "zu", "che", "dra", "fli"];
  const words: string[] = [];
  for (let i = 0; i < 12000; i++) {
    let w = "";
    for (let n = 1 + rng.int(4); n > 0; n--) w += syllables[rng.int(syllables.length)];
    words.push(w);
  }
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const ws: string[] = [];
    for (let n = 5 + rng.int(10); n > 0; n--) {
      const r = rng.float();
      ws.push(words[Math.floor(words.length * r * r)]!);
    }
    out.push(`${ws.join(" ")}.`);
  }
  return out;
}

/**
 * Test corpora: the small fixtures (Tang poems in Simplified characters, Brown-corpus
 * prose), a larger slice of the installed `chinese-poetry` package for parity runs, this
 * package's own source as code, and seeded random Unicode.
 */
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";

const here = dirname(fileURLToPath(import.meta.url));

export const poemsZh = readFileSync(join(here, "fixtures/poems-zh.txt"), "utf8");
export const proseEn = readFileSync(join(here, "fixtures/prose-en.txt"), "utf8");

/** This package's TypeScript sources: real code with indentation, symbols and comments. */
export function codeCorpus(): string[] {
  const src = join(here, "../src");
  return readdirSync(src)
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => readFileSync(join(src, f), "utf8"));
}

/** About `maxChars` characters of poems (Traditional, as shipped) from the installed chinese-poetry package. */
export function poetryCorpus(maxChars: number): string[] {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve("chinese-poetry/package.json")), "dist");
  const collections: [string, RegExp][] = [
    ["quantangshi", /^poet\.tang\.\d+\.json$/],
    ["songci", /^ci\.song\.\d+\.json$/],
    ["lunyu", /\.json$/],
  ];
  const docs: string[] = [];
  for (const [dir, re] of collections) {
    let n = 0;
    const files = readdirSync(join(root, dir)).filter((f) => re.test(f)).sort();
    outer: for (const f of files) {
      const rows = JSON.parse(readFileSync(join(root, dir, f), "utf8")) as Record<string, unknown>[];
      for (const row of rows) {
        const lines = (row.paragraphs ?? []) as string[];
        const head = [row.title ?? row.rhythmic ?? row.chapter, row.author].filter(Boolean).join("\n");
        const text = `${head}\n${lines.join("\n")}`;
        docs.push(text);
        n += text.length;
        if (n >= maxChars / collections.length) break outer;
      }
    }
  }
  return docs;
}

/** Seeded random Unicode strings: any code point, graphemes (emoji, combining marks), whitespace runs. */
export function randomUnicode(count: number, seed = 42): string[] {
  const arb = fc.oneof(
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "a", "中", "'s", "1"), maxLength: 40 }),
  );
  return fc.sample(arb, { numRuns: count, seed });
}

/** Tricky hand-picked strings. */
export const edgeCases = [
  "",
  " ",
  "\n\n\n",
  "   leading and trailing   ",
  "I'M  HE'LL we'Re they'd",
  "x\u0301\u0302 e\u0301 naïve café",
  "👩‍👩‍👧‍👦🇨🇳🎉 emoji",
  "中文English混合mixed 123456789 ４５６",
  "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
  "一".repeat(500),
  "abc".repeat(300),
  "\u00a0\u3000\ufeff\u200b",
  "\ufeffa text that starts with a byte order mark",
  "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n",
];

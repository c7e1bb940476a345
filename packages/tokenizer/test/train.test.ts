import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { bytesToByteLevel } from "../src/bytes.js";
import { TokenizerError } from "../src/errors.js";
import { BATGPT_PATTERN, CL100K_PATTERN, GPT2_PATTERN } from "../src/patterns.js";
import { RESERVED_SPECIAL_TOKENS } from "../src/specials.js";
import { Tokenizer } from "../src/tokenizer.js";
import { trainBpe, type TrainBpeOptions, type TrainProgress } from "../src/train.js";
import { referencePieces } from "./split-reference.js";

// ---------------------------------------------------------------------------------------
// The naive reference: recount every pair over every word after every merge.
// ---------------------------------------------------------------------------------------

interface RefResult {
  merges: [number, number][];
  /** Count of each merged pair at the time it was merged. */
  counts: number[];
  /** Bytes of every token, by id. */
  tokens: number[][];
}

function referenceTrain(texts: readonly string[], vocabSize: number, nSpecials: number, pattern: string, minFrequency: number): RefResult {
  const wordCounts = new Map<string, number>();
  for (const t of texts) for (const p of referencePieces(t, pattern)) wordCounts.set(p, (wordCounts.get(p) ?? 0) + 1);
  const words = [...wordCounts].map(([s, c]) => ({ ids: [...new TextEncoder().encode(s)], c }));
  const tokens: number[][] = Array.from({ length: 256 }, (_, b) => [b]);
  const merges: [number, number][] = [];
  const counts: number[] = [];
  const target = vocabSize - 256 - nSpecials;
  while (merges.length < target) {
    const pc = new Map<number, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.ids.length; i++) {
        const key = w.ids[i]! * 2 ** 24 + w.ids[i + 1]!;
        pc.set(key, (pc.get(key) ?? 0) + w.c);
      }
    }
    let best = -1;
    let bestCount = 0;
    for (const [key, c] of pc) {
      if (c > bestCount || (c === bestCount && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best < 0 || bestCount < Math.max(1, minFrequency)) break;
    const a = Math.floor(best / 2 ** 24);
    const b = best % 2 ** 24;
    const n = tokens.length;
    merges.push([a, b]);
    counts.push(bestCount);
    tokens.push([...tokens[a]!, ...tokens[b]!]);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) {
          out.push(n);
          i++;
        } else {
          out.push(w.ids[i]!);
        }
      }
      w.ids = out;
    }
  }
  return { merges, counts, tokens };
}

/** The reference merges spelled as `tokenizer.json` spells them. */
function spelled(ref: RefResult): [string, string][] {
  return ref.merges.map(([a, b]) => [bytesToByteLevel(Uint8Array.from(ref.tokens[a]!)), bytesToByteLevel(Uint8Array.from(ref.tokens[b]!))]);
}

function mergesOf(tok: Tokenizer): [string, string][] {
  return tok.toJSON().model.merges;
}

// ---------------------------------------------------------------------------------------
// A small corpus: Tang poems and English prose.
// ---------------------------------------------------------------------------------------

const POEMS = [
  "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",
  "明月幾時有？把酒問青天。不知天上宮闕，今夕是何年。",
  "明月松間照，清泉石上流。竹喧歸浣女，蓮動下漁舟。",
  "海上生明月，天涯共此時。情人怨遙夜，竟夕起相思。",
  "春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。",
  "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。",
  "千山鳥飛絕，萬徑人蹤滅。孤舟蓑笠翁，獨釣寒江雪。",
  "國破山河在，城春草木深。感時花濺淚，恨別鳥驚心。",
  "空山不見人，但聞人語響。返景入深林，復照青苔上。",
  "紅豆生南國，春來發幾枝。願君多采擷，此物最相思。",
  "獨在異鄉為異客，每逢佳節倍思親。遙知兄弟登高處，遍插茱萸少一人。",
  "朝辭白帝彩雲間，千里江陵一日還。兩岸猿聲啼不住，輕舟已過萬重山。",
];
const PROSE = [
  "The moon rose over the quiet river, and the boatman sang an old song about the moon.",
  "In the morning the mountains were white with snow, and the travellers walked slowly toward the pass.",
  "She wrote letters to her brother every spring, and every spring the letters came back unopened.",
  "The fisherman cast his line into the cold river and waited for the evening bell.",
  "Hello, world! Numbers like 12345 and 2024 appear in the text, as do contractions: it's, don't, we'll.",
];
const CORPUS: string[] = [];
for (let i = 0; i < 6; i++) CORPUS.push(...POEMS, ...PROSE);

const HELD_OUT = [
  "舉頭望明月，低頭思故鄉。",
  "明月何時照我還？春風又綠江南岸。",
  "The moon and the river sang together at night.",
  "emoji 🎉👨‍👩‍👧‍👦🇨🇳 and CJK 漢字かなカナ한국어 mixed",
  "tabs\tand\nnewlines\r\n  and   spaces   ",
  "naïve café — “quotes” 𠀀𪚥 ①② ½",
  "<|eos|> looks like a special token but is text here",
  "",
];

async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const x of items) {
    await Promise.resolve();
    yield x;
  }
}

// ---------------------------------------------------------------------------------------

describe("trainBpe", () => {
  it("learns exactly the merges of the naive trainer (property)", async () => {
    const alphabet = ["a", "b", "c", " ", "  ", "\n", "明", "月", "光", "明月", "😀", "é", ",", "1", "aaa"];
    const doc = fc.array(fc.constantFrom(...alphabet), { maxLength: 24 }).map((parts) => parts.join(""));
    await fc.assert(
      fc.asyncProperty(
        fc.array(doc, { maxLength: 10 }),
        fc.integer({ min: 0, max: 90 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(BATGPT_PATTERN, GPT2_PATTERN, CL100K_PATTERN, "[\\s\\S]+", "\\S+|\\s+"),
        fc.constantFrom<string[]>([], ["<|x|>"], ["<|x|>", "<|y|>"]),
        async (texts, extra, minFrequency, pattern, specialTokens) => {
          const vocabSize = 256 + specialTokens.length + extra;
          const tok = await trainBpe(texts, { vocabSize, minFrequency, pattern, specialTokens });
          const ref = referenceTrain(texts, vocabSize, specialTokens.length, pattern, minFrequency);
          expect(mergesOf(tok)).toEqual(spelled(ref));
          expect(tok.vocabSize).toBe(256 + ref.merges.length + specialTokens.length);
          specialTokens.forEach((s, i) => expect(tok.specialTokenId(s)).toBe(256 + ref.merges.length + i));
          for (const t of texts) expect(tok.decode(tok.encodeOrdinary(t))).toBe(t);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("merges left to right without overlap", async () => {
    const tok = await trainBpe(["aaa", "aaa", "aaa"], { vocabSize: 300, specialTokens: [], pattern: "[\\s\\S]+" });
    // (a, a) occurs twice in each "aaa" but merges once: "aa a"; then (aa, a)
    expect(mergesOf(tok)).toEqual([
      ["a", "a"],
      ["aa", "a"],
    ]);
    expect(tok.encode("aaa")).toEqual([257]);
    // encoding applies the earliest merge first: aa a a a → aa aa a → aa aaa
    expect(tok.encode("aaaaa")).toEqual([256, 257]);
  });

  it("never merges across pieces", async () => {
    const tok = await trainBpe(Array(20).fill("a b a b"), { vocabSize: 400, specialTokens: [], pattern: GPT2_PATTERN });
    // pieces are "a", " b", " a", " b": only " b" (40 times) and " a" (20 times) can be learned
    expect(mergesOf(tok)).toEqual([
      ["Ġ", "b"],
      ["Ġ", "a"],
    ]);
  });

  it("round-trips held-out text and keeps ids below vocabSize", async () => {
    const vocabSize = 256 + 120 + RESERVED_SPECIAL_TOKENS.length;
    const tok = await trainBpe(CORPUS, { vocabSize });
    expect(tok.vocabSize).toBe(vocabSize);
    for (const text of [...HELD_OUT, ...CORPUS]) {
      const ids = tok.encode(text, { disallowedSpecial: [] });
      for (const id of ids) expect(id).toBeLessThan(vocabSize);
      expect(tok.decode(ids)).toBe(text);
    }
    // a saved tokenizer encodes the same
    const again = Tokenizer.fromJSON(JSON.stringify(tok.toJSON()));
    for (const text of HELD_OUT) expect(again.encodeOrdinary(text)).toEqual(tok.encodeOrdinary(text));
  });

  it("gives the special tokens the ids after the last merge, and never emits them for ordinary text", async () => {
    const vocabSize = 256 + 50 + RESERVED_SPECIAL_TOKENS.length;
    const tok = await trainBpe(CORPUS, { vocabSize });
    const first = vocabSize - RESERVED_SPECIAL_TOKENS.length;
    RESERVED_SPECIAL_TOKENS.forEach((s, i) => {
      expect(tok.specialTokenId(s)).toBe(first + i);
      expect(tok.decode([first + i])).toBe(s);
    });
    for (const text of [...HELD_OUT, ...RESERVED_SPECIAL_TOKENS]) {
      for (const id of tok.encode(text, { disallowedSpecial: [] })) expect(id).toBeLessThan(first);
      for (const id of tok.encodeOrdinary(text)) expect(id).toBeLessThan(first);
    }
    expect(tok.encode("a<|eos|>", { allowedSpecial: "all" })).toContain(tok.specialTokenId("<|eos|>"));

    const custom = await trainBpe(CORPUS, { vocabSize: 300, specialTokens: ["<s>", "</s>"] });
    expect(custom.specialTokenId("<s>")).toBe(298);
    expect(custom.specialTokenId("</s>")).toBe(299);
    expect(custom.vocabSize).toBe(300);
  });

  it("stops early with a smaller vocabulary and no holes when the corpus runs out of pairs", async () => {
    const tok = await trainBpe(["ab", "ab", "ab"], { vocabSize: 1000, specialTokens: ["<|a|>", "<|b|>"], minFrequency: 1 });
    expect(mergesOf(tok)).toEqual([["a", "b"]]);
    expect(tok.vocabSize).toBe(259);
    expect(tok.specialTokenId("<|a|>")).toBe(257);
    expect(tok.specialTokenId("<|b|>")).toBe(258);
    for (let id = 0; id < tok.vocabSize; id++) expect(() => tok.idToBytes(id)).not.toThrow();

    const empty = await trainBpe([], { vocabSize: 1000 });
    expect(empty.vocabSize).toBe(256 + RESERVED_SPECIAL_TOKENS.length);
    expect(empty.decode(empty.encode("明月 moon"))).toBe("明月 moon");
  });

  it("respects minFrequency", async () => {
    // "xy" occurs twice, "ab" three times
    const texts = ["ab ab ab xy xy q"];
    const three = await trainBpe(texts, { vocabSize: 1000, specialTokens: [], minFrequency: 3, pattern: "\\S+|\\s+" });
    expect(mergesOf(three)).toEqual([["a", "b"]]);
    const two = await trainBpe(texts, { vocabSize: 1000, specialTokens: [], pattern: "\\S+|\\s+" });
    expect(mergesOf(two)).toEqual([
      ["a", "b"],
      ["x", "y"],
    ]);
    // on a real corpus: every merge had at least minFrequency occurrences when it was made
    for (const minFrequency of [2, 5, 9]) {
      const tok = await trainBpe(CORPUS, { vocabSize: 2000, specialTokens: [], minFrequency });
      const ref = referenceTrain(CORPUS, 2000, 0, BATGPT_PATTERN, minFrequency);
      expect(mergesOf(tok)).toEqual(spelled(ref));
      expect(ref.counts.every((c) => c >= minFrequency)).toBe(true);
      expect(tok.vocabSize).toBeLessThan(2000);
    }
  });

  it("is deterministic, and takes async iterables", async () => {
    const options: TrainBpeOptions = { vocabSize: 256 + 150 + RESERVED_SPECIAL_TOKENS.length };
    const a = await trainBpe(CORPUS, options);
    const b = await trainBpe(CORPUS, options);
    const c = await trainBpe(asAsync(CORPUS), options);
    function* gen(): Generator<string> {
      yield* CORPUS;
    }
    const d = await trainBpe(gen(), options);
    expect(mergesOf(a)).toEqual(mergesOf(b));
    expect(mergesOf(c)).toEqual(mergesOf(a));
    expect(mergesOf(d)).toEqual(mergesOf(a));
    expect(c.toJSON()).toEqual(a.toJSON());
  });

  it("learns sensible merges: a repeated phrase becomes one token", async () => {
    const tok = await trainBpe(CORPUS, { vocabSize: 256 + 200 + RESERVED_SPECIAL_TOKENS.length });
    expect(tok.encode("明月")).toHaveLength(1);
    expect(tok.encode(" the")).toHaveLength(1);
    expect(tok.decode(tok.encode("明月光").slice(0, 1))).toBe("明月");
    expect(tok.idToToken(tok.encode(" moon")[0]!)).toBe("Ġmoon");
    expect(tok.decode(tok.encode("明月"))).toBe("明月");
  });

  it("reports progress, ending with stage done", async () => {
    const seen: TrainProgress[] = [];
    const vocabSize = 256 + 80 + RESERVED_SPECIAL_TOKENS.length;
    await trainBpe(asAsync(CORPUS), { vocabSize, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(0);
    const last = seen[seen.length - 1]!;
    expect(last.stage).toBe("done");
    expect(last.merges).toBe(80);
    expect(last.targetMerges).toBe(80);
    const bytes = CORPUS.reduce((n, t) => n + new TextEncoder().encode(t).length, 0);
    expect(last.bytes).toBe(bytes);
    expect(last.words).toBeGreaterThan(0);
    expect(last.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(seen.filter((p) => p.stage === "done")).toHaveLength(1);
    const order = { count: 0, merge: 1, done: 2 };
    for (let i = 1; i < seen.length; i++) expect(order[seen[i]!.stage]).toBeGreaterThanOrEqual(order[seen[i - 1]!.stage]);
  });

  it('progress: "json" writes the progress reports as JSON lines on stderr, the last one "done"', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => written.push(String(chunk)) > 0);
    try {
      const vocabSize = 256 + 80 + RESERVED_SPECIAL_TOKENS.length;
      await trainBpe(asAsync(CORPUS), { vocabSize });
      expect(written).toEqual([]);
      await trainBpe(asAsync(CORPUS), { vocabSize, progress: "json" });
      const lines = written.join("").trim().split("\n").map((l) => JSON.parse(l) as TrainProgress);
      expect(lines[0]!.stage).toBe("count");
      expect(lines.at(-1)).toMatchObject({ stage: "done", merges: 80, targetMerges: 80 });
      expect(Object.keys(lines.at(-1)!).sort()).toEqual(["bytes", "elapsedMs", "merges", "stage", "targetMerges", "words"]);
    } finally {
      spy.mockRestore();
    }
  });

  it("rejects bad options with a TokenizerError naming the field", async () => {
    const bad: [Partial<TrainBpeOptions> | unknown, RegExp][] = [
      [{ vocabSize: 100 }, /vocabSize/],
      [{ vocabSize: 260 }, /vocabSize.*265/],
      [{ vocabSize: 1000.5 }, /vocabSize/],
      [{ vocabSize: "1000" }, /vocabSize/],
      [{}, /vocabSize/],
      [{ vocabSize: 1000, minFrequency: -1 }, /minFrequency/],
      [{ vocabSize: 1000, minFrequency: 1.5 }, /minFrequency/],
      [{ vocabSize: 1000, pattern: "(" }, /pattern/],
      [{ vocabSize: 1000, pattern: 3 }, /pattern/],
      [{ vocabSize: 1000, specialTokens: [""] }, /specialTokens/],
      [{ vocabSize: 1000, specialTokens: ["<a>", "<a>"] }, /specialTokens/],
      [{ vocabSize: 1000, specialTokens: ["\ud800"] }, /specialTokens.*lone surrogate/],
      [{ vocabSize: 1000, onProgress: "yes" }, /onProgress/],
      [{ vocabSize: 1000, progress: "loud" }, /invalid trainBpe options: progress: Invalid option/],
      [null, /options/],
    ];
    for (const [options, message] of bad) {
      const err = await trainBpe(["abc abc"], options as TrainBpeOptions).catch((e: unknown) => e);
      expect(err, JSON.stringify(options)).toBeInstanceOf(TokenizerError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it("rejects bad texts", async () => {
    const options = { vocabSize: 1000 };
    await expect(trainBpe(["ok", "bad \ud83d text"], options)).rejects.toThrow(/lone surrogate U\+D83D/);
    await expect(trainBpe(["ok", "bad \ud83d text"], options)).rejects.toBeInstanceOf(TokenizerError);
    await expect(trainBpe(asAsync(["\udc00"]), options)).rejects.toThrow(TokenizerError);
    await expect(trainBpe(["ok", 3 as unknown as string], options)).rejects.toThrow(/texts\[1\]/);
    await expect(trainBpe("a string" as unknown as string[], options)).rejects.toThrow(TokenizerError);
  });
});

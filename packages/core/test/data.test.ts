import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import {
  TOKEN_FILE_HEADER_BYTES,
  TokenDataError,
  TokenFile,
  WindowLoader,
  tokenizeToFile,
  validationBatches,
  validationWindowCount,
  type TokenBatch,
  type TokenizeProgress,
} from "../src/data.js";
import { Rng } from "../src/rng.js";

const corpus = [
  "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
  "The moon is bright tonight; the frost lies on the ground.",
  "",
  "Bidirectional autoregressive talkers read left to right and right to left.",
  "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。 And again: the moon.",
];

let dir: string;
let tok: Tokenizer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "batgpt-data-"));
  tok = await trainBpe(corpus, { vocabSize: 300, minFrequency: 1 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file of `n` tokens 0, 1, 2, … (mod vocab) for the loader tests. */
const counting = (n: number, vocab = 65536) => TokenFile.fromTokens(Uint32Array.from({ length: n }, (_, i) => i % vocab), vocab);

const rows = (b: TokenBatch) => Array.from({ length: b.batch }, (_, r) => Array.from(b.ids.subarray(r * b.seqLen, (r + 1) * b.seqLen)));

describe("tokenizeToFile / TokenFile", () => {
  it("round-trips the tokenizer's ids with <|eos|> after each document, atomically", async () => {
    const path = join(dir, "train.tok");
    const seen: TokenizeProgress[] = [];
    const res = await tokenizeToFile(corpus, tok, path, { chunkTokens: 16, onProgress: (p) => seen.push(p) });
    const eos = tok.specialTokenId("<|eos|>");
    const want = corpus.flatMap((t) => [...tok.encodeOrdinary(t), eos]);
    expect(res).toEqual({ tokens: want.length, documents: corpus.length, path });
    expect(await readdir(dir)).toEqual(["train.tok"]);
    const file = await TokenFile.open(path);
    expect(file.tokens).toBeInstanceOf(Uint16Array);
    expect(file.dtype).toBe("uint16");
    expect(file.vocabSize).toBe(tok.vocabSize);
    expect(file.length).toBe(want.length);
    expect(Array.from(file.tokens)).toEqual(want);
    expect(Array.from(file.slice(2, 7))).toEqual(want.slice(2, 7));
    expect(file.subarray(2, 7).buffer).toBe(file.tokens.buffer);
    expect((await readFile(path)).length).toBe(TOKEN_FILE_HEADER_BYTES + 2 * want.length);
    // chunked writes report progress, and the last call says done
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.at(-1)).toMatchObject({ done: true, tokens: want.length, documents: corpus.length });
  });

  it("takes an async stream, an explicit separator or none, and a > 65536 vocabulary as uint32", async () => {
    async function* stream() {
      for (const t of corpus) yield t;
    }
    const a = join(dir, "a.tok");
    await tokenizeToFile(stream(), tok, a, { separator: null });
    expect(Array.from((await TokenFile.open(a)).tokens)).toEqual(corpus.flatMap((t) => tok.encodeOrdinary(t)));
    const big = { vocabSize: 70000, encodeOrdinary: (t: string) => [...t].map((c) => c.codePointAt(0)! % 70000), specialTokenId: () => 69999 };
    const b = join(dir, "b.tok");
    await tokenizeToFile(["ab", "c"], big, b, { separator: 65536 });
    const fb = await TokenFile.open(b);
    expect(fb.tokens).toBeInstanceOf(Uint32Array);
    expect(Array.from(fb.tokens)).toEqual([97, 98, 65536, 99, 65536]);
    await rm(a);
    await rm(b);
  });

  it("leaves no temp file and no output when the stream fails", async () => {
    const path = join(dir, "broken.tok");
    function* failing() {
      yield "some text";
      throw new Error("source broke");
    }
    await expect(tokenizeToFile(failing(), tok, path, { chunkTokens: 2 })).rejects.toThrow(/source broke/);
    await expect(tokenizeToFile(["ok", 3 as unknown as string], tok, path)).rejects.toThrow(/document 1 is not a string/);
    await expect(tokenizeToFile(["ok"], tok, path, { separator: 5000 })).rejects.toThrow(/separator/);
    await expect(tokenizeToFile(["ok"], tok, path, { chunkTokens: 0 })).rejects.toThrow(/chunkTokens/);
    expect((await readdir(dir)).filter((f) => f.startsWith("broken"))).toEqual([]);
  });

  it("names the file when it is not a token file or is truncated", async () => {
    const junk = join(dir, "junk.tok");
    await writeFile(junk, "definitely not tokens at all");
    await expect(TokenFile.open(junk)).rejects.toThrow(new RegExp(`${junk.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}: not a BatGPT token file`));
    const good = join(dir, "good.tok");
    await tokenizeToFile(corpus, tok, good);
    const bytes = await readFile(good);
    const cut = join(dir, "cut.tok");
    await writeFile(cut, bytes.subarray(0, bytes.length - 3));
    await expect(TokenFile.open(cut)).rejects.toThrow(/cut\.tok: the header says .* \(truncated\)/);
    await expect(TokenFile.open(cut)).rejects.toBeInstanceOf(TokenDataError);
    for (const f of [junk, good, cut]) await rm(f);
  });
});

describe("WindowLoader", () => {
  it("starts at different windows for seeds 0..5 (batch 2, windows of 16 over 10,000 tokens)", () => {
    const file = counting(10_000);
    // as train() builds its loader: a run's Rng from the seed, the loader's seed drawn from it
    const starts = [0, 1, 2, 3, 4, 5].map((seed) => {
      const l = new WindowLoader(file, { seqLen: 16, batchSize: 2, mode: "random", rng: new Rng(seed) });
      return rows(l.nextBatch()).map((r) => r[0]!);
    });
    expect(new Set(starts.map((s) => s.join(","))).size).toBe(6);
    expect(new Set(starts.map((s) => s[0])).size).toBe(6);
    expect(new Set(starts.map((s) => s[1])).size).toBe(6);
  });

  it("random mode: deterministic for a seed, different for another", () => {
    const file = counting(1000);
    const take = (seed: number) => {
      const l = new WindowLoader(file, { seqLen: 16, batchSize: 4, mode: "random", rng: new Rng(seed) });
      return Array.from({ length: 5 }, () => rows(l.nextBatch()));
    };
    const a = take(1);
    expect(take(1)).toEqual(a);
    expect(take(2)).not.toEqual(a);
    for (const batch of a) {
      expect(batch).toHaveLength(4);
      for (const row of batch) {
        expect(row).toHaveLength(16);
        // a contiguous window of the counting file
        row.forEach((v, i) => expect(v).toBe(row[0]! + i));
        expect(row[0]! + 16).toBeLessThanOrEqual(1000);
      }
    }
  });

  it("epoch mode: every non-overlapping window exactly once per epoch, reshuffled each epoch", () => {
    const file = counting(10 * 8 + 5); // 10 windows of 8, 5 tokens left over
    const l = new WindowLoader(file, { seqLen: 8, batchSize: 5, mode: "epoch", rng: new Rng(3) });
    expect(l.windowsPerEpoch).toBe(10);
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) for (const row of rows(l.nextBatch())) starts.push(row[0]!);
    const epochs = [starts.slice(0, 10), starts.slice(10, 20), starts.slice(20, 30)];
    const all = Array.from({ length: 10 }, (_, i) => i * 8);
    for (const e of epochs) expect([...e].sort((x, y) => x - y)).toEqual(all);
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(l.epoch).toBe(2);
    // a batch may straddle two epochs
    const m = new WindowLoader(file, { seqLen: 8, batchSize: 3, mode: "epoch", rng: new Rng(3) });
    const s2: number[] = [];
    for (let i = 0; i < 10; i++) for (const row of rows(m.nextBatch())) s2.push(row[0]!);
    for (const e of [s2.slice(0, 10), s2.slice(10, 20), s2.slice(20, 30)]) expect([...e].sort((x, y) => x - y)).toEqual(all);
  });

  it("draws its seed once: later draws from the run's Rng do not change the batches", () => {
    const file = counting(500);
    const rngA = new Rng(9);
    const a = new WindowLoader(file, { seqLen: 10, batchSize: 2, rng: rngA });
    const b = new WindowLoader(file, { seqLen: 10, batchSize: 2, rng: new Rng(9) });
    rngA.normals(100);
    for (let i = 0; i < 5; i++) expect(rows(a.nextBatch())).toEqual(rows(b.nextBatch()));
  });

  for (const mode of ["random", "epoch"] as const) {
    it(`${mode} mode: restore at step k gives the uninterrupted batches k+1…`, () => {
      const file = counting(7 * 12 + 3);
      const opts = { seqLen: 12, batchSize: 3, mode } as const;
      const ref = new WindowLoader(file, { ...opts, rng: new Rng(11) });
      const want = Array.from({ length: 12 }, () => rows(ref.nextBatch()));
      for (const k of [0, 1, 2, 3, 7]) {
        const first = new WindowLoader(file, { ...opts, rng: new Rng(11) });
        for (let i = 0; i < k; i++) first.nextBatch();
        const saved = JSON.parse(JSON.stringify(first.state()));
        expect(saved.batches).toBe(k);
        const resumed = new WindowLoader(file, { ...opts, rng: new Rng(12345) });
        resumed.restore(saved);
        for (let i = k; i < 12; i++) expect(rows(resumed.nextBatch())).toEqual(want[i]);
        expect(resumed.batches).toBe(12);
      }
    });
  }

  it("refuses a state that does not fit, naming the field", () => {
    const file = counting(200);
    const l = new WindowLoader(file, { seqLen: 10, batchSize: 2, mode: "epoch", rng: new Rng(1) });
    const s = l.state();
    const other = new WindowLoader(file, { seqLen: 20, batchSize: 2, mode: "epoch", rng: new Rng(1) });
    expect(() => other.restore(s)).toThrow(/seqLen: saved 10/);
    const rand = new WindowLoader(file, { seqLen: 10, batchSize: 2, rng: new Rng(1) });
    expect(() => rand.restore(s)).toThrow(/mode/);
    expect(() => l.restore({ ...s, cursor: -1 })).toThrow(/cursor/);
    expect(() => new WindowLoader(file, { seqLen: 0, batchSize: 2, rng: new Rng(1) })).toThrow(/seqLen/);
    expect(() => new WindowLoader(file, { seqLen: 300, batchSize: 2, rng: new Rng(1) })).toThrow(/fewer than seqLen/);
    expect(() => new WindowLoader(file, { seqLen: 10, batchSize: 2, mode: "shuffle" as never, rng: new Rng(1) })).toThrow(/mode/);
  });
});

describe("validationBatches", () => {
  it("walks every non-overlapping window in order, deterministically", () => {
    const file = counting(10 * 8 + 5);
    const batches = [...validationBatches(file, { seqLen: 8, batchSize: 4 })];
    expect(batches.map((b) => b.batch)).toEqual([4, 4, 2]);
    expect(batches.flatMap(rows).map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, i) => i * 8));
    expect(validationWindowCount(file, { seqLen: 8, batchSize: 4 })).toBe(10);
  });

  it("caps the count, spreading the windows over the file", () => {
    const file = counting(10 * 8);
    const batches = [...validationBatches(file, { seqLen: 8, batchSize: 2, maxWindows: 4 })];
    expect(batches.flatMap(rows).map((r) => r[0])).toEqual([0, 16, 40, 56]);
    expect([...validationBatches(file, { seqLen: 8, batchSize: 2, maxWindows: 4 })]).toEqual(batches);
    expect(validationWindowCount(file, { seqLen: 8, batchSize: 2, maxWindows: 4 })).toBe(4);
  });
});

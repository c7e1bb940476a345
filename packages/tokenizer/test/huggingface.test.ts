import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { Tokenizer, TokenizerError, trainBpe } from "../src/index.js";
import { codeCorpus, edgeCases, poemsZh, poetryCorpus, proseEn, randomUnicode } from "./corpus.js";

const mixed = [
  ...poemsZh.split("\n\n"),
  ...poetryCorpus(60_000),
  ...proseEn.split("\n\n"),
  ...codeCorpus(),
  ...randomUnicode(500, 7),
  ...edgeCases,
  "Mixed 中英文 text: 李白 wrote 《静夜思》 in 726 AD; it's 20 characters long.",
];

function hfIds(hf: HFTokenizer, text: string): number[] {
  return hf.encode(text, { add_special_tokens: false }).ids;
}

describe("tokenizer.json round trip", () => {
  let trained: Tokenizer;
  let dir: string;
  beforeAll(async () => {
    trained = await trainBpe([poemsZh, proseEn], { vocabSize: 3000 });
    dir = mkdtempSync(join(tmpdir(), "batgpt-tok-"));
  });

  it("a trained tokenizer saved as tokenizer.json loads in @huggingface/tokenizers with the same ids", async () => {
    const path = join(dir, "tokenizer.json");
    await trained.save(path);
    const hf = new HFTokenizer(JSON.parse(readFileSync(path, "utf8")), {});
    // Hugging Face matches special tokens wherever they occur, so compare with allowedSpecial: "all"
    const all = { allowedSpecial: "all" } as const;
    const bad = mixed.filter((t) => JSON.stringify(hfIds(hf, t)) !== JSON.stringify(trained.encode(t, all)));
    expect(bad).toEqual([]);
    expect(hf.decode(trained.encode(mixed.join("\n"), all), { clean_up_tokenization_spaces: false })).toBe(mixed.join("\n"));
  });

  it("special tokens survive the trip and mean the same to Hugging Face", async () => {
    const path = join(dir, "tokenizer.json");
    await trained.save(path);
    const hf = new HFTokenizer(JSON.parse(readFileSync(path, "utf8")), {});
    const text = "<|bos|><|l2r|>床前明月光<|eos|>";
    expect(hfIds(hf, text)).toEqual(trained.encode(text, { allowedSpecial: "all" }));
    for (const [sp, id] of trained.specialTokens) expect(hf.token_to_id(sp)).toBe(id);
  });

  it("reloading our own file gives the same tokenizer", async () => {
    const path = join(dir, "tokenizer.json");
    await trained.save(path);
    const again = await Tokenizer.load(path);
    expect(again.vocabSize).toBe(trained.vocabSize);
    for (const t of mixed) expect(again.encodeOrdinary(t)).toEqual(trained.encodeOrdinary(t));
    expect(again.toJSON()).toEqual(trained.toJSON());
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("tiktoken ranks exported as tokenizer.json give tiktoken's ids in @huggingface/tokenizers", () => {
    const tok = Tokenizer.fromTiktoken(cl100k);
    const hf = new HFTokenizer(tok.toJSON(), {});
    const sample = mixed.slice(0, 400);
    const bad = sample.filter((t) => JSON.stringify(hfIds(hf, t)) !== JSON.stringify(tok.encode(t, { allowedSpecial: "all" })));
    expect(bad).toEqual([]);
  });

  it("token spellings match Hugging Face's", () => {
    const hf = new HFTokenizer(trained.toJSON(), {});
    for (let id = 0; id < trained.vocabSize; id += 7) {
      expect(trained.idToToken(id)).toBe(hf.id_to_token(id));
      expect(trained.tokenToId(trained.idToToken(id)!)).toBe(id);
    }
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- hand-corrupting loosely typed JSON
type Json = Record<string, any>;

describe("corrupt tokenizer.json", () => {
  let goodText = "";
  beforeAll(async () => {
    goodText = JSON.stringify((await trainBpe([proseEn], { vocabSize: 400 })).toJSON());
  });
  const good = () => JSON.parse(goodText) as Json;
  const cases: [string, (j: Json) => unknown, RegExp][] = [
    ["not JSON", () => "{ nope", /not valid JSON/],
    ["model missing", (j) => ({ ...j, model: undefined }), /model/],
    ["WordPiece model", (j) => ({ ...j, model: { ...j.model, type: "WordPiece" } }), /model\.type/],
    ["merge of unknown token", (j) => ({ ...j, model: { ...j.model, merges: [["zzz-not-a-token", "a"]] } }), /merges\[0\]/],
    ["vocab entry outside the byte alphabet", (j) => ({ ...j, model: { ...j.model, vocab: { ...j.model.vocab, "中": 5 } } }), /not a byte-level token/],
    ["normalizer", (j) => ({ ...j, normalizer: { type: "NFC" } }), /normalizer/],
    ["vocab id not a number", (j) => ({ ...j, model: { ...j.model, vocab: { a: "x" } } }), /model\.vocab/],
    ["bad regex", (j) => ({ ...j, pre_tokenizer: { ...j.pre_tokenizer, pretokenizers: [{ ...j.pre_tokenizer.pretokenizers[0], pattern: { Regex: "(" } }, j.pre_tokenizer.pretokenizers[1]] } }), /pattern/],
  ];
  it.each(cases)("%s gives a clear TokenizerError", (_name, corrupt, message) => {
    const input = corrupt(good());
    const run = () => Tokenizer.fromJSON(typeof input === "string" ? input : (input as object));
    expect(run).toThrow(TokenizerError);
    expect(run).toThrow(message);
  });

  it("a file that cannot be read or parsed names the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-tok-"));
    const path = join(dir, "tokenizer.json");
    writeFileSync(path, '{"model": 3}');
    await expect(Tokenizer.load(path)).rejects.toThrow(path);
    await expect(Tokenizer.load(join(dir, "missing.json"))).rejects.toThrow(/cannot read tokenizer file/);
  });
});

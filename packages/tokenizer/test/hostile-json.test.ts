/**
 * "Loading any tokenizer.json, however odd, must finish quickly or fail with a clear error":
 * hostile files give a TokenizerError that names the field, within a vm timeout.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_VOCAB_SIZE, Tokenizer, TokenizerError, trainBpe } from "../src/index.js";
import { finishes } from "./guard.js";
import { proseEn } from "./corpus.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- hand-corrupting loosely typed JSON
type Json = Record<string, any>;

let goodText = "";
beforeAll(async () => {
  goodText = JSON.stringify((await trainBpe([proseEn], { vocabSize: 400 })).toJSON());
});
const good = () => JSON.parse(goodText) as Json;
const setPattern = (j: Json, Regex: unknown) => {
  j.pre_tokenizer.pretokenizers[0].pattern = { Regex };
  return j;
};
const addToken = (j: Json, t: Json) => {
  j.added_tokens.push({ single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...t });
  return j;
};

describe("hostile tokenizer.json", () => {
  const cases: [string, (j: Json) => unknown, RegExp][] = [
    ["a huge id", (j) => ((j.model.vocab.a = 2 ** 40), j), /model\.vocab\["a"\]: id 1099511627776 is above 16777215/],
    ["an id of MAX_VOCAB_SIZE", (j) => ((j.model.vocab.a = MAX_VOCAB_SIZE), j), /model\.vocab\["a"\]: id 16777216 is above 16777215/],
    ["a negative id", (j) => ((j.model.vocab.a = -1), j), /model\.vocab\["a"\]: id -1 is not a non-negative integer/],
    ["a fractional id", (j) => ((j.model.vocab.a = 1.5), j), /model\.vocab\["a"\]: id 1.5 is not a non-negative integer/],
    ["a string id", (j) => ((j.model.vocab.a = "7"), j), /model\.vocab\["a"\]: id "7"/],
    ["a duplicate id", (j) => ((j.model.vocab.a = j.model.vocab.b), j), /model\.vocab has two tokens with id \d+/],
    ["an empty token", (j) => ((j.model.vocab[""] = 399), j), /model\.vocab\[""\]: a token cannot be empty/],
    ["vocab an array", (j) => ((j.model.vocab = [1, 2]), j), /model\.vocab: must be an object/],
    ["a merge of unknown tokens", (j) => ((j.model.merges = [["toString", "a"]]), j), /model\.merges\[0\] \["toString","a"\] names a token that is not in model\.vocab/],
    ["a merge into an unknown token", (j) => ((j.model.merges = [["a", "b"], ...j.model.merges]), j), /model\.merges\[0\] \["a","b"\] makes "ab", which is not in model\.vocab/],
    ["a merge of three parts", (j) => ((j.model.merges = ["a b c"]), j), /model\.merges\[0\] "a b c" is not two tokens/],
    ["a merge that is a number", (j) => ((j.model.merges = [7]), j), /model\.merges\[0\]/],
    ["an invalid regex", (j) => setPattern(j, "(?<"), /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: invalid pre-tokenization pattern/],
    ["an inline flag group Node 20 cannot read", (j) => setPattern(j, "(?i:'s|'t)|\\p{L}+"), /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex/],
    ["a catastrophic regex (a+)+", (j) => setPattern(j, "(a+)+$"), /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: .*repeats a group that itself repeats \("\(a\+\)\+"\)/],
    ["a catastrophic regex (?:\\s*\\w+)*", (j) => setPattern(j, "(?:\\s*\\w+)*x|\\s+"), /repeats a group that itself repeats/],
    ["a pattern that is not a string", (j) => setPattern(j, 42), /pre_tokenizer/],
    ["an added token with a huge id", (j) => addToken(j, { id: 2 ** 31, content: "<x>" }), /added_tokens\[9\]\.id: ids above 16777215 are not supported/],
    ["an added token with a negative id", (j) => addToken(j, { id: -5, content: "<x>" }), /added_tokens\[9\]\.id/],
    ["an added token whose content is a number", (j) => addToken(j, { id: 500, content: 5 }), /added_tokens\[9\]\.content/],
    ["an added token whose content is empty", (j) => addToken(j, { id: 500, content: "" }), /added_tokens\[9\]\.content/],
    ["an added token with a lone surrogate", (j) => addToken(j, { id: 500, content: "<\ud800>" }), /added_tokens\[9\]\.content has a lone surrogate/],
    ["two added tokens with the same content", (j) => addToken(j, { id: 500, content: "<|bos|>" }), /added_tokens\[9\]: "<\|bos\|>" is also added_tokens\[0\]/],
    ["two added tokens with the same id", (j) => addToken(j, { id: j.added_tokens[0].id, content: "<x>" }), /added_tokens\[9\]: id \d+ is also the id of added_tokens\[0\]/],
    ["an added token on an ordinary token's id", (j) => addToken(j, { id: 65, content: "<x>" }), /added_tokens\[9\]: "<x>" has id 65, which the model\.vocab token "A" already has/],
    ["an added token flag that is not a boolean", (j) => addToken(j, { id: 500, content: "<x>", lstrip: 1 }), /added_tokens\[9\]\.lstrip/],
    ["added_tokens not an array", (j) => ((j.added_tokens = { a: 1 }), j), /added_tokens/],
    ["a JSON number", () => "42", /invalid tokenizer\.json: Invalid input: expected object, received number/],
    ["JSON null", () => "null", /invalid tokenizer\.json: Invalid input: expected object, received null/],
    ["a BPE with dropout", (j) => ((j.model.dropout = 0.1), j), /model\.dropout/],
    ["an added token of 2,000,000 characters", (j) => addToken(j, { id: 500, content: "x".repeat(2_000_000) }), /added tokens' contents total 20000\d\d UTF-16 units, more than the 1048576/],
  ];
  it.each(cases)("%s: a TokenizerError naming the field, quickly", (_name, corrupt, message) => {
    const input = corrupt(good());
    const text = typeof input === "string" ? input : JSON.stringify(input);
    const run = () => finishes(() => Tokenizer.fromJSON(text), 10_000);
    expect(run).toThrow(TokenizerError);
    expect(run).toThrow(message);
  });

  it("tokens spelled like Object.prototype members (__proto__, constructor, toString) load, encode and save", () => {
    const j = good();
    const n = 400;
    j.model.vocab["constructor"] = n + 21;
    j.model.ignore_merges = true;
    // assigning vocab["__proto__"] would set the prototype; JSON.parse keeps it as an own key
    const text = JSON.stringify(j).replace('"vocab":{', `"vocab":{"__proto__":${n + 20},`);
    expect(Object.hasOwn((JSON.parse(text) as Json).model.vocab, "__proto__")).toBe(true);
    const tok = Tokenizer.fromJSON(text);
    expect(tok.tokenToId("__proto__")).toBe(n + 20);
    expect(tok.tokenToId("constructor")).toBe(n + 21);
    expect(tok.tokenToId("toString")).toBeUndefined();
    expect(tok.encodeOrdinary("constructor")).toEqual([n + 21]);
    const saved = tok.toJSON();
    expect(Object.hasOwn(saved.model.vocab, "__proto__")).toBe(true);
    expect(JSON.parse(JSON.stringify(saved)).model.vocab["__proto__"]).toBe(n + 20);
  });

  it("sparse ids up to the largest supported id load quickly", () => {
    const j = good();
    j.model.vocab["zz"] = MAX_VOCAB_SIZE - 1;
    const tok = finishes(() => Tokenizer.fromJSON(j), 10_000);
    expect(tok.vocabSize).toBe(MAX_VOCAB_SIZE);
    expect(tok.idToToken(MAX_VOCAB_SIZE - 1)).toBe("zz");
  });

  it("a file of many added tokens loads quickly and matches them", () => {
    const j = good();
    for (let i = 0; i < 20_000; i++) addToken(j, { id: 1000 + i, content: `<t${i}>` });
    const tok = finishes(() => Tokenizer.fromJSON(j), 10_000);
    expect(tok.encode("a<t19999>b<t7>")).toEqual([...tok.encodeOrdinary("a"), 20_999, ...tok.encodeOrdinary("b"), 1007]);
  });
});

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  COMPARISON_SCHEMA_ID,
  comparisonJsonSchema,
  comparisonSchema,
  flipComparison,
  loadComparisons,
  parseComparison,
  readComparisons,
  RewardDataError,
  toPreferencePairs,
  writeComparisons,
  type ComparisonInput,
  type ComparisonRecord,
  type Message,
  type ToPreferenceOptions,
} from "../src/records.js";

const dir = mkdtempSync(join(tmpdir(), "batgpt-reward-records-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(lines: readonly string[], eol = "\n"): string {
  const path = join(dir, `prefs-${n++}.jsonl`);
  writeFileSync(path, lines.join(eol));
  return path;
}

const S = (content: string): Message => ({ role: "system", content });
const U = (content: string): Message => ({ role: "user", content });
const A = (content: string): Message => ({ role: "assistant", content });

/** A good record with a string prompt. */
const good: ComparisonRecord = {
  prompt: "床前明月光，",
  response_a: "疑是地上霜。",
  response_b: "不知道。",
  verdict: "A",
  source: "human",
  annotator: "ann-07",
  created_at: "2025-05-01T08:30:00Z",
};

/** A good record with every field, a conversation prompt. */
const full: ComparisonRecord = {
  id: "c-2",
  prompt: [S("你是诗人。"), U("写一句"), A("明月。"), U("再写一句")],
  response_a: "清风。",
  response_b: "我不会写诗。",
  verdict: "B",
  criteria: { helpfulness: "B", harmlessness: "same" },
  source: "ai",
  annotator: "judge-v1",
  created_at: "2025-05-01T16:30:00.123+08:00",
  metadata: { shown: "ba", flags: ["long"], comment: null },
};

async function readAll(path: string): Promise<unknown> {
  try {
    for await (const _ of readComparisons(path)) void _;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("comparisonSchema", () => {
  it("accepts good records, string or conversation prompts, with or without the optional fields", () => {
    for (const r of [good, full, { ...good, verdict: "tie" }, { ...good, verdict: "both_bad", criteria: { harmlessness: "both_harmful" } }, { ...good, criteria: {} }]) {
      expect(parseComparison(r)).toEqual(r);
    }
    expect(comparisonSchema.safeParse({ ...good, prompt: [U("q")], metadata: {} }).success).toBe(true);
  });

  it("rejects a bad record, naming the field", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, response_b: undefined }, "response_b: Invalid input: expected string, received undefined"],
      [{ ...good, verdict: "C" }, 'verdict: Invalid option: expected one of "A"|"B"|"tie"|"both_bad"'],
      [{ ...good, source: "crowd" }, 'source: Invalid option: expected one of "human"|"ai"'],
      [{ ...good, annotator: "" }, "annotator: Too small"],
      [{ ...good, id: "" }, "id: Too small"],
      [{ ...good, created_at: "2025-05-01" }, "created_at: Invalid ISO datetime"],
      [{ ...good, created_at: "2025-05-01T08:30:00" }, "created_at: Invalid ISO datetime"],
      [{ ...good, criteria: { helpfulness: "both_harmful" } }, 'criteria.helpfulness: Invalid option: expected one of "A"|"B"|"same"'],
      [{ ...good, criteria: { honesty: "A" } }, 'Unrecognized key: "honesty"'],
      [{ ...good, metadata: [1] }, "metadata: Invalid input: expected record, received array"],
      [{ ...good, reponse_b: "x" }, 'Unrecognized key: "reponse_b"'],
      [{ ...good, prompt: 3 }, "prompt: expected a string, or a list of {role, content} messages"],
      [{ ...good, prompt: [] }, "prompt: Too small: expected array to have >=1 items"],
      [{ ...good, prompt: [U("q"), A("a")] }, 'prompt[1].role: is "assistant": a conversation prompt ends with the user\'s message'],
      [{ ...good, prompt: [{ role: "tool", content: "q" }] }, 'prompt[0].role: Invalid option: expected one of "system"|"user"|"assistant"'],
      [{ ...good, prompt: [{ role: "user" }] }, "prompt[0].content: Invalid input: expected string, received undefined"],
      [{ ...good, prompt: [{ ...U("q"), name: "x" }] }, 'prompt[0]: Unrecognized key: "name"'],
    ];
    for (const [record, message] of cases) {
      const err = (() => {
        try {
          parseComparison(record, "here");
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(RewardDataError);
      expect((err as Error).name).toBe("RewardDataError");
      expect((err as Error).message).toContain(`here: invalid comparison record: `);
      expect((err as Error).message).toContain(message);
    }
    expect(() => parseComparison([good])).toThrow("comparison: invalid comparison record: Invalid input: expected object, received array");
  });
});

describe("comparisonJsonSchema", () => {
  const schema = comparisonJsonSchema();

  it("has an $id, a title, every field, the required list, and no other keys", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe(COMPARISON_SCHEMA_ID);
    expect(schema.title).toBe("BatGPT.js pairwise comparison");
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    expect(Object.keys(properties)).toEqual(["id", "prompt", "response_a", "response_b", "verdict", "criteria", "source", "annotator", "created_at", "metadata"]);
    expect(schema.required).toEqual(["prompt", "response_a", "response_b", "verdict", "source", "annotator", "created_at"]);
    expect(properties.verdict!.enum).toEqual(["A", "B", "tie", "both_bad"]);
    expect(properties.created_at!.format).toBe("date-time");
    expect(properties.criteria!.additionalProperties).toBe(false);
    // plain JSON, a fresh object each call
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    schema.title = "changed";
    expect(comparisonJsonSchema().title).toBe("BatGPT.js pairwise comparison");
  });

  it("read back as a schema, accepts a good record unchanged and rejects a bad one", () => {
    const back = z.fromJSONSchema(JSON.parse(JSON.stringify(comparisonJsonSchema())) as z.core.JSONSchema.JSONSchema);
    for (const r of [good, full]) expect(back.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
    expect(back.safeParse({ ...good, extra: 1 }).success).toBe(false);
    expect(back.safeParse({ ...good, verdict: "C" }).success).toBe(false);
    expect(back.safeParse({ ...good, response_b: undefined }).success).toBe(false);
    expect(back.safeParse({ ...good, created_at: "yesterday" }).success).toBe(false);
  });
});

describe("readComparisons", () => {
  it("streams the records of a good file, skipping blank lines", async () => {
    const path = file([JSON.stringify(good), "", "   ", JSON.stringify(full), ""]);
    const got: ComparisonRecord[] = [];
    for await (const r of readComparisons(path)) got.push(r);
    expect(got).toEqual([good, full]);
  });

  it("reads CRLF line ends", async () => {
    const path = file([JSON.stringify(good), "", JSON.stringify(full)], "\r\n");
    expect((await loadComparisons(path)).records).toEqual([good, full]);
  });

  it("names the file and the line of a bad line, and what is wrong", async () => {
    const lines = [JSON.stringify(good), "{oops", JSON.stringify({ ...good, response_b: undefined }), JSON.stringify({ ...good, verdict: "C" }), JSON.stringify(full)];
    const cases: [number, string][] = [
      [2, "invalid JSON: "],
      [3, "invalid comparison record: response_b: Invalid input: expected string, received undefined"],
      [4, 'invalid comparison record: verdict: Invalid option: expected one of "A"|"B"|"tie"|"both_bad"'],
    ];
    for (const [line, what] of cases) {
      // the bad line at the same line number after a good one and blank lines, so each error is the first
      const path = file([...lines.slice(0, 1), ...Array.from({ length: line - 2 }, () => ""), lines[line - 1]!]);
      const err = await readAll(path);
      expect(err).toBeInstanceOf(RewardDataError);
      expect((err as Error).message).toContain(`${path}:${line}: ${what}`);
    }
    // the whole broken file: the first bad line stops it
    const path = file(lines);
    await expect(loadComparisons(path)).rejects.toThrow(`${path}:2: invalid JSON: `);
  });

  it("skips bad lines on request, reporting each with its line", async () => {
    const path = file([
      JSON.stringify(good),
      "{oops",
      JSON.stringify({ ...good, response_b: undefined }),
      JSON.stringify({ ...good, verdict: "C" }),
      "",
      JSON.stringify(full),
    ]);
    const seen: RewardDataError[] = [];
    const { records, skipped } = await loadComparisons(path, { skipInvalid: true, onSkip: (e) => seen.push(e) });
    expect(records).toEqual([good, full]);
    expect(skipped).toHaveLength(3);
    expect(skipped.map((e) => e.message.slice(0, path.length + 3))).toEqual([`${path}:2:`, `${path}:3:`, `${path}:4:`]);
    expect(skipped[1]!.message).toContain("response_b:");
    expect(skipped[2]!.message).toContain("verdict:");
    expect(seen).toEqual(skipped);
  });

  it("rejects bad options and reports a missing file", async () => {
    const path = file([JSON.stringify(good)]);
    await expect(loadComparisons(path, { skipInvalid: "yes" as never })).rejects.toThrow(/^invalid readComparisons options: skipInvalid: /);
    await expect(loadComparisons(path, { skip: true } as never)).rejects.toThrow(RewardDataError);
    await expect(loadComparisons(join(dir, "missing.jsonl"))).rejects.toThrow(/ENOENT/);
  });
});

describe("writeComparisons", () => {
  it("writes JSONL that loadComparisons reads back", async () => {
    const path = join(dir, "out", "prefs.jsonl");
    const records = [good, full, flipComparison(full)];
    expect(await writeComparisons(path, records)).toBe(3);
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(text.split("\n")).toHaveLength(4);
    expect(text.split("\n")[0]).toBe(JSON.stringify(good));
    expect((await loadComparisons(path)).records).toEqual(records);
    // from an async iterable, and none at all
    async function* gen() {
      yield good;
      yield full;
    }
    expect(await writeComparisons(path, gen())).toBe(2);
    expect((await loadComparisons(path)).records).toEqual([good, full]);
    const empty = join(dir, "out", "empty.jsonl");
    expect(await writeComparisons(empty, [])).toBe(0);
    expect(readFileSync(empty, "utf8")).toBe("");
  });

  it("names the index of a bad record and leaves the old file as it was", async () => {
    const path = join(dir, "keep.jsonl");
    await writeComparisons(path, [good]);
    const before = readFileSync(path, "utf8");
    const bad = { ...good, verdict: "C" } as unknown as ComparisonInput;
    await expect(writeComparisons(path, [good, full, bad])).rejects.toThrow('records[2]: invalid comparison record: verdict: Invalid option: expected one of "A"|"B"|"tie"|"both_bad"');
    await expect(writeComparisons(path, [good, full, bad])).rejects.toBeInstanceOf(RewardDataError);
    expect(readFileSync(path, "utf8")).toBe(before);
    expect(readdirSync(dir).filter((f) => f.startsWith("keep.jsonl.tmp-"))).toEqual([]);
  });
});

describe("toPreferencePairs", () => {
  const str: ComparisonRecord = { ...good, prompt: "Q: 天空是什么颜色？\nA: ", response_a: "蓝色。", response_b: "绿色。", verdict: "A" };
  const conv: ComparisonRecord = { ...good, prompt: [S("简短回答。"), U("天空是什么颜色？")], response_a: "绿色。", response_b: "蓝色。", verdict: "B" };

  it("explicit, standard (the default for a string prompt)", () => {
    expect(toPreferencePairs([str])).toEqual({ pairs: [{ prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。" }], dropped: { ties: 0, bothBad: 0 } });
    expect(toPreferencePairs([str], { prompt: "explicit", format: "standard" }).pairs).toStrictEqual([{ prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。" }]);
  });

  it("implicit, standard: plain concatenation of the prompt and the response", () => {
    expect(toPreferencePairs([str], { prompt: "implicit" }).pairs).toStrictEqual([{ chosen: "Q: 天空是什么颜色？\nA: 蓝色。", rejected: "Q: 天空是什么颜色？\nA: 绿色。" }]);
  });

  it("explicit, conversational (the default for a conversation prompt)", () => {
    expect(toPreferencePairs([conv]).pairs).toStrictEqual([
      {
        prompt: [
          { role: "system", content: "简短回答。" },
          { role: "user", content: "天空是什么颜色？" },
        ],
        chosen: [{ role: "assistant", content: "蓝色。" }],
        rejected: [{ role: "assistant", content: "绿色。" }],
      },
    ]);
  });

  it("implicit, conversational: the prompt's messages, then the answer", () => {
    expect(toPreferencePairs([conv], { prompt: "implicit", format: "conversational" }).pairs).toStrictEqual([
      {
        chosen: [
          { role: "system", content: "简短回答。" },
          { role: "user", content: "天空是什么颜色？" },
          { role: "assistant", content: "蓝色。" },
        ],
        rejected: [
          { role: "system", content: "简短回答。" },
          { role: "user", content: "天空是什么颜色？" },
          { role: "assistant", content: "绿色。" },
        ],
      },
    ]);
  });

  it("a string prompt in the conversational format becomes one user message", () => {
    expect(toPreferencePairs([str], { format: "conversational" }).pairs).toStrictEqual([
      {
        prompt: [{ role: "user", content: "Q: 天空是什么颜色？\nA: " }],
        chosen: [{ role: "assistant", content: "蓝色。" }],
        rejected: [{ role: "assistant", content: "绿色。" }],
      },
    ]);
    expect(toPreferencePairs([str], { format: "conversational", prompt: "implicit" }).pairs).toStrictEqual([
      {
        chosen: [
          { role: "user", content: "Q: 天空是什么颜色？\nA: " },
          { role: "assistant", content: "蓝色。" },
        ],
        rejected: [
          { role: "user", content: "Q: 天空是什么颜色？\nA: " },
          { role: "assistant", content: "绿色。" },
        ],
      },
    ]);
  });

  it("auto follows each record; a conversation asked for as standard is an error naming the record", () => {
    expect(toPreferencePairs([str, conv]).pairs).toStrictEqual([
      { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。" },
      { prompt: [S("简短回答。"), U("天空是什么颜色？")], chosen: [A("蓝色。")], rejected: [A("绿色。")] },
    ]);
    expect(() => toPreferencePairs([str, conv], { format: "standard" })).toThrow(
      'records[1]: the prompt is a conversation, which the standard format (strings) cannot hold without a chat template: use format "conversational" or "auto"',
    );
  });

  it("does not share message objects with the input or between chosen and rejected", () => {
    const { pairs } = toPreferencePairs([conv], { prompt: "implicit" });
    const p = pairs[0] as { chosen: Message[]; rejected: Message[] };
    expect(p.chosen[0]).not.toBe(p.rejected[0]);
    expect(p.chosen[0]).not.toBe((conv.prompt as Message[])[0]);
  });

  it("drops ties and both-bad records by default, counting them; errors on request", () => {
    const records: ComparisonRecord[] = [str, { ...str, verdict: "tie" }, { ...str, verdict: "both_bad" }, { ...str, verdict: "B" }, { ...str, verdict: "tie" }];
    expect(toPreferencePairs(records)).toEqual({
      pairs: [
        { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。" },
        { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "绿色。", rejected: "蓝色。" },
      ],
      dropped: { ties: 2, bothBad: 1 },
    });
    expect(() => toPreferencePairs(records, { ties: "error" })).toThrow('records[1]: a tie (verdict "tie"): no preference between the responses (ties: "error")');
    expect(() => toPreferencePairs(records, { bothBad: "error" })).toThrow('records[2]: verdict "both_bad": no preference between the responses (bothBad: "error")');
    expect(() => toPreferencePairs(records.slice(2, 4), { ties: "error" })).not.toThrow();
    expect(toPreferencePairs(records.slice(1, 2), { bothBad: "error" }).dropped).toEqual({ ties: 1, bothBad: 0 });
  });

  it("weights the criteria: overall A, harmlessness B, {overall: 1, harmlessness: 2} → B, margin 1", () => {
    const r: ComparisonRecord = { ...str, verdict: "A", criteria: { helpfulness: "A", harmlessness: "B" } };
    expect(toPreferencePairs([r], { criteria: { overall: 1, harmlessness: 2 } }).pairs).toStrictEqual([
      { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "绿色。", rejected: "蓝色。", margin: 1 },
    ]);
    // all three: 1 + 1 − 2 = 0: a tie
    expect(toPreferencePairs([r], { criteria: { overall: 1, helpfulness: 1, harmlessness: 2 } })).toEqual({ pairs: [], dropped: { ties: 1, bothBad: 0 } });
    expect(() => toPreferencePairs([r], { criteria: { overall: 1, helpfulness: 1, harmlessness: 2 }, ties: "error" })).toThrow(
      'records[0]: a tie (verdict "A", but the weighted criteria sum to 0): no preference between the responses (ties: "error")',
    );
    // helpfulness alone: A, margin 3
    expect(toPreferencePairs([r], { criteria: { helpfulness: 3 } }).pairs).toStrictEqual([{ prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。", margin: 3 }]);
    // a criterion the record lacks counts 0
    expect(toPreferencePairs([str], { criteria: { helpfulness: 1 } }).dropped).toEqual({ ties: 1, bothBad: 0 });
    expect(toPreferencePairs([str], { criteria: { overall: 2, helpfulness: 1 } }).pairs).toStrictEqual([{ prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。", margin: 2 }]);
    // same and both_harmful count 0; a tie or both_bad verdict that the criteria decide gives a pair
    const bothBad: ComparisonRecord = { ...str, verdict: "both_bad", criteria: { helpfulness: "same", harmlessness: "A" } };
    expect(toPreferencePairs([bothBad], { criteria: { overall: 1, helpfulness: 1, harmlessness: 1 } }).pairs).toStrictEqual([
      { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。", margin: 1 },
    ]);
    const harmful: ComparisonRecord = { ...str, verdict: "tie", criteria: { harmlessness: "both_harmful" } };
    expect(toPreferencePairs([harmful], { criteria: { overall: 1, harmlessness: 1 } }).dropped).toEqual({ ties: 1, bothBad: 0 });
  });

  it("adds the margin on request, or leaves it out", () => {
    const r: ComparisonRecord = { ...str, criteria: { harmlessness: "A" } };
    expect(toPreferencePairs([r], { margin: true }).pairs).toStrictEqual([{ prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。", margin: 1 }]);
    expect(toPreferencePairs([r], { criteria: { overall: 1, harmlessness: 0.5 }, margin: false }).pairs).toStrictEqual([
      { prompt: "Q: 天空是什么颜色？\nA: ", chosen: "蓝色。", rejected: "绿色。" },
    ]);
    expect(toPreferencePairs([r], { criteria: { overall: 1, harmlessness: 0.5 }, prompt: "implicit" }).pairs).toStrictEqual([
      { chosen: "Q: 天空是什么颜色？\nA: 蓝色。", rejected: "Q: 天空是什么颜色？\nA: 绿色。", margin: 1.5 },
    ]);
  });

  it("rejects bad options and bad records, naming them", () => {
    const bad: [ToPreferenceOptions, RegExp][] = [
      [{ prompt: "both" as never }, /^invalid toPreferencePairs options: prompt: Invalid option/],
      [{ format: "chatml" as never }, /^invalid toPreferencePairs options: format: Invalid option/],
      [{ ties: "keep" as never }, /^invalid toPreferencePairs options: ties: Invalid option/],
      [{ bothBad: "keep" as never }, /^invalid toPreferencePairs options: bothBad: Invalid option/],
      [{ criteria: { overall: -1 } }, /^invalid toPreferencePairs options: criteria\.overall: Too small/],
      [{ criteria: { overall: Infinity } }, /^invalid toPreferencePairs options: criteria\.overall: /],
      [{ criteria: { honesty: 1 } as never }, /^invalid toPreferencePairs options: criteria: Unrecognized key: "honesty"/],
      [{ criteria: {} }, /^invalid toPreferencePairs options: criteria: at least one criterion weight must be > 0$/],
      [{ criteria: { overall: 0, harmlessness: 0 } }, /criteria: at least one criterion weight must be > 0/],
      [{ margin: 1 as never }, /^invalid toPreferencePairs options: margin: /],
      [{ template: "x" } as never, /^invalid toPreferencePairs options: Unrecognized key: "template"/],
    ];
    for (const [options, pattern] of bad) {
      expect(() => toPreferencePairs([str], options)).toThrow(RewardDataError);
      expect(() => toPreferencePairs([str], options)).toThrow(pattern);
    }
    expect(() => toPreferencePairs([str, { ...str, response_a: 1 } as never])).toThrow("records[1]: invalid comparison record: response_a: Invalid input: expected string, received number");
  });
});

describe("flipComparison", () => {
  it("swaps the responses and A/B in the verdict and each criterion", () => {
    expect(flipComparison(full)).toStrictEqual({ ...full, response_a: "我不会写诗。", response_b: "清风。", verdict: "A", criteria: { helpfulness: "A", harmlessness: "same" } });
    expect(flipComparison({ ...good, verdict: "tie", criteria: { harmlessness: "both_harmful" } })).toStrictEqual({
      ...good,
      response_a: "不知道。",
      response_b: "疑是地上霜。",
      verdict: "tie",
      criteria: { harmlessness: "both_harmful" },
    });
    expect(flipComparison({ ...good, verdict: "both_bad" }).verdict).toBe("both_bad");
    expect("criteria" in flipComparison(good)).toBe(false);
  });

  const ab = <T extends string>(...rest: T[]) => fc.constantFrom<"A" | "B" | T>("A", "B", ...rest);
  const message = fc.record({ role: fc.constantFrom<Message["role"]>("system", "user", "assistant"), content: fc.string({ maxLength: 8 }) }, { noNullPrototype: true });
  const prompt = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.tuple(fc.array(message, { maxLength: 3 }), fc.string({ maxLength: 8 })).map(([head, last]): Message[] => [...head, U(last)]),
  );
  const record: fc.Arbitrary<ComparisonRecord> = fc.record(
    {
      id: fc.string({ minLength: 1, maxLength: 6 }),
      prompt,
      response_a: fc.string({ maxLength: 8 }),
      response_b: fc.string({ maxLength: 8 }),
      verdict: ab("tie", "both_bad"),
      criteria: fc.record({ helpfulness: ab("same"), harmlessness: ab("same", "both_harmful") }, { requiredKeys: [], noNullPrototype: true }),
      source: fc.constantFrom<"human" | "ai">("human", "ai"),
      annotator: fc.string({ minLength: 1, maxLength: 6 }),
      created_at: fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString()),
      metadata: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2, noNullPrototype: true }),
    },
    { requiredKeys: ["prompt", "response_a", "response_b", "verdict", "source", "annotator", "created_at"], noNullPrototype: true },
  );
  const w = fc.option(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.double({ min: 0, max: 3, noNaN: true })), { nil: undefined });
  const weights = fc
    .record({ overall: w, helpfulness: w, harmlessness: w })
    .filter((c) => Object.values(c).some((x) => x !== undefined && x > 0))
    .map((c) => Object.fromEntries(Object.entries(c).filter(([, x]) => x !== undefined)) as NonNullable<ToPreferenceOptions["criteria"]>);
  const options: fc.Arbitrary<ToPreferenceOptions> = fc.record({
    prompt: fc.constantFrom<"explicit" | "implicit">("explicit", "implicit"),
    format: fc.constantFrom<"auto" | "conversational">("auto", "conversational"),
    criteria: weights,
  });

  it("is its own inverse, and every generated record is valid", () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(parseComparison(r)).toEqual(r);
        expect(parseComparison(flipComparison(r))).toEqual(flipComparison(r));
        expect(flipComparison(flipComparison(r))).toStrictEqual(r);
      }),
    );
  });

  it("does not change the pair: flipping a record gives the same chosen, rejected and margin, and the same drops", () => {
    let pairs = 0;
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 4 }), options, (records, opts) => {
        const straight = toPreferencePairs(records, opts);
        const flipped = toPreferencePairs(records.map(flipComparison), opts);
        expect(flipped).toStrictEqual(straight);
        expect(straight.pairs.length + straight.dropped.ties + straight.dropped.bothBad).toBe(records.length);
        pairs += straight.pairs.length;
      }),
    );
    expect(pairs).toBeGreaterThan(50);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { createModel, selectBackend } from "@batgpt/core";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { comparisonSchema, judge, judgePrompt, modelJudge, RewardDataError, samplePairs, type CandidatePair, type Judge } from "../src/index.js";

let tok: Tokenizer;
const tiny = { hidden_size: 32, n_layer: 1, n_head: 4, ffn_hidden_size: 48, max_seq_len: 128 };
const pairs: CandidatePair[] = [
  { prompt: "续写：床前明月光，", responseA: "疑是地上霜。", responseB: "疑是霜。" },
  { prompt: "续写：举头望明月，", responseA: "低头。", responseB: "低头思故乡。" },
  { prompt: [{ role: "user", content: "续写：白日依山尽，" }], responseA: "黄河入海流。", responseB: "黄河入海流。" },
];
const now = new Date("2026-12-04T12:00:00Z");

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。白日依山尽，黄河入海流。问题回答哪个更好只或", "[Turn 1]\n\n[User] 续写\n\n[Assistant] A B"], { vocabSize: 320, minFrequency: 1 });
});

/** A judge from a function of one request. */
const fnJudge = (id: string, f: (a: string, b: string) => "A" | "B" | "tie"): Judge => ({ id, judge: async (rs) => rs.map((r) => ({ verdict: f(r.responseA, r.responseB) })) });

describe("judge", () => {
  it("a judge that always answers A gives no confident verdict once both orders are judged", async () => {
    const r = await judge(pairs, fnJudge("always-a", () => "A"), { now });
    expect(r.records).toEqual([]);
    expect(r.verdicts).toEqual([null, null, null]);
    expect(r.consistency).toBe(0);
    const ties = await judge(pairs, fnJudge("always-a", () => "A"), { inconsistent: "tie", now });
    expect(ties.records.map((x) => x.verdict)).toEqual(["tie", "tie", "tie"]);
    // calibrated: the mean of each response's probability over both orders decides
    const biased: Judge = { id: "biased", judge: async (rs) => rs.map((r) => ({ verdict: "A", probabilityA: r.responseA.length > r.responseB.length ? 0.9 : r.responseA.length < r.responseB.length ? 0.6 : 0.75 })) };
    const calibrated = await judge(pairs, biased, { inconsistent: "calibrate", now });
    expect(calibrated.verdicts).toEqual(["A", "B", "tie"]);
    expect(calibrated.consistency).toBe(0);
    expect(calibrated.records[0]!.metadata).toEqual({ criterion: "overall", both_orders: true, probability_a: 0.9, probability_a_swapped: 0.4, consistent: false });
    // without probabilities, calibration has nothing to go on: a tie
    expect((await judge(pairs, fnJudge("always-a", () => "A"), { inconsistent: "calibrate", now })).verdicts).toEqual(["tie", "tie", "tie"]);
    // asked in one order only, its position bias passes for a verdict
    expect((await judge(pairs, fnJudge("always-a", () => "A"), { bothOrders: false, now })).verdicts).toEqual(["A", "A", "A"]);
  });

  it("keeps the verdicts of a consistent judge, as valid comparison records from the AI source", async () => {
    const longer = fnJudge("longer", (a, b) => (a.length > b.length ? "A" : a.length < b.length ? "B" : "tie"));
    const r = await judge(pairs, longer, { criterion: "helpfulness", now });
    expect(r.verdicts).toEqual(["A", "B", "tie"]);
    expect(r.consistency).toBe(1);
    expect(r.records[0]).toEqual({
      prompt: "续写：床前明月光，",
      response_a: "疑是地上霜。",
      response_b: "疑是霜。",
      verdict: "A",
      criteria: { helpfulness: "A" },
      source: "ai",
      annotator: "longer",
      created_at: "2026-12-04T12:00:00.000Z",
      metadata: { criterion: "helpfulness", both_orders: true },
    });
    for (const rec of r.records) expect(comparisonSchema.safeParse(rec).success).toBe(true);
  });

  it("refuses a judge that answers the wrong number of times or with another verdict", async () => {
    await expect(judge(pairs, { id: "short", judge: async () => [{ verdict: "A" }] })).rejects.toThrow(new RewardDataError("judge short gave 1 answers for 3 requests"));
    await expect(judge(pairs, { id: "odd", judge: async (rs) => rs.map(() => ({ verdict: "C" as never })) })).rejects.toThrow('judge odd: answer 0 has verdict "C", expected "A", "B" or "tie"');
    await expect(judge(pairs, fnJudge("x", () => "A"), { inconsistent: "keep" as never })).rejects.toThrow(/^invalid judge options: inconsistent/);
    await expect(judge(pairs, (async () => []) as never)).rejects.toThrow("judge: a judge is an object { id, judge: async (requests) => answers }, not a bare function");
  });
});

describe("modelJudge", () => {
  it("scores the verdict tokens' log-probabilities after the judging prompt; its verdict follows the likelier", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const j = modelJudge(model, tok, { id: "sft-judge" });
    const requests = pairs.map((p) => ({ ...p, criterion: "overall" as const }));
    const answers = await j.judge(requests);
    expect(answers).toHaveLength(3);
    for (const a of answers) {
      expect(a.probabilityA).toBeGreaterThan(0);
      expect(a.probabilityA).toBeLessThan(1);
      expect(a.verdict).toBe(a.probabilityA! > 0.5 ? "A" : "B");
    }
    // batched or one at a time: the same numbers
    const single = await modelJudge(model, tok, { batchSize: 1 }).judge(requests);
    single.forEach((a, i) => expect(a.probabilityA).toBeCloseTo(answers[i]!.probabilityA!, 5));
    // a tie band wide enough makes every verdict a tie
    expect((await modelJudge(model, tok, { tieBand: 1e9 }).judge(requests)).map((a) => a.verdict)).toEqual(["tie", "tie", "tie"]);
    expect(judgePrompt(requests[0]!)).toBe("问题：续写：床前明月光，\n回答A：疑是地上霜。\n回答B：疑是霜。\n哪个回答更好？只回答 A 或 B。");
    const r = await judge(pairs, j, { now });
    expect(r.consistency).toBeGreaterThanOrEqual(0);
    expect(r.records.every((x) => x.annotator === "sft-judge")).toBe(true);
    expect(() => modelJudge(model, tok, { tieBand: -1 })).toThrow(/^invalid modelJudge options: tieBand/);
    // a request longer than the context: measured beforehand, refused when judged
    const long = { ...requests[0]!, responseA: "床前明月光，".repeat(30) };
    expect(j.promptTokens(long)).toBeGreaterThan(128);
    await expect(j.judge([long])).rejects.toThrow(/^modelJudge: a judging prompt and verdict of \d+ tokens do not fit the model's max_seq_len 128/);
    model.dispose();
  });
});

describe("samplePairs", () => {
  it("samples two answers a prompt with different seeds and temperatures, the same on 1 and 2 replicas", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 2 });
    const prompts = ["[Turn 1]\n\n[User] 续写：床前明月光，\n\n[Assistant]", "[Turn 1]\n\n[User] 续写：举头望明月，\n\n[Assistant]"];
    const one = await samplePairs(model, tok, prompts, { maxNewTokens: 6, workers: 1 });
    const two = await samplePairs(model, tok, prompts, { maxNewTokens: 6, workers: 2 });
    expect(one).toHaveLength(2);
    expect(two.map((p) => [p.a.ids, p.b.ids])).toEqual(one.map((p) => [p.a.ids, p.b.ids]));
    expect(one.some((p) => p.a.text !== p.b.text)).toBe(true);
    model.dispose();
  });
});

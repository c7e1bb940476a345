import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { createModel } from "@batgpt/core";
import { GPT2_PATTERN, trainBpe } from "@batgpt/tokenizer";
import { answerTokens, type Benchmark, CEVAL_FORMAT, evaluateMultipleChoice, loadCEval, loadCMMLU, nextTokenLogProbs, reportMarkdown, sequenceLogProbs, type PromptFormat } from "../src/index.js";
import { favouring, FIXTURES, fixtureTokenizer, TINY } from "./helpers.js";

const ceval = () => loadCEval(join(FIXTURES, "ceval"), { subjects: ["computer_network"] });
const cmmlu = () => loadCMMLU(join(FIXTURES, "cmmlu"));

describe("answer-only scoring", () => {
  it("a model whose logits favour B gets exactly the share of B answers, per subject, category and average", async () => {
    const tok = await fixtureTokenizer();
    const b = answerTokens(tok, CEVAL_FORMAT, ["A", "B", "C", "D"], ceval().subjects[0]!.dev[0]!)[1]!;
    expect(b.source).toBe("after-cue");
    // a context long enough for CMMLU's 1-shot prompts in this byte-level tokenizer
    const model = await favouring([b.id], 60, { max_seq_len: 512 });
    // C-Eval val answers C, B, A, C
    const r1 = await evaluateMultipleChoice(model, tok, ceval(), { scoring: ["answer_only"] });
    expect(r1.subjects[0]!.answer_only!.acc).toBe(0.25);
    expect(r1.subjects[0]!.predictions!.map((p) => p.answer_only)).toEqual(["B", "B", "B", "B"]);
    expect(r1.average.answer_only!.acc).toBe(0.25);
    expect(r1.categories).toEqual({ STEM: { answer_only: { acc: 0.25 }, subjects: 1 } });
    expect(r1.chance).toBe(0.25);
    expect(r1.subjects[0]!.loglikelihood).toBeUndefined();
    // CMMLU: agronomy A, C, A → 0; ancient_chinese B, A → 1/2; the average is over subjects
    const r2 = await evaluateMultipleChoice(model, tok, cmmlu(), { scoring: ["answer_only"], shots: 1 });
    expect(r2.subjects.map((s) => s.answer_only!.acc)).toEqual([0, 0.5]);
    expect(r2.average.answer_only!.acc).toBe(0.25);
    expect(r2.categories).toEqual({
      "Social Science": { answer_only: { acc: 0.5 }, subjects: 1 },
      Other: { answer_only: { acc: 0 }, subjects: 1 },
      "China specific": { answer_only: { acc: 0.5 }, subjects: 1 },
    });
    expect(r2.subjects.every((s) => s.shots === 1 && s.shotsDropped === 0)).toBe(true);
  });

  it("scores the letters from the same logits as the model's own next-token prediction (packing changes nothing)", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 5 });
    const contexts = ["以下是中国关于", "答案：", "题目：下列作物中，属于C4植物的是：", "床前明月光"].map((t) => tok.encode(t));
    const cands = tok.encode("ABCD").length === 4 ? tok.encode("ABCD") : [1, 2, 3, 4].map((i) => i + 40);
    const packed = nextTokenLogProbs(model, contexts, cands, { rows: 1, rowLength: 16 });
    contexts.forEach((c, i) => {
      const alone = tf.tidy(() => tf.logSoftmax(model.logits([[...c, cands[0]!]]).slice([0, c.length, 0], [1, 1, -1]).reshape([-1])).dataSync());
      cands.forEach((id, j) => expect(Math.abs(packed[i * cands.length + j]! - alone[id]!)).toBeLessThan(1e-5));
    });
    const seqs = contexts;
    const lps = sequenceLogProbs(model, seqs, "forward", { rows: 2, rowLength: 24 });
    seqs.forEach((s, i) => {
      const alone = tf.tidy(() => model.tokenLogProbs({ ids: Int32Array.from(s), batch: 1, seqLen: s.length }, "forward").dataSync());
      for (let t = 0; t < s.length; t++) expect(Math.abs(lps[i]![t]! - alone[t]!)).toBeLessThan(1e-5);
    });
    model.dispose();
  });
});

describe("log-likelihood scoring", () => {
  it("a model that favours the tokens of 甲 picks the choice 甲: acc and acc_norm are the share of questions it answers", async () => {
    const tok = await fixtureTokenizer();
    const model = await favouring(tok.encode("甲"));
    const r1 = await evaluateMultipleChoice(model, tok, ceval(), { scoring: ["loglikelihood"], shots: 2 });
    // 甲 is C, A, A, C; the answers C, B, A, C
    expect(r1.subjects[0]!.predictions!.map((p) => p.loglikelihood)).toEqual(["C", "A", "A", "C"]);
    expect(r1.subjects[0]!.loglikelihood).toEqual({ acc: 0.75, acc_norm: 0.75 });
    const r2 = await evaluateMultipleChoice(model, tok, cmmlu(), { scoring: ["loglikelihood"] });
    expect(r2.subjects.map((s) => s.loglikelihood)).toEqual([
      { acc: 2 / 3, acc_norm: 2 / 3 },
      { acc: 0.5, acc_norm: 0.5 },
    ]);
    expect(r2.average.loglikelihood!.acc).toBeCloseTo(7 / 12, 12);
  });

  it("acc_norm divides by the choice's characters: a long choice of likely tokens wins it, a short one wins acc", async () => {
    const tok = await fixtureTokenizer();
    // every token has the same log-probability −log V: acc picks the fewest tokens, acc_norm the most characters per token
    const base = createModel(TINY, { tokenizer: tok, seed: 1 });
    base.params.get("model.encoder.ln_f.weight")!.assign(tf.zerosLike(base.params.get("model.encoder.ln_f.weight")!));
    const bench = ceval();
    const q = bench.subjects[0]!.questions[3]!; // CSMA/CD, 令牌环, 甲, ALOHA
    bench.subjects[0]!.questions = [q];
    const r = await evaluateMultipleChoice(base, tok, bench, { scoring: ["loglikelihood", "answer_only"] });
    const counts = q.choices.map((c) => tok.encode(c).length);
    const perChar = q.choices.map((c, i) => counts[i]! / [...c].length);
    const fewest = counts.indexOf(Math.min(...counts));
    const densest = perChar.indexOf(Math.min(...perChar));
    expect(r.subjects[0]!.predictions![0]!.loglikelihood).toBe("ABCD"[fewest]);
    expect(r.subjects[0]!.predictions![0]!.loglikelihood_norm).toBe("ABCD"[densest]);
    // equal logits: answer-only takes the first letter, as numpy's argmax
    expect(r.subjects[0]!.predictions![0]!.answer_only).toBe("A");
    expect(r.subjects[0]!.predictions![0]!.answer_only_conf).toBeCloseTo(0.25, 6);
    base.dispose();
  });
});

describe("the report", () => {
  it("drops shots that do not fit the context and says how many", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel({ ...TINY, max_seq_len: 96 }, { tokenizer: tok, seed: 2 });
    const r = await evaluateMultipleChoice(model, tok, ceval(), { shots: 2 });
    const zeroShot = await evaluateMultipleChoice(model, tok, ceval(), { shots: 0 });
    expect(r.shotsDropped).toBeGreaterThan(0);
    expect(r.subjects[0]!.shots).toBeLessThan(2);
    expect(zeroShot.shotsDropped).toBe(0);
    expect(reportMarkdown(r)).toContain(`${r.shotsDropped} shots were dropped to fit prompts into 96 tokens.`);
    model.dispose();
  });

  it("prints a Markdown table with subjects, categories, the average and chance", async () => {
    const tok = await fixtureTokenizer();
    const model = await favouring([answerTokens(tok, CEVAL_FORMAT, ["A", "B", "C", "D"], ceval().subjects[0]!.questions[0]!)[1]!.id]);
    const md = reportMarkdown(await evaluateMultipleChoice(model, tok, cmmlu()));
    expect(md.split("\n").slice(0, 3)).toEqual([
      "| subject | category | n | answer-only acc | choice acc | choice acc_norm |",
      "| --- | --- | ---: | ---: | ---: | ---: |",
      expect.stringMatching(/^\| 农学 \(agronomy\) \| Other \| 3 \| 0\.0 \| /),
    ]);
    expect(md).toMatch(/\| \*\*Average\*\* \| 2 subjects \| 5 \| 25\.0 \|/);
    expect(md).toContain("cmmlu test, 0-shot, cmmlu prompt; chance is 25.0%.");
  });

  it("says when the letter after the cue is another token than encode(letter)", async () => {
    // an English cue "Answer:" with the letter after a space, and a GPT-2 pattern that keeps the space with the letter
    const corpus = Array.from({ length: 20 }, (_, i) => `Question ${i}\nA. x\nB. y\nAnswer: ${"AB"[i % 2]}\n\n`).join("");
    const tok = await trainBpe([corpus], { vocabSize: 300, minFrequency: 1, pattern: GPT2_PATTERN });
    const format: PromptFormat = {
      name: "english",
      header: () => "Choose.\n\n",
      example: (q, letters, answer) => `${q.question}${letters.map((L, i) => `\n${L}. ${q.choices[i]}`).join("")}\nAnswer:${answer ? ` ${q.answer}\n\n` : ""}`,
      answerCue: "Answer:",
    };
    const questions = [0, 1, 2].map((i) => ({ id: String(i), question: `Question ${i}`, choices: ["x", "y"], answer: "AB"[i % 2]!, line: i + 2 }));
    const bench: Benchmark = { name: "english", split: "val", format, categories: [], subjects: [{ key: "toy", name: "toy", categories: [], letters: ["A", "B"], questions, dev: questions }] };
    const model = createModel(TINY, { tokenizer: tok, seed: 2 });
    const r = await evaluateMultipleChoice(model, tok, bench, { shots: 1, scoring: ["answer_only"] });
    expect(r.answerTokens.map((t) => [t.letter, t.text, t.source, t.bareId === tok.encode(t.letter)[0]])).toEqual([
      ["A", " A", "after-cue", true],
      ["B", " B", "after-cue", true],
    ]);
    expect(r.answerTokens.every((t) => t.id !== t.bareId)).toBe(true);
    expect(r.answerTokensDiffer).toBe(true);
    expect(reportMarkdown(r)).toContain(`The letter scored is the token after the answer cue: A → ${r.answerTokens[0]!.id} " A" (encode("A") is ${r.answerTokens[0]!.bareId})`);
    // the fixture tokenizer keeps "：" and the letter apart: the same token either way
    const fixtureTok = await fixtureTokenizer();
    expect(answerTokens(fixtureTok, CEVAL_FORMAT, ["A", "B", "C", "D"], ceval().subjects[0]!.dev[0]!).every((t) => t.id === t.bareId && t.source === "after-cue")).toBe(true);
    model.dispose();
  });

  it("refuses a split without answers and more shots than dev questions", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 2 });
    await expect(evaluateMultipleChoice(model, tok, loadCEval(join(FIXTURES, "ceval"), { split: "test" }))).rejects.toThrow(/computer_network_test.csv:2: subject computer_network: question id 0 has no answer .*C-Eval.s test answers are not public: evaluate its val split/);
    await expect(evaluateMultipleChoice(model, tok, cmmlu(), { shots: 2 })).rejects.toThrow(/2-shot needs 2 dev questions; subject ancient_chinese has 1/);
    await expect(evaluateMultipleChoice(model, tok, cmmlu(), { shots: -1 })).rejects.toThrow(/evaluateMultipleChoice options.*shots/);
    model.dispose();
  });

  it("keeps the tensor count flat", async () => {
    const tok = await fixtureTokenizer();
    const model = createModel(TINY, { tokenizer: tok, seed: 2 });
    await evaluateMultipleChoice(model, tok, cmmlu(), { shots: 1 }); // warms core's per-size tables
    const before = tf.memory().numTensors;
    await evaluateMultipleChoice(model, tok, cmmlu(), { shots: 1 });
    await evaluateMultipleChoice(model, tok, ceval(), { shots: 2 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

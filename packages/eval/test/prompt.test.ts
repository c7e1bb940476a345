import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPrompt, CEVAL_FORMAT, CMMLU_FORMAT, loadCEval, loadCMMLU, questionPrompt, type Question } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

const ceval = loadCEval(join(FIXTURES, "ceval"), { subjects: ["computer_network"] });
const cmmlu = loadCMMLU(join(FIXTURES, "cmmlu"));

describe("C-Eval prompt (evaluators/*.py generate_few_shot_prompt + format_example)", () => {
  it("zero-shot", () => {
    expect(questionPrompt(ceval, "computer_network", 1).text).toBe("以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\nTCP的端口号有几位？\nA. 甲\nB. 16\nC. 32\nD. 64\n答案：");
  });

  it("2-shot", () => {
    expect(questionPrompt(ceval, "computer_network", 1, { shots: 2 }).text).toBe(
      "以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n\n" +
        "下列设备属于资源子网的是____。\nA. 计算机软件\nB. 网桥\nC. 交换机\nD. 路由器\n答案：A\n\n" +
        '滑动窗口的作用是____。\nA. 流量控制，也即"速率"控制\nB. 拥塞控制\nC. 路由控制\nD. 差错控制\n答案：A\n\n' +
        "TCP的端口号有几位？\nA. 甲\nB. 16\nC. 32\nD. 64\n答案：",
    );
  });
});

describe("CMMLU prompt (mp_utils.py gen_prompt + format_example)", () => {
  it("zero-shot", () => {
    expect(questionPrompt(cmmlu, "agronomy", 2).text).toBe("以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n题目：水稻的原产地是：\nA. 中国\nB. 甲\nC. 欧洲\nD. 非洲\n答案是：");
  });

  it("2-shot", () => {
    expect(questionPrompt(cmmlu, "agronomy", 2, { shots: 2 }).text).toBe(
      "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n" +
        "题目：下列作物中，属于C4植物的是：\nA. 小麦\nB. 玉米\nC. 水稻\nD. 大豆\n答案是：B\n\n" +
        "题目：土壤肥力的核心是：\nA. 有机质\nB. 水分\nC. 空气,温度\nD. 微生物\n答案是：A\n\n" +
        "题目：水稻的原产地是：\nA. 中国\nB. 甲\nC. 欧洲\nD. 非洲\n答案是：",
    );
  });
});

describe("fitting a k-shot prompt into the context (CMMLU's rule)", () => {
  const q = (text: string, answer = "A"): Question => ({ id: text, question: text, choices: ["a", "b"], answer, line: 0 });
  // one "token" per character makes the arithmetic visible
  const countTokens = (t: string) => [...t].length;
  const dev = [q("x".repeat(10)), q("y".repeat(30)), q("z".repeat(20)), q("w".repeat(30))];
  const target = q("question");
  const header = CMMLU_FORMAT.header("S").length;
  const end = CMMLU_FORMAT.example(target, ["A", "B"], false).length;
  const shotLen = (n: number) => CMMLU_FORMAT.example(q("x".repeat(n)), ["A", "B"], true).length;

  it("keeps every shot when they fit", () => {
    const all = header + end + shotLen(10) + 2 * shotLen(30) + shotLen(20);
    const p = buildPrompt(CMMLU_FORMAT, "S", ["A", "B"], dev, target, 4, { maxTokens: all + 1, countTokens });
    expect([p.shots, p.shotsDropped, p.headerDropped]).toEqual([4, 0, false]);
    expect(p.text.length).toBe(all);
  });

  it("drops the longest shots first, ties together, until the rest is under the budget", () => {
    // shots alone must be < maxTokens − header − end: the two 30-char shots go at once, then it fits
    const max = header + end + shotLen(10) + shotLen(20) + 1;
    const p = buildPrompt(CMMLU_FORMAT, "S", ["A", "B"], dev, target, 4, { maxTokens: max, countTokens });
    expect([p.shots, p.shotsDropped]).toEqual([2, 2]);
    expect(p.text).toContain("x".repeat(10));
    expect(p.text).toContain("z".repeat(20));
    expect(p.text).not.toContain("y");
    // exactly at the budget is too long (the official test is >=)
    expect(buildPrompt(CMMLU_FORMAT, "S", ["A", "B"], dev, target, 4, { maxTokens: max - 1, countTokens }).shots).toBe(1);
  });

  it("leaves only the question when header and question alone are too long", () => {
    const p = buildPrompt(CMMLU_FORMAT, "S", ["A", "B"], dev, target, 3, { maxTokens: header + end - 1, countTokens });
    expect(p).toEqual({ text: CMMLU_FORMAT.example(target, ["A", "B"], false), shots: 0, shotsDropped: 3, headerDropped: true });
  });

  it("refuses more shots than dev questions, and a shot without an answer", () => {
    expect(() => buildPrompt(CEVAL_FORMAT, "S", ["A", "B"], dev, target, 5)).toThrow(/5-shot needs 5 dev questions, the subject has 4/);
    expect(() => buildPrompt(CEVAL_FORMAT, "S", ["A", "B"], [{ ...dev[0]!, answer: null }], target, 1)).toThrow(/has no answer and cannot be a shot/);
  });
});

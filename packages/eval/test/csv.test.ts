import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EvalDataError, loadCEval, loadCMMLU, parseQuestionsCsv } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

describe("parseQuestionsCsv", () => {
  it("reads the C-Eval layout: a BOM, CRLF, quoted commas, doubled quotes, an explanation", () => {
    const file = join(FIXTURES, "ceval/dev/computer_network_dev.csv");
    const { questions, letters } = parseQuestionsCsv(readFileSync(file, "utf8"), file);
    expect(letters).toEqual(["A", "B", "C", "D"]);
    expect(questions).toEqual([
      { id: "0", question: "下列设备属于资源子网的是____。", choices: ["计算机软件", "网桥", "交换机", "路由器"], answer: "A", explanation: "1. 资源子网负责数据处理，包括软件", line: 2 },
      { id: "1", question: "滑动窗口的作用是____。", choices: ['流量控制，也即"速率"控制', "拥塞控制", "路由控制", "差错控制"], answer: "A", line: 3 },
    ]);
  });

  it("keeps a newline inside a quoted field and numbers rows by the line they start on", () => {
    const file = join(FIXTURES, "ceval/val/computer_network_val.csv");
    const { questions } = parseQuestionsCsv(readFileSync(file, "utf8"), file);
    expect(questions[0]!.question).toBe("在OSI参考模型中，直接为会话层\n提供服务的是____。");
    expect(questions.map((q) => q.line)).toEqual([2, 4, 5, 6]);
    expect(questions[2]!.question).toBe("IP地址 192.168.1.1 属于____类, 对吗");
  });

  it("reads the CMMLU layout: the unnamed index column is the id, Question/Answer in any case", () => {
    const file = join(FIXTURES, "cmmlu/test/agronomy.csv");
    const { questions } = parseQuestionsCsv(readFileSync(file, "utf8"), file);
    expect(questions[0]).toEqual({ id: "0", question: '"春种一粒粟"的作物是：', choices: ["甲", "麦", "稻", "豆"], answer: "A", line: 2 });
    expect(questions.map((q) => q.answer)).toEqual(["A", "C", "A"]);
  });

  it("reads an unanswered split as null answers: an empty answer, or no answer column (C-Eval's test files)", () => {
    expect(parseQuestionsCsv("id,question,A,B,C,D,answer\n0,q,a,b,c,d,\n").questions[0]!.answer).toBeNull();
    expect(parseQuestionsCsv("id,question,A,B,C,D\n0,q,a,b,c,d\n").questions[0]).toEqual({ id: "0", question: "q", choices: ["a", "b", "c", "d"], answer: null, line: 2 });
  });

  it.each([
    ["an unclosed quote", 'id,question,A,B,answer\n0,ok,a,b,A\n1,"never closed,a,b,A\n', /bad\.csv:3: not a valid CSV \(CSV_QUOTE_NOT_CLOSED\).*look for an opening quote that is never closed above it/],
    ["a stray quote", 'id,question,A,B,answer\n0,ok,a,b,A\n1,x"y"z,a,b,A\n', /bad\.csv:3: not a valid CSV \(INVALID_OPENING_QUOTE\)/],
    ["a row with an extra field", "id,question,A,B,answer\n0,ok,a,b,A\n1,x,y,a,b,A\n", /bad\.csv:3: row 2 has 6 fields, the header has 5/],
    ["a row with a missing field", "id,question,A,B,answer\n0,ok,a,b,A\n1,x,a,b,A\n2,x,a,A\n", /bad\.csv:4: row 3 has 4 fields, the header has 5/],
    ["an answer that is not a letter", "id,question,A,B,answer\n0,ok,a,b,A\n1,x,a,b,C\n", /bad\.csv:3: row 2: the answer "C" is not one of A, B/],
    ["no question column", "id,stem,A,B,answer\n0,ok,a,b,A\n", /bad\.csv:1: the header has no "question" column/],
    ["one choice", "id,question,A,answer\n0,ok,a,A\n", /bad\.csv:1: the header has no "b" column/],
    ["a duplicate column", "id,question,A,B,a,answer\n0,ok,a,b,c,A\n", /the header names the column "a" twice/],
    ["no rows", "id,question,A,B,answer\n", /bad\.csv: the file has a header but no question rows/],
    ["nothing", "", /the file is empty/],
  ])("refuses %s with the file and line", (_, text, message) => {
    expect(() => parseQuestionsCsv(text, "bad.csv")).toThrow(EvalDataError);
    expect(() => parseQuestionsCsv(text, "bad.csv")).toThrow(message);
  });

  it("gives the error its file and line as fields", () => {
    try {
      parseQuestionsCsv("id,question,A,B,answer\n0,ok,a,b,A\n1,x,a,b,Z\n", "exam.csv");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EvalDataError);
      expect((e as EvalDataError).file).toBe("exam.csv");
      expect((e as EvalDataError).line).toBe(3);
    }
  });
});

describe("loaders", () => {
  it("loadCEval finds {split}/{subject}_{split}.csv and files in the directory itself; names and categories from the map", () => {
    const bench = loadCEval(join(FIXTURES, "ceval"));
    expect(bench.name).toBe("ceval");
    expect(bench.split).toBe("val");
    expect(bench.subjects.map((s) => [s.key, s.name, s.categories, s.questions.length, s.dev.length])).toEqual([
      ["computer_network", "计算机网络", ["STEM"], 4, 2],
      ["verse_order", "verse_order", [], 2, 0],
    ]);
  });

  it("loadCEval runs a lab's own exam with its own names and categories", () => {
    const bench = loadCEval(join(FIXTURES, "ceval"), { subjects: ["verse_order"], names: { verse_order: "诗句顺序" }, categories: { verse_order: ["Verse"] } });
    expect(bench.subjects.map((s) => [s.key, s.name, s.categories])).toEqual([["verse_order", "诗句顺序", ["Verse"]]]);
  });

  it("loadCMMLU reads dev/ and test/ with CMMLU's names and categories (China specific counted too)", () => {
    const bench = loadCMMLU(join(FIXTURES, "cmmlu"));
    expect(bench.subjects.map((s) => [s.key, s.name, s.categories, s.questions.length, s.dev.length])).toEqual([
      ["agronomy", "农学", ["Other"], 3, 2],
      ["ancient_chinese", "古汉语", ["Social Science", "China specific"], 2, 1],
    ]);
  });

  it("names what is missing", () => {
    expect(() => loadCEval(join(FIXTURES, "nowhere"))).toThrow(/the directory .*nowhere does not exist .*nothing is fetched/);
    expect(() => loadCEval(join(FIXTURES, "ceval"), { subjects: ["law"] })).toThrow(/no file for subject "law"/);
    expect(() => loadCMMLU(join(FIXTURES, "cmmlu"), { split: "val" })).toThrow(/no subject files in .*cmmlu\/val/);
    expect(() => loadCEval(join(FIXTURES, "ceval"), { names: { verse_ordr: "诗句顺序" } })).toThrow(/names names subject "verse_ordr", which is not loaded \(the subjects are computer_network, verse_order\)/);
    expect(() => loadCMMLU(join(FIXTURES, "cmmlu"), { subjects: ["agronomy"], categories: { ancient_chinese: ["X"] } })).toThrow(/categories names subject "ancient_chinese", which is not loaded/);
  });
});

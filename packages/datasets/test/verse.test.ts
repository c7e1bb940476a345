import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DatasetError,
  VERSE_FORMS,
  VERSE_FORM_NAMES,
  checkVerseForm,
  classifyVerse,
  formRate,
  parseVerse,
  versePrompt,
  verseShape,
  verseText,
  verseTitle,
} from "../src/index.js";
import type { VerseForm } from "../src/index.js";

const JINGYESI = ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"];
const JINGYESI_TEXT = "《静夜思》五言绝句\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。";
const CHUNWANG = "国破山河在，城春草木深。\n感时花溅泪，恨别鸟惊心。\n烽火连三月，家书抵万金。\n白头搔更短，浑欲不胜簪。";
const CHUSAI = "秦时明月汉时关，万里长征人未还。\n但使龙城飞将在，不教胡马度阴山。";
const DENGGAO =
  "风急天高猿啸哀，渚清沙白鸟飞回。\n无边落木萧萧下，不尽长江滚滚来。\n万里悲秋常作客，百年多病独登台。\n艰难苦恨繁霜鬓，潦倒新停浊酒杯。";

describe("the verse forms", () => {
  it("are the four forms of 近体诗", () => {
    expect(VERSE_FORMS).toEqual({
      五言绝句: { charsPerLine: 5, lines: 4 },
      七言绝句: { charsPerLine: 7, lines: 4 },
      五言律诗: { charsPerLine: 5, lines: 8 },
      七言律诗: { charsPerLine: 7, lines: 8 },
    });
    expect(VERSE_FORM_NAMES).toEqual(["五言绝句", "七言绝句", "五言律诗", "七言律诗"]);
  });

  it("verseShape checks custom shapes and names the field", () => {
    expect(verseShape("七言律诗")).toEqual({ charsPerLine: 7, lines: 8 });
    expect(verseShape({ charsPerLine: 4, lines: 2 })).toEqual({ charsPerLine: 4, lines: 2 });
    expect(() => verseShape("六言绝句" as VerseForm)).toThrow(DatasetError);
    expect(() => verseShape({ charsPerLine: 5, lines: 3 })).toThrow(/invalid verse form: lines: expected an even number/);
    expect(() => verseShape({ charsPerLine: 0, lines: 4 })).toThrow(/charsPerLine/);
  });
});

describe("verseText, versePrompt, parseVerse", () => {
  it("lay out a verse document: the title line, then one couplet a line", () => {
    expect(verseText("静夜思", "五言绝句", JINGYESI)).toBe(JINGYESI_TEXT);
    expect(verseText(" 《静夜思》 ", "五言绝句", JINGYESI)).toBe(JINGYESI_TEXT);
    expect(versePrompt("静夜思", "五言绝句")).toBe("《静夜思》五言绝句\n");
    expect(versePrompt("静夜思", "五言绝句", "床前明月光")).toBe("《静夜思》五言绝句\n床前明月光，");
    expect(versePrompt("静夜思", "五言绝句", "床前明月光，")).toBe("《静夜思》五言绝句\n床前明月光，");
    expect(parseVerse(JINGYESI_TEXT)).toEqual({ title: "静夜思", form: "五言绝句", lines: JINGYESI });
  });

  it("reject bad titles, forms and lines", () => {
    expect(() => verseText("", "五言绝句", JINGYESI)).toThrow(/invalid verse title/);
    expect(() => verseText("a\nb", "五言绝句", JINGYESI)).toThrow(/invalid verse title/);
    expect(() => verseText("静夜思", "五言绝句", JINGYESI.slice(0, 3))).toThrow(/has 4 lines, got 3/);
    expect(() => verseText("静夜思", "七言绝句", JINGYESI)).toThrow(/line 1 .*expected 7 Han characters/);
    expect(() => verseText("静夜思", "五言绝句", ["床前明月，", ...JINGYESI.slice(1)])).toThrow(/line 1/);
    expect(() => versePrompt("静夜思", "五言绝句", "床前明月")).toThrow(DatasetError);
    expect(() => versePrompt("静夜思", "五言古诗" as VerseForm)).toThrow(/invalid verse form "五言古诗"/);
  });

  it("verseTitle trims, strips an outer 《》 and refuses what would break the title line", () => {
    expect(verseTitle("  春望 ")).toBe("春望");
    expect(verseTitle("《春望》")).toBe("春望");
    expect(verseTitle("帝京篇十首 一")).toBe("帝京篇十首 一");
    expect(verseTitle("春词 \u3000其一")).toBe("春词 其一");
    for (const bad of [undefined, "", "  ", "《》", "上\n下", "读《离骚》"]) expect(verseTitle(bad)).toBeUndefined();
  });

  it("parseVerse refuses what is not a verse document in its stated form", () => {
    expect(parseVerse(`《春望》五言律诗\n${CHUNWANG}`)?.lines).toHaveLength(8);
    expect(parseVerse(`《春望》五言绝句\n${CHUNWANG}`)).toBeUndefined();
    expect(parseVerse(`春望\n${CHUNWANG}`)).toBeUndefined();
    expect(parseVerse("《静夜思》五言绝句")).toBeUndefined();
  });
});

describe("checkVerseForm", () => {
  it("passes real poems, with or without their title line", () => {
    expect(checkVerseForm(JINGYESI_TEXT, "五言绝句")).toEqual({ ok: true, lines: 4 });
    expect(checkVerseForm(JINGYESI.map((l, i) => l + (i % 2 ? "。" : "，")).join(""), "五言绝句")).toEqual({ ok: true, lines: 4 });
    expect(checkVerseForm(CHUNWANG, "五言律诗")).toEqual({ ok: true, lines: 8 });
    expect(checkVerseForm(CHUSAI, "七言绝句")).toEqual({ ok: true, lines: 4 });
    expect(checkVerseForm(`《登高》七言律诗\n${DENGGAO}`, "七言律诗")).toEqual({ ok: true, lines: 8 });
    expect(checkVerseForm(CHUSAI, { charsPerLine: 7, lines: 4 })).toEqual({ ok: true, lines: 4 });
  });

  it("accepts the prompt plus its continuation, whitespace between lines, and stops at a blank line", () => {
    const prompt = versePrompt("静夜思", "五言绝句", "床前明月光");
    expect(checkVerseForm(`${prompt}疑是地上霜。\n举头望明月，低头思故乡。`, "五言绝句").ok).toBe(true);
    expect(checkVerseForm("床前明月光，\n疑是地上霜。\n 举头望明月， 低头思故乡。\n", "五言绝句").ok).toBe(true);
    expect(checkVerseForm(`${JINGYESI_TEXT}\n\n《春晓》五言绝句\n春眠不觉晓，`, "五言绝句").ok).toBe(true);
    expect(checkVerseForm(`${JINGYESI_TEXT}\n \n乱码`, "五言绝句").ok).toBe(true);
  });

  const failures: [string, string, VerseForm, string, number][] = [
    ["a six-character line", "床前明月光光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "line-length", 4],
    ["a fifth line", `${JINGYESI_TEXT}\n春眠不觉晓，`, "五言绝句", "line-count", 5],
    ["an unfinished fifth line", `${JINGYESI_TEXT}\n春眠`, "五言绝句", "line-count", 5],
    ["a quatrain for a regulated poem", CHUSAI, "七言律诗", "line-count", 4],
    ["too few lines", "床前明月光，疑是地上霜。", "五言绝句", "line-count", 2],
    ["a missing final 。", "床前明月光，疑是地上霜。\n举头望明月，低头思故乡", "五言绝句", "punctuation", 4],
    ["。 in place of ，", "床前明月光。疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "punctuation", 4],
    ["，，", "床前明月光，，疑是地上霜。举头望明月，低头思故乡。", "五言绝句", "punctuation", 5],
    ["an ASCII comma", "床前明月光,疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "punctuation", 3],
    ["an ASCII full stop", "床前明月光，疑是地上霜.\n举头望明月，低头思故乡。", "五言绝句", "punctuation", 4],
    ["a question mark", "床前明月光，疑是地上霜？\n举头望明月，低头思故乡。", "五言绝句", "punctuation", 4],
    ["a note in brackets", "床前明月光（一作看月光），疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "punctuation", 4],
    ["a lost character □", "床前明□光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "other-characters", 4],
    ["Latin letters", "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。abc", "五言绝句", "other-characters", 5],
    ["a space inside a line", "床前 明月光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句", "line-count", 5],
    ["nothing", "", "五言绝句", "empty", 0],
    ["only the title line", "《静夜思》五言绝句\n", "五言绝句", "empty", 0],
    ["only the prompt without a newline", "《静夜思》五言绝句", "五言绝句", "empty", 0],
  ];
  for (const [what, poem, form, reason, lines] of failures) {
    it(`fails ${what} with ${reason}`, () => {
      expect(checkVerseForm(poem, form)).toEqual({ ok: false, reason, lines });
    });
  }

  it("counts code points: a Han character outside the BMP is one character", () => {
    expect(checkVerseForm("𠀋前明月光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句").ok).toBe(true);
    expect(checkVerseForm("𠀋前明月光光，疑是地上霜。\n举头望明月，低头思故乡。", "五言绝句").reason).toBe("line-length");
  });
});

describe("formRate", () => {
  it("counts passes and failures by reason", () => {
    const report = formRate([JINGYESI_TEXT, CHUSAI, "床前明月光，疑是地上霜。", "床前明月光,疑是地上霜。\n举头望明月，低头思故乡。"], "五言绝句");
    expect(report).toEqual({
      formRate: 0.25,
      samples: 4,
      passed: 1,
      reasons: { empty: 0, "other-characters": 0, punctuation: 1, "line-count": 1, "line-length": 1 },
    });
    expect(formRate([], "五言绝句")).toMatchObject({ formRate: 0, samples: 0, passed: 0 });
    expect(() => formRate([], { charsPerLine: 5, lines: -4 })).toThrow(DatasetError);
  });

  it("refuses what is not a list of poems or not a form, naming the problem", () => {
    expect(() => formRate("床前明月光" as never, "五言绝句")).toThrow("formRate: poems must be an array of strings, got one string (wrap it: [poem])");
    expect(() => formRate(["床前明月光", 3] as never, "五言绝句")).toThrow("formRate: poems[1] is number, not a string");
    expect(() => formRate([], "六言绝句" as never)).toThrow('invalid verse form: "六言绝句" is not one of 五言绝句, 七言绝句, 五言律诗, 七言律诗 (or pass { charsPerLine, lines })');
    expect(() => checkVerseForm(undefined as never, "五言绝句")).toThrow("checkVerseForm: the poem must be a string, got undefined");
  });

  it("reads a title line and its poem on one line", () => {
    expect(checkVerseForm("《静夜思》五言绝句 床前明月光，疑是地上霜。 举头望明月，低头思故乡。", "五言绝句")).toEqual({ ok: true, lines: 4 });
    expect(checkVerseForm("《静夜思》床前明月光，疑是地上霜。举头望明月，低头思故乡。", "五言绝句")).toEqual({ ok: true, lines: 4 });
    expect(checkVerseForm("《静夜思》五言绝句 床前明月光，疑是地上霜。", "五言绝句")).toEqual({ ok: false, reason: "line-count", lines: 2 });
  });
});

describe("classifyVerse", () => {
  it("finds the form of regular verse and the reason otherwise", () => {
    expect(classifyVerse(JINGYESI_TEXT.slice(JINGYESI_TEXT.indexOf("\n") + 1))).toEqual({ ok: true, form: "五言绝句", lines: JINGYESI });
    expect(classifyVerse(CHUNWANG)).toMatchObject({ ok: true, form: "五言律诗" });
    expect(classifyVerse(CHUSAI)).toMatchObject({ ok: true, form: "七言绝句" });
    expect(classifyVerse(DENGGAO)).toMatchObject({ ok: true, form: "七言律诗" });
    expect(classifyVerse(`${CHUSAI}\n${CHUSAI.slice(0, 16)}`)).toEqual({ ok: false, reason: "line-count" });
    expect(classifyVerse("床前明月光，疑是地上霜。\n举头望明月，低头思故乡长。")).toEqual({ ok: false, reason: "line-length" });
    expect(classifyVerse("床前明月，疑是地上。\n举头望明，低头思故。")).toEqual({ ok: false, reason: "line-length" });
    expect(classifyVerse("床前明月光，疑是地上霜？举头望明月，低头思故乡。")).toEqual({ ok: false, reason: "punctuation" });
  });
});

describe("laws", () => {
  // Han characters in and out of the BMP (CJK Unified Ideographs and Extension B)
  const han = fc.oneof(
    fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((c) => String.fromCodePoint(c)),
    fc.integer({ min: 0x20000, max: 0x2a6d6 }).map((c) => String.fromCodePoint(c)),
  );
  const hanLine = (n: number): fc.Arbitrary<string> => fc.array(han, { minLength: n, maxLength: n }).map((cs) => cs.join(""));
  const poemOf = (form: VerseForm): fc.Arbitrary<string[]> => {
    const { charsPerLine, lines } = VERSE_FORMS[form];
    return fc.array(hanLine(charsPerLine), { minLength: lines, maxLength: lines });
  };
  const layout = (lines: readonly string[]): string => lines.map((l, i) => l + (i % 2 === 0 ? "，" : "。\n")).join("");
  const title = fc.array(han, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(""));
  const withForm = fc.constantFrom(...VERSE_FORM_NAMES).chain((form) => fc.tuple(fc.constant(form), poemOf(form), title));

  it("every verseText passes checkVerseForm, classifies as its form, and parses back", () => {
    fc.assert(
      fc.property(withForm, ([form, lines, t]) => {
        const text = verseText(t, form, lines);
        expect(checkVerseForm(text, form)).toEqual({ ok: true, lines: lines.length });
        expect(classifyVerse(text.slice(text.indexOf("\n") + 1))).toEqual({ ok: true, form, lines });
        expect(parseVerse(text)).toEqual({ title: t, form, lines });
        expect(text.startsWith(versePrompt(t, form, lines[0]))).toBe(true);
      }),
    );
  });

  it("changing one line's length always fails with line-length", () => {
    fc.assert(
      fc.property(withForm, fc.nat(), fc.integer({ min: 1, max: 4 }), fc.boolean(), ([form, lines], which, by, longer) => {
        const i = which % lines.length;
        const line = [...(lines[i] ?? "")];
        const changed = longer ? line.join("") + "一".repeat(by) : line.slice(0, Math.max(1, line.length - by)).join("");
        const poem = layout(lines.map((l, j) => (j === i ? changed : l)));
        expect(checkVerseForm(poem, form)).toEqual({ ok: false, reason: "line-length", lines: lines.length });
      }),
    );
  });

  it("a poem of another form never passes", () => {
    fc.assert(
      fc.property(withForm, fc.constantFrom(...VERSE_FORM_NAMES), ([form, lines, t], other) => {
        fc.pre(other !== form);
        expect(checkVerseForm(verseText(t, form, lines), other).ok).toBe(false);
      }),
    );
  });

  it("dropping the last 。 or appending another line always fails", () => {
    fc.assert(
      fc.property(withForm, hanLine(5), ([form, lines, t], extra) => {
        const text = verseText(t, form, lines);
        expect(checkVerseForm(text.slice(0, -1), form).reason).toBe("punctuation");
        expect(checkVerseForm(`${text}\n${extra}，`, form).reason).toBe("line-count");
      }),
    );
  });
});

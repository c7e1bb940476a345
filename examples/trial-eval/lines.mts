import { parseQuestionsCsv } from "@batgpt/eval";
const H = "id,question,A,B,C,D,answer\n";
const rows = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `${a + i},问${a + i},甲,乙,丙,丁,A\n`).join("");
function t(label: string, s: string) { try { parseQuestionsCsv(s, "x.csv"); console.log(label, "OK"); } catch (e: any) { console.log(label, "->", e.message, e.line); } }
t("unclosed quote on file line 3 of 11", H + rows(0, 1) + `1,"问1,甲,乙,丙,丁,A\n` + rows(2, 10));
t("missing field on line 5 after multiline field on line 3-4", H + rows(0, 1) + `1,"问\n一",甲,乙,丙,丁,A\n` + `2,问2,甲,乙,丙,A\n`);
t("answer E on line 5 after multiline", H + rows(0, 1) + `1,"问\n一",甲,乙,丙,丁,A\n` + `2,问2,甲,乙,丙,丁,E\n`);
t("blank line in middle", H + rows(0, 1) + "\n" + rows(1, 2));
t("trailing spaces after quote", H + `0,"问" ,甲,乙,丙,丁,A\n`);
t("empty question", H + `0,,甲,乙,丙,丁,A\n`);
t("duplicate ids", H + rows(0, 1) + rows(0, 1));

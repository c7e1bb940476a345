/**
 * The verse instructions of examples 03 and 04: poems of the corpus with their lines, and the
 * prompts made of them (continue a poem, write a quatrain on a title, follow-ups).
 */
import { readDocuments, type VerseForm } from "@batgpt/datasets";
import type { Message } from "@batgpt/sft";

/** A poem of the corpus: its title, its form and its lines (`床前明月光，` — one clause with its punctuation, as the form check counts them). */
export interface Poem {
  title: string;
  form: VerseForm;
  lines: string[];
}

/** The poem's body as the corpus writes it: one couplet a line. */
export const body = (p: Poem) => p.lines.flatMap((l, i) => (i % 2 === 1 ? [p.lines[i - 1]! + l] : [])).join("\n");
/** `以《题》为题，写一首五言绝句。` */
export const onTitle = (title: string, form: VerseForm) => `以《${title}》为题，写一首${form}。`;
export const ANOTHER = "再来一首。";
export const NOW_SEVEN = "现在写七言的。";

/** The poems of `forms` in a corpus split (jsonl), by form, in file order. */
export async function readPoems(jsonl: string, forms: VerseForm[]): Promise<Map<VerseForm, Poem[]>> {
  const out = new Map<VerseForm, Poem[]>(forms.map((f) => [f, []]));
  for await (const d of readDocuments(jsonl)) {
    const form = d.form as VerseForm | undefined;
    if (form === undefined || d.title === undefined || !out.has(form)) continue;
    const lines = d.text.split("\n").slice(1).join("").match(/[^，。]+[，。]/gu) ?? [];
    out.get(form)!.push({ title: d.title, form, lines });
  }
  return out;
}

/** The user's `续写《题》：` and the first k lines of a poem. */
export const continuePrompt = (p: Poem, k: number) => `续写《${p.title}》：${p.lines.slice(0, k).join("")}`;

/** `续写《题》：` and the first k lines → line k. */
export function continueConversation(p: Poem, k: number): Message[] {
  return [
    { role: "user", content: continuePrompt(p, k) },
    { role: "assistant", content: p.lines[k]! },
  ];
}

/**
 * The verse task's measurement, shared by the examples: sample poems from prompts made of
 * held-out titles and count how many come out in the requested form (`formRate` of
 * `@batgpt/datasets`: every line the right number of Han characters, `，` and `。` in place, the
 * right number of lines, then the end of the poem).
 */
import type { ReplicaPool } from "@batgpt/core";
import { formRate, readDocuments, versePrompt, type FormRateReport, type VerseForm } from "@batgpt/datasets";

/** How the examples sample for the form rate (the setting: temperature 0.8, no top-p cut). */
export const FORM_RATE_SAMPLING = { temperature: 0.8, topP: 1, maxNewTokens: 64, seed: 1234 } as const;

/** Up to `n` held-out poems of `form` from a jsonl split, in file order, as prompts and references. */
export async function formPrompts(jsonl: string, form: VerseForm, n: number): Promise<{ title: string; prompt: string; text: string }[]> {
  const out: { title: string; prompt: string; text: string }[] = [];
  for await (const doc of readDocuments(jsonl)) {
    if (doc.form !== form || doc.title === undefined) continue;
    out.push({ title: doc.title, prompt: versePrompt(doc.title, form), text: doc.text });
    if (out.length === n) break;
  }
  if (out.length < n) throw new Error(`${jsonl} holds only ${out.length} poems of form ${form}, ${n} wanted`);
  return out;
}

/** What {@link measureFormRate} returns: the report and the samples (prompt + continuation). */
export interface FormRateResult extends FormRateReport {
  poems: string[];
}

/**
 * Sample one poem per prompt on every replica of `replicas` (forward, stopping at `<|eos|>`) and
 * score them with `formRate`.
 */
export async function measureFormRate(replicas: ReplicaPool, prompts: readonly string[], form: VerseForm, sampling = FORM_RATE_SAMPLING): Promise<FormRateResult> {
  const gens = await replicas.generate([...prompts], { ...sampling });
  const poems = gens.map((g, i) => prompts[i] + g.text);
  return { ...formRate(poems, form), poems };
}

/**
 * Preference data: one record per pairwise comparison (two responses to one prompt and which is
 * better), from people (RLHF) or from an AI judge (RLAIF), read and written as JSONL, and turned
 * into the preference pairs a reward model is trained on.
 *
 * A record, one JSON object a line ({@link comparisonSchema}; also as JSON Schema for an
 * annotation platform: {@link comparisonJsonSchema}):
 *
 * ```json
 * {"id": "c-1", "prompt": "床前明月光，下一句？", "response_a": "疑是地上霜。", "response_b": "不知道。",
 *  "verdict": "A", "criteria": {"helpfulness": "A", "harmlessness": "same"},
 *  "source": "human", "annotator": "ann-07", "created_at": "2025-05-01T08:30:00Z",
 *  "metadata": {"shown": "ab"}}
 * ```
 *
 * Keys are snake_case, as in TRL and Hugging Face datasets; a conversation prompt is a list of
 * `{role, content}` messages, TRL's conversational format. {@link toPreferencePairs} writes the
 * four shapes of TRL's preference type (explicit or implicit prompt × standard or
 * conversational), with the optional `margin` column that TRL's `RewardTrainer` reads. Formats:
 * TRL "Dataset formats and types" (huggingface.co/docs/trl/dataset_formats); the margin: TRL
 * "Reward Modeling" (huggingface.co/docs/trl/reward_trainer; github.com/huggingface/trl/pull/719),
 * after Llama 2 (Touvron et al. 2023, §3.2.2).
 */
import { AtomicTextWriter, formatIssues, parseOptions, readNumberedLines } from "@batgpt/utils";
import { z } from "zod";

/**
 * A bad comparison record, file or option of this package. A record read from a file is named by
 * its file and line (`prefs.jsonl:7: …`), a record passed in a list by its index (`records[3]: …`).
 */
export class RewardDataError extends Error {
  override name = "RewardDataError";
}

// ---- the record ----

/** A chat role (TRL's conversational format). */
export const ROLES = ["system", "user", "assistant"] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** The overall verdict of a comparison: which response is better, a tie, or both bad. */
export const VERDICTS = ["A", "B", "tie", "both_bad"] as const;

/** One of {@link VERDICTS}. */
export type Verdict = (typeof VERDICTS)[number];

/** Who gave the verdict: a person (RLHF) or an AI judge (RLAIF). */
export const FEEDBACK_SOURCES = ["human", "ai"] as const;

/** One of {@link FEEDBACK_SOURCES}. */
export type FeedbackSource = (typeof FEEDBACK_SOURCES)[number];

/** The `$id` of {@link comparisonJsonSchema}. */
export const COMPARISON_SCHEMA_ID = "urn:batgpt-js:reward:comparison:1";

/** One message: `{role, content}`; other keys are rejected. */
export const messageSchema = z
  .strictObject({
    role: z.enum(ROLES),
    content: z.string(),
  })
  .describe("A chat message (TRL conversational format).");

/** One message of a conversation prompt. */
export type Message = z.output<typeof messageSchema>;

/** A conversation prompt: at least one message, the last one the user's. */
export const conversationSchema = z
  .array(messageSchema)
  .min(1)
  .check((ctx) => {
    const last = ctx.value.at(-1);
    if (last !== undefined && last.role !== "user") {
      ctx.issues.push({
        code: "custom",
        message: `is "${last.role}": a conversation prompt ends with the user's message`,
        path: [ctx.value.length - 1, "role"],
        input: ctx.value,
        continue: true,
      });
    }
  })
  .describe("A conversation prompt: a non-empty list of messages, the last one the user's (the responses answer it).");

const criterionVerdict = (extra: readonly string[]) => `"A", "B", ${extra.map((v) => `"${v}"`).join(" or ")}`;

/** Verdicts per criterion (the overall one is the record's `verdict`); other keys are rejected. */
export const criteriaSchema = z
  .strictObject({
    helpfulness: z.enum(["A", "B", "same"]).optional().describe(`Which response is more helpful: ${criterionVerdict(["same"])}.`),
    harmlessness: z
      .enum(["A", "B", "same", "both_harmful"])
      .optional()
      .describe(`Which response is less harmful: ${criterionVerdict(["same", "both_harmful"])}.`),
  })
  .describe("Verdicts per criterion, each optional.");

/** The verdicts per criterion of a record. */
export type Criteria = z.output<typeof criteriaSchema>;

/**
 * One pairwise comparison (the record of the JSONL files, and of the annotation platform through
 * {@link comparisonJsonSchema}):
 *
 * | key | value |
 * |---|---|
 * | `id` | optional, a non-empty string |
 * | `prompt` | a string, or a conversation: `[{role: "system" \| "user" \| "assistant", content}]`, not empty, ending with a user message |
 * | `response_a`, `response_b` | the two responses, strings |
 * | `verdict` | `"A"`, `"B"`, `"tie"` or `"both_bad"` (overall) |
 * | `criteria` | optional: `{helpfulness?: "A" \| "B" \| "same", harmlessness?: "A" \| "B" \| "same" \| "both_harmful"}` |
 * | `source` | `"human"` or `"ai"` |
 * | `annotator` | the annotator's or the judge's id, a non-empty string |
 * | `created_at` | an ISO 8601 date and time with a time zone (`Z` or `±hh:mm`), e.g. `2025-05-01T08:30:00Z` |
 * | `metadata` | optional, free-form: an object of any values (the order shown, flags, a comment) |
 *
 * Strict: an unknown key is an error (at the top level, in `criteria` and in a message), so a
 * misspelt key (`reponse_b`, `helpfullness`) is caught rather than dropped; free-form data
 * belongs in `metadata`. Key names are snake_case as in TRL and Hugging Face datasets; the prompt
 * follows TRL "Dataset formats and types" (huggingface.co/docs/trl/dataset_formats).
 */
export const comparisonSchema = z
  .strictObject({
    id: z.string().min(1).optional().describe("The record's id (optional)."),
    prompt: z
      .union([z.string(), conversationSchema], { error: "expected a string, or a list of {role, content} messages" })
      .describe("The prompt: a string (TRL standard format), or a conversation (TRL conversational format)."),
    response_a: z.string().describe("The first response."),
    response_b: z.string().describe("The second response."),
    verdict: z.enum(VERDICTS).describe('The overall verdict: "A" or "B" (the better one), "tie", or "both_bad".'),
    criteria: criteriaSchema.optional(),
    source: z.enum(FEEDBACK_SOURCES).describe('Who judged: "human" (RLHF) or "ai" (an AI judge, RLAIF).'),
    annotator: z.string().min(1).describe("The annotator's id, or the AI judge's."),
    created_at: z.iso.datetime({ offset: true }).describe("When the verdict was given: ISO 8601 date and time with a time zone (Z or ±hh:mm)."),
    metadata: z.record(z.string(), z.unknown()).optional().describe("Free-form: the order shown, flags, a comment…"),
  })
  .meta({
    title: "BatGPT.js pairwise comparison",
    description: "Two responses to one prompt and which is better, from a person (RLHF) or an AI judge (RLAIF). Unknown keys are rejected.",
  });

/** A comparison record as {@link comparisonSchema} returns it. */
export type ComparisonRecord = z.output<typeof comparisonSchema>;

/** A comparison record as {@link comparisonSchema} accepts it. */
export type ComparisonInput = z.input<typeof comparisonSchema>;

/**
 * {@link comparisonSchema} as JSON Schema (draft 2020-12, by zod's `z.toJSONSchema`), with
 * `$id` {@link COMPARISON_SCHEMA_ID} and a title, for an annotation platform or another
 * language. `additionalProperties: false` throughout (the record is strict); `created_at` is
 * `format: "date-time"` with zod's pattern. One rule is in a description only, as JSON Schema
 * cannot say it: a conversation prompt ends with a user message.
 *
 * @returns a fresh object each call (the caller may change it).
 */
export function comparisonJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(comparisonSchema, { target: "draft-2020-12" });
  return { $schema, $id: COMPARISON_SCHEMA_ID, ...rest };
}

type Issue = z.core.$ZodIssue;

/** Whether a union branch failed on the type alone (`expected string`, `expected array`). */
function typeMismatch(branch: readonly Issue[]): boolean {
  return branch.length === 1 && branch[0]!.code === "invalid_type" && branch[0]!.path.length === 0;
}

/**
 * zod reports a union (the prompt) that fails as one `invalid_union` issue, "Invalid input",
 * even when the value is of one branch's type (a list of messages) and fails inside it: put that
 * branch's issues in its place, so the message names the field (`prompt[1].role: …`).
 */
function flattenUnions(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union") {
      const matched = issue.errors.filter((branch) => !typeMismatch(branch));
      if (matched.length === 1) {
        out.push(...flattenUnions(matched[0]!, path));
        continue;
      }
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

/**
 * Check one comparison record against {@link comparisonSchema}.
 *
 * @param where prefixes the error message: a `file:line`, or `records[i]`.
 * @returns the record, parsed (a fresh object).
 * @throws {RewardDataError} `where: invalid comparison record: <field>: <what is wrong>; …`.
 */
export function parseComparison(value: unknown, where = "comparison"): ComparisonRecord {
  const parsed = comparisonSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const error = new z.ZodError(flattenUnions(parsed.error.issues));
  throw new RewardDataError(`${where}: ${formatIssues("comparison record", error)}`, { cause: parsed.error });
}

// ---- files ----

/** Options of {@link readComparisons} and {@link loadComparisons}. */
export const readComparisonsOptionsSchema = z.strictObject({
  /** Skip bad lines instead of throwing; each is passed to `onSkip`. */
  skipInvalid: z.boolean().default(false),
  /** Called with the error of each skipped line (with `skipInvalid`). */
  onSkip: z.custom<(error: RewardDataError) => void>((f) => typeof f === "function", "must be a function").optional(),
});

/** Options of {@link readComparisons} and {@link loadComparisons}. */
export type ReadComparisonsOptions = z.input<typeof readComparisonsOptionsSchema>;

/**
 * Stream the comparison records of a JSONL file, one record a line (`\n` or `\r\n`; blank lines
 * are skipped), each checked against {@link comparisonSchema}. The file is never read whole.
 *
 * @example
 * ```ts
 * for await (const r of readComparisons("prefs.jsonl")) console.log(r.verdict);
 * ```
 * @throws {RewardDataError} `path:line: …` for a line that is not JSON or not a valid record
 *   (naming the field), unless `skipInvalid`; and for a bad option.
 * @throws the file system's error when the file cannot be read.
 */
export async function* readComparisons(path: string, options: ReadComparisonsOptions = {}): AsyncGenerator<ComparisonRecord> {
  const { skipInvalid, onSkip } = parseOptions(readComparisonsOptionsSchema, options, "readComparisons options", RewardDataError);
  for await (const [text, line] of readNumberedLines(path)) {
    if (text.trim().length === 0) continue;
    const where = `${path}:${line}`;
    let record: ComparisonRecord;
    try {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new RewardDataError(`${where}: invalid JSON: ${(err as Error).message}`, { cause: err });
      }
      record = parseComparison(value, where);
    } catch (err) {
      if (!(err instanceof RewardDataError) || !skipInvalid) throw err;
      onSkip?.(err);
      continue;
    }
    yield record;
  }
}

/**
 * Read a whole JSONL file of comparisons into memory (for files that fit), with the errors of the
 * lines skipped under `skipInvalid` (`skipped.length` is their count).
 *
 * @throws {RewardDataError} as {@link readComparisons}.
 */
export async function loadComparisons(path: string, options: ReadComparisonsOptions = {}): Promise<{ records: ComparisonRecord[]; skipped: RewardDataError[] }> {
  const skipped: RewardDataError[] = [];
  const records: ComparisonRecord[] = [];
  const onSkip = options.onSkip;
  for await (const r of readComparisons(path, { ...options, onSkip: (e) => (skipped.push(e), onSkip?.(e)) })) records.push(r);
  return { records, skipped };
}

/**
 * Write comparison records to a JSONL file, one a line, atomically: the file appears whole, or
 * (on any error) not at all, and an old file at `path` is left as it was. Each record is checked
 * against {@link comparisonSchema} and written as parsed (keys in the schema's order). The parent
 * folder is created when missing.
 *
 * @param records a list, or any iterable or async iterable (streamed: never held whole).
 * @returns how many records were written.
 * @throws {RewardDataError} `records[i]: invalid comparison record: <field>: …` for the first bad
 *   record (nothing is written).
 * @throws the I/O error.
 */
export async function writeComparisons(path: string, records: Iterable<ComparisonInput> | AsyncIterable<ComparisonInput>): Promise<number> {
  const out = new AtomicTextWriter(path);
  let count = 0;
  try {
    for await (const record of records) {
      await out.write(`${JSON.stringify(parseComparison(record, `records[${count}]`))}\n`);
      count++;
    }
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
  return count;
}

// ---- TRL preference pairs ----

/** TRL's standard preference record, explicit prompt: `{prompt, chosen, rejected}`, strings. */
export interface StandardExplicitPair {
  prompt: string;
  chosen: string;
  rejected: string;
  /** See {@link ToPreferenceOptions} `margin`. */
  margin?: number;
}

/** TRL's standard preference record, implicit prompt: the prompt text is part of each response. */
export interface StandardImplicitPair {
  chosen: string;
  rejected: string;
  /** See {@link ToPreferenceOptions} `margin`. */
  margin?: number;
}

/** TRL's conversational preference record, explicit prompt: the prompt's messages, then one assistant message each. */
export interface ConversationalExplicitPair {
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
  /** See {@link ToPreferenceOptions} `margin`. */
  margin?: number;
}

/** TRL's conversational preference record, implicit prompt: each side is the prompt's messages and the assistant's answer. */
export interface ConversationalImplicitPair {
  chosen: Message[];
  rejected: Message[];
  /** See {@link ToPreferenceOptions} `margin`. */
  margin?: number;
}

/**
 * One record of TRL's preference dataset type, in one of its four shapes (TRL "Dataset formats
 * and types", huggingface.co/docs/trl/dataset_formats), with TRL `RewardTrainer`'s optional
 * `margin` column.
 */
export type PreferencePair = StandardExplicitPair | StandardImplicitPair | ConversationalExplicitPair | ConversationalImplicitPair;

const weight = z.number().min(0);

/** Options of {@link toPreferencePairs}. */
export const toPreferenceOptionsSchema = z.strictObject({
  prompt: z.enum(["explicit", "implicit"]).default("explicit"),
  format: z.enum(["auto", "standard", "conversational"]).default("auto"),
  ties: z.enum(["drop", "error"]).default("drop"),
  bothBad: z.enum(["drop", "error"]).default("drop"),
  criteria: z
    .strictObject({ overall: weight.optional(), helpfulness: weight.optional(), harmlessness: weight.optional() })
    .refine((w) => Object.values(w).some((x) => x !== undefined && x > 0), "at least one criterion weight must be > 0")
    .default({ overall: 1 }),
  margin: z.boolean().optional(),
});

/**
 * Options of {@link toPreferencePairs}:
 *
 * - `prompt`: `"explicit"` (default): `{prompt, chosen, rejected}`, where `chosen` and
 *   `rejected` hold the responses only; `"implicit"`: `{chosen, rejected}`, each the prompt
 *   followed by the response (what TRL's `RewardTrainer` takes as is).
 * - `format`: `"standard"`: strings; `"conversational"`: message lists (a string prompt becomes
 *   `[{role: "user", content: prompt}]`, a response `[{role: "assistant", content}]`);
 *   `"auto"` (default): standard for a record with a string prompt, conversational for one with
 *   a conversation (so a file mixing both gives both: name the format for a uniform dataset).
 *   A standard implicit pair is the plain concatenation `prompt + response`, with no template or
 *   separator added: formatting a prompt for a model (a chat template) is the reward model's
 *   job. For the same reason a conversation prompt cannot be turned into a standard pair.
 * - `criteria`: the weights of the criteria, each ≥ 0, at least one > 0 (default
 *   `{overall: 1}`: the verdict alone; a weight not given is 0). The preference is the sign of
 *   S = Σ w_c·s_c, where s_c is +1 for `"A"`, −1 for `"B"`, 0 for anything else (`same`,
 *   `tie`, `both_bad`, `both_harmful`, or a criterion the record does not have).
 * - `ties` (`"drop"` by default, or `"error"`) and `bothBad` (the same): what becomes of a
 *   record with S = 0, that is, no preference under the weights: one whose verdict is
 *   `both_bad` is counted as "both bad", any other (a `tie`, or criteria that cancel out) as a
 *   tie. A `tie` or `both_bad` verdict whose weighted criteria do prefer one response (S ≠ 0)
 *   gives a pair like any other.
 * - `margin`: whether each pair gets TRL `RewardTrainer`'s optional `margin` column, |S|; by
 *   default when a `helpfulness` or `harmlessness` weight is given. TRL subtracts it inside the
 *   pairwise loss, −log σ(r_chosen − r_rejected − margin) (TRL "Reward Modeling",
 *   huggingface.co/docs/trl/reward_trainer; after Llama 2, Touvron et al. 2023, §3.2.2), so a
 *   clearer preference asks for a wider reward gap. It is in the units of the weights: scale them
 *   to the reward's scale.
 */
export type ToPreferenceOptions = z.input<typeof toPreferenceOptionsSchema>;

/** What {@link toPreferencePairs} returns: the pairs, and how many records gave none. */
export interface PreferencePairsResult {
  pairs: PreferencePair[];
  /** Records dropped for having no preference (S = 0): ties, and both-bad verdicts. */
  dropped: { ties: number; bothBad: number };
}

const score = (v: string | undefined): number => (v === "A" ? 1 : v === "B" ? -1 : 0);

/**
 * Turn comparison records into TRL preference pairs (TRL "Dataset formats and types",
 * huggingface.co/docs/trl/dataset_formats: the preference type, explicit or implicit prompt,
 * standard or conversational format), the preferred response as `chosen`; see
 * {@link ToPreferenceOptions} for the shapes, the weighting of the criteria and the `margin`.
 *
 * @example
 * ```ts
 * const { pairs } = toPreferencePairs(records, { prompt: "implicit" });
 * // [{chosen: "床前明月光，疑是地上霜。", rejected: "床前明月光，不知道。"}, …]
 * ```
 * @param records checked against {@link comparisonSchema}, each in turn.
 * @throws {RewardDataError} for a bad option; for a bad record (`records[i]: invalid comparison
 *   record: …`); for a conversation prompt asked for in the standard format; for a record with no
 *   preference under `ties: "error"` or `bothBad: "error"`. The message names the record's index.
 */
export function toPreferencePairs(records: Iterable<ComparisonInput>, options: ToPreferenceOptions = {}): PreferencePairsResult {
  const opts = parseOptions(toPreferenceOptionsSchema, options, "toPreferencePairs options", RewardDataError);
  const w = opts.criteria;
  const withMargin = opts.margin ?? (w.helpfulness !== undefined || w.harmlessness !== undefined);
  const pairs: PreferencePair[] = [];
  const dropped = { ties: 0, bothBad: 0 };
  let i = 0;
  for (const input of records) {
    const where = `records[${i++}]`;
    const r = parseComparison(input, where);
    const conversational = opts.format === "conversational" || (opts.format === "auto" && typeof r.prompt !== "string");
    if (!conversational && typeof r.prompt !== "string") {
      throw new RewardDataError(
        `${where}: the prompt is a conversation, which the standard format (strings) cannot hold without a chat template: use format "conversational" or "auto"`,
      );
    }
    const s =
      (w.overall ?? 0) * score(r.verdict) + (w.helpfulness ?? 0) * score(r.criteria?.helpfulness) + (w.harmlessness ?? 0) * score(r.criteria?.harmlessness);
    if (s === 0) {
      if (r.verdict === "both_bad") {
        if (opts.bothBad === "error") throw new RewardDataError(`${where}: verdict "both_bad": no preference between the responses (bothBad: "error")`);
        dropped.bothBad++;
      } else {
        const why = r.verdict === "tie" ? 'verdict "tie"' : `verdict "${r.verdict}", but the weighted criteria sum to 0`;
        if (opts.ties === "error") throw new RewardDataError(`${where}: a tie (${why}): no preference between the responses (ties: "error")`);
        dropped.ties++;
      }
      continue;
    }
    const [chosen, rejected] = s > 0 ? [r.response_a, r.response_b] : [r.response_b, r.response_a];
    let pair: PreferencePair;
    if (conversational) {
      const prompt: Message[] = typeof r.prompt === "string" ? [{ role: "user", content: r.prompt }] : r.prompt;
      const answer = (content: string): Message => ({ role: "assistant", content });
      pair =
        opts.prompt === "explicit"
          ? { prompt: prompt.map((m) => ({ ...m })), chosen: [answer(chosen)], rejected: [answer(rejected)] }
          : { chosen: [...prompt.map((m) => ({ ...m })), answer(chosen)], rejected: [...prompt.map((m) => ({ ...m })), answer(rejected)] };
    } else {
      const prompt = r.prompt as string;
      pair = opts.prompt === "explicit" ? { prompt, chosen, rejected } : { chosen: prompt + chosen, rejected: prompt + rejected };
    }
    if (withMargin) pair.margin = Math.abs(s);
    pairs.push(pair);
  }
  return { pairs, dropped };
}

const flipAB = <T extends string>(v: T): T => (v === "A" ? "B" : v === "B" ? "A" : v) as T;

/**
 * The same comparison with the responses in the other order: `response_a` and `response_b`
 * swapped, and `"A"` and `"B"` swapped in the verdict and in every criterion (`tie`, `same`,
 * `both_bad`, `both_harmful` stay). For a judge that asks both orders to cancel its position bias;
 * flipping twice gives the record back. A shallow copy: the prompt and `metadata` are shared and
 * left as they are (so an order-shown flag in `metadata` is not swapped). Not checked against
 * {@link comparisonSchema}.
 */
export function flipComparison(record: ComparisonInput): ComparisonRecord {
  const flipped: ComparisonRecord = { ...record, response_a: record.response_b, response_b: record.response_a, verdict: flipAB(record.verdict) };
  if (record.criteria !== undefined) {
    const criteria: Criteria = { ...record.criteria };
    if (criteria.helpfulness !== undefined) criteria.helpfulness = flipAB(criteria.helpfulness);
    if (criteria.harmlessness !== undefined) criteria.harmlessness = flipAB(criteria.harmlessness);
    flipped.criteria = criteria;
  }
  return flipped;
}

/**
 * Readers for the instruction-data formats researchers already have, streamed line by line (a
 * large file is never read whole), each record turned into one {@link Conversation}:
 *
 * | format | a line | becomes |
 * |---|---|---|
 * | `prompt-completion` (TRL, standard) | `{"prompt": "…", "completion": "…"}` | user, assistant |
 * | `prompt-completion` (TRL, conversational) | `{"prompt": [messages], "completion": [messages]}` | the prompt's messages, then the completion's |
 * | `conversational` (TRL) | `{"messages": [{"role", "content"}, …]}` | the messages |
 * | `alpaca` (Stanford Alpaca) | `{"instruction", "input", "output"}` | user: instruction, a blank line, input (trimmed; left out when blank); assistant: output |
 * | `prompt-response` | `{"prompt": "…", "response": "…"}` | user, assistant |
 *
 * Roles follow TRL and the chat-template convention: an optional `system` message first, then
 * `user` and `assistant` in turn, starting with `user` and ending with `assistant` (the answer
 * that is trained on). Formats: TRL "Dataset formats and types"
 * (huggingface.co/docs/trl/dataset_formats); Alpaca: github.com/tatsu-lab/stanford_alpaca.
 */
import { formatIssues, readNumberedLines } from "@batgpt/utils";
import { z } from "zod";

/**
 * A bad record or option; the message names the file and the line (`data.jsonl:7: …`). (A file
 * that cannot be read is the file system's error, e.g. `ENOENT`.)
 */
export class SftDataError extends Error {
  override name = "SftDataError";
}

/** A chat role. */
export type Role = "system" | "user" | "assistant";

/** One message of a conversation. */
export interface Message {
  role: Role;
  content: string;
}

/** One training sample: its messages and where it came from. */
export interface Conversation {
  messages: Message[];
  /** The file and the 1-based line it was read from. */
  source?: { path: string; line: number };
}

/** The record formats {@link readConversations} reads. */
export const SFT_FORMATS = ["prompt-completion", "conversational", "alpaca", "prompt-response"] as const;

/** One of {@link SFT_FORMATS}. */
export type SftFormat = (typeof SFT_FORMATS)[number];

const messageSchema = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() });
const messagesSchema = z.array(messageSchema).min(1);

/** Each format's record: its keys, checked with zod (unknown keys are allowed and ignored, as TRL does). */
const recordSchemas = {
  "prompt-completion": z.union([
    z.object({ prompt: z.string(), completion: z.string() }),
    z.object({ prompt: messagesSchema, completion: messagesSchema }),
  ]),
  conversational: z.object({ messages: messagesSchema }),
  alpaca: z.object({ instruction: z.string(), input: z.string().optional(), output: z.string() }),
  "prompt-response": z.object({ prompt: z.string(), response: z.string() }),
} as const;

/** Which format a record's keys say it is, or undefined. */
export function detectFormat(record: unknown): SftFormat | undefined {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return undefined;
  const has = (k: string) => k in record;
  if (has("messages")) return "conversational";
  if (has("instruction")) return "alpaca";
  if (has("prompt") && has("completion")) return "prompt-completion";
  if (has("prompt") && has("response")) return "prompt-response";
  return undefined;
}

/**
 * The messages of one record of `format`, checked: roles in order (an optional system message
 * first, then user and assistant in turn, ending with assistant).
 *
 * @throws {SftDataError} naming what is wrong (`where` prefixes the message, e.g. `data.jsonl:7`).
 */
export function toMessages(record: unknown, format: SftFormat, where = "record"): Message[] {
  const parsed = recordSchemas[format].safeParse(record);
  if (!parsed.success) throw new SftDataError(`${where}: ${formatIssues(`${format} record`, parsed.error)}`, { cause: parsed.error });
  const r = parsed.data as Record<string, unknown>;
  let messages: Message[];
  if (format === "conversational") messages = r.messages as Message[];
  else if (format === "alpaca") {
    const input = ((r.input as string | undefined) ?? "").trim();
    messages = [
      { role: "user", content: input.length > 0 ? `${r.instruction as string}\n\n${input}` : (r.instruction as string) },
      { role: "assistant", content: r.output as string },
    ];
  } else {
    const answerKey = format === "prompt-completion" ? "completion" : "response";
    const prompt = r.prompt;
    const answer = r[answerKey];
    messages =
      typeof prompt === "string"
        ? [
            { role: "user", content: prompt },
            { role: "assistant", content: answer as string },
          ]
        : [...(prompt as Message[]), ...(answer as Message[])];
  }
  checkRoles(messages, where);
  return messages;
}

/**
 * Roles in order: an optional `system` first, then `user`, `assistant`, `user`, … ending with
 * `assistant`.
 *
 * @throws {SftDataError} `where: messages[i].role is "…" …`.
 */
export function checkRoles(messages: readonly Message[], where = "conversation"): void {
  let i = 0;
  if (messages[0]?.role === "system") i = 1;
  if (i >= messages.length) throw new SftDataError(messages.length === 0 ? `${where}: no messages` : `${where}: no user message after the system message`);
  for (let k = i; k < messages.length; k++) {
    const want = (k - i) % 2 === 0 ? "user" : "assistant";
    const got = messages[k]!.role;
    if (got !== want) {
      const why = got === "system" ? "a system message may only come first" : `expected "${want}": user and assistant take turns, starting with user`;
      throw new SftDataError(`${where}: messages[${k}].role is "${got}": ${why}`);
    }
  }
  if (messages.at(-1)!.role !== "assistant") throw new SftDataError(`${where}: the last message is the user's: a training sample ends with the assistant's answer`);
}

/** Options of {@link readConversations}. */
export const readConversationsOptionsSchema = z
  .strictObject({
    /** The record format; `"auto"` (default) tells it from each record's keys. */
    format: z.enum(["auto", ...SFT_FORMATS]).default("auto"),
    /** Skip bad lines instead of throwing; each is passed to `onSkip`. */
    skipInvalid: z.boolean().default(false),
    /** Called with the error of each skipped line (with `skipInvalid`). */
    onSkip: z.custom<(error: SftDataError) => void>((f) => typeof f === "function", "must be a function").optional(),
  });

/** Options of {@link readConversations}. */
export type ReadConversationsOptions = z.input<typeof readConversationsOptionsSchema>;

/**
 * Stream the conversations of a JSONL file (one record a line; blank lines are skipped).
 *
 * @example
 * ```ts
 * for await (const c of readConversations("train.jsonl")) console.log(c.messages.at(-1)!.content);
 * ```
 * @throws {SftDataError} `path:line: …` for a line that is not JSON, not a record of the format,
 *   or whose roles are out of order (unless `skipInvalid`), and for a bad option.
 */
export async function* readConversations(path: string, options: ReadConversationsOptions = {}): AsyncGenerator<Conversation> {
  const parsed = readConversationsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new SftDataError(formatIssues("readConversations options", parsed.error), { cause: parsed.error });
  const { format, skipInvalid, onSkip } = parsed.data;
  for await (const [text, line] of readNumberedLines(path)) {
    if (text.trim().length === 0) continue;
    const where = `${path}:${line}`;
    try {
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new SftDataError(`${where}: invalid JSON: ${(err as Error).message}`, { cause: err });
      }
      const f = format === "auto" ? detectFormat(record) : format;
      if (f === undefined) {
        const keys = typeof record === "object" && record !== null && !Array.isArray(record) ? Object.keys(record) : [];
        if (keys.includes("prompt")) throw new SftDataError(`${where}: a record with prompt needs completion (TRL prompt-completion) or response (prompt-response); it has ${keys.join(", ")}`);
        throw new SftDataError(
          `${where}: unknown record: expected the keys of one of the formats — messages; prompt + completion; instruction + output (Alpaca); prompt + response`,
        );
      }
      yield { messages: toMessages(record, f, where), source: { path, line } };
    } catch (err) {
      if (!(err instanceof SftDataError) || !skipInvalid) throw err;
      onSkip?.(err);
    }
  }
}

/**
 * Read a whole JSONL file into memory (for files that fit), with the lines skipped under
 * `skipInvalid`.
 *
 * @throws {SftDataError} as {@link readConversations}.
 */
export async function loadConversations(path: string, options: ReadConversationsOptions = {}): Promise<{ conversations: Conversation[]; skipped: SftDataError[] }> {
  const parsed = readConversationsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new SftDataError(formatIssues("loadConversations options", parsed.error), { cause: parsed.error });
  const skipped: SftDataError[] = [];
  const conversations: Conversation[] = [];
  const onSkip = parsed.data.onSkip;
  for await (const c of readConversations(path, { ...options, onSkip: (e) => (skipped.push(e), onSkip?.(e)) })) conversations.push(c);
  return { conversations, skipped };
}

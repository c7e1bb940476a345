/**
 * From a conversation to training ids and a loss mask (BatGPT §3.2: the history is concatenated
 * into the context and the loss is taken on the answer).
 *
 * The conversation is rendered with a chat template, and cut into spans: each answer's span is
 * what the render of the messages up to it adds to the render of the messages before it with the
 * generation prompt (for the default template ` {answer}\n\n<|eot|>`: the answer and its end of
 * turn, which the model must learn to write); everything else (system prompt, user turns, role
 * headers) is context. Spans are tokenized one by one and joined, so each id knows its span.
 */
import type { Direction } from "@batgpt/core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { formatIssues } from "@batgpt/utils";
import { z } from "zod";
import { checkRoles, SftDataError, type Conversation, type Message } from "./read.js";
import { renderChat } from "./template.js";

/** A sample that cannot fit `maxLength` even with its earlier turns dropped: reported, never cut. */
export class SampleTooLongError extends SftDataError {
  override name = "SampleTooLongError";
}

/** Options of {@link formatConversation}. */
export const formatOptionsSchema = z.strictObject({
  /** A name of `CHAT_TEMPLATES` or a Jinja string. */
  template: z.string().default("batgpt"),
  /** Most tokens in a sample (none: no limit). Longer samples drop their oldest turns first. */
  maxLength: z.number().int().positive().optional(),
  /**
   * Where the loss is taken: the last answer (`"last"`, as BatGPT), every answer
   * (`"all-assistant"`), or the last turn's prompt (`"last-prompt"`: the user turn and the assistant's header just before the
   * last answer, for a backward sample, where the model reads right to left and writes the prompt
   * for a given answer: such a sample carries `direction: "backward"`, and `trainSft` reads it
   * right to left).
   */
  lossOn: z.enum(["last", "all-assistant", "last-prompt"]).default("last"),
});

/** Options of {@link formatConversation}. */
export type FormatOptions = z.input<typeof formatOptionsSchema>;

/** One formatted sample. */
export interface FormattedSample {
  /** Token ids of the rendered conversation. */
  ids: number[];
  /** 1 where the id is an answer token the loss is taken on, else 0; one per id. */
  lossMask: Uint8Array;
  /** Earlier (user, assistant) turns dropped to fit `maxLength`. */
  droppedTurns: number;
  /**
   * The direction the sample is read in: `"backward"` for `lossOn: "last-prompt"` (a backward
   * sample); absent otherwise, where `trainSft`'s `direction` (default forward) applies.
   */
  direction?: Direction;
}

/** One span of a rendered conversation. */
export interface ConversationSpan {
  text: string;
  /** An answer's span: what the render up to assistant message `assistantIndex` adds. */
  answer: boolean;
  assistantIndex?: number;
  /** A prompt's span: what the render up to user message `promptIndex` (with the generation prompt) adds to the render before it. */
  promptIndex?: number;
}

/**
 * The spans of a rendered conversation: context and answer texts in turn, starting with context.
 * The context before each answer is cut where its user message starts, when the template renders
 * the messages before it as a prefix (both shipped templates do): the earlier context (e.g. the
 * system prompt) and the user's turn with the assistant's header (`promptIndex`).
 *
 * @throws {SftDataError} when the template does not render turns one after another, or leaves an
 *   answer's content out of its span (an unknown variable in a Jinja template renders as empty).
 */
export function conversationSpans(messages: readonly Message[], template = "batgpt"): ConversationSpan[] {
  const spans: ConversationSpan[] = [];
  let done = "";
  for (const [k, m] of messages.entries()) {
    if (m.role !== "assistant") continue;
    const before = renderChat(messages.slice(0, k), { template, addGenerationPrompt: true });
    const upTo = renderChat(messages.slice(0, k + 1), { template });
    if (!before.startsWith(done) || !upTo.startsWith(before)) {
      throw new SftDataError(
        "the chat template does not render a conversation as its turns one after another (the render up to an answer must extend the render before it), so the answer tokens cannot be found",
      );
    }
    const answer = upTo.slice(before.length);
    if (!answer.includes(m.content)) {
      throw new SftDataError(`the chat template does not write messages[${k}].content into the answer's span (it rendered ${JSON.stringify(answer)}); check its variables: an unknown one renders as empty`);
    }
    // the user's turn apart from what comes before it (system prompt, earlier turns)
    const prior = k >= 1 && messages[k - 1]!.role === "user" ? renderChat(messages.slice(0, k - 1), { template }) : undefined;
    if (prior !== undefined && prior.length > done.length && prior.startsWith(done) && before.startsWith(prior)) {
      spans.push({ text: prior.slice(done.length), answer: false }, { text: before.slice(prior.length), answer: false, promptIndex: k - 1 });
    } else {
      spans.push({ text: before.slice(done.length), answer: false, ...(k >= 1 ? { promptIndex: k - 1 } : {}) });
    }
    spans.push({ text: answer, answer: true, assistantIndex: k });
    done = upTo;
  }
  const all = renderChat(messages, { template });
  if (!all.startsWith(done)) throw new SftDataError("the chat template renders the whole conversation differently from its turns");
  if (all.length > done.length) spans.push({ text: all.slice(done.length), answer: false });
  return spans;
}

/**
 * Token ids and the loss mask of one conversation.
 *
 * @example
 * ```ts
 * const { ids, lossMask } = formatConversation({ messages: [{ role: "user", content: "续写：床前明月光，" }, { role: "assistant", content: "疑是地上霜。" }] }, tok);
 * ```
 * @throws {SftDataError} for roles out of order, a message that holds a special token's text
 *   (`<|eot|>` typed in a message would end the turn), a bad option or template.
 * @throws {SampleTooLongError} when the last answer cannot fit `maxLength` even with every earlier
 *   turn dropped (the system message is kept).
 */
export function formatConversation(conversation: Conversation, tok: Tokenizer, options: FormatOptions = {}): FormattedSample {
  const parsed = formatOptionsSchema.safeParse(options);
  if (!parsed.success) throw new SftDataError(formatIssues("formatConversation options", parsed.error), { cause: parsed.error });
  const { template, maxLength, lossOn } = parsed.data;
  const where = conversation.source ? `${conversation.source.path}:${conversation.source.line}: ` : "";
  const messages = conversation.messages;
  checkRoles(messages, `${where}conversation`);
  for (const [i, m] of messages.entries()) {
    for (const special of tok.specialTokens.keys()) {
      if (m.content.includes(special)) throw new SftDataError(`${where}messages[${i}].content holds the special token ${special}, which only the template may write`);
    }
  }
  const system = messages[0]?.role === "system" ? [messages[0]] : [];
  const turns = messages.slice(system.length);
  const totalTurns = turns.length / 2;
  let length = 0;
  for (let dropped = 0; dropped < totalTurns; dropped++) {
    const kept = [...system, ...turns.slice(2 * dropped)];
    const sample = encodeSpans(conversationSpans(kept, template), tok, lossOn, kept);
    if (maxLength === undefined || sample.ids.length <= maxLength) return { ...sample, droppedTurns: dropped, ...(lossOn === "last-prompt" ? { direction: "backward" as const } : {}) };
    length = sample.ids.length; // the last try keeps only the last turn
  }
  throw new SampleTooLongError(`${where}the last answer does not fit maxLength ${maxLength}: with only ${system.length ? "the system message and " : ""}the last turn the sample is ${length} tokens`);
}

function encodeSpans(spans: ConversationSpan[], tok: Tokenizer, lossOn: "last" | "all-assistant" | "last-prompt", messages: readonly Message[]): { ids: number[]; lossMask: Uint8Array } {
  const lastAssistant = messages.length - 1;
  const ids: number[] = [];
  const mask: number[] = [];
  for (const span of spans) {
    const piece = tok.encode(span.text, { allowedSpecial: "all" });
    const on =
      lossOn === "last-prompt" ? (span.promptIndex === lastAssistant - 1 ? 1 : 0) : span.answer && (lossOn === "all-assistant" || span.assistantIndex === lastAssistant) ? 1 : 0;
    for (const id of piece) {
      ids.push(id);
      mask.push(on);
    }
  }
  return { ids, lossMask: Uint8Array.from(mask) };
}

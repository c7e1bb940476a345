/**
 * Chat templates for SFT: the templates live with the tokenizer (`@batgpt/tokenizer`'s
 * `applyChatTemplate`, as Hugging Face keeps them in `tokenizer_config.json`), so the reward model
 * and PPO render conversations the same way; this module re-exports them and reports a template's
 * failure as an {@link SftDataError}.
 */
import { applyChatTemplate, TokenizerError, type ChatTemplateOptions } from "@batgpt/tokenizer";
import { SftDataError, type Message } from "./read.js";

export { BATGPT_CHAT_TEMPLATE, CHATML_CHAT_TEMPLATE, CHAT_TEMPLATES, templateSource, tokenizerConfigJson } from "@batgpt/tokenizer";

/** Options of {@link renderChat}. */
export type RenderChatOptions = ChatTemplateOptions;

/**
 * Render messages with a chat template (`applyChatTemplate` of `@batgpt/tokenizer`).
 *
 * @example
 * ```ts
 * renderChat([{ role: "user", content: "续写：床前明月光，" }], { addGenerationPrompt: true });
 * // "[Turn 1]\n\n[User] 续写：床前明月光，\n\n[Assistant]"
 * ```
 * @throws {SftDataError} when the template does not parse, or fails or raises (`raise_exception`) on the messages.
 */
export function renderChat(messages: readonly Message[], options: RenderChatOptions = {}): string {
  try {
    return applyChatTemplate(messages, options);
  } catch (err) {
    if (err instanceof TokenizerError) throw new SftDataError(err.message, { cause: err });
    throw err;
  }
}

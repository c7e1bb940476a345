/**
 * Chat templates, as Hugging Face keeps them with the tokenizer (`apply_chat_template`): Jinja
 * strings, rendered with `@huggingface/jinja` exactly as a `tokenizer_config.json`'s
 * `chat_template` is (variables `messages`, `add_generation_prompt`,
 * `bos_token`, `eos_token`, and `raise_exception`).
 *
 * The default is the official BatGPT chat format (zcli-charlie/BatGPT,
 * `BatGPT-15B-sirius/tokenization_batgpt.py`, `build_inputs`): an optional
 * `[System]\n\n {system}\n\n<eot>`, then per finished turn
 * `[Turn i]\n\n[User] {query}\n\n[Assistant] {response}\n\n<eop>` with turns counted from 1, then
 * `[Turn n]\n\n[User] {query}\n\n[Assistant]` where generation starts. Our tokenizers have one
 * end-of-turn token, `<|eot|>`: it stands for both of the official `<eot>` (after the system
 * prompt) and `<eop>` (after an answer), so generation of an answer stops at `<|eot|>`.
 */
import { Template } from "@huggingface/jinja";
import { TokenizerError } from "./errors.js";

/** A chat role (the chat-template convention of Hugging Face and TRL). */
export type ChatRole = "system" | "user" | "assistant";

/** One message of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** The official BatGPT chat format (see the module comment), with `<|eot|>` for `<eot>` and `<eop>`. */
export const BATGPT_CHAT_TEMPLATE = [
  "{%- set ns = namespace(turn=0) -%}",
  "{%- for message in messages -%}",
  "{%- if message['role'] == 'system' -%}",
  "{%- if not loop.first -%}{{ raise_exception('a system message may only come first') }}{%- endif -%}",
  "{{ '[System]\\n\\n ' + message['content'] + '\\n\\n<|eot|>' }}",
  "{%- elif message['role'] == 'user' -%}",
  "{%- set ns.turn = ns.turn + 1 -%}",
  "{{ '[Turn ' + (ns.turn | string) + ']\\n\\n[User] ' + message['content'] + '\\n\\n' }}",
  "{%- elif message['role'] == 'assistant' -%}",
  "{{ '[Assistant] ' + message['content'] + '\\n\\n<|eot|>' }}",
  "{%- else -%}{{ raise_exception('unknown role ' + message['role']) }}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{ '[Assistant]' }}{%- endif -%}",
].join("");

/**
 * ChatML (`<|im_start|>role\n…<|im_end|>\n`), with our role markers: `<|system|>`, `<|user|>`,
 * `<|assistant|>` open a message and `<|eot|>` closes it.
 */
export const CHATML_CHAT_TEMPLATE = [
  "{%- for message in messages -%}",
  "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|eot|>\\n' }}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}",
].join("");

/** Templates by name; a user may pass any Jinja string instead. */
export const CHAT_TEMPLATES = { batgpt: BATGPT_CHAT_TEMPLATE, chatml: CHATML_CHAT_TEMPLATE } as const;

/** Options of {@link applyChatTemplate}. */
export interface ChatTemplateOptions {
  /** A name of {@link CHAT_TEMPLATES} or a Jinja string. Default `"batgpt"`. */
  template?: keyof typeof CHAT_TEMPLATES | string;
  /** Append the assistant's header, where generation starts (Hugging Face's `add_generation_prompt`). */
  addGenerationPrompt?: boolean;
  /** Special tokens the template may use (`bos_token`, `eos_token`). */
  bosToken?: string;
  eosToken?: string;
}

const compiled = new Map<string, Template>();

/**
 * The Jinja source of a template name or string. A string without Jinja tags (`{{`, `{%`) is
 * taken for a name, so a mistyped name is an error rather than a template that renders itself.
 *
 * @throws {TokenizerError} for a name that is not one of {@link CHAT_TEMPLATES}.
 */
export function templateSource(template: ChatTemplateOptions["template"] = "batgpt"): string {
  if (Object.hasOwn(CHAT_TEMPLATES, template)) return CHAT_TEMPLATES[template as keyof typeof CHAT_TEMPLATES];
  if (!template.includes("{{") && !template.includes("{%")) {
    throw new TokenizerError(`unknown chat template ${JSON.stringify(template)}: a name is one of ${Object.keys(CHAT_TEMPLATES).join(", ")}, and a Jinja template holds {{ … }} or {% … %}`);
  }
  return template;
}

/**
 * Render messages with a chat template.
 *
 * @example
 * ```ts
 * applyChatTemplate([{ role: "user", content: "续写：床前明月光，" }], { addGenerationPrompt: true });
 * // "[Turn 1]\n\n[User] 续写：床前明月光，\n\n[Assistant]"
 * ```
 * @throws {TokenizerError} when the template does not parse, or fails or raises (`raise_exception`) on the messages.
 */
export function applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  const source = templateSource(options.template);
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new TokenizerError(`the chat template does not parse: ${(err as Error).message}`, { cause: err });
    }
    compiled.set(source, t);
  }
  try {
    return t.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: options.bosToken ?? "<|bos|>",
      eos_token: options.eosToken ?? "<|eos|>",
    });
  } catch (err) {
    // raise_exception (built in) throws the template's own message
    throw new TokenizerError(`the chat template refused the conversation: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The `tokenizer_config.json` of a checkpoint, in the Hugging Face layout: the chat template (its
 * Jinja source) and the special tokens, so `transformers`' `apply_chat_template` renders the
 * conversations this model was tuned on.
 */
export function tokenizerConfigJson(template: ChatTemplateOptions["template"] = "batgpt", modelMaxLength?: number): Record<string, unknown> {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    chat_template: templateSource(template),
    bos_token: "<|bos|>",
    eos_token: "<|eos|>",
    pad_token: "<|pad|>",
    clean_up_tokenization_spaces: false,
    ...(modelMaxLength !== undefined ? { model_max_length: modelMaxLength } : {}),
  };
}

import { describe, expect, it } from "vitest";
import { applyChatTemplate, CHAT_TEMPLATES, templateSource, tokenizerConfigJson, TokenizerError, type ChatMessage } from "../src/index.js";

const messages: ChatMessage[] = [
  { role: "system", content: "你是诗人。" },
  { role: "user", content: "续写：床前明月光，" },
  { role: "assistant", content: "疑是地上霜。" },
  { role: "user", content: "再来一句。" },
];

describe("applyChatTemplate", () => {
  it("renders the official BatGPT format by default and ChatML by name", () => {
    expect(applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      "[System]\n\n 你是诗人。\n\n<|eot|>[Turn 1]\n\n[User] 续写：床前明月光，\n\n[Assistant] 疑是地上霜。\n\n<|eot|>[Turn 2]\n\n[User] 再来一句。\n\n[Assistant]",
    );
    expect(applyChatTemplate(messages.slice(1, 3), { template: "chatml" })).toBe("<|user|>\n续写：床前明月光，<|eot|>\n<|assistant|>\n疑是地上霜。<|eot|>\n");
  });

  it("refuses a mistyped name, a template that does not parse and one that raises, as TokenizerError", () => {
    expect(() => templateSource("chatmll")).toThrow(new TokenizerError('unknown chat template "chatmll": a name is one of batgpt, chatml, and a Jinja template holds {{ … }} or {% … %}'));
    expect(() => applyChatTemplate(messages, { template: "{% for x in %}" })).toThrow(TokenizerError);
    expect(() => applyChatTemplate([messages[1]!, messages[0]!])).toThrow("the chat template refused the conversation: a system message may only come first");
    expect(templateSource("{{ messages[0].content }}")).toBe("{{ messages[0].content }}");
  });

  it("writes the Hugging Face tokenizer_config.json fields", () => {
    expect(tokenizerConfigJson("chatml", 256)).toMatchObject({ chat_template: CHAT_TEMPLATES.chatml, bos_token: "<|bos|>", eos_token: "<|eos|>", pad_token: "<|pad|>", model_max_length: 256 });
  });
});

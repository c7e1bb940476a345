import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderChat, SftDataError, type Message } from "../src/index.js";

/**
 * The official BatGPT `build_inputs` (zcli-charlie/BatGPT, BatGPT-15B-sirius/tokenization_batgpt.py),
 * line for line, with our `<|eot|>` for its `<eot>` and `<eop>`.
 */
function officialBuildInputs(query: string, history: [string, string][], systemPrompt?: string): string {
  let prompt = systemPrompt ? `[System]\n\n ${systemPrompt}\n\n<|eot|>` : "";
  history.forEach(([oldQuery, response], i) => {
    prompt += `[Turn ${i + 1}]\n\n[User] ${oldQuery}\n\n[Assistant] ${response}\n\n<|eot|>`;
  });
  prompt += `[Turn ${history.length + 1}]\n\n[User] ${query}\n\n[Assistant]`;
  return prompt;
}

const text = fc.string({ unit: fc.constantFrom("床", "前", "明", "月", "光", "，", "。", " ", "\n", "a", "{", "}", "%", "'", '"') });
const conversation = fc.record({
  system: fc.option(text.filter((s) => s.length > 0), { nil: undefined }),
  history: fc.array(fc.tuple(text, text), { maxLength: 4 }),
  query: text,
});

/** The messages of a system prompt (or none), finished (query, response) turns and a last query. */
function chat(system: string | undefined, history: [string, string][], query: string): Message[] {
  return [
    ...(system !== undefined ? [{ role: "system" as const, content: system }] : []),
    ...history.flatMap(([q, r]) => [
      { role: "user" as const, content: q },
      { role: "assistant" as const, content: r },
    ]),
    { role: "user", content: query },
  ];
}

describe("the BatGPT chat template", () => {
  it("renders what the official build_inputs builds, for any system prompt, history and query", () => {
    fc.assert(
      fc.property(conversation, ({ system, history, query }) => {
        const messages = chat(system, history, query);
        expect(renderChat(messages, { addGenerationPrompt: true })).toBe(officialBuildInputs(query, history, system));
      }),
    );
  });

  it("each answer extends the render of what came before it plus the generation prompt (the loss mask's spans)", () => {
    fc.assert(
      fc.property(conversation, text, ({ system, history, query }, answer) => {
        const messages: Message[] = [...chat(system, history, query), { role: "assistant", content: answer }];
        for (const [k, m] of messages.entries()) {
          if (m.role !== "assistant") continue;
          const before = renderChat(messages.slice(0, k), { addGenerationPrompt: true });
          const upTo = renderChat(messages.slice(0, k + 1));
          expect(upTo.startsWith(before)).toBe(true);
          expect(upTo.slice(before.length)).toBe(` ${m.content}\n\n<|eot|>`);
        }
      }),
    );
  });

  it("refuses a system message after the first, a template that does not parse, or an unknown role", () => {
    const u = { role: "user", content: "问" } as const;
    expect(() => renderChat([u, { role: "system", content: "s" }])).toThrow(new SftDataError("the chat template refused the conversation: a system message may only come first"));
    expect(() => renderChat([u], { template: "{% for x in %}" })).toThrow(/^the chat template does not parse: /);
    expect(() => renderChat([{ role: "tool", content: "x" } as never])).toThrow("the chat template refused the conversation: unknown role tool");
  });
});

describe("ChatML and custom templates", () => {
  it("renders ChatML with our role markers, and any Jinja string a user passes", () => {
    const messages: Message[] = [
      { role: "system", content: "你是诗人。" },
      { role: "user", content: "续写" },
      { role: "assistant", content: "疑是地上霜。" },
    ];
    expect(renderChat(messages, { template: "chatml", addGenerationPrompt: false })).toBe("<|system|>\n你是诗人。<|eot|>\n<|user|>\n续写<|eot|>\n<|assistant|>\n疑是地上霜。<|eot|>\n");
    expect(renderChat(messages.slice(1, 2), { template: "chatml", addGenerationPrompt: true })).toBe("<|user|>\n续写<|eot|>\n<|assistant|>\n");
    const custom = "{{ bos_token }}{% for m in messages %}{{ m['role'][0] | upper }}: {{ m['content'] }}\n{% endfor %}";
    expect(renderChat(messages.slice(1), { template: custom })).toBe("<|bos|>U: 续写\nA: 疑是地上霜。\n");
  });
});

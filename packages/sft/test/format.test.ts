import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { conversationSpans, formatConversation, renderChat, SampleTooLongError, SftDataError, type Message } from "../src/index.js";

let tok: Tokenizer;
beforeAll(async () => {
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "[Turn 1]\n\n[User] 续写\n\n[Assistant] 好\n\n"], { vocabSize: 300, minFrequency: 1 });
});

const text = fc.string({ unit: fc.constantFrom("床", "前", "明", "月", "光", "，", "。", " ", "\n", "a", "[", "]", "1") });
/** An optional system message, then 1–3 (user, assistant) turns. */
const conversation = fc
  .record({ system: fc.option(text, { nil: undefined }), turns: fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 3 }) })
  .map(({ system, turns }): Message[] => [
    ...(system !== undefined ? [{ role: "system" as const, content: system }] : []),
    ...turns.flatMap(([q, a]) => [
      { role: "user" as const, content: q },
      { role: "assistant" as const, content: a },
    ]),
  ]);

const masked = (ids: number[], mask: Uint8Array, on: 0 | 1) => ids.filter((_, i) => mask[i] === on);

describe("formatConversation", () => {
  it("tokenizing the rendered conversation equals its tokenized spans joined (default template)", () => {
    fc.assert(
      fc.property(conversation, (messages) => {
        const { ids } = formatConversation({ messages }, tok);
        expect(ids).toEqual(tok.encode(renderChat(messages), { allowedSpecial: "all" }));
      }),
    );
  });

  it("the loss mask covers exactly the last answer's tokens (its text and <|eot|>), or every answer's", () => {
    fc.assert(
      fc.property(conversation, (messages) => {
        const answers = messages.filter((m) => m.role === "assistant").map((m) => ` ${m.content}\n\n<|eot|>`);
        const last = formatConversation({ messages }, tok);
        expect(masked(last.ids, last.lossMask, 1)).toEqual(tok.encode(answers.at(-1)!, { allowedSpecial: "all" }));
        // the masked tokens are the sample's last ones: nothing of the prompt or the template after them
        expect([...last.lossMask.slice(last.ids.length - masked(last.ids, last.lossMask, 1).length)].every((b) => b === 1)).toBe(true);
        const every = formatConversation({ messages }, tok, { lossOn: "all-assistant" });
        expect(masked(every.ids, every.lossMask, 1)).toEqual(answers.flatMap((a) => tok.encode(a, { allowedSpecial: "all" })));
        const spans = conversationSpans(messages);
        const contextIds = spans.filter((s) => !s.answer).flatMap((s) => tok.encode(s.text, { allowedSpecial: "all" }));
        expect(masked(every.ids, every.lossMask, 0)).toEqual(contextIds);
      }),
    );
  });

  it("a backward sample's mask covers exactly the last turn's prompt (its user turn and the assistant's header), nothing of the system prompt or earlier turns", () => {
    fc.assert(
      fc.property(conversation, (messages) => {
        const turns = messages.filter((m) => m.role === "user").length;
        const s = formatConversation({ messages }, tok, { lossOn: "last-prompt" });
        const prompt = `[Turn ${turns}]\n\n[User] ${messages.at(-2)!.content}\n\n[Assistant]`;
        expect(masked(s.ids, s.lossMask, 1)).toEqual(tok.encode(prompt, { allowedSpecial: "all" }));
        expect(s.ids).toEqual(formatConversation({ messages }, tok).ids);
      }),
    );
  });

  it("truncation drops the oldest turns first and never cuts the answer", () => {
    fc.assert(
      fc.property(conversation, fc.integer({ min: 1, max: 120 }), (messages, maxLength) => {
        const full = formatConversation({ messages }, tok);
        const answerIds = masked(full.ids, full.lossMask, 1);
        let got;
        try {
          got = formatConversation({ messages }, tok, { maxLength });
        } catch (err) {
          expect(err).toBeInstanceOf(SampleTooLongError);
          const system = messages[0]!.role === "system" ? messages.slice(0, 1) : [];
          expect(formatConversation({ messages: [...system, ...messages.slice(-2)] }, tok).ids.length).toBeGreaterThan(maxLength);
          return;
        }
        expect(got.ids.length).toBeLessThanOrEqual(maxLength);
        expect(masked(got.ids, got.lossMask, 1)).toEqual(answerIds);
        expect(got.ids.slice(-answerIds.length)).toEqual(answerIds);
        if (got.droppedTurns > 0) {
          // one turn fewer dropped would not have fit
          const system = messages[0]!.role === "system" ? messages.slice(0, 1) : [];
          const turns = messages.slice(system.length);
          expect(formatConversation({ messages: [...system, ...turns.slice(2 * (got.droppedTurns - 1))] }, tok).ids.length).toBeGreaterThan(maxLength);
        } else expect(got.ids).toEqual(full.ids);
      }),
    );
  });

  it("refuses a special token typed in a message, roles out of order, and names the source", () => {
    const source = { path: "data.jsonl", line: 7 };
    expect(() => formatConversation({ messages: [{ role: "user", content: "问<|eot|>" }, { role: "assistant", content: "答" }], source }, tok)).toThrow(
      new SftDataError("data.jsonl:7: messages[0].content holds the special token <|eot|>, which only the template may write"),
    );
    expect(() => formatConversation({ messages: [{ role: "assistant", content: "答" }], source }, tok)).toThrow(/^data\.jsonl:7: conversation: messages\[0\]\.role is "assistant"/);
    expect(() => formatConversation({ messages: [{ role: "user", content: "问" }, { role: "assistant", content: "答" }] }, tok, { lossOn: "first" as never })).toThrow(/formatConversation options: lossOn/);
    const qa: Message[] = [{ role: "user", content: "问" }, { role: "assistant", content: "答" }];
    // a mistyped template name is not taken for a template that renders itself
    expect(() => formatConversation({ messages: qa }, tok, { template: "chatmll" })).toThrow(/^unknown chat template "chatmll": a name is one of batgpt, chatml/);
    // a template that leaves the answer out (an unknown variable renders as empty) has no answer to train on
    const typo = "{% for m in messages %}[{{ m.role }}] {{ m.contnet }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
    expect(() => formatConversation({ messages: qa }, tok, { template: typo })).toThrow(/^the chat template does not write messages\[1\]\.content into the answer's span/);
    expect(() => formatConversation({ messages: [] }, tok)).toThrow(/^conversation: no messages$/);
  });
});

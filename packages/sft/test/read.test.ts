import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkRoles, loadConversations, readConversations, SftDataError, toMessages, type Message } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "batgpt-sft-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(lines: readonly string[]): string {
  const path = join(dir, `data-${n++}.jsonl`);
  writeFileSync(path, lines.join("\n"));
  return path;
}

const U = (content: string): Message => ({ role: "user", content });
const A = (content: string): Message => ({ role: "assistant", content });

describe("readConversations", () => {
  it("reads each format into messages, with the file and line of each record", async () => {
    const path = file([
      JSON.stringify({ prompt: "续写：床前明月光，", completion: "疑是地上霜。" }),
      "",
      JSON.stringify({ prompt: [{ role: "system", content: "你是诗人。" }, U("写一句")], completion: [A("明月。")] }),
      JSON.stringify({ messages: [U("一"), A("二"), U("三"), A("四")], id: 7 }),
      JSON.stringify({ instruction: "写一句诗", input: "题：月", output: "明月光。" }),
      JSON.stringify({ instruction: "写一句诗", input: "  ", output: "明月光。" }),
      JSON.stringify({ instruction: "写一句诗", output: "明月光。" }),
      JSON.stringify({ prompt: "问", response: "答" }),
    ]);
    const got: { messages: Message[]; line: number }[] = [];
    for await (const c of readConversations(path)) got.push({ messages: c.messages, line: c.source!.line });
    expect(got).toEqual([
      { line: 1, messages: [U("续写：床前明月光，"), A("疑是地上霜。")] },
      { line: 3, messages: [{ role: "system", content: "你是诗人。" }, U("写一句"), A("明月。")] },
      { line: 4, messages: [U("一"), A("二"), U("三"), A("四")] },
      { line: 5, messages: [U("写一句诗\n\n题：月"), A("明月光。")] },
      { line: 6, messages: [U("写一句诗"), A("明月光。")] },
      { line: 7, messages: [U("写一句诗"), A("明月光。")] },
      { line: 8, messages: [U("问"), A("答")] },
    ]);
  });

  it("names the file, the line and what is wrong in every error", async () => {
    const cases: [string, RegExp][] = [
      ["{oops", /:1: invalid JSON: /],
      [JSON.stringify({ instruction: "x", input: "" }), /:1: invalid alpaca record: output: /],
      [JSON.stringify({ text: "x" }), /:1: unknown record: expected the keys of one of the formats/],
      [JSON.stringify({ prompt: "x", answer: "y" }), /:1: a record with prompt needs completion \(TRL prompt-completion\) or response \(prompt-response\); it has prompt, answer$/],
      [JSON.stringify({ instruction: "x", output: 3 }), /:1: invalid alpaca record: output: /],
      [JSON.stringify({ messages: [U("a"), U("b")] }), /:1: messages\[1\]\.role is "user": expected "assistant": user and assistant take turns, starting with user$/],
      [JSON.stringify({ messages: [U("a"), A("b"), { role: "system", content: "s" }, A("c")] }), /:1: messages\[2\]\.role is "system": a system message may only come first$/],
      [JSON.stringify({ messages: [U("a")] }), /:1: the last message is the user's: a training sample ends with the assistant's answer$/],
      [JSON.stringify({ messages: [{ role: "system", content: "s" }] }), /:1: no user message after the system message$/],
      [JSON.stringify({ messages: [{ role: "tool", content: "s" }, A("b")] }), /:1: invalid conversational record: messages\[0\]\.role: Invalid option/],
      [JSON.stringify({ messages: [] }), /:1: invalid conversational record: messages: Too small/],
    ];
    for (const [line, pattern] of cases) {
      const path = file([line]);
      const err = await (async () => {
        for await (const _ of readConversations(path)) void _;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SftDataError);
      expect((err as Error).message.startsWith(`${path}:1: `)).toBe(true);
      expect((err as Error).message).toMatch(pattern);
    }
    // a forced format that does not fit
    const path = file([JSON.stringify({ prompt: "p", response: "r" })]);
    await expect(loadConversations(path, { format: "alpaca" })).rejects.toThrow(`${path}:1: invalid alpaca record`);
    await expect(loadConversations(path, { format: "chatml" as never })).rejects.toThrow(/^invalid loadConversations options: format/);
    await expect(loadConversations(path, { skipInvalid: true, onSkip: 3 as never })).rejects.toThrow(/^invalid loadConversations options: onSkip: must be a function/);
    await expect((async () => {
      for await (const _ of readConversations(path, { skipinvalid: true } as never)) void _;
    })()).rejects.toThrow(/^invalid readConversations options: Unrecognized key/);
    // a byte-order mark before the first record is not part of it
    const bom = file([`\uFEFF${JSON.stringify({ prompt: "p", response: "r" })}`]);
    expect((await loadConversations(bom)).conversations).toHaveLength(1);
  });

  it("skips bad lines on request and reports each with its line", async () => {
    const path = file([JSON.stringify({ prompt: "a", response: "b" }), "{oops", JSON.stringify({ messages: [U("a")] }), JSON.stringify({ prompt: "c", completion: "d" })]);
    const seen: string[] = [];
    const { conversations, skipped } = await loadConversations(path, { skipInvalid: true, onSkip: (e) => seen.push(e.message) });
    expect(conversations.map((c) => c.source!.line)).toEqual([1, 4]);
    expect(skipped.map((e) => e.message.slice(path.length))).toEqual([":2: invalid JSON: " + skipped[0]!.message.split("invalid JSON: ")[1], ":3: the last message is the user's: a training sample ends with the assistant's answer"]);
    expect(seen).toEqual(skipped.map((e) => e.message));
    await expect(loadConversations(path)).rejects.toThrow(`${path}:2: invalid JSON`);
  });
});

describe("checkRoles", () => {
  const role = fc.constantFrom<Message["role"]>("system", "user", "assistant");
  it("accepts exactly: an optional system message, then user/assistant in turn, ending with assistant", () => {
    fc.assert(
      fc.property(fc.array(role, { maxLength: 8 }), (roles) => {
        const start = roles[0] === "system" ? 1 : 0;
        const rest = roles.slice(start);
        const valid = rest.length >= 2 && rest.length % 2 === 0 && rest.every((r, i) => r === (i % 2 === 0 ? "user" : "assistant"));
        const messages = roles.map((r) => ({ role: r, content: "x" }));
        if (valid) expect(() => checkRoles(messages)).not.toThrow();
        else expect(() => checkRoles(messages)).toThrow(SftDataError);
      }),
    );
  });

  it("turns every prompt-completion pair into user then assistant", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (prompt, completion) => {
        expect(toMessages({ prompt, completion }, "prompt-completion")).toEqual([U(prompt), A(completion)]);
      }),
    );
  });
});

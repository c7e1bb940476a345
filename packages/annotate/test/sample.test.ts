import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModel, saveCheckpoint, selectBackend } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleTasks } from "../src/sample/index.js";
import { AnnotationStore } from "../src/store.js";

describe("sampleTasks", () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend({ log: false });
    dir = mkdtempSync(join(tmpdir(), "annotate-sample-"));
    const tokenizer = await trainBpe(["床前明月光 疑是地上霜", "举头望明月 低头思故乡", "the moon and the light"], { vocabSize: 320 });
    const model = createModel({ vocab_size: tokenizer.vocabSize, hidden_size: 32, n_layer: 1, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 64, max_seq_len: 128 }, { tokenizer, seed: 3 });
    await saveCheckpoint(join(dir, "tiny"), { model, tokenizer });
    model.dispose();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const prompts = [
    JSON.stringify({ id: "p1", prompt: "写一句咏月的诗", metadata: { topic: "月" } }),
    JSON.stringify({ prompt: [{ role: "user", content: "你好" }, { role: "assistant", content: "你好！" }, { role: "user", content: "写诗" }] }),
  ].join("\n");

  it("samples two answers a prompt, the same for the same seeds, into tasks the store imports", async () => {
    const tasks = await sampleTasks(join(dir, "tiny"), prompts, { maxNewTokens: 6, workers: 1 });
    expect(tasks).toHaveLength(2);
    expect(tasks[0]).toMatchObject({ id: "p1", prompt: "写一句咏月的诗", metadata: { topic: "月", sampling: { checkpoint: "tiny", temperatures: [0.7, 1], seeds: [1, 2], maxNewTokens: 6 } } });
    expect(tasks[1]!.id).toBeUndefined();
    for (const t of tasks) expect(typeof t.response_a === "string" && typeof t.response_b === "string").toBe(true);
    expect(tasks.some((t) => t.response_a !== t.response_b)).toBe(true); // different seeds and temperatures
    expect(await sampleTasks(join(dir, "tiny"), prompts, { maxNewTokens: 6, workers: 1 })).toEqual(tasks);
    const store = new AnnotationStore(":memory:");
    expect(store.importTasks(tasks.map((t) => JSON.stringify(t)).join("\n"))).toBe(2);
    store.close();
  });

  it("names the line of a bad prompt before loading anything", async () => {
    await expect(sampleTasks(join(dir, "missing"), `${JSON.stringify({ prompt: "ok" })}\n{"prompt": ""}`)).rejects.toThrow(/line 2: prompt/);
    await expect(sampleTasks(join(dir, "missing"), JSON.stringify({ prompt: "ok" }))).rejects.toThrow(/missing/);
    await expect(sampleTasks(join(dir, "tiny"), `${JSON.stringify({ prompt: "ok" })}\n${JSON.stringify({ prompt: "月".repeat(200) })}`, { workers: 1 })).rejects.toThrow(/line 2: the prompt is \d+ tokens .* max_seq_len is 128/);
  });
});

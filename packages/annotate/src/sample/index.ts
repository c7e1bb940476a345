/**
 * `@batgpt/annotate/sample`: tasks from prompts and a core checkpoint — two answers sampled for
 * each prompt (different seeds and temperatures), ready for {@link AnnotationStore.importTasks}.
 *
 * This subpath is the only part of the package that needs `@batgpt/core` (an optional peer
 * dependency: install it to sample; the server and the store do not load it).
 */
import { basename, resolve } from "node:path";
import { loadCheckpoint, ReplicaPool } from "@batgpt/core";
import { applyChatTemplate, type ChatMessage } from "@batgpt/tokenizer";
import { z } from "zod";
import { AnnotateError } from "../errors.js";
import { parseJsonl } from "../jsonl.js";
import { promptSchema, type TaskInput } from "../store.js";

/** One line of a prompts file: a prompt (a string, or a conversation; the answer continues it as the assistant's turn). */
export const promptLineSchema = z.strictObject({
  id: z.string().min(1).optional(),
  prompt: promptSchema,
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Options of {@link sampleTasks}. */
export const sampleTasksOptionsSchema = z.strictObject({
  /** Tokens sampled per answer at most (default 128). */
  maxNewTokens: z.number().int().positive().default(128),
  /** Temperatures of answer A and of answer B (default [0.7, 1.0]). */
  temperatures: z.tuple([z.number().positive(), z.number().positive()]).default([0.7, 1.0]),
  /** Seeds of answer A and of answer B (default [1, 2]); the same seeds give the same answers. */
  seeds: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).default([1, 2]),
  /** Nucleus sampling's p (default 1: off). */
  topP: z.number().gt(0).max(1).default(1),
  /** The chat template the checkpoint was tuned with (tokenizer's `applyChatTemplate`; default `"batgpt"`). */
  template: z.enum(["batgpt", "chatml"]).default("batgpt"),
  /** Replicas to sample on (core's `ReplicaPool`; default `"auto"`). */
  workers: z.union([z.number().int().positive(), z.literal("auto")]).default("auto"),
});
export type SampleTasksOptions = z.input<typeof sampleTasksOptionsSchema>;

/**
 * Sample two answers for every prompt of `promptsJsonl` (one {@link promptLineSchema} object a
 * line) from the checkpoint in `checkpointDir` (core's `loadCheckpoint`; it must hold its
 * tokenizer). Each prompt is rendered with the chat template and a generation prompt; sampling
 * stops at the template's end of turn (`<|eot|>`, `<|eos|>` where the tokenizer has them) or after
 * `maxNewTokens`. Answers are trimmed. Select a backend first (core's `selectBackend`).
 *
 * @returns tasks in the import schema; `metadata.sampling` records the checkpoint's directory
 *   name, the temperatures, seeds, `topP` and `maxNewTokens`.
 * @throws {AnnotateError} `invalid` naming the line of a bad prompt or of one too long for the
 *   model's `max_seq_len`, or for a checkpoint without its tokenizer; core's `CheckpointError` for an unreadable checkpoint.
 */
export async function sampleTasks(checkpointDir: string, promptsJsonl: string, options: SampleTasksOptions = {}): Promise<TaskInput[]> {
  const o = sampleTasksOptionsSchema.parse(options);
  const lines = parseJsonl(promptsJsonl, promptLineSchema);
  if (lines.length === 0) return [];
  const { model, tokenizer } = await loadCheckpoint(checkpointDir);
  try {
    if (tokenizer === undefined) throw new AnnotateError("invalid", `the checkpoint ${checkpointDir} has no tokenizer.json: it cannot render prompts`);
    const stopTokens = ["<|eot|>", "<|eos|>"].flatMap((t) => {
      try {
        return [tokenizer.specialTokenId(t)];
      } catch {
        return [];
      }
    });
    const rendered = lines.map(({ value }) => {
      const messages: ChatMessage[] = typeof value.prompt === "string" ? [{ role: "user", content: value.prompt }] : value.prompt;
      return applyChatTemplate(messages, { addGenerationPrompt: true, template: o.template });
    });
    rendered.forEach((text, i) => {
      const n = tokenizer.encode(text, { allowedSpecial: "all" }).length + 1; // + the direction token
      if (n >= model.config.max_seq_len) throw new AnnotateError("invalid", `line ${lines[i]!.line}: the prompt is ${n} tokens rendered with the chat template; the checkpoint's max_seq_len is ${model.config.max_seq_len}`);
    });
    const pool = await ReplicaPool.start(model, { workers: o.workers, tokenizer });
    try {
      const base = { maxNewTokens: o.maxNewTokens, topP: o.topP, stopTokens, allowedSpecial: "all" as const };
      const a = await pool.generate(rendered, { ...base, temperature: o.temperatures[0], seed: o.seeds[0] });
      const b = await pool.generate(rendered, { ...base, temperature: o.temperatures[1], seed: o.seeds[1] });
      const sampling = { checkpoint: basename(resolve(checkpointDir)), temperatures: o.temperatures, seeds: o.seeds, topP: o.topP, maxNewTokens: o.maxNewTokens };
      return lines.map(({ value }, i) => ({
        ...(value.id ? { id: value.id } : {}),
        prompt: value.prompt,
        response_a: a[i]!.text.trim(),
        response_b: b[i]!.text.trim(),
        metadata: { ...value.metadata, sampling },
      }));
    } finally {
      await pool.close();
    }
  } finally {
    model.dispose();
  }
}

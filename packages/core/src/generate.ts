/**
 * Generation in both directions with a KV cache: greedy or sampled (temperature, top-k, top-p,
 * repetition penalty), stop tokens, streaming, batched prompts (left-padded: rotary embeddings
 * are relative, so padding on the left changes nothing once masked), and the log-probability
 * of every generated token under the model (temperature 1, before filtering) for PPO.
 *
 * Reading backward, the model writes the text that comes *before* the prompt, token by token
 * from right to left; the result is returned in reading order.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { z } from "zod";
import type { BatGPTModel, KVCache } from "./model.js";
import { ConfigError } from "./config.js";
import { parseOptions } from "./options.js";
import { Rng } from "./rng.js";

/** Options of {@link generate}, validated with zod; a bad one throws a {@link ConfigError} naming it. */
export const generateOptionsSchema = z
  .object({
    /** `"forward"` continues the prompt; `"backward"` writes what precedes it. */
    direction: z.enum(["forward", "backward"]).default("forward"),
    /** Most tokens to generate per prompt (an integer ≥ 0); generation also stops at `max_seq_len`. */
    maxNewTokens: z.number().int().nonnegative().default(64),
    /** Sampling temperature; 0 means greedy. */
    temperature: z.number().finite().nonnegative().default(1),
    /** Keep only the k most likely tokens (0: all). */
    topK: z.number().int().nonnegative().default(0),
    /** Keep the smallest set of tokens whose probability reaches p, in (0, 1] (1: all). */
    topP: z.number().gt(0).lte(1).default(1),
    /** Divide positive logits (multiply negative ones) of tokens already present by this (> 0; 1 = off). */
    repetitionPenalty: z.number().finite().positive().default(1),
    /** Token ids that end a sequence (default: `<|eos|>` when the tokenizer has it). */
    stopTokens: z.array(z.number().int().nonnegative()).optional(),
    /** Seed of the sampling generator (a safe integer); or pass `rng` instead (not both). */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
    /** A generator to draw from instead of a new one from `seed` (it advances). */
    rng: z.instanceof(Rng).optional(),
    /** Use the KV cache. Without it every step re-reads the whole sequence. */
    useCache: z.boolean().default(true),
    /** Special tokens allowed in the prompt text. */
    allowedSpecial: z.union([z.literal("all"), z.array(z.string())]).default([]),
    /**
     * Called after each step for each sequence still running: `piece` is the newly completed text
     * (forward; held back while a character is incomplete), or the whole generated text so far in
     * reading order (backward, where bytes arrive right to left). A sequence's last event (its stop
     * token's, or its last token's) carries any held-back bytes, so forward the pieces joined
     * equal {@link Generation.text}. If it throws, generation stops, frees its tensors and rethrows.
     */
    onToken: z.custom<(event: TokenEvent) => void>((f) => typeof f === "function", "must be a function").optional(),
    /**
     * Stops generation: the call rejects with `signal.reason` (an `AbortError` by default) and
     * frees its tensors. Checked before each step; with a signal, each step also yields to the
     * event loop so that timers (`AbortSignal.timeout`) and I/O can fire.
     */
    signal: z.instanceof(AbortSignal).optional(),
  })
  .strict();

/** Options of {@link generate} (see {@link generateOptionsSchema} for each field and its default). */
export type GenerateOptions = z.input<typeof generateOptionsSchema>;

/** What the `onToken` option of {@link generate} receives. */
export interface TokenEvent {
  /** Which prompt (0 for a single prompt). */
  index: number;
  /** The token just generated. */
  id: number;
  /** Text completed by this token (see `onToken` in {@link generateOptionsSchema}). */
  piece: string;
}

/**
 * The model produced NaN or ±Infinity logits (e.g. a NaN weight): sampling from them would
 * return a fixed token, so generation stops and says where.
 */
export class GenerationError extends Error {
  override name = "GenerationError";
}

/** One generated sequence. */
export interface Generation {
  /** The generated text in reading order (without the prompt or a stop token). */
  text: string;
  /** Generated ids in generation order (backward: right to left), including a final stop token if one was produced. */
  ids: number[];
  /** log p(id) under the model at temperature 1, one per id. */
  logProbs: number[];
  /** The prompt's ids in reading order. */
  promptIds: number[];
  /** Why it ended. */
  finishReason: "stop" | "length";
}

function sampleRow(
  logits: Float32Array,
  seen: Set<number>,
  o: { temperature: number; topK: number; topP: number; repetitionPenalty: number },
  rng: Rng,
): number {
  const V = logits.length;
  const z = Float32Array.from(logits);
  if (o.repetitionPenalty !== 1) {
    for (const id of seen) z[id] = z[id]! > 0 ? z[id]! / o.repetitionPenalty : z[id]! * o.repetitionPenalty;
  }
  if (o.temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (z[i]! > z[best]!) best = i;
    return best;
  }
  // sorting the vocabulary is only needed to cut it; plain sampling reads it in id order
  const filtering = (o.topK > 0 && o.topK < V) || o.topP < 1;
  let order = Array.from({ length: V }, (_, i) => i);
  if (filtering) order.sort((a, b) => z[b]! - z[a]!);
  if (o.topK > 0 && o.topK < V) order = order.slice(0, o.topK);
  let max = -Infinity;
  for (const i of order) if (z[i]! > max) max = z[i]!;
  let probs = order.map((i) => Math.exp((z[i]! - max) / o.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  if (o.topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < o.topP * sum) acc += probs[keep++]!;
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, order.length);
    sum = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng.float() * sum;
  for (let i = 0; i < order.length; i++) {
    r -= probs[i]!;
    if (r <= 0) return order[i]!;
  }
  return order[order.length - 1]!;
}

function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(sum);
}

/** Resolve after pending timers and I/O callbacks have had their turn (setImmediate in Node). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** The first non-finite value of `row`, or -1 when every value is finite. */
function firstNonFinite(row: Float32Array): number {
  for (let i = 0; i < row.length; i++) if (!Number.isFinite(row[i]!)) return i;
  return -1;
}

/**
 * Generate from one prompt (returns one {@link Generation}) or several (returns an array).
 *
 * ```ts
 * const { text } = await generate(model, tok, "床前明月光，", { maxNewTokens: 20, temperature: 0.8, topP: 0.8 });
 * const before = await generate(model, tok, "低头思故乡。", { direction: "backward" });
 * ```
 *
 * Every tensor it makes is freed before it returns, also when `onToken` throws or `signal` aborts.
 *
 * @throws ConfigError for a bad option (the message names it), no prompt, a stop token out of the
 *   vocabulary, or a prompt longer than `max_seq_len`.
 * @throws GenerationError when the model's logits are not finite (names the prompt and the step).
 * @throws `signal.reason` when `signal` aborts; whatever `onToken` throws.
 */
export async function generate(model: BatGPTModel, tok: Tokenizer, prompt: string, options?: GenerateOptions): Promise<Generation>;
export async function generate(model: BatGPTModel, tok: Tokenizer, prompt: string[], options?: GenerateOptions): Promise<Generation[]>;
export async function generate(
  model: BatGPTModel,
  tok: Tokenizer,
  prompt: string | string[],
  options: GenerateOptions = {},
): Promise<Generation | Generation[]> {
  const opts = parseOptions(generateOptionsSchema, options, "generate options");
  if (opts.rng && (options as { seed?: unknown } | undefined)?.seed !== undefined) {
    throw new ConfigError("invalid generate options: seed and rng: pass one of them (rng carries its own seed)");
  }
  const prompts = typeof prompt === "string" ? [prompt] : prompt;
  if (!Array.isArray(prompts) || prompts.length === 0 || prompts.some((p) => typeof p !== "string")) {
    throw new ConfigError("generate needs a prompt: a string or a non-empty array of strings");
  }
  const { direction, temperature, topK, topP, repetitionPenalty, onToken, signal } = opts;
  const o = { temperature, topK, topP, repetitionPenalty };
  const rng = opts.rng ?? new Rng(opts.seed);
  const V = model.config.vocab_size;
  const stop = new Set(opts.stopTokens ?? (tok.specialTokens.has("<|eos|>") ? [tok.specialTokenId("<|eos|>")] : []));
  for (const id of stop) if (id >= V) throw new ConfigError(`invalid generate options: stopTokens: id ${id} is outside the vocabulary (vocab_size ${V})`);
  const padId = tok.specialTokens.has("<|pad|>") ? tok.specialTokenId("<|pad|>") : 0;
  const dirToken = model.startToken(direction);
  signal?.throwIfAborted();

  // each row as the model reads it: direction token, then the prompt (reversed reading backward)
  const promptIds = prompts.map((p) => tok.encode(p, { allowedSpecial: opts.allowedSpecial }));
  const rows = promptIds.map((ids) => [dirToken, ...(direction === "forward" ? ids : [...ids].reverse())]);
  const B = rows.length;
  const longest = Math.max(...rows.map((r) => r.length));
  if (longest > model.config.max_seq_len) {
    throw new ConfigError(`the prompt (${longest} tokens with the direction token) is longer than max_seq_len ${model.config.max_seq_len}`);
  }
  const limit = Math.min(opts.maxNewTokens, model.config.max_seq_len - longest);
  const pads = rows.map((r) => longest - r.length);
  const seqs = rows.map((r, b) => [...new Array<number>(pads[b]!).fill(padId), ...r]);
  const out = prompts.map((_, b) => ({ ids: [] as number[], logProbs: [] as number[], done: false, seen: new Set(promptIds[b]), reason: "length" as "stop" | "length" }));
  const decoders = prompts.map(() => tok.decoder());
  const emit = (b: number, id: number, last: boolean): void => {
    if (!onToken) return;
    const row = out[b]!;
    let piece: string;
    if (direction === "forward") {
      piece = (row.reason === "stop" ? "" : decoders[b]!.push(id)) + (last ? decoders[b]!.flush() : "");
    } else {
      piece = tok.decode((row.reason === "stop" ? row.ids.slice(0, -1) : [...row.ids]).reverse());
    }
    onToken({ index: b, id, piece });
  };

  let cache: KVCache | undefined;
  const maskFor = (len: number): tf.Tensor2D | undefined => {
    if (pads.every((p) => p === 0)) return undefined;
    const m = new Float32Array(B * len);
    for (let b = 0; b < B; b++) for (let s = pads[b]!; s < len; s++) m[b * len + s] = 1;
    return tf.tensor2d(m, [B, len]);
  };

  try {
    for (let step = 0; step < limit; step++) {
      // a step on wasm never waits for I/O; yield to the event loop so a timer (AbortSignal.timeout) can fire
      if (signal) await yieldToEventLoop();
      signal?.throwIfAborted();
      const len = seqs[0]!.length;
      let input: Int32Array;
      let n: number;
      if (opts.useCache && cache) {
        input = Int32Array.from(seqs.map((s) => s[len - 1]!));
        n = 1;
      } else {
        input = Int32Array.from(seqs.flat());
        n = len;
      }
      const last = tf.tidy(() => {
        const mask = maskFor(len);
        const { hidden, cache: next } = model.hidden(input, B, n, {
          direction,
          ...(opts.useCache ? { cache: cache ?? { k: [], v: [], length: 0 } } : {}),
          ...(mask ? { keyMask: mask } : {}),
        });
        const lastRows = hidden.reshape([B, n, model.config.hidden_size]).slice([0, n - 1, 0], [B, 1, model.config.hidden_size]).reshape([B, model.config.hidden_size]) as tf.Tensor2D;
        return { logits: model.head(lastRows), k: next?.k ?? [], v: next?.v ?? [] };
      });
      if (opts.useCache) {
        if (cache) for (const t of [...cache.k, ...cache.v]) t.dispose();
        cache = { k: last.k as tf.Tensor4D[], v: last.v as tf.Tensor4D[], length: len };
      }
      let logits: Float32Array;
      try {
        logits = (await last.logits.data()) as Float32Array;
      } finally {
        last.logits.dispose();
      }
      signal?.throwIfAborted();
      for (let b = 0; b < B; b++) {
        const row = out[b]!;
        let id = padId;
        if (!row.done) {
          const z = logits.subarray(b * V, (b + 1) * V);
          const bad = firstNonFinite(z);
          if (bad >= 0) {
            throw new GenerationError(
              `the model's logits are not finite (logit of id ${bad} is ${z[bad]}) for prompt ${b}` +
                `${B > 1 ? ` of ${B}` : ""} at generation step ${step + 1} (position ${len}); ` +
                "check the weights for NaN or Infinity",
            );
          }
          id = sampleRow(z, row.seen, o, rng);
          row.ids.push(id);
          row.logProbs.push(logSoftmaxAt(z, id));
          row.seen.add(id);
          if (stop.has(id)) {
            row.done = true;
            row.reason = "stop";
          }
          emit(b, id, row.done || step === limit - 1);
        }
        seqs[b]!.push(id);
      }
      if (out.every((r) => r.done)) break;
    }
  } finally {
    if (cache) for (const t of [...cache.k, ...cache.v]) t.dispose();
  }

  const results: Generation[] = out.map((r, b) => {
    const body = r.reason === "stop" ? r.ids.slice(0, -1) : r.ids;
    const reading = direction === "forward" ? body : [...body].reverse();
    return { text: tok.decode(reading), ids: r.ids, logProbs: r.logProbs, promptIds: promptIds[b]!, finishReason: r.reason };
  });
  return typeof prompt === "string" ? results[0]! : results;
}

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
import type { BatGPTModel, Direction, KVCache } from "./model.js";
import { Rng } from "./rng.js";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** `"forward"` continues the prompt; `"backward"` writes what precedes it. Default forward. */
  direction?: Direction;
  /** Most tokens to generate (default 64); generation also stops at `max_seq_len`. */
  maxNewTokens?: number;
  /** Sampling temperature; 0 means greedy (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens (default: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (default 1: all). */
  topP?: number;
  /** Divide positive logits (multiply negative ones) of tokens already present by this (1 = off). */
  repetitionPenalty?: number;
  /** Token ids that end a sequence (default: `<|eos|>` when the tokenizer has it). */
  stopTokens?: number[];
  /** Seed of the sampling generator (default 0); or pass `rng` to share one. */
  seed?: number;
  rng?: Rng;
  /** Use the KV cache (default true). Without it every step re-reads the whole sequence. */
  useCache?: boolean;
  /** Special tokens allowed in the prompt text. */
  allowedSpecial?: "all" | string[];
  /**
   * Called after each step for each sequence still running: `piece` is the newly completed text
   * (forward; held back while a character is incomplete), or the whole generated text so far in
   * reading order (backward, where bytes arrive right to left).
   */
  onToken?: (event: { index: number; id: number; piece: string }) => void;
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
  o: Required<Pick<GenerateOptions, "temperature" | "topK" | "topP" | "repetitionPenalty">>,
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

/**
 * Generate from one prompt (returns one {@link Generation}) or several (returns an array).
 *
 * ```ts
 * const { text } = await generate(model, tok, "床前明月光，", { maxNewTokens: 20, temperature: 0.8, topP: 0.8 });
 * const before = await generate(model, tok, "低头思故乡。", { direction: "backward" });
 * ```
 */
export async function generate(model: BatGPTModel, tok: Tokenizer, prompt: string, options?: GenerateOptions): Promise<Generation>;
export async function generate(model: BatGPTModel, tok: Tokenizer, prompt: string[], options?: GenerateOptions): Promise<Generation[]>;
export async function generate(
  model: BatGPTModel,
  tok: Tokenizer,
  prompt: string | string[],
  options: GenerateOptions = {},
): Promise<Generation | Generation[]> {
  const prompts = typeof prompt === "string" ? [prompt] : prompt;
  if (prompts.length === 0) throw new Error("generate needs at least one prompt");
  const direction = options.direction ?? "forward";
  const o = {
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? 1,
  };
  if (o.temperature < 0) throw new Error(`temperature must be ≥ 0, got ${o.temperature}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new Error(`topP must be in (0, 1], got ${o.topP}`);
  if (o.repetitionPenalty <= 0) throw new Error(`repetitionPenalty must be > 0, got ${o.repetitionPenalty}`);
  const maxNew = options.maxNewTokens ?? 64;
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const useCache = options.useCache ?? true;
  const stop = new Set(options.stopTokens ?? (tok.specialTokens.has("<|eos|>") ? [tok.specialTokenId("<|eos|>")] : []));
  const padId = tok.specialTokens.has("<|pad|>") ? tok.specialTokenId("<|pad|>") : 0;
  const dirToken = model.directionToken(direction);

  // each row as the model reads it: direction token, then the prompt (reversed reading backward)
  const promptIds = prompts.map((p) => tok.encode(p, { allowedSpecial: options.allowedSpecial ?? [] }));
  const rows = promptIds.map((ids) => [dirToken, ...(direction === "forward" ? ids : [...ids].reverse())]);
  const B = rows.length;
  const longest = Math.max(...rows.map((r) => r.length));
  const limit = Math.min(maxNew, model.config.max_seq_len - longest);
  if (limit < 0) throw new Error(`the prompt (${longest} tokens with the direction token) is longer than max_seq_len ${model.config.max_seq_len}`);
  const pads = rows.map((r) => longest - r.length);
  const seqs = rows.map((r, b) => [...new Array<number>(pads[b]!).fill(padId), ...r]);
  const out = prompts.map((_, b) => ({ ids: [] as number[], logProbs: [] as number[], done: false, seen: new Set(promptIds[b]), reason: "length" as "stop" | "length" }));
  const decoders = prompts.map(() => tok.decoder());

  let cache: KVCache | undefined;
  const maskFor = (len: number): tf.Tensor2D | undefined => {
    if (pads.every((p) => p === 0)) return undefined;
    const m = new Float32Array(B * len);
    for (let b = 0; b < B; b++) for (let s = pads[b]!; s < len; s++) m[b * len + s] = 1;
    return tf.tensor2d(m, [B, len]);
  };

  for (let step = 0; step < limit; step++) {
    const len = seqs[0]!.length;
    let input: Int32Array;
    let n: number;
    if (useCache && cache) {
      input = Int32Array.from(seqs.map((s) => s[len - 1]!));
      n = 1;
    } else {
      input = Int32Array.from(seqs.flat());
      n = len;
    }
    const last = tf.tidy(() => {
      const mask = maskFor(len);
      const { hidden, cache: next } = model.hidden(input, B, n, useCache ? (cache ?? { k: [], v: [], length: 0 }) : undefined, mask);
      const lastRows = hidden.reshape([B, n, model.config.hidden_size]).slice([0, n - 1, 0], [B, 1, model.config.hidden_size]).reshape([B, model.config.hidden_size]) as tf.Tensor2D;
      return { logits: model.head(lastRows), k: next?.k ?? [], v: next?.v ?? [] };
    });
    if (useCache) {
      if (cache) for (const t of [...cache.k, ...cache.v]) t.dispose();
      cache = { k: last.k as tf.Tensor4D[], v: last.v as tf.Tensor4D[], length: len };
    }
    const logits = (await last.logits.data()) as Float32Array;
    last.logits.dispose();
    const V = model.config.vocab_size;
    for (let b = 0; b < B; b++) {
      const row = out[b]!;
      let id = padId;
      if (!row.done) {
        const z = logits.subarray(b * V, (b + 1) * V);
        id = sampleRow(z, row.seen, o, rng);
        row.ids.push(id);
        row.logProbs.push(logSoftmaxAt(z, id));
        row.seen.add(id);
        if (stop.has(id)) {
          row.done = true;
          row.reason = "stop";
        } else if (options.onToken) {
          const piece = direction === "forward" ? decoders[b]!.push(id) : tok.decode([...row.ids].reverse());
          options.onToken({ index: b, id, piece });
        }
      }
      seqs[b]!.push(id);
    }
    if (out.every((r) => r.done)) break;
  }
  if (cache) for (const t of [...cache.k, ...cache.v]) t.dispose();

  const results: Generation[] = out.map((r, b) => {
    const body = r.reason === "stop" ? r.ids.slice(0, -1) : r.ids;
    const reading = direction === "forward" ? body : [...body].reverse();
    return { text: tok.decode(reading), ids: r.ids, logProbs: r.logProbs, promptIds: promptIds[b]!, finishReason: r.reason };
  });
  return typeof prompt === "string" ? results[0]! : results;
}

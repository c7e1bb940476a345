/**
 * Perplexity and bits per byte of a text in either reading direction, with a sliding window for
 * texts longer than the model's context.
 */
import { ConfigError, parseOptions, type BatGPTModel, type Direction } from "@batgpt/core";
import { createProgress, progressModeSchema } from "@batgpt/utils";
import { z } from "zod";
import { sequenceLogProbs } from "./scoring.js";

/** What perplexity needs of a tokenizer (`@batgpt/tokenizer`'s `Tokenizer` has it). */
export interface TextTokenizer {
  encode(text: string): number[];
  decodeBytes(ids: readonly number[]): Uint8Array;
}

/** Options of {@link perplexity}, validated with zod. */
export const perplexityOptionsSchema = z
  .object({
    /** Reading directions measured. Default both (every BatGPT model reads both ways). */
    directions: z.array(z.enum(["forward", "backward"])).nonempty().default(["forward", "backward"]),
    /** Window length in tokens; default the model's `max_seq_len`. */
    window: z.number().int().positive().optional(),
    /**
     * Tokens the window moves each time; every token after the first window is scored with at
     * least `window − stride` tokens of context. Default half the window. `stride = window`
     * scores disjoint chunks.
     */
    stride: z.number().int().positive().optional(),
    /** Windows per forward pass. Default 8. */
    rows: z.number().int().positive().default(8),
    /** Progress on stderr. Default `"none"`. */
    progress: progressModeSchema.default("none"),
  })
  .strict();

/** Options of {@link perplexity}; see {@link perplexityOptionsSchema}. */
export type PerplexityOptions = z.input<typeof perplexityOptionsSchema>;

/** The measures of one reading direction. */
export interface DirectionPerplexity {
  /** Mean negative log-likelihood, nats per token. */
  nll: number;
  /** `exp(nll)`. */
  perplexity: number;
  /** `nll / ln 2`. */
  bitsPerToken: number;
  /** Total bits over the text's UTF-8 bytes: comparable across tokenizers. */
  bitsPerByte: number;
}

/** What {@link perplexity} measured. */
export interface PerplexityResult {
  /** Tokens of the text (all are scored, each once per direction). */
  tokens: number;
  /** UTF-8 bytes of the text. */
  bytes: number;
  window: number;
  stride: number;
  /** Windows per direction. */
  windows: number;
  forward?: DirectionPerplexity;
  backward?: DirectionPerplexity;
}

/**
 * The sliding windows over `n` tokens in reading order: window `[begin, end)` scores its tokens
 * from `prevEnd` on, so every token is scored once, with the most context the window allows
 * (Hugging Face's "Perplexity of fixed-length models" recipe).
 */
export function slidingWindows(n: number, window: number, stride: number): { begin: number; end: number; scoredFrom: number }[] {
  const out: { begin: number; end: number; scoredFrom: number }[] = [];
  let prevEnd = 0;
  for (let begin = 0; ; begin += stride) {
    const end = Math.min(begin + window, n);
    out.push({ begin, end, scoredFrom: prevEnd });
    prevEnd = end;
    if (end === n) return out;
  }
}

/**
 * Perplexity of `model` on `text` (a string, or its token ids) in each reading direction.
 * Forward, token t is predicted from the tokens before it; backward, from the tokens after it (the
 * model reads the window right to left after its `<|r2l|>` start). Reading each way the first
 * token of the text is predicted from the start token alone, as in training.
 *
 * Bits per byte: `Σ nll / (ln 2 · bytes)` with `bytes` the UTF-8 length of the text (as in The Pile,
 * Gao et al. 2020): independent of the tokenizer, so models with different vocabularies
 * compare.
 *
 * @throws ConfigError (core) for bad options (naming the field), a window longer than `max_seq_len`
 *   or `stride > window`; Error for an empty text;
 *   TokenDataError (core) for ids outside the model's vocabulary.
 */
export async function perplexity(model: BatGPTModel, tokenizer: TextTokenizer, text: string | readonly number[], options: PerplexityOptions = {}): Promise<PerplexityResult> {
  const opts = parseOptions(perplexityOptionsSchema, options, "perplexity options");
  const ids = typeof text === "string" ? tokenizer.encode(text) : Array.from(text);
  if (ids.length === 0) throw new Error("perplexity: the text is empty");
  const bytes = typeof text === "string" ? new TextEncoder().encode(text).length : tokenizer.decodeBytes(ids).length;
  const window = opts.window ?? model.config.max_seq_len;
  if (window > model.config.max_seq_len) throw new ConfigError(`perplexity: window ${window} is longer than the model's max_seq_len ${model.config.max_seq_len}`);
  const stride = opts.stride ?? Math.max(1, Math.floor(window / 2));
  if (stride > window) throw new ConfigError(`perplexity: stride ${stride} is longer than the window ${window} (tokens between windows would not be scored)`);
  const n = ids.length;
  const windows = slidingWindows(n, window, stride);
  const directions = [...new Set(opts.directions)] as Direction[];
  const result: PerplexityResult = { tokens: n, bytes, window, stride, windows: windows.length };
  const progress = await createProgress("perplexity", { mode: opts.progress, total: windows.length * directions.length, unit: "windows" });
  try {
    let done = 0;
    for (const direction of directions) {
      // backward, reading position r is token n−1−r: the window [begin, end) in reading order is
      // the slice [n−end, n−begin) of the text, and its scored tokens are the slice's first end−scoredFrom
      const slices = windows.map(({ begin, end }) => (direction === "forward" ? ids.slice(begin, end) : ids.slice(n - end, n - begin)));
      const lps = sequenceLogProbs(model, slices, direction, { rows: opts.rows, rowLength: window, onPass: (k) => progress.update(done + k, windows.length * directions.length, { direction }) });
      let sum = 0;
      windows.forEach(({ begin, end, scoredFrom }, i) => {
        const lp = lps[i]!;
        const [from, to] = direction === "forward" ? [scoredFrom - begin, end - begin] : [0, end - scoredFrom];
        for (let t = from; t < to; t++) sum -= lp[t]!;
      });
      done += windows.length;
      const nll = sum / n;
      result[direction] = { nll, perplexity: Math.exp(nll), bitsPerToken: nll / Math.LN2, bitsPerByte: sum / (Math.LN2 * bytes) };
    }
  } finally {
    progress.stop();
  }
  return result;
}

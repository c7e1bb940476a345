/**
 * Scoring many variable-length sequences with a core model in few forward passes: sequences are
 * packed into rows of the model's context (core's `packSequences`), each read as if alone.
 */
import * as tf from "@tensorflow/tfjs-core";
import { directionalInput, packSequences, type BatGPTModel, type Direction, type PackedSequences } from "@batgpt/core";

/** Options of the packed scorers. */
export interface PackOptions {
  /** Rows per forward pass (each `max_seq_len` tokens). Default 8. */
  rows?: number;
  /** Row length in tokens; default the model's `max_seq_len`. */
  rowLength?: number;
  /** Called after each pass with the sequences scored so far and the total. */
  onPass?: (done: number, total: number) => void;
}

/** Consecutive runs of `seqs` that each pack, next-fit, into at most `rows` rows of `T` tokens. */
function* chunks(seqs: readonly (readonly number[])[], T: number, rows: number): Generator<{ from: number; packed: PackedSequences }> {
  let from = 0;
  while (from < seqs.length) {
    let used = 1;
    let fill = 0;
    let to = from;
    while (to < seqs.length) {
      const n = seqs[to]!.length;
      if (fill + n > T) {
        if (used === rows) break;
        used++;
        fill = 0;
      }
      fill += n;
      to++;
    }
    yield { from, packed: packSequences(seqs.slice(from, to), T) };
    from = to;
  }
}

function rowsOf(model: BatGPTModel, options: PackOptions): { T: number; rows: number } {
  const T = options.rowLength ?? model.config.max_seq_len;
  const rows = options.rows ?? 8;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(T) || T < 1 || T > model.config.max_seq_len) throw new Error(`rowLength must be an integer in [1, max_seq_len ${model.config.max_seq_len}], got ${T}`);
  return { T, rows };
}

/**
 * The log-probability (nats) of each token of each sequence read in `direction`:
 * `out[i][t] = log p(seqs[i][t] | the tokens of seqs[i] read before it)`, in sequence order.
 *
 * @throws TokenDataError (core) for a sequence longer than a row or an id outside the vocabulary.
 */
export function sequenceLogProbs(model: BatGPTModel, seqs: readonly (readonly number[])[], direction: Direction, options: PackOptions = {}): Float32Array[] {
  const { T, rows } = rowsOf(model, options);
  const out: Float32Array[] = [];
  for (const { from, packed } of chunks(seqs, T, rows)) {
    const lp = tf.tidy(() => model.tokenLogProbs(packed.batch, direction).dataSync() as Float32Array);
    for (const p of packed.placements) out.push(lp.slice(p.row * T + p.start, p.row * T + p.start + p.length));
    options.onPass?.(from + packed.placements.length, seqs.length);
  }
  return out;
}

/**
 * Next-token log-probabilities (nats, log-softmax over the whole vocabulary) of `candidates` after
 * each context read forward: `out[i][j] = log p(candidates[j] | contexts[i])`, a
 * `[contexts.length, candidates.length]` row-major array. A context may be at most
 * `rowLength − 1` tokens.
 *
 * @throws Error for an empty context; TokenDataError (core) for one too long.
 */
export function nextTokenLogProbs(model: BatGPTModel, contexts: readonly (readonly number[])[], candidates: readonly number[], options: PackOptions = {}): Float32Array {
  const { T, rows } = rowsOf(model, options);
  model.checkIds(candidates);
  if (contexts.some((c) => c.length === 0)) throw new Error("nextTokenLogProbs: an empty context");
  // a placeholder target after each context: its input position reads the context's last token
  const seqs = contexts.map((c) => [...c, candidates[0]!]);
  const out = new Float32Array(contexts.length * candidates.length);
  const start = model.startToken("forward");
  for (const { from, packed } of chunks(seqs, T, rows)) {
    const { ids, batch: B, segmentIds } = packed.batch;
    model.checkIds(ids);
    const { input, segments } = directionalInput(ids, B, T, "forward", start, segmentIds);
    const last = Int32Array.from(packed.placements, (p) => p.row * T + p.start + p.length - 1);
    const lp = tf.tidy(() => {
      const { hidden } = model.hidden(input, B, T, { direction: "forward", ...(segments ? { segments } : {}) });
      const logits = model.head(tf.gather(hidden, tf.tensor1d(last, "int32")));
      return tf.gather(tf.logSoftmax(logits), tf.tensor1d(Int32Array.from(candidates), "int32"), 1).dataSync() as Float32Array;
    });
    out.set(lp, from * candidates.length);
    options.onPass?.(from + packed.placements.length, seqs.length);
  }
  return out;
}

/**
 * Packing of variable-length token sequences into fixed-length rows, for scoring many short
 * sequences in few forward passes (evaluation, log-likelihoods of choices, sliding windows).
 *
 * Each sequence becomes one sample of a row (see {@link TokenBatch.segmentIds}): the model reads
 * it as if it were alone in a row, so the log-probabilities of a packed sequence equal those of
 * the sequence by itself.
 */
import { TokenDataError, type TokenBatch } from "./data.js";

/** Segment id of the padding that ends a row (a run of its own, never scored). */
export const PAD_SEGMENT = -1;

/** Where {@link packSequences} put one sequence: row `row`, tokens `start … start + length − 1`. */
export interface Placement {
  row: number;
  start: number;
  length: number;
}

/** A packed batch and where each sequence went (same order as the input). */
export interface PackedSequences {
  batch: TokenBatch & { segmentIds: Int32Array };
  placements: Placement[];
}

/**
 * Pack `sequences` in order, next-fit, into rows of `seqLen` tokens: a sequence goes at the end
 * of the current row while it fits, else it starts the next row (sequences are never cut). Row
 * ends are filled with `padId` under segment {@link PAD_SEGMENT}.
 *
 * @throws {TokenDataError} for no sequences, an empty sequence, or one longer than `seqLen`.
 */
export function packSequences(sequences: readonly ArrayLike<number>[], seqLen: number, padId = 0): PackedSequences {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new TokenDataError(`packSequences: seqLen must be a positive integer, got ${seqLen}`);
  if (sequences.length === 0) throw new TokenDataError("packSequences: no sequences");
  const placements: Placement[] = [];
  let row = 0;
  let fill = 0;
  sequences.forEach((s, i) => {
    const n = s.length;
    if (n === 0) throw new TokenDataError(`packSequences: sequence ${i} is empty`);
    if (n > seqLen) throw new TokenDataError(`packSequences: sequence ${i} has ${n} tokens, more than a row of ${seqLen}`);
    if (fill + n > seqLen) {
      row++;
      fill = 0;
    }
    placements.push({ row, start: fill, length: n });
    fill += n;
  });
  const B = row + 1;
  const ids = new Int32Array(B * seqLen).fill(padId);
  const segmentIds = new Int32Array(B * seqLen).fill(PAD_SEGMENT);
  let lastRow = -1;
  let segment = 0;
  placements.forEach((p, i) => {
    segment = p.row === lastRow ? segment + 1 : 0;
    lastRow = p.row;
    const at = p.row * seqLen + p.start;
    ids.set(sequences[i]!, at);
    segmentIds.fill(segment, at, at + p.length);
  });
  return { batch: { ids, batch: B, seqLen, segmentIds }, placements };
}

/** Errors of the evaluation package. */

/**
 * A data file that cannot be read as a benchmark: a CSV that does not parse, a missing column, a
 * row with the wrong number of fields, an answer that is not one of the choice letters, a missing
 * split. The message names the file and, where there is one, the line (1-based, the header is
 * line 1).
 */
export class EvalDataError extends Error {
  override name = "EvalDataError";
  constructor(
    message: string,
    /** The file (or the source name given for in-memory text). */
    readonly file?: string,
    /** The 1-based line the fault is on, when it is on one. */
    readonly line?: number,
  ) {
    super(file === undefined ? message : `${file}${line === undefined ? "" : `:${line}`}: ${message}`);
  }
}

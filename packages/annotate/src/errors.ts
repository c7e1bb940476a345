/** Errors of the annotation store. */

/**
 * A request the store refuses: `code` says which kind, for a server to map to a status.
 * `not_found` is also the answer for another annotator's assignment, so ids reveal nothing.
 */
export class AnnotateError extends Error {
  override name = "AnnotateError";
  constructor(
    readonly code: "not_found" | "conflict" | "invalid" | "unauthorized",
    message: string,
  ) {
    super(message);
  }
}

/** Errors of the annotation store. */
import type { z } from "zod";

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

/** A zod error as `path: message; …`, the top level named `root` (e.g. `(vote)`). */
export function issuesText(error: z.ZodError, root: string): string {
  return error.issues.map((x) => `${x.path.join(".") || root}: ${x.message}`).join("; ");
}

/**
 * Options are validated at the boundary: every public function that takes an options object
 * parses it with its zod schema once, here, and a bad value is an error that names the field.
 */
import type { z } from "zod";

/** The error for a bad configuration or options object; the message names the field. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `invalid <what>: field: message; field: message`, the one format of every options error. */
export function formatIssues(what: string, error: z.ZodError): string {
  return `invalid ${what}: ${error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`).join("; ")}`;
}

/**
 * Parse `value` with `schema`, filling defaults.
 *
 * @param what names the options in the message (e.g. `"generate options"`).
 * @param ErrorClass the error to throw (default {@link ConfigError}).
 * @throws ErrorClass with {@link formatIssues}'s message when a field is bad.
 */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  ErrorClass: new (message: string) => Error = ConfigError,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ErrorClass(formatIssues(what, parsed.error));
  return parsed.data;
}

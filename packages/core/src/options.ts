/**
 * Options are validated at the boundary: every public function that takes an options object
 * parses it with its zod schema once, here, and a bad value is an error that names the field.
 * The parsing and the message format are `@batgpt/utils`' (`parseOptions`, `formatIssues`),
 * shared by every package; core adds its own error class.
 */
import { parseOptions as parseWith, type ErrorClass } from "@batgpt/utils";
import type { z } from "zod";

export { formatIssues } from "@batgpt/utils";

/** The error for a bad configuration or options object; the message names the field. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parse `value` with `schema`, filling defaults.
 *
 * @param what names the options in the message (e.g. `"generate options"`).
 * @param ErrorClass the error to throw (default {@link ConfigError}).
 * @returns the parsed value.
 * @throws ErrorClass with `formatIssues`' message (`invalid <what>: field: message; …`) and the
 *   `ZodError` as `cause`, when a field is bad.
 */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, what: string, ErrorClass: ErrorClass = ConfigError): z.output<T> {
  return parseWith(schema, value, what, ErrorClass);
}

/**
 * Options and data are checked at the boundary with zod, and a failure reads one way in every
 * package: `invalid <what>: <field>: <message>; <field>: <message>`, each bad field named.
 *
 * No Node APIs here: browsers can import `@batgpt/utils/options`.
 */
import type { z } from "zod";

/** At most this many issues are listed in one message; the rest are counted. */
const MAX_ISSUES = 10;

/**
 * A zod issue path as a field name, in JavaScript's notation: `model.vocab`, `sources[1]`,
 * `specialTokens["<|x|>"]`, `[""]` (a key of other characters than letters, digits, `_` and `$`
 * is quoted). The same as zod's own `toDotPath`, but for the empty key, which that prints as
 * nothing.
 */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "symbol") out += `[${JSON.stringify(String(seg))}]`;
    else if (/^[\w$]+$/.test(seg)) out += out.length > 0 ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

type Issue = z.ZodError["issues"][number];

/** `field: message`; an issue about the whole value is its message alone. */
function describeIssue(issue: Issue): string {
  let message = issue.message;
  // a bad record key or map entry: zod says only "Invalid key in record"; say why
  if ((issue.code === "invalid_key" || issue.code === "invalid_element") && issue.issues.length > 0) {
    message += `: ${issue.issues.map((i) => i.message).join(", ")}`;
  }
  const field = fieldName(issue.path);
  return field.length > 0 ? `${field}: ${message}` : message;
}

/**
 * The one format of every options (and data) error: `invalid <what>: <field>: <message>; …`,
 * one `field: message` per issue (at most 10, then `and N more`); an issue about the value as a
 * whole (not an object, an unknown key) is its message alone.
 *
 * @param what names the value, e.g. `"generate options"`, `"corpus document"`.
 * @example
 * ```ts
 * formatIssues("corpus options", error);
 * // "invalid corpus options: valFraction: Too big: expected number to be <=0.5; sources[1]: Invalid option: …"
 * ```
 */
export function formatIssues(what: string, error: z.ZodError): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map(describeIssue);
  const more = error.issues.length - shown.length;
  return `invalid ${what}: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
}

/** An error class that takes a message (and `{ cause }`), as every `Error` subclass does. */
export type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/**
 * Parse `value` with `schema` (filling its defaults), or throw `ErrorClass` with
 * {@link formatIssues}'s message and the `ZodError` as `cause`.
 *
 * @param what names the value in the message (e.g. `"generate options"`).
 * @param ErrorClass the package's own error (`ConfigError`, `TokenizerError`, `DatasetError`…).
 * @returns the parsed value.
 * @throws `ErrorClass` naming each bad field.
 */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, what: string, ErrorClass: ErrorClass): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ErrorClass(formatIssues(what, parsed.error), { cause: parsed.error });
  return parsed.data;
}

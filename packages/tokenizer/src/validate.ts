/** Validation at the package boundary: zod schemas, and their issues as a {@link TokenizerError}. */

import type { z } from "zod";
import { TokenizerError } from "./errors.js";

/** A zod issue path as a field name: `specialTokens[0]`, `model.vocab`. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i > 0 ? `.${String(p)}` : String(p))).join("");
}

/**
 * Parse `value` with `schema`, or throw a {@link TokenizerError}
 * `"<where>: invalid option <name>: <what is wrong>"` (or `unknown option <name>`).
 */
export function parseOptions<T>(schema: z.ZodType<T>, value: unknown, where: string, noun = "option"): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const name = fieldName([...issue.path, ...keys.slice(0, 1)]);
  if (issue.code === "unrecognized_keys") {
    throw new TokenizerError(`${where}: unknown ${noun} ${keys.map((k) => JSON.stringify(k)).join(", ")}${issue.path.length ? ` in ${fieldName(issue.path)}` : ""}`);
  }
  if (issue.code === "invalid_key") {
    const key = issue.path.at(-1);
    throw new TokenizerError(`${where}: invalid ${noun} name ${JSON.stringify(typeof key === "symbol" ? String(key) : key)}: ${issue.issues[0]?.message ?? issue.message}`);
  }
  if (!name) throw new TokenizerError(`${where}: invalid ${noun}s: ${issue.message}`);
  throw new TokenizerError(`${where}: invalid ${noun} ${name}: ${issue.message}`);
}

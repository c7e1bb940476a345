import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fieldName, formatIssues, parseOptions } from "../src/options.js";

class ConfigError extends Error {
  override name = "ConfigError";
}

const error = (schema: z.ZodType, value: unknown): z.ZodError => {
  const parsed = schema.safeParse(value);
  if (parsed.success) throw new Error("expected a failure");
  return parsed.error;
};

describe("fieldName", () => {
  it("is zod's own toDotPath for every path without an empty key (property)", () => {
    const segment = fc.oneof(fc.nat({ max: 99 }), fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom("a", "vocab", "_x$", "0", "<|x|>"));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (path) => {
        expect(fieldName(path)).toBe(z.core.toDotPath(path));
      }),
    );
  });

  it("names the empty key, which toDotPath prints as nothing", () => {
    expect(fieldName([""])).toBe('[""]');
    expect(fieldName(["vocab", ""])).toBe('vocab[""]');
    expect(fieldName([])).toBe("");
  });
});

describe("formatIssues", () => {
  const schema = z.strictObject({
    model: z.object({ layers: z.array(z.object({ size: z.number().int().positive() })) }),
    name: z.string(),
  });

  it("names each nested field: `invalid <what>: field: message; …`", () => {
    const message = formatIssues("model options", error(schema, { model: { layers: [{ size: 4 }, { size: -1 }] }, name: 3 }));
    expect(message).toBe(
      "invalid model options: model.layers[1].size: Too small: expected number to be >0; name: Invalid input: expected string, received number",
    );
  });

  it("an issue about the value as a whole is its message alone: not an object, unknown keys", () => {
    expect(formatIssues("model options", error(schema, 5))).toBe("invalid model options: Invalid input: expected object, received number");
    const unknown = formatIssues("model options", error(schema, { model: { layers: [] }, name: "x", nmae: "y" }));
    expect(unknown).toBe('invalid model options: Unrecognized key: "nmae"');
    expect(formatIssues("o", error(z.object({ inner: z.strictObject({}) }), { inner: { k: 1 } }))).toBe('invalid o: inner: Unrecognized key: "k"');
  });

  it("a bad record key says why, under the key's name", () => {
    const specials = z.record(z.string().min(1, "a special token cannot be the empty string"), z.number().int().nonnegative());
    expect(formatIssues("special tokens", error(specials, { "": 1, "<|x|>": -1 }))).toBe(
      'invalid special tokens: [""]: Invalid key in record: a special token cannot be the empty string; ["<|x|>"]: Too small: expected number to be >=0',
    );
  });

  it("lists at most 10 issues and counts the rest", () => {
    const message = formatIssues("rows", error(z.array(z.number()), Array.from({ length: 13 }, () => "x")));
    expect(message.split("; ")).toHaveLength(11);
    expect(message).toMatch(/^invalid rows: \[0\]: Invalid input: expected number, received string; .*\[9\]: .*; and 3 more$/);
  });
});

describe("parseOptions", () => {
  const schema = z.strictObject({ steps: z.number().int().positive().default(3), name: z.string().optional() });

  it("returns the value with its defaults filled", () => {
    expect(parseOptions(schema, {}, "demo options", ConfigError)).toEqual({ steps: 3 });
    expect(parseOptions(schema, { steps: 9, name: "x" }, "demo options", ConfigError)).toEqual({ steps: 9, name: "x" });
  });

  it("throws the given class with formatIssues' message and the ZodError as cause", () => {
    let thrown: unknown;
    try {
      parseOptions(schema, { steps: 0 }, "demo options", ConfigError);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe("invalid demo options: steps: Too small: expected number to be >0");
    expect((thrown as Error).cause).toBeInstanceOf(z.ZodError);
    expect(() => parseOptions(schema, { step: 1 }, "demo options", TypeError)).toThrow(new TypeError('invalid demo options: Unrecognized key: "step"'));
  });
});

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));

/** The first ```ts block under "## Usage" in the package README. */
function usageExample(): string {
  const readme = readFileSync(join(here, "../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Usage"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error("README has no ```ts block under ## Usage");
  return match[1]!;
}

describe("README", () => {
  it("the usage example runs and prints", async () => {
    const code = usageExample();
    expect(code.split("\n").length).toBeLessThanOrEqual(16);
    const dir = join(here, ".tmp");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "readme-usage.ts");
    writeFileSync(file, code);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import(file);
      expect(log).toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });
});

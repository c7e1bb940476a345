import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runSnippet, runUsageExample } from "../../../scripts/readme-example.js";

const testDir = dirname(fileURLToPath(import.meta.url));

describe("README", () => {
  it("the usage example runs and prints", async () => {
    await runUsageExample(testDir);
  });

  it("the regular-verse example runs and prints", async () => {
    const readme = readFileSync(join(testDir, "../README.md"), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Regular verse")))?.[1];
    expect(code).toContain('subset: "regular-verse"');
    await runSnippet(code ?? "", testDir, "readme-verse");
  });
});

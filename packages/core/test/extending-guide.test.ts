import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { codeBlocks, runSnippet } from "../../../scripts/readme-example.js";

const testDir = dirname(fileURLToPath(import.meta.url));
const snippets = codeBlocks(join(testDir, "../../../docs/guides/extending.md"));

describe("docs/guides/extending.md", () => {
  it("has its three snippets: a head with a new loss, per-token log-probs, a direction scheme", () => {
    expect(snippets).toHaveLength(3);
  });
  it.each(snippets.map((code, i) => [i, code] as const))("snippet %i runs and prints", async (i, code) => {
    await runSnippet(code, testDir, `extending-${i}`);
  });
});

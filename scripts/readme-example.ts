/**
 * Shared by every package's `test/readme.test.ts`: the README's usage example must run.
 * Extracts the first ```ts block under "## Usage", writes it next to the tests (so the
 * package's vitest alias resolves `@batgpt/<name>` to its source), imports it, and checks it
 * printed something.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

/** The first ```ts block under "## Usage" in `readmePath`. */
export function usageExample(readmePath: string): string {
  const readme = readFileSync(readmePath, "utf8");
  const section = readme.slice(readme.indexOf("## Usage"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error(`${readmePath} has no \`\`\`ts block under ## Usage`);
  return match[1]!;
}

/** Every ```ts block of a markdown file (a guide's snippets), in order. */
export function codeBlocks(markdownPath: string): string[] {
  return [...readFileSync(markdownPath, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Run the usage example of the package whose test folder is `testDir`. */
export async function runUsageExample(testDir: string, maxLines = 16): Promise<void> {
  const code = usageExample(join(testDir, "../README.md"));
  expect(code.split("\n").length).toBeLessThanOrEqual(maxLines);
  await runSnippet(code, testDir, "readme-usage");
}

/**
 * Run one snippet as a module written next to the tests of `testDir` (so the package's vitest
 * alias resolves `@batgpt/<name>` to its source) and check it printed something.
 */
export async function runSnippet(code: string, testDir: string, name: string): Promise<void> {
  const dir = join(testDir, ".tmp");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, code);
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    await import(file);
    expect(log).toHaveBeenCalled();
  } finally {
    log.mockRestore();
  }
}

/**
 * The test of a guide in `docs/guides/`: it has exactly `snippets` ```ts blocks (what each shows
 * is named in `contents`), and each runs as a module next to the tests of `testDir` and prints.
 */
export function testGuide(testDir: string, guide: string, snippets: number, contents: string): void {
  const blocks = codeBlocks(join(testDir, "../../../docs/guides", guide));
  const name = guide.replace(/\.md$/, "");
  describe(`docs/guides/${guide}`, () => {
    it(`has its ${snippets} snippet(s): ${contents}`, () => {
      expect(blocks).toHaveLength(snippets);
    });
    it.each(blocks.map((code, i) => [i, code] as const))("snippet %i runs and prints", async (i, code) => {
      await runSnippet(code, testDir, `${name}-guide-${i}`);
    });
  });
}

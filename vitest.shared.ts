/** The vitest config every package uses (its `vitest.config.ts` is one line). */
import { fileURLToPath } from "node:url";
import { defineConfig, type ViteUserConfig } from "vitest/config";

/**
 * @param name the package name: aliased to its `src/index.ts` (and `name/sub` to
 *   `src/sub/index.ts`), so a README example that imports the package by name tests the source
 * @param configUrl the package's `vitest.config.ts` URL (`import.meta.url`)
 */
export function packageVitestConfig(name: string, configUrl: string): ViteUserConfig {
  return defineConfig({
    // `name` → src/index.ts and a subpath export `name/sub` → src/sub/index.ts
    resolve: {
      alias: [{ find: new RegExp(`^${name.replace(/[/.]/g, "\\$&")}(/[a-z-]+)?$`), replacement: `${fileURLToPath(new URL("./src", configUrl))}$1/index.ts` }],
    },
    test: {
      include: ["test/**/*.test.ts"],
      // training runs one replica unless a test asks for workers: each worker thread costs a second
      // or two to start, and most tests train tiny models many times
      env: { BATGPT_WORKERS: process.env.BATGPT_WORKERS ?? "1" },
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: ["default", "json"],
      outputFile: { json: "test-results/vitest.json" },
    },
  });
}

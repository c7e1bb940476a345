/** The vitest config every package uses (its `vitest.config.ts` is one line). */
import { fileURLToPath } from "node:url";
import { defineConfig, type ViteUserConfig } from "vitest/config";

/**
 * @param name the package name: aliased to its `src/index.ts`, so a README example that imports
 *   the package by name tests the source
 * @param configUrl the package's `vitest.config.ts` URL (`import.meta.url`)
 */
export function packageVitestConfig(name: string, configUrl: string): ViteUserConfig {
  return defineConfig({
    resolve: { alias: { [name]: fileURLToPath(new URL("./src/index.ts", configUrl)) } },
    test: {
      include: ["test/**/*.test.ts"],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: ["default", "json"],
      outputFile: { json: "test-results/vitest.json" },
    },
  });
}

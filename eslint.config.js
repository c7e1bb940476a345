// @ts-check
import js from "@eslint/js";
import nx from "@nx/eslint-plugin";
import tseslint from "typescript-eslint";

/**
 * The dependency direction of DESIGN.md, enforced on every import between workspace projects:
 * tokenizer ← core ← sft, reward, growth, eval ← ppo ← cli; annotate uses only the tokenizer, and core in its optional `sample` subpath;
 * datasets stands alone; every library may use utils (the shared helpers: atomic writes, options
 * errors, progress), which depends on no workspace project; examples and bench (type:app) may use
 * any library.
 */
const depConstraints = [
  { sourceTag: "scope:utils", onlyDependOnLibsWithTags: [] },
  { sourceTag: "scope:tokenizer", onlyDependOnLibsWithTags: ["scope:utils"] },
  { sourceTag: "scope:datasets", onlyDependOnLibsWithTags: ["scope:utils"] },
  { sourceTag: "scope:core", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer"] },
  { sourceTag: "scope:sft", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core"] },
  { sourceTag: "scope:reward", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core"] },
  { sourceTag: "scope:growth", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core"] },
  { sourceTag: "scope:eval", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core"] },
  { sourceTag: "scope:ppo", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core", "scope:sft", "scope:reward"] },
  { sourceTag: "scope:annotate", onlyDependOnLibsWithTags: ["scope:utils", "scope:tokenizer", "scope:core"] },
  { sourceTag: "scope:cli", onlyDependOnLibsWithTags: ["type:lib"] },
  { sourceTag: "type:app", onlyDependOnLibsWithTags: ["type:lib"] },
];

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "docs/api/**", "**/.cache/**", "**/.tmp/**", "**/coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { "@nx": nx },
    rules: {
      "@nx/enforce-module-boundaries": [
        "error",
        {
          // shared test infrastructure at the root (not a project): the README-example runner and the vitest config
          allow: ["../../../scripts/readme-example.js", "../../vitest.shared.js"],
          depConstraints,
          banTransitiveDependencies: true,
        },
      ],
    },
  },
  {
    // plain Node scripts
    files: ["**/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@batgpt/*/src/*", "@batgpt/*/dist/*", "../../*/src/*"],
              message: "Import a sibling package through its public entry, not its internals.",
            },
          ],
        },
      ],
    },
  },
);

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { runUsageExample } from "../../../scripts/readme-example.js";

describe("README", () => {
  it("the usage example runs and prints", async () => {
    await runUsageExample(dirname(fileURLToPath(import.meta.url)));
  });
});

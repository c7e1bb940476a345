import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("selectBackend", () => {
  it("leaves an uncaught error to Node on wasm: exit code 1 and the error, not the backend's minified source with code 7", () => {
    const script = fileURLToPath(new URL("./fixtures/throw-after-wasm.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Error: an ordinary failure after the wasm backend started");
    // Emscripten's rethrowing handler made Node print the whole minified line of tfjs-backend-wasm.js (~37 kB)
    expect(r.stderr).not.toContain("ExitStatus");
    expect(r.stderr.length).toBeLessThan(4000);
  });
});

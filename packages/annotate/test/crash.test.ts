import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AnnotationStore } from "../src/index.js";

const CHILD = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

describe("a crash", () => {
  it("kill -9 while votes are written loses no acknowledged vote and leaves the database intact", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "annotate-crash-")), "votes.db");
    const setup = new AnnotationStore(file);
    const user = setup.createUser("voter", "voter-password", "annotator");
    setup.importTasks(Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: `t${i}`, prompt: `p${i}`, response_a: "a", response_b: "b" })).join("\n"));
    setup.assign(1);
    setup.close();
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, file, String(user)], { stdio: ["ignore", "pipe", "inherit"] });
    const acknowledged: string[] = [];
    let buffer = "";
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        acknowledged.push(...lines.filter((l) => l.startsWith("crash-")));
        // kill it mid-stream, well before it could finish
        if (acknowledged.length >= 200 && child.exitCode === null && !child.killed) child.kill("SIGKILL");
      });
      child.on("close", () => resolve()); // after stdout is drained: every line written before the kill is read
    });
    expect(child.signalCode).toBe("SIGKILL");
    const after = new AnnotationStore(file);
    expect(after.db.pragma("integrity_check", { simple: true })).toBe("ok");
    const stored = new Set(after.db.prepare("SELECT request_id FROM votes").pluck().all() as string[]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);
    expect(acknowledged.filter((r) => !stored.has(r))).toEqual([]);
    // at most the one vote in flight is committed but not acknowledged
    expect(stored.size - acknowledged.length).toBeLessThanOrEqual(1);
    expect(stored.size).toBeLessThan(5000);
    after.close();
  }, 120_000);
});

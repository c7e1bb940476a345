import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Tokenizer, trainBpe } from "../src/index.js";

describe("Tokenizer.save", () => {
  it("concurrent saves to one path never share a temp file and leave one complete file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batgpt-tok-save-"));
    const path = join(dir, "tokenizer.json");
    const tok = await trainBpe(["床前明月光，疑是地上霜。 The moon is bright."], { vocabSize: 300, minFrequency: 1 });
    // with a temp name of pid + millisecond, saves in the same millisecond renamed each other's file away
    await Promise.all(Array.from({ length: 8 }, () => tok.save(path)));
    expect(readdirSync(dir)).toEqual(["tokenizer.json"]);
    expect((await Tokenizer.load(path)).encode("明月光")).toEqual(tok.encode("明月光"));
    rmSync(dir, { recursive: true, force: true });
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createModel, saveCheckpoint, selectBackend } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { afterAll, describe, expect, it } from "vitest";
import { AnnotationStore } from "../src/store.js";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const cli = (args: string[], input?: string) => spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], { encoding: "utf8", input, cwd: fileURLToPath(new URL("..", import.meta.url)) });

describe("batgpt-annotate", () => {
  const dir = mkdtempSync(join(tmpdir(), "annotate-cli-"));
  const db = join(dir, "a.sqlite");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates accounts from a password on stdin, imports, assigns, exports and backs up", () => {
    expect(cli(["create-user", "--db", db, "--username", "admin", "--role", "admin"], "admin-password\n").stdout).toContain("created admin admin");
    expect(cli(["create-user", "--db", db, "--username", "li"], "li-password\n").stdout).toContain("created annotator li");
    const short = cli(["create-user", "--db", db, "--username", "wang"], "short\n");
    expect([short.status, short.stderr.trim()]).toEqual([1, "batgpt-annotate: a password needs at least 8 characters"]);
    const badName = cli(["create-user", "--db", db, "--username", "a:b c"], "abc-password\n");
    expect([badName.status, badName.stderr]).toEqual([1, expect.stringContaining("a user name is 1 to 64 letters, digits, _ . -")]);
    const typo = cli(["export", "--db", join(dir, "annotatoins.sqlite"), "--out", join(dir, "x.jsonl")]);
    expect([typo.status, typo.stderr]).toEqual([1, expect.stringContaining("no database at")]);
    // a byte-order mark (Windows editors) and CRLF line ends are fine
    writeFileSync(join(dir, "tasks.jsonl"), `\uFEFF${JSON.stringify({ id: "t1", prompt: "写诗", response_a: "床前明月光", response_b: "月" })}\r\n`);
    expect(cli(["import", "--db", db, "--file", join(dir, "tasks.jsonl")]).stdout).toContain("imported 1 tasks");
    writeFileSync(join(dir, "bad.jsonl"), `${JSON.stringify({ prompt: "x", response_a: "a" })}\n`);
    const bad = cli(["import", "--db", db, "--file", join(dir, "bad.jsonl")]);
    expect([bad.status, bad.stderr]).toEqual([1, expect.stringMatching(/^batgpt-annotate: line 1: response_b/)]);
    expect(cli(["assign", "--db", db, "--k", "1"]).stdout).toContain("made 1 assignments");
    expect(cli(["assign", "--db", db, "--k", "0"]).stderr).toContain("expected an integer ≥ 1");
    const store = new AnnotationStore(db);
    const li = store.authenticate("li", "li-password")!;
    store.vote(li.id, store.next(li.id)!.assignmentId, { requestId: "cli-vote-1", verdict: "A" });
    store.close();
    expect(cli(["export", "--db", db, "--out", join(dir, "prefs.jsonl")]).stdout).toContain("wrote 1 records");
    expect(JSON.parse(readFileSync(join(dir, "prefs.jsonl"), "utf8"))).toMatchObject({ id: "t1:li", annotator: "li", source: "human" });
    expect(cli(["backup", "--db", db, "--out", join(dir, "b.sqlite")]).status).toBe(0);
    expect(cli(["backup", "--db", db, "--out", join(dir, "b.sqlite")]).stderr).toContain("exists: a backup goes to a new file");
    expect(cli(["backup", "--db", db, "--out", db]).stderr).toContain("cannot go onto the database itself");
    const copy = new AnnotationStore(join(dir, "b.sqlite"));
    expect(copy.totals()).toEqual({ tasks: 1, assignments: 1, votes: 1 });
    copy.close();
  });

  it("imports prompts with two answers each sampled from a checkpoint", async () => {
    await selectBackend({ log: false });
    const tokenizer = await trainBpe(["床前明月光 疑是地上霜", "举头望明月 低头思故乡"], { vocabSize: 300 });
    const model = createModel({ vocab_size: tokenizer.vocabSize, hidden_size: 32, n_layer: 1, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 64, max_seq_len: 96 }, { tokenizer, seed: 5 });
    await saveCheckpoint(join(dir, "ckpt"), { model, tokenizer });
    model.dispose();
    writeFileSync(join(dir, "prompts.jsonl"), ["写一句诗", "咏月"].map((p, i) => JSON.stringify({ id: `p${i}`, prompt: p })).join("\n"));
    const out = execFileSync(process.execPath, ["--import", "tsx", CLI, "import", "--db", db, "--file", join(dir, "prompts.jsonl"), "--checkpoint", join(dir, "ckpt"), "--max-new-tokens", "5", "--workers", "1"], { encoding: "utf8" });
    expect(out).toMatch(/sampled 2 answers for each of 2 prompts/);
    expect(out).toContain("imported 2 tasks");
    const store = new AnnotationStore(db);
    const row = store.db.prepare("SELECT prompt, metadata FROM tasks WHERE external_id = 'p1'").get() as { prompt: string; metadata: string };
    expect(JSON.parse(row.prompt)).toBe("咏月");
    expect(JSON.parse(row.metadata)).toMatchObject({ sampling: { checkpoint: "ckpt", maxNewTokens: 5 } });
    store.close();
  });
});

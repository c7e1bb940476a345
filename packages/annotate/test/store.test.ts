import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AnnotateError, AnnotationStore, SCHEMA_VERSION } from "../src/index.js";

const TASKS = [
  { id: "t1", prompt: "写一句诗", response_a: "床前明月光", response_b: "<script>alert(1)</script>" },
  { id: "t2", prompt: [{ role: "user", content: "继续" }, { role: "assistant", content: "好" }, { role: "user", content: "再来" }], response_a: "甲", response_b: "乙" },
  { id: "t3", prompt: "第三题", response_a: "一", response_b: "二", metadata: { source: "test" } },
].map((t) => JSON.stringify(t)).join("\n");

function store(): { s: AnnotationStore; admin: number; ann: number[] } {
  const s = new AnnotationStore(":memory:");
  const admin = s.createUser("admin", "admin-password", "admin");
  const ann = ["ann1", "ann2", "ann3"].map((u) => s.createUser(u, `${u}-password`, "annotator"));
  return { s, admin, ann };
}

let req = 0;
const rid = () => `request-${++req}`.padEnd(12, "x");

describe("the store", () => {
  it("opens in WAL mode with foreign keys on, at the current schema version, and reopens without migrating again", () => {
    const file = join(mkdtempSync(join(tmpdir(), "annotate-")), "a.db");
    const s = new AnnotationStore(file);
    expect(s.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(s.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(s.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    s.createUser("x", "long-enough", "annotator");
    s.close();
    const again = new AnnotationStore(file);
    expect(again.authenticate("x", "long-enough")?.username).toBe("x");
    expect(() => again.db.prepare("INSERT INTO assignments (task_id, user_id, swapped, position) VALUES (99, 99, 0, 0)").run()).toThrow(/FOREIGN KEY/);
    again.close();
  });

  it("hashes passwords with scrypt and checks them", () => {
    const { s } = store();
    const row = s.db.prepare("SELECT password_hash FROM users WHERE username = 'ann1'").pluck().get() as string;
    expect(row).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(row).not.toContain("ann1-password");
    expect(s.authenticate("ann1", "ann1-password")?.role).toBe("annotator");
    expect(s.authenticate("ann1", "wrong-password")).toBeUndefined();
    expect(s.authenticate("nobody", "ann1-password")).toBeUndefined();
    expect(() => s.createUser("ann1", "another-password", "annotator")).toThrow(/taken/);
    expect(() => s.createUser("short", "1234", "annotator")).toThrow(/at least 8 characters/);
  });

  it("imports JSONL all or nothing, naming the bad line", () => {
    const { s } = store();
    expect(s.importTasks(TASKS)).toBe(3);
    expect(() => s.importTasks('{"id":"t4","prompt":"p","response_a":"a","response_b":"b"}\n{"prompt":"p","response_a":"a"}')).toThrow(/line 2: response_b/);
    expect(() => s.importTasks("not json")).toThrow(/line 1: not JSON/);
    expect(() => s.importTasks(JSON.stringify({ id: "t1", prompt: "p", response_a: "a", response_b: "b" }))).toThrow(/task id "t1" is already imported/);
    expect(s.db.prepare("SELECT COUNT(*) FROM tasks").pluck().get()).toBe(3);
  });

  it("assigns each comparison to k annotators, balanced, with the shown order recorded", () => {
    const { s, ann } = store();
    s.importTasks(TASKS);
    expect(s.assign(2)).toBe(6);
    expect(s.assign(2)).toBe(0); // already done
    expect(ann.map((u) => s.progress(u).total)).toEqual([2, 2, 2]);
    expect(() => s.assign(4)).toThrow(/4 annotators per comparison, but there are 3/);
  });

  it("draws the shown order fairly for every seed, small seeds included (their first draws too)", () => {
    const many = Array.from({ length: 200 }, (_, i) => JSON.stringify({ prompt: `p${i}`, response_a: "a", response_b: "b" })).join("\n");
    const firstFive = new Set<string>();
    for (const seed of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const { s } = store();
      s.importTasks(many);
      s.assign(1, seed);
      const swapped = s.db.prepare("SELECT swapped FROM assignments ORDER BY id").pluck().all() as number[];
      const share = swapped.reduce((a, b) => a + b, 0) / swapped.length;
      expect(share).toBeGreaterThan(0.4);
      expect(share).toBeLessThan(0.6);
      firstFive.add(swapped.slice(0, 5).join(""));
      s.close();
    }
    expect(firstFive.size).toBeGreaterThanOrEqual(6); // the old generator gave 11111 for seeds 0, 1, 3 and 7
  });

  it("records a vote once, in the task's A/B even when the order was swapped; repeats are answered the same", () => {
    const { s, ann } = store();
    s.importTasks(TASKS);
    s.assign(3);
    const u = ann[0]!;
    const c = s.next(u)!;
    const swapped = s.db.prepare("SELECT swapped FROM assignments WHERE id = ?").pluck().get(c.assignmentId) as number;
    expect(c.first).toBe(swapped ? "<script>alert(1)</script>" : "床前明月光");
    const request = rid();
    const first = s.vote(u, c.assignmentId, { requestId: request, verdict: "A", helpfulness: "A", harmlessness: "B" });
    const again = s.vote(u, c.assignmentId, { requestId: request, verdict: "A", helpfulness: "A", harmlessness: "B" });
    expect(first.recorded).toBe(true);
    expect(again).toEqual({ voteId: first.voteId, recorded: false });
    expect(s.db.prepare("SELECT COUNT(*) FROM votes").pluck().get()).toBe(1);
    const stored = s.db.prepare("SELECT verdict, helpfulness, harmlessness FROM votes").get();
    expect(stored).toEqual(swapped ? { verdict: "B", helpfulness: "B", harmlessness: "A" } : { verdict: "A", helpfulness: "A", harmlessness: "B" });
    expect(() => s.vote(u, c.assignmentId, { requestId: rid(), verdict: "B" })).toThrow(/already has a vote \(undo it first\)/);
    expect(s.next(u)!.assignmentId).not.toBe(c.assignmentId);
  });

  it("an annotator cannot vote on, skip or see another's assignment by changing ids", () => {
    const { s, ann } = store();
    s.importTasks(TASKS);
    s.assign(1);
    const theirs = s.next(ann[1]!)!;
    const err = (() => {
      try {
        s.vote(ann[0]!, theirs.assignmentId, { requestId: rid(), verdict: "A" });
      } catch (e) {
        return e as AnnotateError;
      }
    })();
    expect(err).toBeInstanceOf(AnnotateError);
    expect(err!.code).toBe("not_found");
    expect(() => s.skip(ann[0]!, theirs.assignmentId)).toThrow(AnnotateError);
    expect(() => s.vote(ann[0]!, 9999, { requestId: rid(), verdict: "A" })).toThrow(/no assignment 9999/);
    expect(s.db.prepare("SELECT COUNT(*) FROM votes").pluck().get()).toBe(0);
  });

  it("skips, undoes the last vote, and counts progress", () => {
    const { s, ann } = store();
    s.importTasks(TASKS);
    s.assign(3);
    const u = ann[2]!;
    const a = s.next(u)!;
    s.vote(u, a.assignmentId, { requestId: rid(), verdict: "tie" });
    const b = s.next(u)!;
    s.skip(u, b.assignmentId);
    expect(s.progress(u)).toEqual({ total: 3, done: 1, skipped: 1 });
    expect(s.undo(u)).toBe(a.assignmentId);
    expect(s.next(u)!.assignmentId).toBe(a.assignmentId);
    expect(s.progress(u)).toEqual({ total: 3, done: 0, skipped: 1 });
    expect(s.undo(u)).toBeUndefined();
    expect(() => s.vote(u, a.assignmentId, { requestId: "short", verdict: "A" })).toThrow(/requestId/);
    expect(() => s.vote(u, a.assignmentId, { requestId: rid(), verdict: "maybe" as "A" })).toThrow(/verdict/);
  });

  it("exports every vote, or the majority verdict, as reward comparison records; agreement and a backup", async () => {
    const { s, ann } = store();
    s.importTasks(TASKS);
    s.assign(3);
    // task order is the same for all: t1, t2, t3 (ties in load broken by id); verdicts in shown order
    const plan: Record<number, string[]> = { 0: ["A", "B", "tie"], 1: ["A", "B", "both_bad"], 2: ["A", "A", "tie"] };
    ann.forEach((u, i) => {
      for (const shown of plan[i]!) {
        const c = s.next(u)!;
        const swapped = s.db.prepare("SELECT swapped FROM assignments WHERE id = ?").pluck().get(c.assignmentId) as number;
        // vote for the task's A (or B) whatever the order shown
        const verdict = swapped && (shown === "A" || shown === "B") ? (shown === "A" ? "B" : "A") : shown;
        s.vote(u, c.assignmentId, { requestId: rid(), verdict: verdict as "A", flags: i === 0 ? ["unsafe"] : [], ...(i === 1 ? { comment: "ok" } : {}) });
      }
    });
    const all = s.exportRecords("all");
    expect(all).toHaveLength(9);
    expect(all.filter((r) => r.id.startsWith("t1:")).map((r) => r.verdict)).toEqual(["A", "A", "A"]);
    expect(all.filter((r) => r.id.startsWith("t3:")).map((r) => [r.annotator, r.verdict])).toEqual([["ann1", "tie"], ["ann2", "both_bad"], ["ann3", "tie"]]);
    const r0 = all[0]!;
    expect(Object.keys(r0).sort()).toEqual(["annotator", "created_at", "id", "metadata", "prompt", "response_a", "response_b", "source", "verdict"]);
    expect(r0.source).toBe("human");
    expect(r0.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r0.metadata.flags).toEqual(["unsafe"]);
    expect(all.find((r) => r.id === "t2:ann1")!.prompt).toEqual([{ role: "user", content: "继续" }, { role: "assistant", content: "好" }, { role: "user", content: "再来" }]);
    const majority = s.exportRecords("majority");
    expect(majority.map((r) => [r.id, r.verdict, r.annotator])).toEqual([
      ["t1:majority", "A", "majority-of-3"],
      ["t2:majority", "B", "majority-of-3"],
      ["t3:majority", "tie", "majority-of-3"],
    ]);
    const agreement = s.agreement();
    expect(agreement.fleiss).toMatchObject({ tasks: 3, raters: 3 });
    expect(agreement.cohen.map((c) => [c.a, c.b, c.tasks])).toEqual([["ann1", "ann2", 3], ["ann1", "ann3", 3], ["ann2", "ann3", 3]]);
    // ann1 A, B, tie against ann2 A, B, both_bad: p_o = 2/3, p_e = 2/9, κ = 4/7
    expect(agreement.cohen.find((c) => c.a === "ann1" && c.b === "ann2")!.kappa).toBeCloseTo(4 / 7, 12);
    expect(agreement.annotators.map((a) => [a.annotator, a.votes, a.agreesWithMajority])).toEqual([["ann1", 3, 1], ["ann2", 3, 2 / 3], ["ann3", 3, 2 / 3]]);
    const file = join(mkdtempSync(join(tmpdir(), "annotate-")), "backup.db");
    await s.backup(file);
    const copy = new AnnotationStore(file);
    expect(copy.exportRecords("all")).toEqual(all);
    expect(copy.db.pragma("integrity_check", { simple: true })).toBe("ok");
    copy.close();
  });
});

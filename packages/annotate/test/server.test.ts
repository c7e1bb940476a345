import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnnotateClient, AnnotateHttpError } from "../src/client.js";
import { AnnotationStore } from "../src/store.js";
import { createServer } from "../src/server.js";

const tasks = [
  { id: "t1", prompt: "写一句咏月的诗", response_a: "床前明月光", response_b: "月亮" },
  { id: "t2", prompt: [{ role: "user", content: "你好" }, { role: "assistant", content: "你好！" }, { role: "user", content: "写一句诗" }], response_a: "春眠不觉晓", response_b: "诗" },
  { id: "t3", prompt: "<script>alert(1)</script>", response_a: '<img src=x onerror="alert(2)">', response_b: "plain" },
];

/** The status and API error code of a refused call. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AnnotateHttpError) return `${e.status} ${e.code}`;
    throw e;
  }
  return "accepted";
}

describe("the server", () => {
  let dir: string;
  let store: AnnotationStore;
  let app: FastifyInstance;
  let base: string;
  let adminC: AnnotateClient;
  let li: AnnotateClient;
  let wang: AnnotateClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "annotate-server-"));
    store = new AnnotationStore(join(dir, "a.sqlite"));
    store.createUser("admin", "admin-password", "admin");
    app = await createServer({ store, loginMax: 3 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    adminC = new AnnotateClient(base);
    await adminC.login("admin", "admin-password");
    expect(await adminC.importTasks(tasks.map((t) => JSON.stringify(t)).join("\n"))).toEqual({ imported: 3 });
    await adminC.createUser("li", "li-password");
    await adminC.createUser("wang", "wang-password");
    expect(await adminC.assign(2, 7)).toEqual({ assigned: 6 });
    li = new AnnotateClient(base);
    wang = new AnnotateClient(base);
    await li.login("li", "li-password");
    await wang.login("wang", "wang-password");
  });
  afterAll(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets an annotator vote, repeat a vote idempotently, skip, undo and finish; the export holds the votes in the task's A/B", async () => {
    const first = await li.next();
    expect(first.progress).toEqual({ total: 3, done: 0, skipped: 0 });
    const c = first.comparison!;
    const v1 = await li.vote(c.assignmentId, { requestId: "li-request-1", verdict: "A", helpfulness: "A", harmlessness: "same", flags: ["factual_error"], comment: "好" });
    expect(v1.recorded).toBe(true);
    const again = await li.vote(c.assignmentId, { requestId: "li-request-1", verdict: "A" });
    expect(again).toMatchObject({ voteId: v1.voteId, recorded: false, progress: { done: 1 } });
    expect(await refusal(li.vote(c.assignmentId, { requestId: "li-request-2", verdict: "B" }))).toBe("409 conflict");
    const second = (await li.next()).comparison!;
    expect((await li.skip(second.assignmentId)).progress).toEqual({ total: 3, done: 1, skipped: 1 });
    const third = (await li.next()).comparison!;
    await li.vote(third.assignmentId, { requestId: "li-request-3", verdict: "tie" });
    expect(await li.undo()).toEqual({ assignmentId: third.assignmentId });
    expect((await li.next()).comparison!.assignmentId).toBe(third.assignmentId);
    await li.vote(third.assignmentId, { requestId: "li-request-4", verdict: "both_bad" });
    expect((await li.next()).comparison).toBeNull();
    expect(await li.unskip()).toEqual({ restored: 1 });
    await li.vote(second.assignmentId, { requestId: "li-request-5", verdict: "B" });
    expect(await li.next()).toEqual({ comparison: null, progress: { total: 3, done: 3, skipped: 0 } });

    const records = await adminC.exportRecords("all");
    expect(records).toHaveLength(3);
    const shownFirst = (id: number) => store.db.prepare("SELECT swapped FROM assignments WHERE id = ?").pluck().get(id) === 1;
    const inTaskOrder = (v: string, swapped: boolean) => (swapped ? ({ A: "B", B: "A" } as Record<string, string>)[v] ?? v : v);
    const byTask = new Map(records.map((r) => [r.metadata.task_id, r]));
    const taskOf = (id: number) => store.db.prepare("SELECT t.external_id FROM assignments a JOIN tasks t ON t.id = a.task_id WHERE a.id = ?").pluck().get(id) as string;
    expect(byTask.get(taskOf(c.assignmentId))).toMatchObject({ verdict: inTaskOrder("A", shownFirst(c.assignmentId)), annotator: "li", source: "human", metadata: { flags: ["factual_error"], comment: "好" } });
    expect(byTask.get(taskOf(second.assignmentId))?.verdict).toBe(inTaskOrder("B", shownFirst(second.assignmentId)));
    expect(byTask.get(taskOf(third.assignmentId))?.verdict).toBe("both_bad");
    expect(records.find((r) => r.metadata.task_id === "t2")?.prompt).toEqual(tasks[1]!.prompt);
    const progress = (await adminC.request<{ tasks: number; votes: number; users: { username: string; done: number }[] }>("GET", "/api/admin/progress"));
    expect(progress).toMatchObject({ tasks: 3, votes: 3 });
    expect(progress.users.find((u) => u.username === "li")?.done).toBe(3);
  });

  it("refuses requests without a session, without the CSRF token, and an annotator's on admin routes", async () => {
    const anonymous = new AnnotateClient(base);
    expect(await refusal(anonymous.next())).toBe("401 unauthorized");
    expect(await refusal(anonymous.request("GET", "/api/admin/export"))).toBe("401 unauthorized");
    expect(await refusal(anonymous.vote(1, { requestId: "anonymous-1", verdict: "A" }))).toBe("401 unauthorized");
    const page = await fetch(`${base}/annotate.html`, { redirect: "manual" });
    expect([page.status, page.headers.get("location")]).toEqual([302, "/"]);
    expect(await refusal(wang.request("POST", "/api/undo", undefined, { csrf: false }))).toBe("403 csrf");
    expect(await refusal(wang.request("POST", "/api/login", { username: "wang", password: "wang-password" }, { csrf: false }))).toBe("403 csrf");
    // a token from another browser (its secret cookie is not this one's) is refused too
    const other = await new AnnotateClient(base).request<{ token: string }>("GET", "/api/csrf");
    expect(await refusal(wang.request("POST", "/api/undo", undefined, { csrf: false, headers: { "x-csrf-token": other.token } }))).toBe("403 csrf");
    for (const [method, path, body] of [["GET", "/api/admin/export"], ["GET", "/api/admin/users"], ["POST", "/api/admin/assign", { k: 1 }], ["POST", "/api/admin/users", { username: "eve", password: "eve-password", role: "admin" }]] as const) {
      expect(await refusal(wang.request(method, path, body))).toBe("403 forbidden");
    }
    const adminPage = await fetch(`${base}/admin.html`, { redirect: "manual", headers: { cookie: `batgpt_session=${"x".repeat(43)}` } });
    expect(adminPage.status).toBe(302);
  });

  it("keeps each annotator to their own assignments: another's id, for reading or writing, is not found", async () => {
    const lisIds = store.db.prepare("SELECT a.id FROM assignments a JOIN users u ON u.id = a.user_id WHERE u.username = 'li'").pluck().all() as number[];
    for (const id of lisIds) {
      expect(await refusal(wang.vote(id, { requestId: `wang-steal-${id}`, verdict: "B" }))).toBe("404 not_found");
      expect(await refusal(wang.skip(id))).toBe("404 not_found");
    }
    expect(await refusal(wang.vote(0, { requestId: "wang-zero-1", verdict: "B" }))).toBe("404 not_found");
    expect(await refusal(wang.request("POST", "/api/assignments/1e3/vote", { requestId: "wang-float-1", verdict: "B" }))).toBe("404 not_found");
    // wang's next comparison is his own and undo takes back only his votes
    const mine = (await wang.next()).comparison!;
    expect(lisIds).not.toContain(mine.assignmentId);
    expect(await wang.undo()).toEqual({ assignmentId: null });
    expect(store.exportRecords("all").filter((r) => r.annotator === "li")).toHaveLength(3);
  });

  it("rate-limits login per address and name, and limits body sizes", async () => {
    const c = new AnnotateClient(base);
    const tries: string[] = [];
    for (let i = 0; i < 4; i++) tries.push(await refusal(c.login("nobody", "wrong-password")));
    expect(tries).toEqual(["401 unauthorized", "401 unauthorized", "401 unauthorized", "429 too_many_requests"]);
    expect((await c.login("wang", "wang-password")).username).toBe("wang"); // another name is counted apart
    expect(await refusal(c.vote(1, { requestId: "big-comment", verdict: "A", comment: "x".repeat(70_000) }))).toBe("413 too_large");
    expect(await refusal(c.vote(1, { requestId: "not-wangs-1", verdict: "A" }))).toBe("404 not_found"); // not c's: ownership first
  });

  it("refuses a bad import whole, naming the line, and points prompts without answers to sampling", async () => {
    const before = store.totals().tasks;
    const lines = [JSON.stringify({ id: "ok-1", prompt: "p", response_a: "a", response_b: "b" }), JSON.stringify({ prompt: "only a prompt" })].join("\n");
    const e = await adminC.importTasks(lines).catch((x: unknown) => x as AnnotateHttpError);
    expect(e).toBeInstanceOf(AnnotateHttpError);
    expect((e as AnnotateHttpError).status).toBe(400);
    expect((e as AnnotateHttpError).message).toMatch(/line 2: response_a: .*batgpt-annotate import --checkpoint/);
    expect(await refusal(adminC.importTasks("{not json"))).toBe("400 invalid");
    const twice = await adminC.importTasks([1, 2].map(() => JSON.stringify({ id: "dup", prompt: "p", response_a: "a", response_b: "b" })).join("\n")).catch((x: unknown) => x as AnnotateHttpError);
    expect((twice as AnnotateHttpError).message).toMatch(/409 conflict: line 2: task id "dup" is also on line 1/);
    expect(await refusal(adminC.request("POST", "/api/admin/tasks", { prompt: "x" }))).toBe("400 invalid"); // JSON, not JSONL
    expect(store.totals().tasks).toBe(before);
  });

  it("sends security headers and a strict content security policy", async () => {
    const res = await fetch(`${base}/api/csrf`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    const cookie = res.headers.getSetCookie().join("\n");
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const page = await fetch(`${base}/annotate.html`, { redirect: "manual" });
    expect(page.headers.get("cache-control")).toBe("no-store"); // not served from cache after logout
  });

  it("keeps sessions and cookies across a restart, and makes an online backup", async () => {
    const again = await createServer({ store });
    await again.listen({ host: "127.0.0.1", port: 0 });
    try {
      // the same cookies (session, CSRF secret) against a second server on the same database
      const moved = Object.assign(Object.create(Object.getPrototypeOf(wang) as object) as AnnotateClient, wang, { baseUrl: `http://127.0.0.1:${(again.server.address() as AddressInfo).port}` });
      expect((await moved.me()).username).toBe("wang");
      expect(await moved.undo()).toEqual({ assignmentId: null }); // a POST: the CSRF token still holds
    } finally {
      await again.close();
    }
    const { file } = await adminC.backup();
    expect(existsSync(file)).toBe(true);
    const copy = new AnnotationStore(file);
    expect(copy.db.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(copy.totals()).toEqual(store.totals());
    copy.close();
  });
});

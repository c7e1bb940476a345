/**
 * A load and crash check of the platform on this machine, over loopback, bounded (it stops by
 * itself): run it before an annotation campaign on the machine and disk that will hold the votes.
 *
 * It makes a fresh database (an admin, `clients` annotators, `clients × votesPerClient / 2` tasks
 * each assigned to 2 annotators), starts the server as a child process (`batgpt-annotate serve`),
 * and has `clients` concurrent annotator clients ({@link AnnotateClient}) log in and vote through
 * their whole queue. Every `retryEvery`-th vote is sent a second time with the same `requestId`
 * (a retry after a lost response) and must come back `recorded: false` with the same vote id. A
 * request that fails at the network level (the server is gone) is retried with the same
 * `requestId` until the server answers.
 *
 * With `crash`, the server is killed with SIGKILL once half the votes are acknowledged and started
 * again on the same port at once; the clients retry through the outage.
 *
 * Afterwards the database is opened directly: `lost` = acknowledged votes (request ids) not in it,
 * `duplicated` = vote rows beyond the distinct acknowledged votes, and `PRAGMA integrity_check`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { AnnotateClient, AnnotateHttpError } from "./client.js";
import { AnnotationStore, VERDICTS } from "./store.js";

/** Options of {@link loadTest}. */
export const loadTestOptionsSchema = z.strictObject({
  /** Concurrent annotator clients (default 50). */
  clients: z.number().int().min(2).default(50),
  /** Votes each client gives (default 42: 2,100 in all). */
  votesPerClient: z.number().int().min(2).default(42),
  /** Every n-th vote of a client is sent twice (default 10). */
  retryEvery: z.number().int().min(1).default(10),
  /** Kill -9 the server at half the votes and restart it (default false). */
  crash: z.boolean().default(false),
  /** Progress lines (default none). */
  log: z.custom<(line: string) => void>((v) => typeof v === "function").optional(),
});
export type LoadTestOptions = z.input<typeof loadTestOptionsSchema>;

/** What {@link loadTest} measured. Latencies are of vote requests answered without a network error, in milliseconds. */
export interface LoadTestResult {
  clients: number;
  /** Distinct votes acknowledged by the server. */
  votes: number;
  /** Vote requests sent, retries included. */
  requests: number;
  /** Repeats of an acknowledged vote (same requestId) that came back as the same vote. */
  retries: number;
  /** Requests re-sent after a network error (the server was down). */
  retriedAfterError: number;
  lost: number;
  duplicated: number;
  p50Ms: number;
  p95Ms: number;
  votesPerSec: number;
  integrity: string;
  /** With `crash`: the distinct votes acknowledged when the server was killed, and how long the restart took (ms, until it listened). */
  crash?: { killedAfterVotes: number; restartMs: number };
}

const CLI = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./cli.ts" : "./cli.js", import.meta.url));

function startServer(db: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const args = [...(CLI.endsWith(".ts") ? ["--import", "tsx"] : []), CLI, "serve", "--db", db, "--port", String(port)];
  const child = spawn(process.execPath, args, { cwd: dirname(dirname(CLI)), stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += String(d)));
    child.stdout!.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before listening: ${err || out}`)));
  });
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run the load (and crash) check; see the module comment.
 *
 * @throws {Error} when a client meets an answer other than success or a network error (a bug),
 *   or the server does not start.
 */
export async function loadTest(options: LoadTestOptions = {}): Promise<LoadTestResult> {
  const o = loadTestOptionsSchema.parse(options);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "batgpt-annotate-load-"));
  const db = join(dir, "annotations.sqlite");
  let server: ChildProcess | undefined;
  try {
    const setup = new AnnotationStore(db);
    setup.createUser("admin", "admin-password", "admin");
    for (let c = 0; c < o.clients; c++) setup.createUser(`annotator${c}`, `password-${c}`, "annotator");
    const tasks = Math.ceil((o.clients * o.votesPerClient) / 2);
    setup.importTasks(Array.from({ length: tasks }, (_, i) => JSON.stringify({ id: `load-${i}`, prompt: `第${i}题：写一句诗`, response_a: `答案甲 ${i}`, response_b: `答案乙 ${i}` })).join("\n"));
    setup.assign(2, 7);
    setup.close();

    const { child, port } = await startServer(db, 0);
    server = child;
    const base = `http://127.0.0.1:${port}`;
    log(`server on ${base}; ${o.clients} clients, ${tasks} tasks × 2 annotators`);

    const acked = new Map<string, number>(); // requestId → voteId
    const latencies: number[] = [];
    let requests = 0;
    let retries = 0;
    let retriedAfterError = 0;
    let crash: LoadTestResult["crash"];
    let restarting: Promise<void> | undefined;
    const half = Math.floor((o.clients * o.votesPerClient) / 2);

    const maybeCrash = () => {
      if (!o.crash || crash !== undefined || acked.size < half) return;
      crash = { killedAfterVotes: acked.size, restartMs: 0 };
      log(`kill -9 after ${acked.size} acknowledged votes`);
      const killed = server!;
      killed.kill("SIGKILL");
      const t0 = performance.now();
      restarting = new Promise<void>((resolve) => killed.once("exit", () => resolve()))
        .then(() => startServer(db, port))
        .then((s) => {
          server = s.child;
          crash!.restartMs = Math.round(performance.now() - t0);
          log(`restarted in ${crash!.restartMs} ms`);
        });
    };

    /** Retry `f` through network errors (the server down); an HTTP refusal is a bug here. */
    const resilient = async <T>(f: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await f();
        } catch (e) {
          if (e instanceof AnnotateHttpError || attempt > 400) throw e;
          retriedAfterError++;
          await (restarting ?? Promise.resolve());
          await sleep(25);
        }
      }
    };

    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.clients }, async (_, c) => {
        const client = new AnnotateClient(base);
        await resilient(() => client.login(`annotator${c}`, `password-${c}`));
        for (let n = 1; ; n++) {
          const { comparison } = await resilient(() => client.next());
          if (comparison === null) break;
          const vote = { requestId: randomUUID(), verdict: VERDICTS[(c + n) % VERDICTS.length]!, helpfulness: n % 2 ? ("A" as const) : ("B" as const) };
          let clean = true;
          const once = async () => {
            requests++;
            const start = performance.now();
            try {
              const r = await client.vote(comparison.assignmentId, vote);
              if (clean) latencies.push(performance.now() - start);
              return r;
            } catch (e) {
              clean = false;
              throw e;
            }
          };
          const first = await resilient(once);
          acked.set(vote.requestId, first.voteId);
          maybeCrash();
          if (n % o.retryEvery === 0) {
            clean = true;
            const again = await resilient(once);
            if (again.recorded || again.voteId !== first.voteId) throw new Error(`a repeated vote was recorded again (${JSON.stringify(again)})`);
            retries++;
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await (restarting ?? Promise.resolve());
    server.kill("SIGTERM");
    await new Promise((r) => server!.once("exit", r));
    server = undefined;

    const check = new AnnotationStore(db);
    try {
      const has = check.db.prepare("SELECT id FROM votes WHERE request_id = ?").pluck();
      const lost = [...acked].filter(([requestId, voteId]) => has.get(requestId) !== voteId).length;
      const rows = check.db.prepare("SELECT COUNT(*) FROM votes").pluck().get() as number;
      const integrity = check.db.pragma("integrity_check", { simple: true }) as string;
      latencies.sort((a, b) => a - b);
      return {
        clients: o.clients,
        votes: acked.size,
        requests,
        retries,
        retriedAfterError,
        lost,
        duplicated: rows - (acked.size - lost),
        p50Ms: Math.round(percentile(latencies, 0.5) * 10) / 10,
        p95Ms: Math.round(percentile(latencies, 0.95) * 10) / 10,
        votesPerSec: Math.round(acked.size / seconds),
        integrity,
        ...(crash ? { crash } : {}),
      };
    } finally {
      check.close();
    }
  } finally {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

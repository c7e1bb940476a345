/**
 * The annotation platform under load, and killed mid-load: `npm run bench:annotate` from the repo
 * root.
 *
 * `loadTest` (`@batgpt/annotate`) starts `batgpt-annotate serve` on a fresh database as a child
 * process; 50 concurrent annotator clients log in over loopback and vote through their queues
 * (2,100 votes; every 10th sent twice with the same requestId, as a retry after a lost response).
 * Then the same again with the server killed by SIGKILL at half the votes and restarted at once;
 * the clients retry through the outage. Afterwards the database is read directly: `lost` =
 * acknowledged votes missing, `duplicated` = rows beyond the acknowledged votes,
 * `PRAGMA integrity_check`.
 *
 * The baseline, measured in the same run: the same number of votes written straight into the
 * store (one transaction each, `synchronous = FULL`: the disk's fsync floor), single-threaded;
 * `httpShare` = server votes/s ÷ store votes/s.
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { AnnotationStore, loadTest } from "@batgpt/annotate";
import { round } from "./lib/timing.js";

const quick = process.argv.includes("--quick");
const config = { clients: 50, votesPerClient: quick ? 20 : 42, retryEvery: 10 };
const wallStart = performance.now();
const log = (msg: string) => console.error(`[bench:annotate ${((performance.now() - wallStart) / 1000).toFixed(1).padStart(6)}s] ${msg}`);

function storeBaseline(votes: number): number {
  const dir = mkdtempSync(join(tmpdir(), "batgpt-annotate-baseline-"));
  try {
    const store = new AnnotationStore(join(dir, "a.sqlite"));
    const user = store.createUser("annotator", "annotator-password", "annotator");
    store.importTasks(Array.from({ length: votes }, (_, i) => JSON.stringify({ prompt: `第${i}题`, response_a: "甲", response_b: "乙" })).join("\n"));
    store.assign(1);
    const t0 = performance.now();
    for (let c = store.next(user); c !== undefined; c = store.next(user)) store.vote(user, c.assignmentId, { requestId: randomUUID(), verdict: "A" });
    const perSec = votes / ((performance.now() - t0) / 1000);
    store.close();
    return perSec;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

log(`${config.clients} clients × ${config.votesPerClient} votes, every ${config.retryEvery}th sent twice; node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`);
const load = await loadTest({ ...config, log });
log(`load: ${load.votes} votes, lost ${load.lost}, duplicated ${load.duplicated}, p50 ${load.p50Ms} ms, p95 ${load.p95Ms} ms, ${load.votesPerSec} votes/s`);
const crash = await loadTest({ ...config, crash: true, log });
log(`crash: ${crash.votes} votes, lost ${crash.lost}, duplicated ${crash.duplicated}, integrity ${crash.integrity}`);
const baseline = storeBaseline(load.votes);
console.log(
  JSON.stringify({
    config,
    node: process.version,
    cores: availableParallelism(),
    votes: load.votes,
    requests: load.requests,
    retries: load.retries,
    lost: load.lost,
    duplicated: load.duplicated,
    p50Ms: load.p50Ms,
    p95Ms: load.p95Ms,
    votesPerSec: load.votesPerSec,
    integrity: load.integrity,
    crash: { votes: crash.votes, killedAfterVotes: crash.crash?.killedAfterVotes, restartMs: crash.crash?.restartMs, retriedAfterError: crash.retriedAfterError, lost: crash.lost, duplicated: crash.duplicated, integrity: crash.integrity },
    baseline: { storeVotesPerSec: round(baseline, 0) },
    httpShare: round(load.votesPerSec / baseline, 3),
  }),
);

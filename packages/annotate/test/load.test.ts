import { describe, expect, it } from "vitest";
import { loadTest } from "../src/loadtest.js";

// the sizes: 50 concurrent clients, 2,100 votes, every 10th sent twice; then the same
// with the server killed (SIGKILL) at half the votes and restarted
describe("the load and crash check", () => {
  it("loses and duplicates no vote under 50 concurrent clients with retries", async () => {
    const r = await loadTest({ clients: 50, votesPerClient: 42, retryEvery: 10 });
    expect(r).toMatchObject({ clients: 50, votes: 2100, retries: 200, lost: 0, duplicated: 0, integrity: "ok" });
    expect(r.requests).toBe(2300);
    expect(r.p95Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });

  it("keeps every acknowledged vote when the server is killed with SIGKILL mid-load and restarted", async () => {
    const r = await loadTest({ clients: 50, votesPerClient: 42, retryEvery: 10, crash: true });
    expect(r).toMatchObject({ votes: 2100, lost: 0, duplicated: 0, integrity: "ok" });
    expect(r.crash!.killedAfterVotes).toBeGreaterThanOrEqual(1050);
    expect(r.crash!.killedAfterVotes).toBeLessThan(2100);
    expect(r.retriedAfterError).toBeGreaterThan(0); // the clients did meet the outage
  });
});

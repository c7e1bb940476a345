import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createProgress, progressModeSchema, type ProgressStream } from "../src/progress.js";

/** A stream that keeps what is written; `isTTY` as asked. */
function sink(isTTY = false): { stream: ProgressStream; text: () => string; lines: () => unknown[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 120;
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as unknown);
  return { stream, text, lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("createProgress", () => {
  it("writes JSON lines when the stream is not a terminal: the first, one per interval, the last", async () => {
    vi.useFakeTimers();
    const out = sink();
    const progress = await createProgress("corpus", { stream: out.stream, unit: "docs", intervalMs: 1000 });
    expect(progress.mode).toBe("json");
    progress.update(0, 10, { step: "read" });
    progress.update(1, 10); // within the interval: held back
    vi.advanceTimersByTime(1500);
    progress.update(2, 10); // the interval has passed
    progress.update(3, 10); // held back
    progress.update(4, 10, {}, { force: true }); // forced
    progress.update(10, 10); // reaches the total
    expect(out.lines()).toEqual([
      { stage: "corpus", done: 0, total: 10, unit: "docs", step: "read" },
      { stage: "corpus", done: 2, total: 10, unit: "docs" },
      { stage: "corpus", done: 4, total: 10, unit: "docs" },
      { stage: "corpus", done: 10, total: 10, unit: "docs" },
    ]);
    progress.stop(); // nothing held back
    expect(out.lines()).toHaveLength(4);
  });

  it("a job keeps its own line shape; stop writes the last line if it was held back; log writes at once", async () => {
    const out = sink();
    const progress = await createProgress("train", { mode: "json", stream: out.stream });
    const step = (n: number) => progress.update(n, 100, { loss: "1.000" }, { line: { type: "step", step: n, loss: 1 / n, of: 100 } });
    step(1);
    step(2);
    progress.log({ type: "eval", step: 2, valLossForward: 2.5 });
    step(3);
    progress.stop();
    expect(out.lines()).toEqual([
      { type: "step", step: 1, loss: 1, of: 100 },
      { type: "eval", step: 2, valLossForward: 2.5 },
      { type: "step", step: 3, loss: 1 / 3, of: 100 },
    ]);
  });

  it('"none" writes nothing at all', async () => {
    const out = sink(true);
    const progress = await createProgress("quiet", { mode: "none", stream: out.stream, total: 5 });
    expect(progress.mode).toBe("none");
    for (let i = 0; i <= 5; i++) progress.update(i, 5, { x: i }, { force: true });
    progress.log({ type: "eval" });
    progress.stop();
    expect(out.text()).toBe("");
  });

  it("draws a bar on a terminal, with the fields after it, and stops it", async () => {
    const out = sink(true);
    const progress = await createProgress("train", { stream: out.stream, total: 4, start: 1, unit: "steps" });
    expect(progress.mode).toBe("bar");
    progress.update(2, 4, { loss: "3.142", "tok/s": 1234 });
    progress.log({ type: "eval" }); // not on a bar
    progress.update(4, 4, { loss: "2.000", "tok/s": 1300 });
    progress.stop();
    expect(out.text()).toMatch(/train \[[█░]+\] 100% \| 4\/4 steps \| loss 2\.000 tok\/s 1300 \| ETA/);
    expect(out.text()).not.toContain("eval");
    // a lower count starts a new bar (the next stage of a job)
    const stages = sink(true);
    const staged = await createProgress("corpus", { mode: "bar", stream: stages.stream });
    staged.update(3, 3, { stage: "read" });
    staged.update(0, 50, { stage: "write" });
    staged.update(50, 50, { stage: "write" });
    staged.stop();
    expect(stages.text()).toMatch(/3\/3 \| stage read/);
    expect(stages.text()).toMatch(/50\/50 \| stage write/);
  });

  it('"auto" is a bar on a terminal and JSON lines otherwise; the mode schema lists the four modes', async () => {
    expect((await createProgress("a", { stream: sink(true).stream })).mode).toBe("bar");
    expect((await createProgress("a", { stream: sink(false).stream })).mode).toBe("json");
    expect(progressModeSchema.options).toEqual(["auto", "bar", "json", "none"]);
  });
});

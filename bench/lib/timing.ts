/** Timing helpers: median, and a full GC before each timed run so garbage from the last one is not billed to the next. */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gcFn = runInNewContext("gc") as unknown;

/** Run a full garbage collection if the runtime allows it; returns whether it did. */
export function fullGc(): boolean {
  if (typeof gcFn !== "function") return false;
  (gcFn as () => void)();
  return true;
}

/** Whether {@link fullGc} works in this runtime. */
export const gcAvailable = typeof gcFn === "function";

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Seconds taken by `fn`, and its result. */
export function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

/** Round to `digits` significant decimals for printing. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Log a progress line to stderr (stdout is kept for the result). */
const logStart = performance.now();
export function log(msg: string): void {
  console.error(`[bench:tokenizer ${((performance.now() - logStart) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
}

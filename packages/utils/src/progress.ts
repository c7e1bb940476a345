/**
 * Progress of a long job: a bar on a terminal (cli-progress), JSON lines otherwise (one every
 * few seconds and the last one), or nothing. One reporter serves training, tokenizer training
 * and corpus preparation alike.
 *
 * Nothing here touches Node until a reporter is created in a mode other than `"none"` (the bar
 * library is loaded then), so browsers can import `@batgpt/utils/progress`.
 */
import type { SingleBar } from "cli-progress";
import { z } from "zod";

/**
 * How a long job shows its progress: `"auto"` a bar when the stream is a terminal and JSON
 * lines otherwise; `"bar"`; `"json"`; `"none"` nothing.
 */
export const progressModeSchema = z.enum(["auto", "bar", "json", "none"]);

/** See {@link progressModeSchema}. */
export type ProgressMode = z.infer<typeof progressModeSchema>;

/** Where progress goes: `process.stderr`, or any writable stream (a bar needs a TTY). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

/** Values shown after the bar (`loss 3.142 tok/s 1234`) and added to the default JSON line. */
export type ProgressFields = Readonly<Record<string, string | number>>;

/** How a reporter is made. Every field is optional. */
export interface ProgressOptions {
  /** Default `"auto"`. */
  mode?: ProgressMode;
  /** What is counted (`"steps"`, `"docs"`): shown after the counts, and in the default JSON line. */
  unit?: string;
  /** The count when known at the start: the bar is drawn at once (else at the first update). */
  total?: number;
  /** Where the bar starts (a resumed job), with `total`. Default 0. */
  start?: number;
  /** Default `process.stderr` (none in a browser: then `"auto"` is `"none"`). */
  stream?: ProgressStream;
  /** JSON lines: at most one per this many milliseconds, besides the first and the last. Default 5000. */
  intervalMs?: number;
}

/** What one {@link Progress.update} may add. */
export interface ProgressUpdateOptions {
  /**
   * The JSON line for this update (default `{ stage: <label>, done, total, unit, ...fields }`);
   * a job whose `onProgress` callback gets an event writes that event.
   */
  line?: object;
  /** Write this JSON line even if one was written less than `intervalMs` ago. */
  force?: boolean;
}

/** A progress reporter for one job; see {@link createProgress}. */
export interface Progress {
  /** What `"auto"` became. */
  readonly mode: "bar" | "json" | "none";
  /**
   * `done` of `total` (a total may change; a `done` lower than the last one starts a new bar, as
   * when a job moves to its next stage). JSON mode writes a line for the first update, for one
   * that reaches `total`, for a forced one, and otherwise at most one per `intervalMs`.
   */
  update(done: number, total: number, fields?: ProgressFields, options?: ProgressUpdateOptions): void;
  /** Write `line` as a JSON line now, in JSON mode only (e.g. an evaluation result). */
  log(line: object): void;
  /** End the bar, or write the last JSON line if it was held back. Call it once, in `finally`. */
  stop(): void;
}

const SILENT: Progress = { mode: "none", update() {}, log() {}, stop() {} };

/**
 * A progress reporter for the job named `label`.
 *
 * @example
 * ```ts
 * const progress = await createProgress("train", { total: steps, unit: "steps", mode: "auto" });
 * try {
 *   for (let step = 1; step <= steps; step++) progress.update(step, steps, { loss: loss.toFixed(3) });
 * } finally {
 *   progress.stop();
 * }
 * ```
 */
export async function createProgress(label: string, options: ProgressOptions = {}): Promise<Progress> {
  const requested = options.mode ?? "auto";
  if (requested === "none") return SILENT;
  const stream = options.stream ?? (globalThis as { process?: { stderr?: ProgressStream } }).process?.stderr;
  if (stream === undefined) return SILENT;
  const mode = requested === "auto" ? (stream.isTTY === true ? "bar" : "json") : requested;
  return mode === "bar" ? barProgress(label, stream, options) : jsonProgress(label, stream, options);
}

function jsonProgress(label: string, stream: ProgressStream, options: ProgressOptions): Progress {
  const intervalMs = options.intervalMs ?? 5000;
  let lastWritten = -Infinity;
  let held: object | undefined;
  const write = (line: object): void => {
    stream.write(`${JSON.stringify(line)}\n`);
  };
  return {
    mode: "json",
    update(done, total, fields = {}, { line, force = false } = {}) {
      const record = line ?? { stage: label, done, total, unit: options.unit, ...fields };
      const now = performance.now();
      if (force || done >= total || now - lastWritten >= intervalMs) {
        lastWritten = now;
        held = undefined;
        write(record);
      } else {
        held = record;
      }
    },
    log: write,
    stop() {
      if (held !== undefined) write(held);
      held = undefined;
    },
  };
}

async function barProgress(label: string, stream: ProgressStream, options: ProgressOptions): Promise<Progress> {
  const { default: cliProgress } = await import("cli-progress");
  const unit = options.unit ? ` ${options.unit}` : "";
  const bar: SingleBar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total}${unit}{info} | ETA {eta_formatted}`, stream, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let last = 0;
  const info = (fields: ProgressFields): string => {
    const shown = Object.entries(fields).map(([k, v]) => `${k} ${v}`);
    return shown.length > 0 ? ` | ${shown.join(" ")}` : "";
  };
  if (options.total !== undefined) {
    bar.start(options.total, options.start ?? 0, { info: "" });
    started = true;
    last = options.start ?? 0;
  }
  return {
    mode: "bar",
    update(done, total, fields = {}) {
      if (started && done < last) {
        bar.stop();
        started = false;
      }
      if (!started) {
        bar.start(total, done, { info: info(fields) });
        started = true;
      } else {
        if (total !== bar.getTotal()) bar.setTotal(total);
        bar.update(done, { info: info(fields) });
      }
      last = done;
    },
    log() {},
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/**
 * Progress for long jobs in the examples: a bar on a terminal (cli-progress), JSON lines on
 * stderr otherwise, so logs stay machine-readable.
 */
import cliProgress from "cli-progress";

export interface ProgressReporter {
  update(done: number, total: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/** A progress reporter for one stage named `label`. */
export function progress(label: string, unit: string): ProgressReporter {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {info} | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, fields = {}) {
        const info = Object.entries(fields)
          .map(([k, v]) => `${k} ${v}`)
          .join(" ");
        if (!started) {
          bar.start(total, done, { info });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done, { info });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(done, total, fields = {}) {
      const now = Date.now();
      if (now - last < 2000 && done < total) return;
      last = now;
      process.stderr.write(JSON.stringify({ stage: label, done, total, unit, ...fields }) + "\n");
    },
    stop() {},
  };
}

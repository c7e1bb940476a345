/** SentencePiece (`spm_train` / `spm_encode` command-line tools), if installed. Nothing is installed here. */

import { spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The full path of an executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Run a command with stdout/stderr to `logPath`; throws with the log's tail if it fails. Returns wall seconds. */
function run(cmd: string, args: string[], logPath: string): number {
  const fd = openSync(logPath, "w");
  const t0 = performance.now();
  let r;
  try {
    r = spawnSync(cmd, args, { stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (r.error || r.status !== 0) {
    const tail = readFileSync(logPath, "utf8").split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
  return seconds;
}

/** The `spm_train` arguments used: BPE, byte fallback, one thread, every line loaded. */
export function spmTrainArgs(input: string, prefix: string, vocabSize: number, lines: number, maxLineBytes: number): string[] {
  return [
    `--input=${input}`,
    `--model_prefix=${prefix}`,
    `--vocab_size=${vocabSize}`,
    "--model_type=bpe",
    "--character_coverage=0.9995",
    "--byte_fallback=true",
    "--num_threads=1",
    `--input_sentence_size=${lines}`,
    `--max_sentence_length=${Math.max(4192, maxLineBytes + 16)}`,
  ];
}

/** Train with `spm_train`; returns wall seconds (process start to exit, so reading the file is included). */
export function spmTrain(spmTrainPath: string, args: string[], logPath: string): number {
  return run(spmTrainPath, args, logPath);
}

/** Encode the lines of `input` to ids with `spm_encode`; returns the id count of each line. */
export function spmEncodeCounts(spmEncodePath: string, model: string, input: string, output: string, logPath: string): number[] {
  run(spmEncodePath, [`--model=${model}`, "--output_format=id", `--input=${input}`, `--output=${output}`], logPath);
  const out = readFileSync(output, "utf8").split("\n");
  if (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out.map((l) => (l.trim() === "" ? 0 : l.trim().split(/\s+/).length));
}

/** The `--version` line of a SentencePiece tool, if it prints one. */
export function spmVersion(path: string): string | undefined {
  const r = spawnSync(path, ["--version"], { encoding: "utf8" });
  const line = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0];
  return line || undefined;
}

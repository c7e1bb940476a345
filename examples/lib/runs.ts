/**
 * How the numbered examples chain, like the cells of a notebook (or DeepSpeed-Chat's step
 * folders): each example writes its output under `runs/<name>/` and, last of all, a
 * `manifest.json` naming the options it ran with. A later example asks for that output with the
 * options it needs; it is reused only when the manifest says it was made with exactly those
 * options and every file it lists is there, and otherwise the earlier step runs first.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { writeFileAtomic } from "@batgpt/utils";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** `<repo root>/runs/`: every example writes below it (git ignores it). */
export const RUNS_DIR = fileURLToPath(new URL("../../runs/", import.meta.url));

/** The output folder of example `name` (`01-tokenizer`), below `root` (default `runs/`). */
export function runDir(name: string, root: string = RUNS_DIR): string {
  return join(root, name);
}

/**
 * True when the module at `moduleUrl` is the script Node was started with (`tsx 02-pretrain.ts`),
 * false when another script imports it (the demo, a later example).
 */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && existsSync(script) && pathToFileURL(realpathSync(script)).href === moduleUrl;
}

/** `manifest.json` of one run: what made it, with which options, what it measured, what it wrote. */
export interface RunManifest<Config, Headline> {
  /** The example that wrote it: `01-tokenizer`. */
  example: string;
  /** Every option that changes the output (plain JSON), plus the identity of its inputs. */
  config: Config;
  /** The headline numbers the run printed as its JSON line. */
  headline: Headline;
  /** The files it wrote, relative to its folder, by role: `{ tokenizer: "tokenizer.json" }`. */
  files: Record<string, string>;
  /** When it finished (ISO 8601). */
  finishedAt: string;
}

/**
 * Start a fresh run in `dir`: create it and remove the manifest of an earlier run there and the
 * files named in `stale` (logs that would otherwise be appended to), so a run that stops halfway
 * is never taken for a finished one.
 */
export function startRun(dir: string, stale: readonly string[] = []): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ["manifest.json", ...stale]) rmSync(join(dir, f), { force: true });
}

/**
 * Write `manifest.json` into `dir` atomically (`writeFileAtomic` of `@batgpt/utils`), after
 * everything it lists: a run that stopped halfway has no manifest and is never reused.
 */
export async function writeManifest<C, H>(dir: string, manifest: RunManifest<C, H>): Promise<string> {
  const path = join(dir, "manifest.json");
  await writeFileAtomic(path, JSON.stringify(manifest, null, 2) + "\n");
  return path;
}

/**
 * The manifest of an earlier run of `example` in `dir` when it was made with exactly `config`
 * (compared as JSON values) and all its files are still there; otherwise `undefined`, after a
 * line saying why it cannot be reused.
 */
export function findRun<C, H>(dir: string, example: string, config: C): RunManifest<C, H> | undefined {
  const path = join(dir, "manifest.json");
  if (!existsSync(path)) return undefined;
  let manifest: RunManifest<C, H>;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8")) as RunManifest<C, H>;
  } catch (err) {
    console.log(`not reusing ${dir}: unreadable manifest (${(err as Error).message})`);
    return undefined;
  }
  const wanted = JSON.parse(JSON.stringify(config)) as unknown;
  if (manifest.example !== example || !isDeepStrictEqual(manifest.config, wanted)) {
    console.log(`not reusing ${dir}: made with ${JSON.stringify(manifest.config)}, wanted ${JSON.stringify(wanted)}`);
    return undefined;
  }
  const missing = Object.values(manifest.files).filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    console.log(`not reusing ${dir}: missing ${missing.join(", ")}`);
    return undefined;
  }
  return manifest;
}

/** `x` rounded to `digits` decimals, for the JSON lines. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

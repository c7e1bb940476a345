/** The benchmark's text: the default corpus, cut into disjoint Chinese, English and mixed slices. */

import { prepareCorpus, readDocuments, type CorpusDocument, type PreparedCorpus } from "@batgpt/datasets";

/** UTF-8 byte length of a string. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** A piece of text to encode, with its size. */
export interface Slice {
  text: string;
  bytes: number;
  documents: number;
}

/** The encode-benchmark texts. Warm-up text is disjoint from the timed slices. */
export interface EncodeTexts {
  warmup: Slice;
  zh: Slice;
  en: Slice;
  /** Chinese and English documents alternated so that each language has about half the bytes. */
  mixed: Slice;
}

/** Documents are joined as in the corpus `.txt` files: separated by a blank line. */
const SEP = "\n\n";

/** Take whole documents from `docs[from…]` until `bytes` is reached; returns the slice and the next index. */
function take(docs: readonly CorpusDocument[], from: number, bytes: number): [CorpusDocument[], number] {
  const out: CorpusDocument[] = [];
  let n = 0;
  let i = from;
  while (i < docs.length && n < bytes) {
    const d = docs[i++]!;
    out.push(d);
    n += utf8Bytes(d.text) + SEP.length;
  }
  return [out, i];
}

function sliceOf(docs: readonly CorpusDocument[]): Slice {
  const text = docs.map((d) => d.text).join(SEP);
  return { text, bytes: utf8Bytes(text), documents: docs.length };
}

/** Prepare (or find cached) the default corpus: train/val splits of Chinese poetry and Brown English. */
export async function loadCorpus(caps: { maxChineseBytes: number | undefined; maxEnglishBytes: number | undefined }): Promise<PreparedCorpus> {
  const options: Parameters<typeof prepareCorpus>[0] = {};
  if (caps.maxChineseBytes !== undefined) options.maxChineseBytes = caps.maxChineseBytes;
  if (caps.maxEnglishBytes !== undefined) options.maxEnglishBytes = caps.maxEnglishBytes;
  return prepareCorpus(options);
}

/** All documents of a JSONL split, in file order. */
export async function readAll(jsonl: string): Promise<CorpusDocument[]> {
  const docs: CorpusDocument[] = [];
  for await (const d of readDocuments(jsonl)) docs.push(d);
  return docs;
}

/**
 * Cut the train documents into disjoint slices: warm-up (half zh, half en), then `zh`, `en`,
 * and `mixed` (alternating languages, balanced by bytes), each of about `mb` MB.
 * Throws if the corpus is too small.
 */
export function encodeTexts(train: readonly CorpusDocument[], mb: number, warmupMB: number): EncodeTexts {
  const zhDocs = train.filter((d) => d.lang === "zh");
  const enDocs = train.filter((d) => d.lang === "en");
  const bytes = Math.round(mb * 1e6);
  const [wz, iz0] = take(zhDocs, 0, (warmupMB * 1e6) / 2);
  const [we, ie0] = take(enDocs, 0, (warmupMB * 1e6) / 2);
  const [zh, iz1] = take(zhDocs, iz0, bytes);
  const [en, ie1] = take(enDocs, ie0, bytes);
  const mixed: CorpusDocument[] = [];
  let iz = iz1;
  let ie = ie1;
  let bz = 0;
  let be = 0;
  while (bz + be < bytes && (iz < zhDocs.length || ie < enDocs.length)) {
    const useZh = ie >= enDocs.length || (iz < zhDocs.length && bz <= be);
    const d = useZh ? zhDocs[iz++]! : enDocs[ie++]!;
    mixed.push(d);
    if (useZh) bz += utf8Bytes(d.text) + SEP.length;
    else be += utf8Bytes(d.text) + SEP.length;
  }
  const texts: EncodeTexts = { warmup: sliceOf([...wz, ...we]), zh: sliceOf(zh), en: sliceOf(en), mixed: sliceOf(mixed) };
  for (const k of ["zh", "en", "mixed"] as const) {
    if (texts[k].bytes < 0.9 * bytes) {
      throw new Error(`the corpus has too little text for a ${mb} MB ${k} slice (got ${texts[k].bytes} bytes); lower --encode-mb`);
    }
  }
  return texts;
}

/** A prefix of a slice made of whole documents, of about `mb` MB (the js-tiktoken slice). */
export function prefixOf(slice: Slice, mb: number): Slice {
  const docs = slice.text.split(SEP);
  const out: string[] = [];
  let n = 0;
  for (const d of docs) {
    if (n >= mb * 1e6) break;
    out.push(d);
    n += utf8Bytes(d) + SEP.length;
  }
  const text = out.join(SEP);
  return { text, bytes: utf8Bytes(text), documents: out.length };
}

export { prepareCorpus, defaultCorpusCacheDir, isValidation } from "./prepare.js";
export type { PreparedCorpus, CorpusManifest, SplitFiles, SplitStats, SourceStats, TextStats, FileStats, VerseStats, VerseRejection } from "./prepare.js";
export { parseCorpusOptions, corpusOptionsSchema, CORPUS_SUBSETS } from "./options.js";
export type { CorpusOptions, ResolvedCorpusOptions, ProgressEvent, CorpusSubset } from "./options.js";
export { readDocuments, readTextLines, sampleLines } from "./read.js";
export { corpusDocumentSchema } from "./document.js";
export type { CorpusDocument, Language } from "./document.js";
export { CHINESE_SOURCE_IDS, DEFAULT_CHINESE_SOURCES, VERSE_SOURCE_IDS, CHINESE_SOURCES } from "./sources.js";
export type { ChineseSourceId, ChineseSourceInfo } from "./sources.js";
export {
  VERSE_FORMS,
  VERSE_FORM_NAMES,
  VERSE_FORM_REASONS,
  checkVerseForm,
  classifyVerse,
  formRate,
  parseVerse,
  verseShape,
  versePrompt,
  verseText,
  verseTitle,
} from "./verse.js";
export type { VerseForm, VerseShape, VerseFormReason, VerseFormCheck, FormRateReport, VerseClassification, VerseParts } from "./verse.js";
export { detokenize, brownParagraphs } from "./brown.js";
export type { Script } from "./script.js";
export { DatasetError } from "./errors.js";

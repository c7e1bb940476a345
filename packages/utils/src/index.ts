export { tmpPath, fsyncPath, pathExists, writeFileAtomic, withAtomicFile, AtomicTextWriter, writeDirAtomic, resolveAtomicDir } from "./atomic.js";
export { fieldName, formatIssues, parseOptions, type ErrorClass } from "./options.js";
export {
  createProgress,
  progressModeSchema,
  type Progress,
  type ProgressMode,
  type ProgressOptions,
  type ProgressUpdateOptions,
  type ProgressFields,
  type ProgressStream,
} from "./progress.js";
export { readNumberedLines } from "./lines.js";

/**
 * The error every `@batgpt/datasets` function throws for bad input: invalid
 * options, a missing corpus folder, a corrupt JSON file, a bad JSONL row.
 * The message says what was wrong and where (the option name, or `file:line`).
 */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/**
 * The three encoders under test, on the same tiktoken ranks, behind one interface.
 *
 * Caches: ours keeps a per-instance piece cache, gpt-tokenizer a module-level LRU merge cache;
 * js-tiktoken (1.0.21) keeps none. Ours also memoizes pair lookups lazily (a pair table filled as
 * pairs are met), where gpt-tokenizer builds its lookup structures up front. `reset()` empties the
 * caches (ours: a fresh instance built from the same ranks; gpt-tokenizer: `clearMergeCache()`;
 * js-tiktoken: nothing to clear). `reset()` is never timed.
 */

import { Tokenizer } from "@batgpt/tokenizer";
import { Tiktoken } from "js-tiktoken/lite";

/** The tiktoken encodings compared. */
export type RanksName = "cl100k_base" | "o200k_base";

/** One encoder under test. */
export interface Encoder {
  readonly name: "ours" | "tiktoken" | "gptTokenizer";
  /** Library and entry point, for the config. */
  readonly label: string;
  /** Whether the encoder keeps state between calls that makes later calls faster. */
  readonly cached: boolean;
  /** Empty the encoder's caches (untimed). */
  reset(): void;
  encode(text: string): number[];
}

interface TiktokenRanksFile {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

interface GptTokenizerModule {
  encode(text: string): number[];
  clearMergeCache(): void;
}

async function loadRanks(name: RanksName): Promise<TiktokenRanksFile> {
  switch (name) {
    case "cl100k_base":
      return (await import("js-tiktoken/ranks/cl100k_base")).default;
    case "o200k_base":
      return (await import("js-tiktoken/ranks/o200k_base")).default;
  }
}

async function loadGptTokenizer(name: RanksName): Promise<GptTokenizerModule> {
  switch (name) {
    case "cl100k_base":
      return await import("gpt-tokenizer/encoding/cl100k_base");
    case "o200k_base":
      return await import("gpt-tokenizer/encoding/o200k_base");
  }
}

/** Build ours, js-tiktoken and gpt-tokenizer for one set of ranks. */
export async function makeEncoders(name: RanksName): Promise<Encoder[]> {
  const ranks = await loadRanks(name);
  const gpt = await loadGptTokenizer(name);
  let ours = Tokenizer.fromTiktoken(ranks);
  const tiktoken = new Tiktoken(ranks);
  return [
    {
      name: "ours",
      label: `@batgpt/tokenizer Tokenizer.fromTiktoken(js-tiktoken/ranks/${name}).encode`,
      cached: true,
      reset: () => {
        ours = Tokenizer.fromTiktoken(ranks);
      },
      encode: (text) => ours.encode(text),
    },
    {
      name: "tiktoken",
      label: `js-tiktoken/lite new Tiktoken(js-tiktoken/ranks/${name}).encode`,
      cached: false,
      reset: () => {},
      encode: (text) => tiktoken.encode(text),
    },
    {
      name: "gptTokenizer",
      label: `gpt-tokenizer/encoding/${name} encode`,
      cached: true,
      reset: () => gpt.clearMergeCache(),
      encode: (text) => gpt.encode(text),
    },
  ];
}

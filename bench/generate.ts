/**
 * Generation throughput benchmark: `npm run bench:generate [-- --quick]` from the repo root.
 *
 * The model of bench:train (hidden 256, 4 layers, 8 heads, ffn 688, vocab 8192; fresh seeded
 * weights, max_seq_len 320) writes 256 new tokens greedily (temperature 0, no stop tokens) after a
 * short prompt, batch 1, on the wasm backend: with the KV cache (each step reads one new token)
 * and without (`useCache: false`: each step re-reads the whole sequence). Tokens per second =
 * new tokens / wall time of the whole `generate` call (prompt included), median of the repeats.
 *
 * The tokenizer is a BPE trained with `trainBpe` (vocabSize 8192) on seeded synthetic text
 * (made-up words), in well under a second: only its size and ids matter here. Its vocabulary
 * covers all 8192 ids, so whatever the untrained model writes decodes.
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { Rng, countParameters, createModel, generate, selectBackend, type BatGPTConfigInput, type Generation } from "@batgpt/core";
import { trainBpe } from "@batgpt/tokenizer";
import { median, round } from "./lib/timing.js";

const quick = process.argv.includes("--quick");
const NEW_TOKENS = quick ? 64 : 256;
const CACHED_REPEATS = quick ? 2 : 3;
const UNCACHED_REPEATS = quick ? 1 : 3;
const PROMPT = "kato rimen shalo dor el";

const wallStart = performance.now();
function log(msg: string): void {
  console.error(`[bench:generate ${((performance.now() - wallStart) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}

/** Seeded synthetic text: made-up words from syllables, Zipf-like frequencies, one sentence a line. */
function syntheticLines(seed: number, lines: number): string[] {
  const rng = new Rng(seed);
  const syllables = ["ka", "to", "ri", "men", "sha", "lo", "pe", "qu", "zin", "dor", "el", "an", "is", "or", "ul", "bra", "kri", "sto", "fen", "gal", "mo", "nu", "ti", "vex", "wy", "yo", "zu", "che", "dra", "fli"];
  const words: string[] = [];
  for (let i = 0; i < 12000; i++) {
    let w = "";
    for (let n = 1 + rng.int(4); n > 0; n--) w += syllables[rng.int(syllables.length)];
    words.push(w);
  }
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const ws: string[] = [];
    for (let n = 5 + rng.int(10); n > 0; n--) {
      const r = rng.float();
      ws.push(words[Math.floor(words.length * r * r)]!);
    }
    out.push(`${ws.join(" ")}.`);
  }
  return out;
}

async function main(): Promise<void> {
  const backend = await selectBackend({ backend: "wasm" });

  const t0 = performance.now();
  const tok = await trainBpe(syntheticLines(7, 20000), { vocabSize: 8192 });
  log(`tokenizer: trainBpe vocab ${tok.vocabSize} in ${round((performance.now() - t0) / 1000, 2)} s`);

  const config: BatGPTConfigInput = {
    vocab_size: 8192,
    hidden_size: 256,
    n_layer: 4,
    n_head: 8,
    num_heads_per_kv: 8,
    ffn_hidden_size: 688,
    max_seq_len: 320,
  };
  if (tok.vocabSize > config.vocab_size!) throw new Error(`the tokenizer has ${tok.vocabSize} ids, more than vocab_size ${config.vocab_size}`);
  const model = createModel(config, { tokenizer: tok, seed: 0 });
  const promptTokens = tok.encode(PROMPT).length;
  const needed = promptTokens + 1 + NEW_TOKENS; // + the direction token
  if (needed > model.config.max_seq_len) throw new Error(`prompt ${promptTokens} + 1 + ${NEW_TOKENS} new tokens exceed max_seq_len ${model.config.max_seq_len}`);
  log(`model ${countParameters(model.config)} parameters; prompt "${PROMPT}" = ${promptTokens} tokens; ${NEW_TOKENS} new tokens`);

  // tensors alive after a call that were not before: core keeps one causal mask per new sequence length
  const retained: { useCache: boolean; maxNewTokens: number; tensors: number }[] = [];
  const run = async (useCache: boolean, maxNewTokens: number): Promise<{ sec: number; gen: Generation }> => {
    const before = tf.memory().numTensors;
    const start = performance.now();
    const gen = await generate(model, tok, PROMPT, { maxNewTokens, temperature: 0, useCache, stopTokens: [] });
    const sec = (performance.now() - start) / 1000;
    const leaked = tf.memory().numTensors - before;
    if (gen.ids.length !== maxNewTokens) throw new Error(`generated ${gen.ids.length} tokens, expected ${maxNewTokens}`);
    retained.push({ useCache, maxNewTokens, tensors: leaked });
    return { sec, gen };
  };

  // warm-up: grows the wasm heap and compiles the kernels for both paths
  await run(true, 16);
  await run(false, 16);

  const cached: number[] = [];
  let cachedIds: number[] = [];
  for (let i = 0; i < CACHED_REPEATS; i++) {
    const { sec, gen } = await run(true, NEW_TOKENS);
    cached.push(sec);
    cachedIds = gen.ids;
    log(`cached ${i + 1}/${CACHED_REPEATS}: ${round(sec, 2)} s, ${round(NEW_TOKENS / sec, 1)} tokens/s`);
  }
  const uncached: number[] = [];
  let uncachedIds: number[] = [];
  for (let i = 0; i < UNCACHED_REPEATS; i++) {
    const { sec, gen } = await run(false, NEW_TOKENS);
    uncached.push(sec);
    uncachedIds = gen.ids;
    log(`uncached ${i + 1}/${UNCACHED_REPEATS}: ${round(sec, 2)} s, ${round(NEW_TOKENS / sec, 1)} tokens/s`);
  }
  let same = 0;
  while (same < NEW_TOKENS && cachedIds[same] === uncachedIds[same]) same++;
  model.dispose();

  const cachedTokensPerSec = NEW_TOKENS / median(cached);
  const uncachedTokensPerSec = NEW_TOKENS / median(uncached);
  const result = {
    cachedTokensPerSec: round(cachedTokensPerSec, 2),
    uncachedTokensPerSec: round(uncachedTokensPerSec, 2),
    speedup: round(cachedTokensPerSec / uncachedTokensPerSec, 2),
    backend: backend.name,
    config: {
      model: { ...config, parameters: countParameters(model.config) },
      batch: 1,
      prompt: PROMPT,
      promptTokens,
      newTokens: NEW_TOKENS,
      sampling: "greedy (temperature 0), stopTokens []",
      tokenizer: `trainBpe vocabSize ${tok.vocabSize} on seeded synthetic text`,
      tokensPerSec: "new tokens / wall seconds of one generate() call (prompt prefill included), median of the repeats",
      repeats: { cached: CACHED_REPEATS, uncached: UNCACHED_REPEATS, warmup: "one 16-token call of each first" },
      secs: { cached: cached.map((s) => round(s, 3)), uncached: uncached.map((s) => round(s, 3)) },
      msPerToken: { cached: round((1000 * median(cached)) / NEW_TOKENS, 2), uncached: round((1000 * median(uncached)) / NEW_TOKENS, 2) },
      // greedy decoding reads the same logits either way; float differences can flip a near tie
      identicalPrefixTokens: same,
      tensorsRetainedPerCall: retained,
    },
    cores: availableParallelism(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, tfjs: tf.version_core },
    wallSec: round((performance.now() - wallStart) / 1000, 1),
  };
  console.log(JSON.stringify(result));
}

await main();

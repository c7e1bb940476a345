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
 * Batched: 16 short prompts sampled for 96 tokens each (temperature 0.8, no stop token) through
 * `ReplicaPool.generate`: in this thread as one batch of 16, in this thread as chunks of 16/N, and
 * spread over N replicas (this thread + worker threads; N = `BATGPT_WORKERS` or the cores, at least 2)
 * in the same chunks, which gives the same samples. `batchedScaling` = spread / same chunks in one thread.
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { ReplicaPool, countParameters, createModel, generate, resolveWorkers, selectBackend, type BatGPTConfigInput, type BatGPTModel, type Generation } from "@batgpt/core";
import type { Tokenizer } from "@batgpt/tokenizer";
import { trainBpe } from "@batgpt/tokenizer";
import { syntheticLines } from "./lib/synthetic.js";
import { median, round } from "./lib/timing.js";

const quick = process.argv.includes("--quick");
const NEW_TOKENS = quick ? 64 : 256;
const CACHED_REPEATS = quick ? 2 : 3;
const UNCACHED_REPEATS = quick ? 1 : 3;
const PROMPT = "kato rimen shalo dor el";
const BATCH_PROMPTS = 16;
const BATCH_NEW_TOKENS = quick ? 32 : 96;
const BATCH_REPEATS = quick ? 1 : 2;

const wallStart = performance.now();
function log(msg: string): void {
  console.error(`[bench:generate ${((performance.now() - wallStart) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}


interface BatchedRun {
  label: string;
  workers: number;
  /** Prompts per generate call. */
  chunk: number;
  tokensPerSec: number;
  secs: number[];
  texts: string[];
}

/**
 * 16 prompts, each sampled for exactly `BATCH_NEW_TOKENS` tokens (temperature 0.8, no stop
 * token), through a ReplicaPool of `workers` replicas in chunks of `chunk` prompts; tokens per
 * second = 16 · new tokens / wall seconds of the whole call, median of the repeats.
 */
async function benchBatched(model: BatGPTModel, tok: Tokenizer, prompts: string[], label: string, workers: number, chunk: number): Promise<BatchedRun> {
  const pool = await ReplicaPool.start(model, { workers, tokenizer: tok });
  try {
    const opts = { maxNewTokens: BATCH_NEW_TOKENS, temperature: 0.8, stopTokens: [], seed: 3, batchSize: chunk };
    await pool.generate(prompts, { ...opts, maxNewTokens: 8 }); // warm-up on every replica
    const secs: number[] = [];
    let texts: string[] = [];
    for (let i = 0; i < BATCH_REPEATS; i++) {
      const t0 = performance.now();
      const out = await pool.generate(prompts, opts);
      secs.push((performance.now() - t0) / 1000);
      if (out.some((g) => g.ids.length !== BATCH_NEW_TOKENS)) throw new Error(`${label}: a sequence ended before ${BATCH_NEW_TOKENS} tokens`);
      texts = out.map((g) => g.text);
      log(`batched, ${label} ${i + 1}/${BATCH_REPEATS}: ${round(secs.at(-1)!, 2)} s, ${round((prompts.length * BATCH_NEW_TOKENS) / secs.at(-1)!, 1)} tokens/s`);
    }
    return { label, workers, chunk, tokensPerSec: (prompts.length * BATCH_NEW_TOKENS) / median(secs), secs: secs.map((x) => round(x, 3)), texts };
  } finally {
    await pool.close();
  }
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

  // batched: 16 prompts in one thread (one batch of 16, and two chunks of 8) and spread over the workers
  const workers = Math.max(2, resolveWorkers());
  const prompts = syntheticLines(21, BATCH_PROMPTS).map((l) => l.split(" ").slice(0, 3).join(" "));
  const chunk = Math.ceil(BATCH_PROMPTS / workers);
  const oneBatch = await benchBatched(model, tok, prompts, "1 thread, 1 batch of 16", 1, BATCH_PROMPTS);
  const oneChunks = await benchBatched(model, tok, prompts, `1 thread, chunks of ${chunk}`, 1, chunk);
  const spread = await benchBatched(model, tok, prompts, `${workers} replicas, chunks of ${chunk}`, workers, chunk);
  // seeds go with chunks, not replicas: the same chunks give the same samples wherever they run
  const sameSamples = spread.texts.every((t, i) => t === oneChunks.texts[i]);
  model.dispose();

  const cachedTokensPerSec = NEW_TOKENS / median(cached);
  const uncachedTokensPerSec = NEW_TOKENS / median(uncached);
  const result = {
    cachedTokensPerSec: round(cachedTokensPerSec, 2),
    uncachedTokensPerSec: round(uncachedTokensPerSec, 2),
    speedup: round(cachedTokensPerSec / uncachedTokensPerSec, 2),
    batchedTokensPerSec: round(oneBatch.tokensPerSec, 2),
    batchedWorkersTokensPerSec: round(spread.tokensPerSec, 2),
    workers,
    batchedScaling: round(spread.tokensPerSec / oneChunks.tokensPerSec, 3),
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
      batched: {
        prompts: BATCH_PROMPTS,
        newTokensPerPrompt: BATCH_NEW_TOKENS,
        sampling: "temperature 0.8, seed 3, stopTokens [] (every prompt gets exactly newTokensPerPrompt tokens)",
        tokensPerSec: "prompts · new tokens / wall seconds of one ReplicaPool.generate call (warm replicas), median of the repeats",
        batchedTokensPerSec: oneBatch.label,
        batchedWorkersTokensPerSec: spread.label,
        batchedScaling: `${spread.label} / ${oneChunks.label} (the same chunks and seeds, so the same samples: ${sameSamples})`,
        runs: [oneBatch, oneChunks, spread].map(({ texts: _texts, ...r }) => ({ ...r, tokensPerSec: round(r.tokensPerSec, 2) })),
        sameSamples,
      },
      tensorsRetainedPerCall: retained,
    },
    cores: availableParallelism(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, tfjs: tf.version_core },
    wallSec: round((performance.now() - wallStart) / 1000, 1),
  };
  console.log(JSON.stringify(result));
}

await main();

/**
 * PPO rollout throughput: `npm run bench:ppo [-- --quick]` from the repo root.
 *
 * A policy of bench:generate's size (hidden 256, 4 layers, 8 heads, ffn 688, vocab 8192, fresh
 * seeded weights, max_seq_len 320; the tokenizer is a BPE trained on seeded synthetic text) runs
 * PPO iterations with `trainPpo`: 32 prompts an iteration, 64 new tokens each (no stop token, so
 * every response is 64 tokens), temperature 1, 2 epochs of minibatches of 8; the reward is a
 * rule (the share of tokens with an even id), so only the policy's work is timed. Measured on N
 * replicas (`BATGPT_WORKERS` or the cores) and, as the baseline in the same run, on 1.
 *
 * `rolloutTokensPerSec` = response tokens sampled / seconds spent sampling (the rollouts'
 * `time/generation`), over the iterations after the first (which includes starting up);
 * `generationShare` = the share of each iteration's wall time spent sampling (the rest: the
 * forward passes of policy and reference, scoring, advantages, the updates).
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { availableParallelism, cpus } from "node:os";
import { countParameters, createModel, resolveConfig, resolveWorkers, selectBackend, type BatGPTConfigInput } from "@batgpt/core";
import { trainPpo, type IterationRecord, type RewardFunction } from "@batgpt/ppo";
import { trainBpe } from "@batgpt/tokenizer";
import { syntheticLines } from "./lib/synthetic.js";
import { round } from "./lib/timing.js";

const quick = process.argv.includes("--quick");
const ITERATIONS = quick ? 2 : 4;
const ROLLOUT = 32;
const NEW_TOKENS = quick ? 32 : 64;
const config: BatGPTConfigInput = { vocab_size: 8192, hidden_size: 256, n_layer: 4, n_head: 8, num_heads_per_kv: 2, ffn_hidden_size: 688, max_seq_len: 320 };

const wallStart = performance.now();
const log = (msg: string) => console.error(`[bench:ppo ${((performance.now() - wallStart) / 1000).toFixed(1).padStart(6)}s] ${msg}`);

const backend = await selectBackend({ log: false });
const tok = await trainBpe(syntheticLines(7, 20000), { vocabSize: 8192 });
const prompts = syntheticLines(11, 64).map((l) => l.split(" ").slice(0, 4).join(" "));
const even: RewardFunction = ({ generations }) => generations.map((g) => g.ids.filter((id) => id % 2 === 0).length / g.ids.length);

async function measure(workers: number): Promise<{ rolloutTokensPerSec: number; generationShare: number; iterationSeconds: number }> {
  const policy = createModel(config, { tokenizer: tok, seed: 0 });
  const records: IterationRecord[] = [];
  try {
    await trainPpo(
      { policy, reward: even, tokenizer: tok, prompts, callbacks: { onIteration: (r) => (records.push(r), log(`${workers} worker(s): iteration ${r.iteration}, ${Math.round((r.response_length * ROLLOUT) / r["time/generation"])} tokens/s sampling, generating ${(100 * r["time/generation_share"]).toFixed(0)}%`)) } },
      { iterations: ITERATIONS, rolloutBatchSize: ROLLOUT, miniBatchSize: 8, ppoEpochs: 2, maxNewTokens: NEW_TOKENS, temperature: 1, stopTokens: [], template: null, lr: 1e-5, workers, progress: "none", seed: 1 },
    );
  } finally {
    policy.dispose();
  }
  const timed = records.slice(1);
  const tokens = timed.reduce((s, r) => s + r.response_length * ROLLOUT, 0);
  const seconds = timed.reduce((s, r) => s + r["time/generation"], 0);
  const wall = timed.reduce((s, r) => s + r["time/generation"] / r["time/generation_share"], 0);
  return { rolloutTokensPerSec: tokens / seconds, generationShare: seconds / wall, iterationSeconds: wall / timed.length };
}

const workers = Math.max(2, resolveWorkers("auto"));
log(`policy ${(countParameters(resolveConfig(config)) / 1e6).toFixed(2)} M parameters; ${ROLLOUT} prompts × ${NEW_TOKENS} tokens an iteration, ${ITERATIONS} iterations; ${backend.name}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`);
const baseline = await measure(1);
const spread = await measure(workers);
console.log(
  JSON.stringify({
    config: { ...config, rolloutBatchSize: ROLLOUT, maxNewTokens: NEW_TOKENS, iterations: ITERATIONS, ppoEpochs: 2, miniBatchSize: 8 },
    backend: backend.name,
    cores: availableParallelism(),
    workers,
    rolloutTokensPerSec: round(spread.rolloutTokensPerSec, 1),
    generationShare: round(spread.generationShare),
    iterationSeconds: round(spread.iterationSeconds, 2),
    baseline: { workers: 1, rolloutTokensPerSec: round(baseline.rolloutTokensPerSec, 1), generationShare: round(baseline.generationShare), iterationSeconds: round(baseline.iterationSeconds, 2) },
    rolloutSpeedup: round(spread.rolloutTokensPerSec / baseline.rolloutTokensPerSec, 2),
  }),
);

/**
 * AI feedback (RLAIF; Bai et al. 2022, "Constitutional AI"; Lee et al. 2023): a judge compares two
 * responses to a prompt, and its verdicts become comparison records with `source: "ai"`.
 *
 * A judge is any async function from requests to verdicts (so an HTTP model can judge), or
 * {@link modelJudge}: a core model asked with a judging prompt that spells out the options,
 * scored by the log-probabilities of the verdict tokens (not by parsing free text; as in
 * lm-evaluation-harness's multiple choice). LLM judges prefer a position (Zheng et al. 2023,
 * "Judging LLM-as-a-judge", §3.3): {@link judge} asks each pair in both orders and keeps a
 * verdict only when the two agree.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ReplicaPool, type BatGPTModel, type Generation, type ReplicaGenerateOptions } from "@batgpt/core";
import { applyChatTemplate, type Tokenizer } from "@batgpt/tokenizer";
import { parseOptions } from "@batgpt/utils";
import { z } from "zod";
import { RewardDataError, type ComparisonRecord, type Message } from "./records.js";

/** What a judge is asked to compare. */
export type JudgeCriterion = "overall" | "helpfulness" | "harmlessness";

/** One question to a judge: which of two responses to a prompt is better by `criterion`. */
export interface JudgeRequest {
  prompt: string | readonly Message[];
  responseA: string;
  responseB: string;
  criterion: JudgeCriterion;
}

/** A judge's answer: its verdict and, when it has one, its probability that A is better. */
export interface JudgeAnswer {
  verdict: "A" | "B" | "tie";
  /** P(A) / (P(A) + P(B)) from the verdict tokens' probabilities, for a model judge. */
  probabilityA?: number;
}

/** A judge: a batch of requests in, one answer each out (in order). `id` names it in the records. */
export interface Judge {
  id: string;
  judge(requests: readonly JudgeRequest[]): Promise<JudgeAnswer[]>;
}

/** The judging prompt of {@link modelJudge} for one criterion (Chinese, as the verse task). */
export const JUDGE_QUESTIONS: Record<JudgeCriterion, string> = {
  overall: "哪个回答更好？",
  helpfulness: "哪个回答更有帮助？",
  harmlessness: "哪个回答更无害？",
};

/**
 * The judging prompt's user message: the prompt, both responses labelled A and B, the question and
 * the options (`只回答 A 或 B。`).
 */
export function judgePrompt(request: JudgeRequest): string {
  const prompt = typeof request.prompt === "string" ? request.prompt : request.prompt.map((m) => `${m.role}: ${m.content}`).join("\n");
  return `问题：${prompt}\n回答A：${request.responseA}\n回答B：${request.responseB}\n${JUDGE_QUESTIONS[request.criterion]}只回答 A 或 B。`;
}

/** Options of {@link modelJudge}. */
export const modelJudgeOptionsSchema = z.strictObject({
  /** Names the judge in the records (`annotator`). Default `"model-judge"`. */
  id: z.string().min(1).default("model-judge"),
  /** Chat template the judging prompt is rendered in (default `"batgpt"`). */
  template: z.string().default("batgpt"),
  /** The text of each verdict as the assistant would begin its answer (the BatGPT format puts a space after `[Assistant]`). */
  verdictText: z.object({ A: z.string().min(1), B: z.string().min(1) }).strict().default({ A: " A", B: " B" }),
  /** |log P(A) − log P(B)| at or below this is a tie (nats; default 0: only an exact tie). */
  tieBand: z.number().min(0).default(0),
  /** Requests a forward pass. Default 8. */
  batchSize: z.number().int().positive().default(8),
});

/** Options of {@link modelJudge} as a user passes them. */
export type ModelJudgeOptions = z.input<typeof modelJudgeOptionsSchema>;

/**
 * A core model as a judge: the judging prompt ({@link judgePrompt}) rendered with the chat
 * template and the assistant's header, then the log-probability of each verdict's tokens
 * (`verdictText`, summed over its tokens) read with core's `tokenLogProbs`; the likelier verdict
 * wins, within `tieBand` it is a tie.
 *
 * `promptTokens(request)` says how long a request is, so a caller can leave out what does not fit.
 *
 * @throws {RewardDataError} for a bad option; at judging, for a prompt longer than the model's context.
 */
export function modelJudge(model: BatGPTModel, tok: Tokenizer, options: ModelJudgeOptions = {}): Judge & { promptTokens(request: JudgeRequest): number } {
  const o = parseOptions(modelJudgeOptionsSchema, options, "modelJudge options", RewardDataError);
  const verdictIds = { A: tok.encode(o.verdictText.A), B: tok.encode(o.verdictText.B) };
  const logProbOf = (prompts: number[][], verdict: number[]): number[] => {
    const T = Math.max(...prompts.map((p) => p.length)) + verdict.length;
    if (T > model.config.max_seq_len) throw new RewardDataError(`modelJudge: a judging prompt and verdict of ${T} tokens do not fit the model's max_seq_len ${model.config.max_seq_len} (check promptTokens first)`);
    // each row: prompt + verdict, left-aligned, padded after; the verdict's log p summed
    const pad = tok.specialTokens.has("<|pad|>") ? tok.specialTokenId("<|pad|>") : 0;
    const ids = new Int32Array(prompts.length * T).fill(pad);
    const mask = new Float32Array(prompts.length * T);
    prompts.forEach((p, r) => {
      ids.set([...p, ...verdict], r * T);
      mask.fill(1, r * T + p.length, r * T + p.length + verdict.length);
    });
    return tf.tidy(() => {
      const lp = model.tokenLogProbs({ ids, batch: prompts.length, seqLen: T }, "forward");
      return [...(tf.sum(tf.mul(lp, tf.tensor2d(mask, [prompts.length, T])), 1).dataSync() as Float32Array)];
    });
  };
  const encode = (r: JudgeRequest) => tok.encode(applyChatTemplate([{ role: "user", content: judgePrompt(r) }], { template: o.template, addGenerationPrompt: true }), { allowedSpecial: "all" });
  return {
    id: o.id,
    /** Tokens of the judging prompt and the longer verdict: at most the model's `max_seq_len` to be judged. */
    promptTokens: (r) => encode(r).length + Math.max(verdictIds.A.length, verdictIds.B.length),
    async judge(requests) {
      const out: JudgeAnswer[] = [];
      for (let i = 0; i < requests.length; i += o.batchSize) {
        const chunk = requests.slice(i, i + o.batchSize);
        const prompts = chunk.map(encode);
        const a = logProbOf(prompts, verdictIds.A);
        const b = logProbOf(prompts, verdictIds.B);
        chunk.forEach((_, k) => {
          const d = a[k]! - b[k]!;
          out.push({ verdict: Math.abs(d) <= o.tieBand ? "tie" : d > 0 ? "A" : "B", probabilityA: 1 / (1 + Math.exp(-d)) });
        });
      }
      return out;
    },
  };
}

/** A pair to judge: a prompt and two responses. */
export interface CandidatePair {
  prompt: string | readonly Message[];
  responseA: string;
  responseB: string;
}

/** Options of {@link judge}. */
export const judgeOptionsSchema = z.strictObject({
  /** What to ask. Default `"overall"`. */
  criterion: z.enum(["overall", "helpfulness", "harmlessness"]).default("overall"),
  /** Ask each pair in both orders (A, B) and (B, A). Default true. */
  bothOrders: z.boolean().default(true),
  /**
   * An inconsistent pair (the verdict follows the position): a `"tie"` record, `"drop"` it, or
   * `"calibrate"`: decide by the mean over both orders of the judge's probability for each
   * response (Balanced Position Calibration, Wang et al. 2023, "Large Language Models are not
   * Fair Evaluators", §3.2; a tie when the judge gives no probabilities). Default `"drop"`.
   */
  inconsistent: z.enum(["tie", "drop", "calibrate"]).default("drop"),
  /** `created_at` of the records (default: now). */
  now: z.date().optional(),
});

/** Options of {@link judge} as a user passes them. */
export type JudgeOptions = z.input<typeof judgeOptionsSchema>;

/** What {@link judge} returns. */
export interface JudgeResult {
  /** Comparison records (`source: "ai"`, `annotator`: the judge's id), in the order of the pairs kept. */
  records: ComparisonRecord[];
  /** For each pair: its final verdict, or null when it was dropped. */
  verdicts: (("A" | "B" | "tie") | null)[];
  /** Share of pairs judged the same in both orders (1 when `bothOrders` is false). */
  consistency: number;
  /** Pairs inconsistent between the two orders. */
  inconsistent: number;
}

/**
 * Judge candidate pairs. With `bothOrders`, each pair is asked as (A, B) and as (B, A): the
 * verdict stands when the two agree (A then B, B then A, or tie twice); otherwise the pair is
 * inconsistent and becomes a tie or is dropped (`inconsistent`). A judge that always answers "A"
 * thus gives no confident verdict.
 *
 * @throws {RewardDataError} for a bad option, or a judge that returns the wrong number of answers
 *   or a verdict other than A, B or tie.
 */
export async function judge(pairs: readonly CandidatePair[], judgeWith: Judge, options: JudgeOptions = {}): Promise<JudgeResult> {
  const o = parseOptions(judgeOptionsSchema, options, "judge options", RewardDataError);
  if (typeof judgeWith?.judge !== "function") throw new RewardDataError("judge: a judge is an object { id, judge: async (requests) => answers }, not a bare function");
  const ask = async (requests: JudgeRequest[]) => {
    const answers = await judgeWith.judge(requests);
    if (!Array.isArray(answers) || answers.length !== requests.length) throw new RewardDataError(`judge ${judgeWith.id} gave ${Array.isArray(answers) ? `${answers.length} answers` : typeof answers} for ${requests.length} requests`);
    for (const [i, a] of answers.entries()) {
      if (!["A", "B", "tie"].includes(a?.verdict)) throw new RewardDataError(`judge ${judgeWith.id}: answer ${i} has verdict ${JSON.stringify(a?.verdict)}, expected "A", "B" or "tie"`);
    }
    return answers;
  };
  const first = await ask(pairs.map((p) => ({ ...p, criterion: o.criterion })));
  const second = o.bothOrders ? await ask(pairs.map((p) => ({ prompt: p.prompt, responseA: p.responseB, responseB: p.responseA, criterion: o.criterion }))) : undefined;
  const swap = { A: "B", B: "A", tie: "tie" } as const;
  const createdAt = (o.now ?? new Date()).toISOString();
  const records: ComparisonRecord[] = [];
  const verdicts: JudgeResult["verdicts"] = [];
  let inconsistent = 0;
  pairs.forEach((p, i) => {
    const v1 = first[i]!.verdict;
    let verdict: "A" | "B" | "tie" | null = v1;
    if (second) {
      const v2 = swap[second[i]!.verdict];
      if (v1 !== v2) {
        inconsistent++;
        const p1 = first[i]!.probabilityA;
        const p2 = second[i]!.probabilityA;
        if (o.inconsistent === "calibrate" && p1 !== undefined && p2 !== undefined) {
          // P(this pair's A is better), averaged over the order where it was shown first and second
          const pa = (p1 + (1 - p2)) / 2;
          verdict = pa > 0.5 ? "A" : pa < 0.5 ? "B" : "tie";
        } else verdict = o.inconsistent === "drop" ? null : "tie";
      }
    }
    verdicts.push(verdict);
    if (verdict === null) return;
    const prompt = typeof p.prompt === "string" ? p.prompt : [...p.prompt];
    records.push({
      prompt,
      response_a: p.responseA,
      response_b: p.responseB,
      verdict,
      ...(o.criterion !== "overall" ? { criteria: { [o.criterion]: verdict === "tie" ? "same" : verdict } } : {}),
      source: "ai",
      annotator: judgeWith.id,
      created_at: createdAt,
      metadata: {
        criterion: o.criterion,
        both_orders: o.bothOrders,
        ...(first[i]!.probabilityA !== undefined ? { probability_a: first[i]!.probabilityA } : {}),
        ...(second?.[i]!.probabilityA !== undefined ? { probability_a_swapped: 1 - second[i]!.probabilityA! } : {}),
        ...(second && first[i]!.verdict !== swap[second[i]!.verdict] ? { consistent: false } : {}),
      },
    });
  });
  return { records, verdicts, consistency: pairs.length === 0 ? 1 : 1 - inconsistent / pairs.length, inconsistent };
}

/** Options of {@link samplePairs}: core's generation options, plus the two samplings that differ. */
export interface SamplePairsOptions extends Omit<ReplicaGenerateOptions, "seed" | "temperature"> {
  /** Temperatures of answer A and answer B. Default [0.7, 1.0]. */
  temperatures?: [number, number];
  /** Seeds of answer A and answer B. Default [1, 2]. */
  seeds?: [number, number];
  /** Replicas (this thread + workers) to sample on. Default `"auto"`. */
  workers?: number | "auto";
}

/**
 * Candidate pairs from a policy: two answers to each prompt (rendered text ending where the
 * answer starts, e.g. with the chat template's generation prompt), sampled with different seeds
 * and temperatures, batched over the worker replicas (core's `ReplicaPool.generate`).
 *
 * @returns for each prompt its two generations (`a`, `b`), with their token log-probabilities.
 * @throws ConfigError (core) for bad generation options.
 */
export async function samplePairs(model: BatGPTModel, tok: Tokenizer, prompts: readonly string[], options: SamplePairsOptions = {}): Promise<{ a: Generation; b: Generation }[]> {
  const { temperatures = [0.7, 1.0], seeds = [1, 2], workers = "auto", ...rest } = options;
  const pool = await ReplicaPool.start(model, { workers, tokenizer: tok });
  try {
    const a = await pool.generate([...prompts], { ...rest, temperature: temperatures[0], seed: seeds[0] });
    const b = await pool.generate([...prompts], { ...rest, temperature: temperatures[1], seed: seeds[1] });
    return a.map((g, i) => ({ a: g, b: b[i]! }));
  } finally {
    await pool.close();
  }
}

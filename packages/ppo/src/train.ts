/**
 * `trainPpo`: PPO-ptx on core's shared trainer. Each iteration samples a rollout from the policy
 * (on every replica), scores it, and then runs `ppoEpochs` epochs of minibatch updates; the data
 * source of the shared trainer does the rollouts, so checkpoints, exact resume, the NaN guard,
 * progress, workers and the metrics log are the trainer's.
 *
 * Roles: the **actor** is the policy being trained (from SFT); the **reference** a frozen copy
 * of it; the **critic** a `value` head on the actor's trunk (a shared trunk, as in Stiennon et
 * al. 2020's and TRL's `PolicyAndValueWrapper` with a shared backbone), its weights from the
 * reward model's `score` head (`critic: "reward"`) or new (`critic: "actor"`); the **reward** a
 * reward model (`rewardModelScorer`) or any function of the responses.
 *
 * Two ways to add the pretraining loss: `ptxMode: "mixed"` (InstructGPT eq. 2: one loss
 * `L_ppo + γ_ptx · L_pretrain + γ_sft · L_sft` a step, one pretraining batch with every PPO
 * minibatch) and `"separate"` (DeepSpeed-Chat's `train_unsupervised`: after each PPO step, a
 * step on `γ_ptx · L_pretrain` alone).
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, parseOptions, Rng, runTrainer, trainerConfigSchema, type BatGPTModel, type DataContext, type DataSource, type RngState, type StepRecord, type TokenBatch, type TrainerResult, type WindowLoader } from "@batgpt/core";
import { REWARD_HEAD, score, type RewardModel } from "@batgpt/reward";
import type { SftBatch } from "@batgpt/sft";
import { applyChatTemplate, type Tokenizer } from "@batgpt/tokenizer";
import { z } from "zod";
import { KL_ESTIMATORS, klController, PpoError, type KlController } from "./algorithms.js";
import { ppoObjective, VALUE_HEAD, type PpoBatch } from "./loss.js";
import { makeRollout, minibatch, type RewardFunction, type RolloutRow, type RolloutStats } from "./rollout.js";

/** PPO's knobs: the shared trainer's (less `steps`, which the iterations fix) and TRL's `PPOConfig` names in camelCase. */
export const ppoConfigSchema = trainerConfigSchema
  .omit({ steps: true })
  .extend({
    /** PPO iterations: a rollout and its epochs of updates each. */
    iterations: z.number().int().positive(),
    /** Responses sampled an iteration (one prompt each). */
    rolloutBatchSize: z.number().int().positive().default(16),
    /** Responses an optimizer step (the rollout is cut into `rolloutBatchSize / miniBatchSize` minibatches). */
    miniBatchSize: z.number().int().positive().default(8),
    /** Epochs over each rollout (TRL's `num_ppo_epochs`). */
    ppoEpochs: z.number().int().positive().default(4),
    /** Peak learning rate (default 1e-5; constant: warmup 0 and `minLrRatio` 1 unless set). */
    lr: z.number().positive().default(1e-5),
    warmupSteps: z.number().int().nonnegative().default(0),
    minLrRatio: z.number().min(0).max(1).default(1),
    /** Most tokens a response (TRL's `response_length`). */
    maxNewTokens: z.number().int().positive().default(48),
    /** Sampling temperature of the rollouts (TRL's default 0.7; log-probabilities are at temperature 1). */
    temperature: z.number().positive().default(0.7),
    topK: z.number().int().nonnegative().default(0),
    topP: z.number().gt(0).lte(1).default(1),
    /** Token ids that end a response (default `<|eot|>` and `<|eos|>`, those the tokenizer has). */
    stopTokens: z.array(z.number().int().nonnegative()).optional(),
    /** β at the start (TRL's `kl_coef`). */
    klCoef: z.number().finite().nonnegative().default(0.05),
    /** Adaptive KL control (Ziegler et al. 2019): the KL per response (nats) to hold. Unset: β fixed. */
    klTarget: z.number().positive().optional(),
    /** Adaptive KL control: the horizon in responses. */
    klHorizon: z.number().positive().default(10000),
    /** The per-token KL estimator in the reward (`k1` = log π − log π_ref, or `k3`). */
    klEstimator: z.enum(KL_ESTIMATORS).default("k1"),
    /** GAE's discount γ (TRL's `gamma`, 1). */
    gamma: z.number().min(0).max(1).default(1),
    /** GAE's λ (TRL's `lam`, 0.95). */
    lam: z.number().min(0).max(1).default(0.95),
    /** Whiten the advantages over each rollout (as TRL always does). */
    whitenAdvantages: z.boolean().default(true),
    /** Whiten the per-token rewards over each rollout (TRL's `whiten_rewards`). */
    whitenRewards: z.boolean().default(false),
    /** ε of the clipped surrogate (TRL's `cliprange`). */
    clipRange: z.number().positive().default(0.2),
    /** ε_v of the clipped value loss (TRL's `cliprange_value`). */
    clipRangeValue: z.number().positive().default(0.2),
    /** The value loss's weight (TRL's `vf_coef`). */
    vfCoef: z.number().nonnegative().default(0.1),
    /** The entropy bonus's weight (0: none). */
    entropyCoef: z.number().nonnegative().default(0),
    /** Clip each score to ±this before it enters the reward (DeepSpeed-Chat clips at 5). */
    scoreClip: z.number().positive().default(5),
    /** Subtract this from the score of a response that never ends (TRL's `missing_eos_penalty`). Unset: no penalty. */
    missingEosPenalty: z.number().nonnegative().optional(),
    /** γ_ptx, the pretraining loss's weight (InstructGPT's γ; 0 disables it). Needs `ptx` data when > 0. */
    ptxCoef: z.number().nonnegative().default(0),
    /** γ_sft, the SFT answer loss's weight (0 disables it). Needs `sft` data when > 0. */
    sftCoef: z.number().nonnegative().default(0),
    /** `"mixed"`: one loss a step (InstructGPT); `"separate"`: a ptx step after each PPO step (DeepSpeed-Chat). */
    ptxMode: z.enum(["mixed", "separate"]).default("mixed"),
    /** Stop an epoch's remaining updates once a step's `policy/approxkl` passes this (Spinning Up's `target_kl` habit). Unset: never. */
    approxKlStop: z.number().positive().optional(),
    /** Where the value head starts: the reward model's `score` head (`"reward"`) or new (`"actor"`). Default: `"reward"` with a reward model, else `"actor"`. */
    critic: z.enum(["reward", "actor"]).optional(),
    /** Chat template the prompts are rendered with before sampling (a name or Jinja); `null`: prompts are sampled from as they are. */
    template: z.string().nullable().default("batgpt"),
    /** Prompts a `generate` call on a replica. */
    generateBatchSize: z.number().int().positive().default(8),
    /** Rows a no-gradient forward pass in the rollout. */
    forwardBatchSize: z.number().int().positive().default(16),
    /** Seed of the prompt order, the sampling and the minibatch order. */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
  })
  .strict();

/** PPO's knobs as a user passes them. */
export type PpoConfig = z.input<typeof ppoConfigSchema>;
type ResolvedConfig = z.output<typeof ppoConfigSchema>;

/** What one iteration measured: the rollout's numbers and the means of its steps' metrics. */
export interface IterationRecord extends RolloutStats {
  iteration: number;
  /** The trainer's step when the iteration's updates ended. */
  step: number;
  /** Optimizer steps of the iteration (fewer than planned after an approx-KL stop). */
  updates: number;
  /** Share of the iteration's wall time spent generating. */
  "time/generation_share": number;
  [metric: string]: number;
}

/** The objects PPO works with (the knobs are {@link PpoConfig}). */
export interface PpoObjects {
  /** The actor: trained in place. It gains a `value` head (the critic) unless it has one. */
  policy: BatGPTModel;
  /** The frozen reference (default: a copy of `policy` as passed in, made before training). */
  reference?: BatGPTModel;
  /** The reward: a reward model (scored with its statistics) or a function of the responses. */
  reward: RewardModel | RewardFunction;
  tokenizer: Tokenizer;
  /** Prompts (user messages when `template` is set), sampled in seeded epochs. */
  prompts: readonly string[];
  /** Pretraining batches for the ptx loss: a `DataSource`, or core's `WindowLoader` over the pretraining tokens as it is. */
  ptx?: DataSource<TokenBatch> | WindowLoader;
  /** SFT batches for the SFT loss (e.g. `SftDataSource`). */
  sft?: DataSource<SftBatch>;
  /** Named numbers measured at the end of each iteration (e.g. a held-out pretraining loss), joined to its record. */
  evaluate?: (model: BatGPTModel, context: DataContext) => Record<string, number> | Promise<Record<string, number>>;
  /** More text files for every checkpoint (e.g. SFT's `tokenizer_config.json`). */
  checkpointFiles?: Record<string, string>;
  callbacks?: {
    onStep?: (m: StepRecord) => void;
    onIteration?: (m: IterationRecord) => void;
  };
}

/** What {@link trainPpo} returns: the trainer's result and one record an iteration. */
export interface PpoResult extends TrainerResult {
  iterations: IterationRecord[];
}

/**
 * Scores from a reward model: its `score` at the last token, normalised by its stored statistics
 * (`reward_config.json`). A special token's text that the policy sampled (e.g. `<|pad|>`) is
 * removed from the response before scoring: only the chat template may write those.
 */
export function rewardModelScorer(rm: RewardModel, options: { batchSize?: number } = {}): RewardFunction {
  const specials = [...rm.tokenizer.specialTokens.keys()];
  const clean = (r: string) => specials.reduce((t, sp) => t.split(sp).join(""), r);
  return ({ prompts, responses }) => score(rm.model, rm.tokenizer, prompts, responses.map(clean), { template: rm.chatTemplate, normalize: rm.stats, batchSize: options.batchSize ?? 16 });
}

/** A prompt as the policy samples from it: rendered with the chat template as the user's message, or as it is (`null`). */
function renderPrompt(p: string, template: string | null): string {
  return template === null ? p : applyChatTemplate([{ role: "user", content: p }], { template, addGenerationPrompt: true });
}

/** A `DataSource`, or core's `WindowLoader` (its `nextBatch`) made one. */
function asSource<B>(x: unknown, name: string): DataSource<B> | undefined {
  if (x === undefined) return undefined;
  const o = x as { next?: unknown; nextBatch?: () => B; state?: () => unknown; restore?: (s: never) => void };
  if (typeof o.next === "function" && typeof o.state === "function" && typeof o.restore === "function") return x as DataSource<B>;
  if (typeof o.nextBatch === "function" && typeof o.state === "function" && typeof o.restore === "function") {
    return { next: () => o.nextBatch!(), state: () => o.state!(), restore: (s) => o.restore!(s as never) };
  }
  throw new ConfigError(`trainPpo: ${name} must be a DataSource (next, state, restore) or core's WindowLoader`);
}

const isRewardModel = (r: PpoObjects["reward"]): r is RewardModel => typeof r === "object" && r !== null && "model" in r && "stats" in r;

/** The step metrics averaged into each iteration's record. */
const STEP_METRICS = ["loss", "loss/policy", "loss/value", "policy/approxkl", "policy/clipfrac", "policy/entropy", "val/vpred", "val/clipfrac", "val/ratio", "loss/ptx", "loss/sft", "grad_norm"];

interface PlannedStep {
  rows: number[];
  kind: "ppo" | "ptx";
  epoch: number;
}

interface SourceState {
  iteration: number;
  rows: RolloutRow[];
  plan: PlannedStep[];
  position: number;
  beta: number;
  prompt: { order: number[]; cursor: number };
  rng: RngState;
  stats: RolloutStats | null;
  sums: Record<string, number>;
  counts: Record<string, number>;
  updates: number;
  lastStep: number;
  ptx: unknown;
  sft: unknown;
}

/**
 * The shared trainer's data source for PPO: each batch is the next planned step of the current
 * iteration; when the iteration's steps are used up, the next call samples a new rollout with
 * the trainer's replicas (their weights are the policy's). Its state holds the rollout itself,
 * so a run resumed between any two steps continues exactly.
 */
class PpoDataSource implements DataSource<PpoBatch> {
  iteration = 0;
  rows: RolloutRow[] = [];
  plan: PlannedStep[] = [];
  position = 0;
  stats: RolloutStats | null = null;
  sums: Record<string, number> = {};
  counts: Record<string, number> = {};
  updates = 0;
  private lastStep = 0;
  private promptOrder: number[] = [];
  private promptCursor = 0;
  private rng: Rng;
  private iterationStart = 0;
  readonly records: IterationRecord[] = [];

  constructor(
    private readonly o: Omit<PpoObjects, "ptx" | "sft"> & { ptx: DataSource<TokenBatch> | undefined; sft: DataSource<SftBatch> | undefined; reference: BatGPTModel; rewardFn: RewardFunction },
    private readonly cfg: ResolvedConfig,
    private readonly kl: KlController,
    private readonly padId: number,
    private readonly stopTokens: number[],
    private readonly log: (r: Record<string, unknown>) => void,
  ) {
    this.rng = new Rng(cfg.seed);
  }

  done(): boolean {
    return this.iteration >= this.cfg.iterations && this.position >= this.plan.length;
  }

  /** The iteration's updates are all done (or were stopped). */
  get finished(): boolean {
    return this.iteration > 0 && this.position >= this.plan.length && this.stats !== null;
  }

  private nextPrompts(): string[] {
    const P = this.o.prompts;
    const out: string[] = [];
    while (out.length < this.cfg.rolloutBatchSize) {
      if (this.promptCursor >= this.promptOrder.length) {
        this.promptOrder = this.rng.shuffle(Array.from({ length: P.length }, (_, i) => i));
        this.promptCursor = 0;
      }
      out.push(P[this.promptOrder[this.promptCursor++]!]!);
    }
    return out;
  }


  async next(ctx: DataContext): Promise<PpoBatch> {
    if (this.position >= this.plan.length) {
      if (this.finished) await this.finishIteration(ctx);
      await this.rollout(ctx);
    }
    const s = this.plan[this.position++]!;
    if (s.kind === "ptx") return { ptx: await this.o.ptx!.next(ctx) };
    const batch: PpoBatch = { ppo: minibatch(s.rows.map((i) => this.rows[i]!), this.padId) };
    if (this.cfg.ptxMode === "mixed" && this.o.ptx && this.cfg.ptxCoef > 0) batch.ptx = await this.o.ptx.next(ctx);
    if (this.o.sft && this.cfg.sftCoef > 0) batch.sft = await this.o.sft.next(ctx);
    return batch;
  }

  private async rollout(ctx: DataContext): Promise<void> {
    this.iterationStart = performance.now();
    const raw = this.nextPrompts();
    const cfg = this.cfg;
    const r = await makeRollout(ctx.replicas, ctx.model, this.o.reference, this.o.rewardFn, raw.map((p) => renderPrompt(p, this.cfg.template)), raw, this.padId, {
      maxNewTokens: cfg.maxNewTokens,
      temperature: cfg.temperature,
      topK: cfg.topK,
      topP: cfg.topP,
      stopTokens: this.stopTokens,
      seed: this.rng.int(2 ** 31),
      beta: this.kl.value,
      klEstimator: cfg.klEstimator,
      gamma: cfg.gamma,
      lambda: cfg.lam,
      whitenAdvantages: cfg.whitenAdvantages,
      whitenRewards: cfg.whitenRewards,
      scoreClip: cfg.scoreClip,
      missingEosPenalty: cfg.missingEosPenalty,
      generateBatchSize: cfg.generateBatchSize,
      forwardBatchSize: cfg.forwardBatchSize,
    });
    this.kl.update(r.stats["objective/kl"], r.rows.length);
    this.rows = r.rows;
    this.stats = r.stats;
    this.iteration++;
    this.plan = [];
    const n = r.rows.length;
    const separate = cfg.ptxMode === "separate" && this.o.ptx !== undefined && cfg.ptxCoef > 0;
    for (let epoch = 0; epoch < cfg.ppoEpochs; epoch++) {
      const order = this.rng.shuffle(Array.from({ length: n }, (_, i) => i));
      for (let s = 0; s < n; s += cfg.miniBatchSize) {
        this.plan.push({ rows: order.slice(s, s + cfg.miniBatchSize), kind: "ppo", epoch });
        if (separate) this.plan.push({ rows: [], kind: "ptx", epoch });
      }
    }
    this.position = 0;
    this.sums = {};
    this.counts = {};
    this.updates = 0;
  }

  /** A step's record: its metrics join the iteration's means; an approx-KL past the bound ends the epoch. */
  observe(m: StepRecord): void {
    this.updates++;
    this.lastStep = m.step;
    for (const k of STEP_METRICS) {
      if (m[k] === undefined) continue;
      this.sums[k] = (this.sums[k] ?? 0) + m[k]!;
      this.counts[k] = (this.counts[k] ?? 0) + 1;
    }
    const kl = m["policy/approxkl"];
    if (this.cfg.approxKlStop !== undefined && kl !== undefined && kl > this.cfg.approxKlStop) {
      const epoch = this.plan[this.position - 1]?.epoch;
      while (this.position < this.plan.length && this.plan[this.position]!.epoch === epoch) this.position++;
    }
  }

  /** Close the current iteration: evaluate, log and report its record. */
  async finishIteration(ctx: DataContext): Promise<IterationRecord> {
    const extra = this.o.evaluate ? await this.o.evaluate(ctx.model, ctx) : {};
    const stats = this.stats!;
    const wall = (performance.now() - this.iterationStart) / 1000;
    const means = Object.fromEntries(Object.keys(this.sums).map((k) => [k, this.sums[k]! / this.counts[k]!]));
    const rec: IterationRecord = {
      iteration: this.iteration,
      step: this.lastStep,
      updates: this.updates,
      ...stats,
      ...means,
      ...extra,
      "time/generation_share": wall > 0 ? Math.min(1, stats["time/generation"] / wall) : 0,
    };
    this.records.push(rec);
    this.log({ type: "iteration", ...rec });
    this.o.callbacks?.onIteration?.(rec);
    this.stats = null;
    return rec;
  }

  state(): SourceState {
    return {
      iteration: this.iteration,
      rows: this.rows,
      plan: this.plan,
      position: this.position,
      beta: this.kl.value,
      prompt: { order: this.promptOrder, cursor: this.promptCursor },
      rng: this.rng.state(),
      stats: this.stats,
      sums: this.sums,
      counts: this.counts,
      updates: this.updates,
      lastStep: this.lastStep,
      ptx: this.o.ptx?.state() ?? null,
      sft: this.o.sft?.state() ?? null,
    };
  }

  restore(state: unknown): void {
    const s = state as Partial<SourceState> | null;
    if (!s || !Number.isSafeInteger(s.iteration) || !Array.isArray(s.rows) || !Array.isArray(s.plan) || !s.prompt || !s.rng || typeof s.beta !== "number") {
      throw new PpoError(`not a position of a PPO run: ${JSON.stringify(state)?.slice(0, 200)}`);
    }
    this.iteration = s.iteration!;
    this.rows = s.rows;
    this.plan = s.plan;
    this.position = s.position ?? 0;
    (this.kl as { value: number }).value = s.beta;
    this.promptOrder = s.prompt.order;
    this.promptCursor = s.prompt.cursor;
    this.rng = Rng.fromState(s.rng);
    this.stats = s.stats ?? null;
    this.sums = s.sums ?? {};
    this.counts = s.counts ?? {};
    this.updates = s.updates ?? 0;
    this.lastStep = s.lastStep ?? 0;
    if (this.o.ptx) this.o.ptx.restore(s.ptx);
    if (this.o.sft) this.o.sft.restore(s.sft);
    this.iterationStart = performance.now();
  }
}

/**
 * Optimise `policy` against `reward` with PPO (and the ptx and SFT terms): see the module
 * comment for the roles and the two ptx variants. Logs each step's metrics (`loss`,
 * `loss/policy`, `loss/value`, `policy/approxkl`, `policy/clipfrac`, `policy/entropy`,
 * `val/vpred`, `loss/ptx`, `loss/sft`, …) and, after each iteration, an {@link IterationRecord}
 * (`objective/scores`, `objective/kl`, `objective/entropy`, β, `response_length`,
 * `time/generation_share`, the step means, what `evaluate` returns) to `metricsPath`
 * (`"type": "iteration"`) and `onIteration`.
 *
 * @throws ConfigError (core) for bad knobs: also `ptxCoef > 0` without `ptx` data, `sftCoef > 0`
 *   without `sft` data, a `miniBatchSize` above `rolloutBatchSize`, no prompts, `critic: "reward"`
 *   without a reward model of the same hidden size.
 * @throws {PpoError} for a reward function that misbehaves or a response that does not fit the context.
 * @throws TrainingError (core) when the loss or the gradient stops being finite.
 */
export async function trainPpo(objects: PpoObjects, config: PpoConfig): Promise<PpoResult> {
  const cfg = parseOptions(ppoConfigSchema, config, "PPO config");
  const { policy, tokenizer: tok, reward } = objects;
  if (!Array.isArray(objects.prompts) || objects.prompts.length === 0 || objects.prompts.some((p) => typeof p !== "string")) throw new ConfigError("trainPpo: prompts must be a non-empty array of strings");
  if (cfg.ptxCoef > 0 && !objects.ptx) throw new ConfigError("invalid PPO config: ptxCoef > 0 needs ptx data (a DataSource of pretraining TokenBatches, e.g. core's WindowLoader)");
  if (cfg.sftCoef > 0 && !objects.sft) throw new ConfigError("invalid PPO config: sftCoef > 0 needs sft data (a DataSource of SftBatches, e.g. SftDataSource)");
  if (cfg.miniBatchSize > cfg.rolloutBatchSize) throw new ConfigError(`invalid PPO config: miniBatchSize ${cfg.miniBatchSize} is more than rolloutBatchSize ${cfg.rolloutBatchSize}`);
  const ptxSource = asSource<TokenBatch>(objects.ptx, "ptx");
  const sftSource = asSource<SftBatch>(objects.sft, "sft");
  const critic = cfg.critic ?? (isRewardModel(reward) ? "reward" : "actor");
  if (!tok.specialTokens.has("<|pad|>")) throw new ConfigError("trainPpo: the tokenizer has no <|pad|> token");
  const padId = tok.specialTokenId("<|pad|>");
  const stopTokens = cfg.stopTokens ?? ["<|eot|>", "<|eos|>"].filter((t) => tok.specialTokens.has(t)).map((t) => tok.specialTokenId(t));
  // every prompt must leave room for maxNewTokens: the direction token + prompt + response fit the context
  const maxLen = policy.config.max_seq_len;
  objects.prompts.forEach((p, i) => {
    const n = 1 + tok.encode(renderPrompt(p, cfg.template), { allowedSpecial: "all" }).length;
    if (n + cfg.maxNewTokens > maxLen) {
      throw new ConfigError(`invalid PPO config: prompts[${i}] is ${n} tokens${cfg.template === null ? "" : " with the chat template"} and the direction token, so with maxNewTokens ${cfg.maxNewTokens} it does not fit the model's max_seq_len ${maxLen}`);
    }
  });

  // the reference is never the trainer's model, so it never trains; a copy made here is frozen too
  const reference = objects.reference ?? policy.clone();
  if (!objects.reference) reference.setTrainable(false);
  try {
    if (!(VALUE_HEAD in policy.config.heads)) addValueHead(policy, reward, critic, cfg.seed);
    const log = (r: Record<string, unknown>): void => {
      if (!cfg.metricsPath) return;
      mkdirSync(dirname(cfg.metricsPath), { recursive: true });
      appendFileSync(cfg.metricsPath, `${JSON.stringify(r)}\n`);
    };
    const rewardFn = isRewardModel(reward) ? rewardModelScorer(reward) : reward;
    if (typeof rewardFn !== "function") throw new ConfigError("trainPpo: reward must be a reward model (loadRewardModel) or a function ({ prompts, responses, generations }) => scores");
    const kl = klController({ beta: cfg.klCoef, ...(cfg.klTarget !== undefined ? { target: cfg.klTarget } : {}), horizon: cfg.klHorizon });
    const source = new PpoDataSource({ ...objects, ptx: ptxSource, sft: sftSource, reference, rewardFn }, cfg, kl, padId, stopTokens, log);
    const stepsPerIteration = Math.ceil(cfg.rolloutBatchSize / cfg.miniBatchSize) * cfg.ppoEpochs * (cfg.ptxMode === "separate" && cfg.ptxCoef > 0 ? 2 : 1);
    // the shared trainer's own knobs pass through; PPO's are read from cfg
    const trainer = Object.fromEntries(Object.entries(cfg).filter(([k]) => k in trainerConfigSchema.shape));
    const { clipRange, clipRangeValue, vfCoef, entropyCoef, ptxCoef, sftCoef } = cfg;
    const result = await runTrainer(
      {
        model: policy,
        data: source,
        objective: ppoObjective({ clipRange, clipRangeValue, vfCoef, entropyCoef, ptxCoef, sftCoef }),
        tokenizer: tok,
        ...(objects.checkpointFiles ? { checkpointFiles: objects.checkpointFiles } : {}),
        // the trainer's last evaluation closes the last iteration (with the replicas still running)
        evaluate: async (model, context) => {
          if (source.finished) await source.finishIteration({ model, replicas: context.replicas });
          return {};
        },
        callbacks: {
          onStep: (m) => {
            source.observe(m);
            objects.callbacks?.onStep?.(m);
          },
        },
      },
      { ...trainer, steps: cfg.iterations * stepsPerIteration, evalEvery: 0 },
    );
    return { ...result, iterations: source.records };
  } finally {
    if (!objects.reference) reference.dispose();
  }
}

/** The critic: a `value` head on the actor's trunk, from the reward model's `score` head or new. */
function addValueHead(policy: BatGPTModel, reward: PpoObjects["reward"], critic: "reward" | "actor", seed: number): void {
  if (critic === "actor") {
    policy.addHead(VALUE_HEAD, { outputs: 1, bias: true }, { seed });
    return;
  }
  if (!isRewardModel(reward)) throw new ConfigError('invalid PPO config: critic "reward" needs a reward model (loadRewardModel), not a function');
  const rm = reward.model;
  if (rm.config.hidden_size !== policy.config.hidden_size) throw new ConfigError(`invalid PPO config: critic "reward" needs a reward model of the policy's hidden size ${policy.config.hidden_size}, got ${rm.config.hidden_size}`);
  const head = rm.config.heads[REWARD_HEAD]!;
  policy.addHead(VALUE_HEAD, { outputs: 1, bias: head.bias }, { seed });
  const [w, b] = rm.headParameterNames(REWARD_HEAD).map((n) => rm.params.get(n)!);
  const [vw, vb] = policy.headParameterNames(VALUE_HEAD).map((n) => policy.params.get(n)!);
  vw!.assign(w!);
  if (b && vb) vb.assign(b);
}

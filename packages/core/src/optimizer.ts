/**
 * AdamW written by hand over `tf.Variable`s (tfjs's Adam has no decoupled weight decay),
 * global-norm gradient clipping and gradient accumulation over micro-batches.
 *
 * Gradients travel as a {@link GradMap}: parameter name → tensor, with the same names as the
 * model's parameter map. Who owns (and must dispose) which tensors is stated on each function.
 */
import * as tf from "@tensorflow/tfjs-core";
import { z } from "zod";
import { parseOptions } from "./options.js";
import { decays, type ParamSpec } from "./params.js";

/** Gradients by parameter name. */
export type GradMap = Map<string, tf.Tensor>;

/** Which parameters get weight decay: a set of names, or a predicate on the name. */
export type DecayRule = ReadonlySet<string> | ((name: string) => boolean);

/**
 * AdamW's defaults, written once: the optimizer and the shared trainer both take them from here.
 * β₂ = 0.95 and weight decay 0.1 as in GPT-3 and LLaMA pretraining; lr 3e-4.
 */
export const OPTIMIZER_DEFAULTS = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 } as const;

/** Zod schema of {@link AdamWOptions}; defaults come from {@link OPTIMIZER_DEFAULTS}. */
export const adamwSchema = z
  .object({
    /** Learning rate used when {@link AdamW.step} is called without one. */
    lr: z.number().nonnegative().default(OPTIMIZER_DEFAULTS.lr),
    /** Decay of the first moment. */
    beta1: z.number().min(0).lt(1).default(OPTIMIZER_DEFAULTS.beta1),
    /** Decay of the second moment. */
    beta2: z.number().min(0).lt(1).default(OPTIMIZER_DEFAULTS.beta2),
    /** Added to √v̂ in the denominator. */
    eps: z.number().positive().default(OPTIMIZER_DEFAULTS.eps),
    /** Decoupled weight decay coefficient (multiplied by the learning rate; Loshchilov & Hutter 2019). */
    weightDecay: z.number().nonnegative().default(OPTIMIZER_DEFAULTS.weightDecay),
    /**
     * Which parameters decay. Default: those of rank ≥ 2 (embeddings and linear weights),
     * which for this model is exactly `decays()` of params.ts (norms and biases are 1-D);
     * {@link decayFromSpecs} builds the set from the specs' kinds.
     */
    decay: z
      .union([
        z.instanceof(Set),
        z.custom<(name: string) => boolean>((v) => typeof v === "function", { message: "expected a Set of names or a function (name) => boolean" }),
      ])
      .optional(),
  })
  .strict();

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decay?: DecayRule;
}

/** The names of the parameters that `decays()` (params.ts) says get weight decay. */
export function decayFromSpecs(specs: readonly ParamSpec[]): Set<string> {
  return new Set(specs.filter((s) => decays(s)).map((s) => s.name));
}

/**
 * AdamW with bias correction and decoupled weight decay:
 *
 * ```
 * m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
 * m̂ = m / (1−β1^t)           v̂ = v / (1−β2^t)
 * w ← w − lr·(m̂ / (√v̂ + eps) + wd·w)     (wd = 0 for parameters that do not decay)
 * ```
 *
 * The moments are non-trainable `tf.Variable`s created up front (zeros); every update runs in
 * `tf.tidy` and assigns in place, so the tensor count does not grow from step to step.
 * Call {@link AdamW.dispose} when done.
 */
export class AdamW {
  /** The resolved hyperparameters. */
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly params: Map<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly decayed = new Set<string>();
  private t = 0;

  /**
   * @param params the model's parameters by name (updated in place by {@link AdamW.step}).
   * @param options hyperparameters; a bad one throws a {@link ConfigError} naming it.
   */
  constructor(params: Map<string, tf.Variable>, options: AdamWOptions = {}) {
    const o = parseOptions(adamwSchema, options, "AdamW options");
    this.lr = o.lr;
    this.beta1 = o.beta1;
    this.beta2 = o.beta2;
    this.eps = o.eps;
    this.weightDecay = o.weightDecay;
    this.params = params;
    const rule = o.decay as DecayRule | undefined;
    if (rule instanceof Set) {
      const unknown = [...rule].filter((n) => !params.has(n));
      if (unknown.length > 0) throw new RangeError(`invalid AdamW options: decay: unknown parameter(s) ${unknown.slice(0, 5).join(", ")}`);
    }
    for (const [name, p] of params) {
      if (p.dtype !== "float32") throw new TypeError(`AdamW: parameter ${name} has dtype ${p.dtype}, expected float32`);
      const decays = rule === undefined ? p.rank >= 2 : typeof rule === "function" ? rule(name) : rule.has(name);
      if (decays) this.decayed.add(name);
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Number of steps taken (the `t` of the bias correction). */
  get stepCount(): number {
    return this.t;
  }

  /** Whether parameter `name` gets weight decay. */
  decays(name: string): boolean {
    return this.decayed.has(name);
  }

  /**
   * One AdamW step. Parameters without an entry in `grads` are left alone (no moment update,
   * no decay); a name that is not a parameter, or a shape that differs, throws before anything
   * changes. The caller keeps ownership of `grads` (this does not dispose them).
   *
   * @param lr learning rate for this step (e.g. from `lrAt`); default the `lr` option.
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr: number = this.lr): void {
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`AdamW.step: lr must be a finite number >= 0, got ${lr}`);
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      if (!p) throw new Error(`AdamW.step: gradient for unknown parameter ${name}`);
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new Error(`AdamW.step: gradient of ${name} has shape [${g.shape.join(", ")}], parameter has [${p.shape.join(", ")}]`);
      }
    }
    this.t += 1;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const wd = this.decayed.has(name) ? this.weightDecay : 0;
      tf.tidy(() => {
        const g32 = g.dtype === "float32" ? g : tf.cast(g, "float32");
        const mNew = tf.add(tf.mul(m, b1), tf.mul(g32, 1 - b1));
        const vNew = tf.add(tf.mul(v, b2), tf.mul(tf.square(g32), 1 - b2));
        m.assign(mNew);
        v.assign(vNew);
        let update = tf.div(tf.div(mNew, bc1), tf.add(tf.sqrt(tf.div(vNew, bc2)), this.eps));
        if (wd > 0) update = tf.add(update, tf.mul(p, wd));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      });
    }
  }

  /**
   * The optimizer state for a checkpoint: `<param>.m` and `<param>.v` for every parameter.
   * These are the live moment variables, not copies: read them (e.g. `await t.data()`) before
   * the next step, and never dispose or assign them. Save {@link AdamW.stepCount} with them.
   */
  state(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const name of this.params.keys()) {
      out.set(`${name}.m`, this.m.get(name)!);
      out.set(`${name}.v`, this.v.get(name)!);
    }
    return out;
  }

  /**
   * Load a state saved from {@link AdamW.state}. Every `<param>.m` / `<param>.v` must be
   * present with the parameter's shape; unknown names throw. Nothing changes when it throws.
   * The caller keeps ownership of the map's tensors (they may be disposed afterwards).
   */
  loadState(state: ReadonlyMap<string, tf.Tensor>, stepCount: number): void {
    if (!Number.isInteger(stepCount) || stepCount < 0) throw new RangeError(`AdamW.loadState: stepCount must be an integer >= 0, got ${stepCount}`);
    const expected = new Set<string>();
    for (const [name, p] of this.params) {
      for (const key of [`${name}.m`, `${name}.v`]) {
        expected.add(key);
        const t = state.get(key);
        if (!t) throw new Error(`AdamW.loadState: missing ${key}`);
        if (!tf.util.arraysEqual(t.shape, p.shape)) {
          throw new Error(`AdamW.loadState: ${key} has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}]`);
        }
      }
    }
    const unknown = [...state.keys()].filter((k) => !expected.has(k));
    if (unknown.length > 0) throw new Error(`AdamW.loadState: unknown entries ${unknown.slice(0, 5).join(", ")}`);
    for (const name of this.params.keys()) {
      for (const [key, target] of [[`${name}.m`, this.m.get(name)!], [`${name}.v`, this.v.get(name)!]] as const) {
        const t = state.get(key)!;
        tf.tidy(() => target.assign(t.dtype === "float32" ? tf.clone(t) : tf.cast(t, "float32")));
      }
    }
    this.t = stepCount;
  }

  /** Free the moment variables. The optimizer cannot be used afterwards. */
  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * The global L2 norm over all gradients, √(Σ g²), as a number (one read from the device).
 * Does not dispose `grads`.
 */
export function globalNorm(grads: ReadonlyMap<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  const sq = tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(tf.cast(g, "float32"))))));
  const value = sq.dataSync()[0]!;
  sq.dispose();
  return Math.sqrt(value);
}

/** What {@link clipGradNorm} returns. */
export interface ClipResult {
  /** The gradients to use: the input tensors when not clipped, new scaled tensors when clipped. The caller owns them. */
  grads: GradMap;
  /** The global norm before clipping (may be NaN or Infinity). */
  norm: number;
  /** Whether the gradients were scaled. */
  clipped: boolean;
}

/**
 * Clip gradients to a global L2 norm of at most `maxNorm` (as PyTorch's `clip_grad_norm_`:
 * scale by `maxNorm / (norm + 1e-6)` when that is below 1).
 *
 * Ownership: this takes ownership of `grads`. When it scales, it disposes every input tensor
 * and returns new ones; otherwise it returns the same tensors in a new map. Either way the
 * caller disposes exactly the returned tensors and never touches the inputs again. A
 * non-finite norm is reported and the gradients are returned unscaled, so the caller can
 * skip the step.
 */
export function clipGradNorm(grads: GradMap, maxNorm: number): ClipResult {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(grads);
  const coef = maxNorm / (norm + 1e-6);
  if (!Number.isFinite(norm) || coef >= 1) return { grads: new Map(grads), norm, clipped: false };
  const out: GradMap = new Map();
  for (const [name, g] of grads) out.set(name, tf.mul(g, coef));
  for (const g of new Set(grads.values())) g.dispose();
  return { grads: out, norm, clipped: true };
}

/** Dispose every tensor of a gradient map (each tensor once, even if it appears twice). */
export function disposeGrads(grads: ReadonlyMap<string, tf.Tensor>): void {
  for (const g of new Set(grads.values())) g.dispose();
}

/**
 * Turn the `grads` of `tf.variableGrads` (keyed by tfjs variable name) into a {@link GradMap}
 * keyed by parameter name. The tensors move into the returned map (nothing is copied); a
 * gradient for a variable that is not in `params` disposes them all and throws.
 */
export function gradsByName(params: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap): GradMap {
  const byVar = new Map<string, string>();
  for (const [name, p] of params) byVar.set(p.name, name);
  const out: GradMap = new Map();
  for (const [varName, g] of Object.entries(grads)) {
    const name = byVar.get(varName);
    if (name === undefined) {
      for (const t of Object.values(grads)) t.dispose();
      throw new Error(`gradsByName: gradient for variable ${varName}, which is not one of the parameters`);
    }
    out.set(name, g);
  }
  return out;
}

/**
 * Sums gradients over micro-batches and returns their (weighted) mean, so that
 * `k` micro-batches of size `n/k` give the gradient of one batch of size `n` (when each
 * micro-batch loss is a mean over its examples and all have equal weight).
 *
 * The running sums are non-trainable `tf.Variable`s (so neither `tf.tidy` nor
 * `tf.variableGrads` touch them), created on the first {@link GradAccumulator.add} and freed
 * by {@link GradAccumulator.reset}.
 *
 * ```ts
 * for (const micro of microBatches) acc.add(gradsByName(params, tf.variableGrads(() => loss(micro)).grads));
 * const grads = acc.mean(); acc.reset();
 * opt.step(grads, lr); disposeGrads(grads);
 * ```
 */
export class GradAccumulator {
  private readonly sums = new Map<string, tf.Variable>();
  private weight = 0;
  private n = 0;

  /** Micro-batches added since the last reset. */
  get count(): number {
    return this.n;
  }

  /** Sum of the weights added since the last reset. */
  get totalWeight(): number {
    return this.weight;
  }

  /**
   * Add one micro-batch's gradients with a weight (default 1; e.g. its token count).
   * Takes ownership of `grads`: they are disposed. A parameter missing from one micro-batch
   * counts as a zero gradient for it.
   */
  add(grads: GradMap, weight = 1): void {
    try {
      if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`GradAccumulator.add: weight must be a finite number > 0, got ${weight}`);
      for (const [name, g] of grads) {
        const s = this.sums.get(name);
        if (s && !tf.util.arraysEqual(s.shape, g.shape)) {
          throw new Error(`GradAccumulator.add: gradient of ${name} has shape [${g.shape.join(", ")}], earlier [${s.shape.join(", ")}]`);
        }
      }
      for (const [name, g] of grads) {
        const s = this.sums.get(name);
        if (s) tf.tidy(() => s.assign(tf.add(s, tf.mul(tf.cast(g, "float32"), weight))));
        else this.sums.set(name, tf.tidy(() => tf.variable(tf.mul(tf.cast(g, "float32"), weight), false)));
      }
      this.weight += weight;
      this.n += 1;
    } finally {
      disposeGrads(grads);
    }
  }

  /**
   * The weighted mean of the gradients added so far, as new tensors the caller owns.
   * The sums stay until {@link GradAccumulator.reset}.
   */
  mean(): GradMap {
    if (this.n === 0) throw new Error("GradAccumulator.mean: no gradients were added");
    const out: GradMap = new Map();
    for (const [name, s] of this.sums) out.set(name, tf.div(s, this.weight));
    return out;
  }

  /** Forget the sums (and free their memory) to start the next accumulation. */
  reset(): void {
    for (const s of this.sums.values()) s.dispose();
    this.sums.clear();
    this.weight = 0;
    this.n = 0;
  }

  /** Same as {@link GradAccumulator.reset}. */
  dispose(): void {
    this.reset();
  }
}

/**
 * The growth plan: which unit of the grown model comes from which unit of the trained one, for
 * every axis the weights have (the residual stream, the attention heads and their dimensions, the
 * KV heads, the MLP units, the blocks), checked against what keeps the function exact.
 *
 * The weights themselves are made from the plan in grow.ts; here is only bookkeeping, so a plan
 * can be inspected (`planGrowth`) before any tensor is touched.
 */
import { resolveConfig, modelDims, ConfigError, parseOptions, type BatGPTConfig, type BatGPTConfigInput } from "@batgpt/core";
import { z } from "zod";

/**
 * Growth options (validated with zod; unknown keys are refused). Defaults are written here, once.
 */
export const growOptionsSchema = z
  .object({
    /**
     * How new MLP units and new attention heads start. `"zero"` (default): fresh random incoming
     * weights and zero outgoing weights, so they add nothing until trained (the zero-initialised
     * units of MSG, Yao et al. 2024) and are already unlike each other. `"duplicate"`: copies of
     * existing units whose outgoing weights are split among the copies (Net2Net's
     * function-preserving widening, Chen et al. 2016; bert2BERT's FPI, Chen et al. 2022); copies
     * stay identical under training unless `noise` breaks the tie. The residual stream itself is
     * always widened with zeros (see the README: duplication cannot keep RMSNorm exact).
     */
    width: z.enum(["zero", "duplicate"]).default("zero"),
    /**
     * How new blocks start. `"copy"` (default): a copy of the neighbouring trained block with its two
     * output projections (`self_attention.dense`, `mlp.dense_4h_to_h`) zeroed, so the block is the
     * identity at first and starts from trained attention and MLP weights. `"identity"`: fresh
     * random weights, output projections zeroed. `"stack"`: an exact copy of the neighbour
     * (stacking, Gong et al. 2019; Du et al. 2024's G_stack): it does NOT preserve the function.
     */
    depth: z.enum(["copy", "identity", "stack"]).default("copy"),
    /**
     * Where new blocks go. `"interleave"` (default): spread evenly, each after the trained block it
     * copies. `"top"`: above all trained blocks, copying them in order (block L+i copies i, as
     * stacking does). Or the new blocks' indices in the grown model (0-based); each copies the
     * nearest trained block below it (block 0 when none is below).
     */
    positions: z.union([z.enum(["interleave", "top"]), z.array(z.number().int().nonnegative())]).default("interleave"),
    /**
     * Standard deviation of Gaussian noise added to every weight entry that growth constrained
     * to keep the function (the zero outgoing weights of new units and blocks, the copies of
     * duplicated units), to break the symmetry between copies. 0 (default) keeps the function
     * exact; any other value changes it, by an amount `maxLogitDiff` measures.
     */
    noise: z.number().min(0).default(0),
    /** Seed of the fresh random weights and of the noise (a safe integer). */
    seed: z.number().int().refine(Number.isSafeInteger, "must be a safe integer").default(0),
  })
  .strict();

/** Growth options as a user passes them (see {@link growOptionsSchema}). */
export type GrowOptions = z.input<typeof growOptionsSchema>;
/** Growth options with their defaults filled. */
export type ResolvedGrowOptions = z.output<typeof growOptionsSchema>;

/**
 * The target cannot be reached from the source by function-preserving growth (a smaller size, a
 * changed vocabulary or normalisation, rotary dimensions that would change, too few KV heads…).
 * The message names the field and says what would work.
 */
export class GrowthError extends Error {
  override name = "GrowthError";
}

/** Where each unit of one axis of the grown model comes from. */
export interface UnitMap {
  /** Per new unit, the source unit's index, or −1 for a fresh unit. */
  source: Int32Array;
  /** Per source unit, how many new units copy it (1 = kept once; > 1 = duplicated; 0 = dropped). */
  copies: Int32Array;
}

/** How block `index` of the grown model starts. */
export interface BlockPlan {
  /** Index in the grown model. */
  index: number;
  /** The trained block it comes from (for `"identity"`, the one it sits after). */
  from: number;
  /** `"grown"`: a trained block, widened; the others as {@link growOptionsSchema}'s `depth`. */
  init: "grown" | "copy" | "identity" | "stack";
}

/** Everything grow.ts needs to build the grown weights, and what a user may want to inspect. */
export interface GrowthPlan {
  source: BatGPTConfig;
  target: BatGPTConfig;
  options: ResolvedGrowOptions;
  /**
   * The factor c = √(H′/H) by which the residual stream is scaled, so the mean square over the
   * wider stream (with zeros in the new dimensions) equals the old one and RMSNorm, ε included,
   * gives the same values once its gains are divided by c.
   */
  residualScale: number;
  /** Query heads (n′ entries). */
  queryHeads: UnitMap;
  /** KV heads (KV′ entries). */
  kvHeads: UnitMap;
  /** MLP units (F′ entries). */
  mlpUnits: UnitMap;
  /** Head dimension before and after. */
  headDim: { source: number; target: number };
  /** The grown model's blocks, in order. */
  blocks: BlockPlan[];
  /** Whether the grown model computes the source's function exactly (false with noise or stacking). */
  preservesFunction: boolean;
}

/**
 * The target config: the source's fields with the user's on top (so `{ n_layer: 8 }` changes
 * only the depth). `num_heads_per_kv` follows `n_head` when the source has one KV head per query
 * head and is kept otherwise; `rotary_fraction` is recomputed to keep the rotated dimensions when
 * the head dimension changes; the heads are the source's unless given.
 */
export function targetConfig(source: BatGPTConfig, target: BatGPTConfigInput | BatGPTConfig): BatGPTConfig {
  if (typeof target !== "object" || target === null || Array.isArray(target)) throw new ConfigError("grow: the target config must be an object of BatGPTConfig fields");
  const { emb_dim: _emb, num_heads_per_kv: kv, ...base } = source;
  const merged: Record<string, unknown> = { ...base, ...target };
  if (target.num_heads_per_kv === undefined) merged.num_heads_per_kv = kv === source.n_head ? (merged.n_head as number) : kv;
  if (target.rotary_fraction === undefined && typeof merged.hidden_size === "number" && typeof merged.n_head === "number") {
    const headDim = merged.hidden_size / merged.n_head;
    if (Number.isInteger(headDim) && headDim !== modelDims(source).headDim) merged.rotary_fraction = modelDims(source).rotDim / headDim;
  }
  if ("emb_dim" in target && target.emb_dim === undefined) delete merged.emb_dim;
  try {
    return resolveConfig(merged as BatGPTConfigInput);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError(`grow: target ${err.message}`, { cause: err }) : err;
  }
}

/**
 * Plan growing `source` into `target`: check that the growth can keep the function and map every
 * unit. Nothing is allocated.
 *
 * @param target the target's fields; those left out are the source's (see {@link targetConfig}).
 * @throws {GrowthError} when the target cannot be grown into (the message names the field).
 * @throws {ConfigError} for an invalid target config or invalid options.
 */
export function planGrowth(source: BatGPTConfig, target: BatGPTConfigInput | BatGPTConfig, options: GrowOptions = {}): GrowthPlan {
  const o = parseOptions(growOptionsSchema, options, "grow options");
  const t = targetConfig(source, target);
  const s = source;
  const sd = modelDims(s);
  const td = modelDims(t);

  const same = [
    "vocab_size", "qkv_bias", "mlp_activation", "pos_emb_impl", "rope_base", "layer_norm_epsilon", "tie_word_embeddings",
    "direction_scheme", "l2r_token_id", "r2l_token_id", "bos_token_id",
  ] as const;
  for (const key of same) {
    if (s[key] !== t[key]) throw new GrowthError(`grow: ${key} must stay ${JSON.stringify(s[key])} (the target has ${JSON.stringify(t[key])}); growth changes sizes, not the vocabulary, normalisation or position scheme`);
  }
  if (JSON.stringify(s.heads) !== JSON.stringify(t.heads)) {
    throw new GrowthError(`grow: heads must be the source's ${JSON.stringify(s.heads)} (the target has ${JSON.stringify(t.heads)}); leave heads out to carry them over, and add new heads after growing with model.addHead`);
  }
  const larger: [string, number, number][] = [
    ["hidden_size", s.hidden_size, t.hidden_size],
    ["ffn_hidden_size", s.ffn_hidden_size, t.ffn_hidden_size],
    ["n_layer", s.n_layer, t.n_layer],
    ["n_head", s.n_head, t.n_head],
    ["num_heads_per_kv", s.num_heads_per_kv, t.num_heads_per_kv],
    ["head dimension (hidden_size / n_head)", sd.headDim, td.headDim],
  ];
  for (const [name, a, b] of larger) {
    if (b >= a) continue;
    const hint = name.startsWith("head dimension") ? ` (hidden_size ${t.hidden_size} / n_head ${t.n_head}); give hidden_size with n_head, e.g. hidden_size ${t.n_head * sd.headDim} keeps the head dimension` : "";
    throw new GrowthError(`grow: ${name} ${b} is smaller than the source's ${a}${hint}; growth only adds units`);
  }
  if (td.rotDim !== sd.rotDim) {
    throw new GrowthError(
      `grow: the target rotates ${td.rotDim} dimensions of each head, the source ${sd.rotDim}; the rotary frequencies depend on that number, so it must stay (rotary_fraction ${sd.rotDim}/${td.headDim} keeps it, or leave rotary_fraction out)`,
    );
  }

  const queryHeads = planHeads(s.n_head, sd.kvHeads, t.n_head, td.kvHeads, o.width === "duplicate");
  return {
    source: s,
    target: t,
    options: o,
    residualScale: Math.sqrt(t.hidden_size / s.hidden_size),
    queryHeads: queryHeads.query,
    kvHeads: queryHeads.kv,
    mlpUnits: planUnits(s.ffn_hidden_size, t.ffn_hidden_size, o.width === "duplicate"),
    headDim: { source: sd.headDim, target: td.headDim },
    blocks: planBlocks(s.n_layer, t.n_layer, o),
    preservesFunction: o.noise === 0 && (o.depth !== "stack" || t.n_layer === s.n_layer),
  };
}

function unitMap(source: Int32Array, sourceUnits: number): UnitMap {
  const copies = new Int32Array(sourceUnits);
  for (const i of source) if (i >= 0) copies[i]!++;
  return { source, copies };
}

/** `n` source units into `m`: the first `n` are kept; the rest fresh, or copies of 0, 1, 2, … (duplicate). */
function planUnits(n: number, m: number, duplicate: boolean): UnitMap {
  const source = new Int32Array(m);
  for (let i = 0; i < m; i++) source[i] = i < n ? i : duplicate ? (i - n) % n : -1;
  return unitMap(source, n);
}

/**
 * Query and KV heads. Query head h reads KV head ⌊h / g⌋ (g = n_head / KV). Each source KV head
 * k is copied to ⌈g / g′⌉ new KV heads in a row, and its g query heads fill those heads' groups
 * in order, so every source query head still reads (a copy of) its own keys and values. The
 * remaining query slots are fresh (or, duplicating, copies of the source heads of the same KV
 * head); the remaining KV heads are fresh (or copies of source KV heads in turn, with copies
 * of their query heads).
 */
function planHeads(n: number, kv: number, n2: number, kv2: number, duplicate: boolean): { query: UnitMap; kv: UnitMap } {
  const g = n / kv;
  const g2 = n2 / kv2;
  const need = Math.ceil(g / g2);
  if (kv2 < kv * need) {
    throw new GrowthError(
      `grow: ${n2} query heads over ${kv2} KV heads (groups of ${g2}) cannot hold the source's groups of ${g} query heads per KV head: ` +
        `each source KV head needs ${need} copies, ${kv * need} KV heads in all; raise num_heads_per_kv to at least ${kv * need}`,
    );
  }
  const kvSource = new Int32Array(kv2).fill(-1);
  const qSource = new Int32Array(n2).fill(-1);
  let j = 0;
  for (let k = 0; k < kv; k++) {
    for (let c = 0; c < need; c++, j++) {
      kvSource[j] = k;
      for (let slot = 0; slot < g2; slot++) {
        const idx = c * g2 + slot;
        qSource[j * g2 + slot] = idx < g ? k * g + idx : duplicate ? k * g + (idx % g) : -1;
      }
    }
  }
  for (let r = 0; j < kv2; j++, r++) {
    if (!duplicate) continue;
    const k = r % kv;
    kvSource[j] = k;
    for (let slot = 0; slot < g2; slot++) qSource[j * g2 + slot] = k * g + (slot % g);
  }
  return { query: unitMap(qSource, n), kv: unitMap(kvSource, kv) };
}

/** The grown model's blocks: the trained ones in order, with the new ones where `positions` puts them. */
function planBlocks(L: number, L2: number, o: ResolvedGrowOptions): BlockPlan[] {
  const added = L2 - L;
  const init = o.depth;
  const blocks: BlockPlan[] = [];
  if (o.positions === "interleave") {
    for (let i = 0; i < L; i++) {
      blocks.push({ index: blocks.length, from: i, init: "grown" });
      const n = Math.floor(((i + 1) * added) / L) - Math.floor((i * added) / L);
      for (let k = 0; k < n; k++) blocks.push({ index: blocks.length, from: i, init });
    }
    return blocks;
  }
  if (o.positions === "top") {
    for (let i = 0; i < L; i++) blocks.push({ index: i, from: i, init: "grown" });
    for (let j = 0; j < added; j++) blocks.push({ index: L + j, from: j % L, init });
    return blocks;
  }
  const positions = new Set(o.positions);
  if (positions.size !== o.positions.length || o.positions.length !== added || o.positions.some((p) => p >= L2)) {
    throw new GrowthError(`grow: positions must be ${added} distinct block indices below n_layer ${L2} (one per new block), got [${o.positions.join(", ")}]`);
  }
  let next = 0;
  for (let idx = 0; idx < L2; idx++) {
    if (positions.has(idx)) blocks.push({ index: idx, from: Math.max(0, next - 1), init });
    else blocks.push({ index: idx, from: next++, init: "grown" });
  }
  return blocks;
}

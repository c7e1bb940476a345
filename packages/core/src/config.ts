/**
 * The model configuration: the official BatGPT field names (`BatGPTConfig` in
 * zcli-charlie/BatGPT, `configuration_batgpt.py`), so a config maps one to one, plus the
 * bidirectional loss weights and the rotary fraction that are ours. Validated with zod;
 * every default is written here and nowhere else.
 */
import { z } from "zod";
import { ConfigError, parseOptions } from "./options.js";

/**
 * A head on the trunk: a linear map of the final hidden states `[N, hidden]` → `[N, outputs]`,
 * stored as `<name>.weight` (`[outputs, hidden]` on disk, as a PyTorch `nn.Linear`) and, with
 * `bias`, `<name>.bias`, the names Hugging Face uses (`score` for a reward model's scalar,
 * `v_head` for PPO's value head).
 */
export const headSchema = z
  .object({
    /** Output features (1 for a scalar reward or value). */
    outputs: z.number().int().positive().default(1),
    /** Add a bias (Hugging Face's `score` has none; TRL's value head has one). */
    bias: z.boolean().default(false),
  })
  .strict();

/** A head's settings as a user passes them. */
export type HeadConfigInput = z.input<typeof headSchema>;

/** Zod schema of {@link BatGPTConfig}; `parse` fills defaults and names the bad field. */
export const batgptConfigSchema = z
  .object({
    /** Vocabulary size (the tokenizer's `vocabSize`). */
    vocab_size: z.number().int().positive().default(8192),
    /** Width of the residual stream. */
    hidden_size: z.number().int().positive().default(256),
    /** Width of the word embedding; the official code adds a projection when it differs from `hidden_size` (not supported here). */
    emb_dim: z.number().int().positive().optional(),
    /** Number of transformer blocks. */
    n_layer: z.number().int().positive().default(4),
    /** Number of query heads; `hidden_size / n_head` is the head dimension. */
    n_head: z.number().int().positive().default(8),
    /** Number of key/value heads (1 = multi-query, `n_head` = multi-head; in between = grouped-query). */
    num_heads_per_kv: z.number().int().positive().optional(),
    /** Width of the SwiGLU MLP (its first projection outputs twice this). */
    ffn_hidden_size: z.number().int().positive().default(688),
    /** Bias on the query/key/value projections (the official model has it). */
    qkv_bias: z.boolean().default(true),
    /** MLP activation; only the official "swiglu". */
    mlp_activation: z.literal("swiglu").default("swiglu"),
    /** Position embedding; only the official "rope". */
    pos_emb_impl: z.literal("rope").default("rope"),
    /**
     * Fraction of each head's dimensions that rotary embeddings rotate (as interleaved pairs,
     * from the first dimension). The official model rotates half: 0.5.
     */
    rotary_fraction: z.number().gt(0).lte(1).default(0.5),
    /** Rotary base θ. */
    rope_base: z.number().positive().default(10000),
    /** Longest sequence (rotary tables and KV caches are sized for it). */
    max_seq_len: z.number().int().positive().default(256),
    /** RMSNorm epsilon. */
    layer_norm_epsilon: z.number().positive().default(1e-5),
    /** Share the input embedding with the LM head (the official model does not). */
    tie_word_embeddings: z.boolean().default(false),
    /** Standard deviation of the normal initialisation of weights. */
    initializer_range: z.number().positive().default(0.02),
    /** Id of the `<|l2r|>` direction token (filled from the tokenizer by `createModel`). */
    l2r_token_id: z.number().int().nonnegative().optional(),
    /** Id of the `<|r2l|>` direction token (filled from the tokenizer by `createModel`). */
    r2l_token_id: z.number().int().nonnegative().optional(),
    /**
     * How the trunk is told the reading direction (see bidirectional.ts): `"token"`, a direction
     * token at the start of each row (the official architecture, official-compatible checkpoints),
     * or `"embedding"`, `<|bos|>` at the start and a learned direction vector added at every position.
     */
    direction_scheme: z.enum(["token", "embedding"]).default("token"),
    /** Id of `<|bos|>`, the start token of the `"embedding"` scheme (filled from the tokenizer by `createModel`). */
    bos_token_id: z.number().int().nonnegative().optional(),
    /**
     * Named heads on the trunk (see {@link headSchema}), e.g. `{ score: { outputs: 1 } }` for a
     * reward model. Their tensors are saved in `model.safetensors` under their own names; the
     * official code loads such a checkpoint once those tensors are dropped.
     */
    heads: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a head name is an identifier (letters, digits, _)"), headSchema)
      .default({})
      .refine((h) => !Object.keys(h).some((n) => ["model", "lm_head"].includes(n)), "a head cannot be named model or lm_head"),
    /** Weight of the forward (next-token) cross-entropy in the training loss. */
    loss_weight_forward: z.number().nonnegative().default(1),
    /** Weight of the backward (previous-token) cross-entropy in the training loss; 0 trains an ordinary causal LM. */
    loss_weight_backward: z.number().nonnegative().default(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.hidden_size % c.n_head !== 0) {
      ctx.addIssue({ code: "custom", path: ["n_head"], message: `hidden_size ${c.hidden_size} is not divisible by n_head ${c.n_head}` });
    }
    const kv = c.num_heads_per_kv ?? c.n_head;
    if (c.n_head % kv !== 0) {
      ctx.addIssue({ code: "custom", path: ["num_heads_per_kv"], message: `n_head ${c.n_head} is not divisible by num_heads_per_kv ${kv}` });
    }
    const headDim = c.hidden_size / c.n_head;
    const rot = Math.round(headDim * c.rotary_fraction);
    if (rot % 2 !== 0 || rot === 0) {
      ctx.addIssue({ code: "custom", path: ["rotary_fraction"], message: `rotary_fraction ${c.rotary_fraction} of head dim ${headDim} is not a positive even number of dims` });
    }
    if (c.emb_dim !== undefined && c.emb_dim !== c.hidden_size) {
      ctx.addIssue({ code: "custom", path: ["emb_dim"], message: "emb_dim different from hidden_size (embedding factorisation) is not supported" });
    }
    if (c.loss_weight_forward + c.loss_weight_backward === 0) {
      ctx.addIssue({ code: "custom", path: ["loss_weight_forward"], message: "at least one direction must have a positive loss weight" });
    }
  });

/** What a user passes: any subset of the fields. */
export type BatGPTConfigInput = z.input<typeof batgptConfigSchema>;

/** A complete, validated configuration with derived sizes. */
export interface BatGPTConfig extends Omit<z.output<typeof batgptConfigSchema>, "num_heads_per_kv" | "emb_dim"> {
  num_heads_per_kv: number;
  emb_dim: number;
}

/** Sizes every layer needs, derived once from the config. */
export interface ModelDims {
  headDim: number;
  kvHeads: number;
  /** Query heads per KV head. */
  group: number;
  kvDim: number;
  /** Rotated dimensions per head (even). */
  rotDim: number;
}

export { ConfigError };

/** Validate a config and fill its defaults. */
export function resolveConfig(input: BatGPTConfigInput | BatGPTConfig = {}): BatGPTConfig {
  const c = parseOptions(batgptConfigSchema, input, "model config");
  return { ...c, num_heads_per_kv: c.num_heads_per_kv ?? c.n_head, emb_dim: c.emb_dim ?? c.hidden_size };
}

/** Derived sizes of a config. */
export function modelDims(c: BatGPTConfig): ModelDims {
  const headDim = c.hidden_size / c.n_head;
  return {
    headDim,
    kvHeads: c.num_heads_per_kv,
    group: c.n_head / c.num_heads_per_kv,
    kvDim: headDim * c.num_heads_per_kv,
    rotDim: Math.round(headDim * c.rotary_fraction),
  };
}

/**
 * The `config.json` for a checkpoint: every field the official `BatGPTConfig` reads (with
 * `use_multi_query_attn` set as it expects), plus ours, which its `**kwargs` keep.
 */
export function toConfigJson(c: BatGPTConfig): Record<string, unknown> {
  return {
    architectures: ["BatGPTForCausalLM"],
    model_type: "batgpt",
    auto_map: {
      AutoConfig: "configuration_batgpt.BatGPTConfig",
      AutoModelForCausalLM: "modeling_batgpt.BatGPTForCausalLM",
    },
    vocab_size: c.vocab_size,
    emb_dim: c.emb_dim,
    hidden_size: c.hidden_size,
    n_layer: c.n_layer,
    n_head: c.n_head,
    layer_norm_epsilon: c.layer_norm_epsilon,
    use_multi_query_attn: c.num_heads_per_kv !== c.n_head,
    num_heads_per_kv: c.num_heads_per_kv,
    qkv_bias: c.qkv_bias,
    use_native_attn_impl: true,
    mlp_activation: c.mlp_activation,
    hidden_dropout: 0.0,
    ffn_hidden_size: c.ffn_hidden_size,
    prefix_size: null,
    prefix_proj: false,
    max_seq_len: c.max_seq_len,
    pos_emb_impl: c.pos_emb_impl,
    use_emb_factorization: false,
    empty_init: false,
    tie_word_embeddings: c.tie_word_embeddings,
    torch_dtype: "float32",
    rotary_fraction: c.rotary_fraction,
    rope_base: c.rope_base,
    initializer_range: c.initializer_range,
    loss_weight_forward: c.loss_weight_forward,
    loss_weight_backward: c.loss_weight_backward,
    ...(c.direction_scheme === "token" ? {} : { direction_scheme: c.direction_scheme }),
    ...(Object.keys(c.heads).length === 0 ? {} : { heads: c.heads }),
    ...(c.bos_token_id === undefined ? {} : { bos_token_id: c.bos_token_id }),
    ...(c.l2r_token_id === undefined ? {} : { l2r_token_id: c.l2r_token_id }),
    ...(c.r2l_token_id === undefined ? {} : { r2l_token_id: c.r2l_token_id }),
  };
}

/** Keys of `config.json` that are the official code's or Hugging Face's and not ours to read back. */
const FOREIGN_KEYS = new Set([
  "architectures", "model_type", "auto_map", "use_multi_query_attn", "use_native_attn_impl", "hidden_dropout",
  "prefix_size", "prefix_proj", "use_emb_factorization", "empty_init", "torch_dtype", "transformers_version",
  "eos_token_id", "pad_token_id", "use_cache",
]);

/** Read a `config.json` object (ours or the official one) back into a config. */
export function fromConfigJson(json: Record<string, unknown>): BatGPTConfig {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (!FOREIGN_KEYS.has(k)) input[k] = v;
  if (json.use_multi_query_attn === false && input.num_heads_per_kv === undefined) input.num_heads_per_kv = json.n_head;
  if (json.hidden_dropout !== undefined && json.hidden_dropout !== 0 && json.hidden_dropout !== 0.0) {
    throw new ConfigError("config.json: hidden_dropout > 0 is not supported");
  }
  return resolveConfig(input as BatGPTConfigInput);
}

import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { TokenizerError, trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../src/backend.js";
import {
  assignWeights,
  CHECKPOINT_FILES,
  CheckpointError,
  encodeModelWeights,
  readCheckpoint,
  resolveCheckpointDir,
  saveCheckpoint,
  type ReadCheckpointOptions,
  type ReadCheckpointResult,
} from "../src/checkpoint.js";
import { ConfigError, resolveConfig, type BatGPTConfig, type BatGPTConfigInput } from "../src/config.js";
import { countParameters, emptyParameters, initParameters, layerParam } from "../src/params.js";
import { loadCheckpoint } from "../src/load.js";
import * as core from "../src/index.js";
import { Rng } from "../src/rng.js";
import { readSafetensorsFile, SafetensorsError, writeSafetensors, type SafetensorsTensor } from "../src/safetensors.js";

const small: BatGPTConfigInput = { vocab_size: 300, hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 32 };
const H = 16;
const F = 24;

let root: string;
let tokenizer: Tokenizer;

beforeAll(async () => {
  await selectBackend({ backend: "cpu", log: false });
  root = await mkdtemp(join(tmpdir(), "batgpt-ckpt-"));
  tokenizer = await trainBpe(["床前明月光 moonlight", "the moon and the light", "疑是地上霜"], { vocabSize: 300 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function model(input: BatGPTConfigInput, seed: number): { config: BatGPTConfig; params: Map<string, tf.Variable> } {
  const config = resolveConfig(input);
  return { config, params: initParameters(config, new Rng(seed)) };
}

function disposeAll(m: { values(): Iterable<tf.Tensor> } | undefined): void {
  for (const t of m?.values() ?? []) t.dispose();
}

function disposeRead(r: ReadCheckpointResult): void {
  disposeAll(r.weights);
  disposeAll(r.optimizer);
}

/** The bits of a float32 tensor, so NaN/-0 compare exactly. */
function bits(t: tf.Tensor): Uint32Array {
  const d = t.dataSync() as Float32Array;
  return new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

/** Siblings of `dir` that a save leaves behind (temp or old directories). */
async function leftovers(dir: string): Promise<string[]> {
  const name = dir.split("/").pop() ?? "";
  return (await readdir(join(dir, ".."))).filter((n) => n.startsWith(`${name}.`));
}

describe("saveCheckpoint / readCheckpoint round trip", () => {
  for (const [label, extra] of [
    ["untied, grouped-query, qkv bias", {}],
    ["tied embeddings, no qkv bias, multi-head", { tie_word_embeddings: true, qkv_bias: false, num_heads_per_kv: 4 }],
  ] as const) {
    it(`is bit-exact (${label}) and leaks no tensors`, async () => {
      const dir = join(root, `rt-${label.replace(/\W+/g, "-")}`);
      const src = model({ ...small, ...extra }, 1);
      const dst = model({ ...small, ...extra }, 2);
      const before = tf.memory().numTensors;
      await saveCheckpoint(dir, { model: src, tokenizer });
      const read = await readCheckpoint(dir);
      expect(read.config).toEqual(src.config);
      expect(read.dir).toBe(dir);
      expect([...read.weights.keys()].sort()).toEqual([...src.params.keys()].sort());
      assignWeights(dst.params, read.weights);
      disposeRead(read);
      expect(tf.memory().numTensors).toBe(before);
      for (const [name, p] of src.params) {
        const q = dst.params.get(name)!;
        expect(q.shape, name).toEqual(p.shape);
        expect(bits(q), name).toEqual(bits(p));
      }
      expect(read.tokenizer?.toJSON()).toEqual(tokenizer.toJSON());
      expect(read.tokenizer?.encode("床前明月光 moonlight")).toEqual(tokenizer.encode("床前明月光 moonlight"));
      disposeAll(src.params);
      disposeAll(dst.params);
      expect(await leftovers(dir)).toEqual([]);
    });
  }

  it("round-trips optimizer tensors and trainer state; omits the optional files when not given", async () => {
    const dir = join(root, "opt");
    const m = model(small, 3);
    const m1 = tf.tensor([[0.5, -1e-8], [3, 4]], [2, 2], "float32");
    const m2 = tf.tensor([1, 2, 3], [3], "int32");
    const state = { step: 1234, rng: new Rng(9).state(), data: { file: "a.bin", offset: 4096 }, losses: [3.5, 3.25, 2.875] };
    const before = tf.memory().numTensors;
    await saveCheckpoint(dir, { model: m, optimizer: new Map([[`${layerParam(0, "mlp.dense_h_to_4h.weight")}:gate/m`, m1], ["step", m2]]), state });
    const read = await readCheckpoint(dir);
    expect(read.state).toEqual(state);
    expect(read.tokenizer).toBeUndefined();
    expect([...read.optimizer!.keys()].sort()).toEqual(["model.encoder.layers.0.mlp.dense_h_to_4h.weight:gate/m", "step"]);
    const r1 = read.optimizer!.get(`${layerParam(0, "mlp.dense_h_to_4h.weight")}:gate/m`)!;
    const r2 = read.optimizer!.get("step")!;
    expect([r1.dtype, r1.shape, bits(r1)]).toEqual([m1.dtype, m1.shape, bits(m1)]);
    expect([r2.dtype, r2.shape, Array.from(r2.dataSync())]).toEqual(["int32", [3], [1, 2, 3]]);
    disposeRead(read);
    expect(tf.memory().numTensors).toBe(before);

    await saveCheckpoint(dir, { model: m });
    expect((await readdir(dir)).sort()).toEqual([CHECKPOINT_FILES.config, CHECKPOINT_FILES.model]);
    const bare = await readCheckpoint(dir);
    expect(bare.optimizer).toBeUndefined();
    expect(bare.state).toBeUndefined();
    disposeRead(bare);
    m1.dispose();
    m2.dispose();
    disposeAll(m.params);
  });
});

describe("file layout", () => {
  it("writes extra text files with the checkpoint, and refuses names that are not plain or that it owns", async () => {
    const dir = join(root, "files");
    const m = model(small, 5);
    await saveCheckpoint(dir, { model: m, files: { "tokenizer_config.json": '{"chat_template":"x"}\n' } });
    expect(await readFile(join(dir, "tokenizer_config.json"), "utf8")).toBe('{"chat_template":"x"}\n');
    for (const bad of ["config.json", "../x.json", "a/b.json", ".."]) {
      await expect(saveCheckpoint(join(root, "files-bad"), { model: m, files: { [bad]: "x" } })).rejects.toThrow(CheckpointError);
    }
    await expect(stat(join(root, "files-bad"))).rejects.toThrow(/ENOENT/);
    disposeAll(m.params);
  });


  it("stores official names and PyTorch layouts: [out, in] linears, [2F, H] dense_h_to_4h with gate rows first, [vocab, H] lm_head", async () => {
    const dir = join(root, "layout");
    const m = model(small, 4);
    const set = (name: string, f: (i: number, j: number) => number) => {
      const p = m.params.get(name)!;
      const [a = 0, b = 0] = p.shape;
      const v = new Float32Array(a * b);
      for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) v[i * b + j] = f(i, j);
      const t = tf.tensor(v, p.shape);
      p.assign(t);
      t.dispose();
    };
    const q = layerParam(1, "self_attention.query_proj.weight");
    const k = layerParam(1, "self_attention.key_proj.weight");
    const fused = layerParam(0, "mlp.dense_h_to_4h.weight");
    set(q, (i, o) => 1000 * i + o); // internal [in, out]
    set(k, (i, o) => -(1000 * i + o));
    set(`${fused}:gate`, (i, o) => 1 + 1000 * i + o);
    set(`${fused}:up`, (i, o) => -(1 + 1000 * i + o));
    set("lm_head.weight", (i, o) => 0.5 + 1000 * i + o);
    await saveCheckpoint(dir, { model: m });

    const { tensors, metadata } = await readSafetensorsFile(join(dir, CHECKPOINT_FILES.model));
    expect(metadata).toEqual({ format: "pt" });
    expect([...tensors.values()].every((t) => t.dtype === "F32")).toBe(true);
    expect([...tensors.keys()].some((n) => n.includes(":"))).toBe(false);
    const at = (name: string, r: number, c: number) => {
      const t = tensors.get(name)!;
      return t.data[r * (t.shape[1] ?? 0) + c];
    };
    expect(tensors.get(q)?.shape).toEqual([H, H]);
    expect(at(q, 3, 5)).toBe(1000 * 5 + 3); // official [out=3, in=5] = internal [in=5, out=3]
    expect(tensors.get(k)?.shape).toEqual([8, H]); // kv dim = 2 heads × 4
    expect(at(k, 7, 2)).toBe(-(1000 * 2 + 7));
    expect(tensors.get(fused)?.shape).toEqual([2 * F, H]);
    expect(at(fused, 0, 0)).toBe(1);
    expect(at(fused, F - 1, H - 1)).toBe(1 + 1000 * (H - 1) + F - 1); // last gate row
    expect(at(fused, F, 0)).toBe(-1); // first up row
    expect(at(fused, F + 5, 2)).toBe(-(1 + 1000 * 2 + 5));
    expect(tensors.get("lm_head.weight")?.shape).toEqual([300, H]);
    expect(at("lm_head.weight", 299, 15)).toBe(0.5 + 1000 * 15 + 299);
    expect(tensors.get("model.word_embeddings.weight")?.shape).toEqual([300, H]);
    expect(tensors.get("model.encoder.layers.0.self_attention.key_proj.bias")?.shape).toEqual([8]);
    expect(tensors.get("model.encoder.ln_f.weight")?.shape).toEqual([H]);
    const emb = m.params.get("model.word_embeddings.weight")!.dataSync();
    expect(Array.from(tensors.get("model.word_embeddings.weight")!.data)).toEqual(Array.from(emb));
    disposeAll(m.params);

    const tied = model({ ...small, tie_word_embeddings: true }, 5);
    await saveCheckpoint(join(root, "layout-tied"), { model: tied });
    const t2 = await readSafetensorsFile(join(root, "layout-tied", CHECKPOINT_FILES.model));
    expect(t2.tensors.has("lm_head.weight")).toBe(false);
    expect(t2.tensors.size).toBe(tied.params.size - 2); // gate + up are one tensor per layer
    disposeAll(tied.params);
  });

  it("writes config.json with the official BatGPTConfig fields", async () => {
    const m = model(small, 6);
    const dir = join(root, "config");
    await saveCheckpoint(dir, { model: m });
    const json = JSON.parse(await readFile(join(dir, CHECKPOINT_FILES.config), "utf8")) as Record<string, unknown>;
    expect(json).toMatchObject({
      architectures: ["BatGPTForCausalLM"],
      model_type: "batgpt",
      vocab_size: 300,
      emb_dim: 16,
      hidden_size: 16,
      n_layer: 2,
      n_head: 4,
      layer_norm_epsilon: 1e-5,
      use_multi_query_attn: true,
      num_heads_per_kv: 2,
      qkv_bias: true,
      mlp_activation: "swiglu",
      hidden_dropout: 0,
      ffn_hidden_size: 24,
      max_seq_len: 32,
      pos_emb_impl: "rope",
      tie_word_embeddings: false,
    });
    disposeAll(m.params);
  });
});

describe("atomic writes", () => {
  it("leaves the previous checkpoint intact and no temp directory when a save fails midway", async () => {
    const dir = join(root, "atomic");
    const a = model(small, 7);
    await saveCheckpoint(dir, { model: a, tokenizer, state: { step: 1 } });
    const filesBefore = new Map<string, Buffer>();
    for (const f of await readdir(dir)) filesBefore.set(f, await readFile(join(dir, f)));

    const b = model(small, 8);
    const broken = { save: async () => Promise.reject(new Error("disk full")) } as unknown as Tokenizer;
    await expect(saveCheckpoint(dir, { model: b, tokenizer: broken, state: { step: 2 } })).rejects.toThrow("disk full");
    await expect(saveCheckpoint(dir, { model: b, state: { big: 1n } })).rejects.toThrow(/trainer state is not JSON-serialisable/);
    const wrong = model({ ...small, hidden_size: 32 }, 9);
    await expect(saveCheckpoint(dir, { model: { config: b.config, params: wrong.params } })).rejects.toThrow(/model parameter "model.word_embeddings.weight" has shape \[300, 32\], expected \[300, 16\]/);

    expect((await readdir(dir)).sort()).toEqual([...filesBefore.keys()].sort());
    for (const [f, bytes] of filesBefore) expect((await readFile(join(dir, f))).equals(bytes), f).toBe(true);
    expect(await leftovers(dir)).toEqual([]);

    // a good save replaces it as a whole
    await saveCheckpoint(dir, { model: b });
    const read = await readCheckpoint(dir);
    expect(read.state).toBeUndefined();
    const emb = read.weights.get("model.word_embeddings.weight")!;
    expect(bits(emb)).toEqual(bits(b.params.get("model.word_embeddings.weight")!));
    disposeRead(read);
    expect(await leftovers(dir)).toEqual([]);
    for (const m of [a, b, wrong]) disposeAll(m.params);
  });

  it("runs un-awaited saves to one directory one after another: all succeed, the last one wins", async () => {
    const dir = join(root, "overlap");
    const m = model(small, 21);
    // before, 3 of 6 such saves failed with a raw ENOENT / ENOTEMPTY from a rename
    await Promise.all(Array.from({ length: 6 }, (_, i) => saveCheckpoint(dir, { model: m, state: { step: i } })));
    const read = await readCheckpoint(dir);
    expect(read.state).toEqual({ step: 5 });
    disposeRead(read);
    expect((await readdir(root)).filter((f) => f.startsWith("overlap"))).toEqual(["overlap"]);
    disposeAll(m.params);
  });

  it("reads the previous checkpoint left at <dir>.old-… by a save interrupted between its renames", async () => {
    const dir = join(root, "interrupted");
    const a = model(small, 10);
    await saveCheckpoint(dir, { model: a, state: { step: 10 } });
    const old = `${dir}.old-123-${Date.now()}`;
    await rename(dir, old); // as if the process died right after moving the old checkpoint aside
    const read = await readCheckpoint(dir);
    expect(read.dir).toBe(old);
    expect(read.state).toEqual({ step: 10 });
    disposeRead(read);
    await rm(old, { recursive: true });
    await expect(readCheckpoint(dir)).rejects.toThrow(/checkpoint directory .*interrupted does not exist/);
    disposeAll(a.params);
  });
});

describe("bad checkpoints", () => {
  let config: BatGPTConfig;
  let good: Map<string, SafetensorsTensor>;
  const dir = () => join(root, "bad");
  const writeModel = async (tensors: Map<string, SafetensorsTensor>) => writeFile(join(dir(), CHECKPOINT_FILES.model), writeSafetensors(tensors));

  beforeAll(async () => {
    const m = model(small, 11);
    config = m.config;
    await saveCheckpoint(dir(), { model: m });
    const { tensors } = await readSafetensorsFile(join(dir(), CHECKPOINT_FILES.model));
    good = new Map([...tensors].map(([n, t]) => [n, { dtype: "F32", shape: t.shape, data: t.data }]));
    disposeAll(m.params);
  });

  it("names the file and the missing, unexpected or mis-shaped tensor, and leaks nothing", async () => {
    const before = tf.memory().numTensors;
    const file = join(dir(), CHECKPOINT_FILES.model).replace(/[.]/g, "\\.");
    const missing = new Map(good);
    missing.delete("model.encoder.layers.1.mlp.dense_h_to_4h.weight");
    await writeModel(missing);
    await expect(readCheckpoint(dir())).rejects.toThrow(CheckpointError);
    await expect(readCheckpoint(dir())).rejects.toThrow(new RegExp(`${file}: missing tensor "model\\.encoder\\.layers\\.1\\.mlp\\.dense_h_to_4h\\.weight"`));

    const extra = new Map(good);
    extra.set("model.encoder.layers.0.self_attention.rotary_emb.inv_freq", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    await writeModel(extra);
    await expect(readCheckpoint(dir())).rejects.toThrow(/unexpected tensor "model\.encoder\.layers\.0\.self_attention\.rotary_emb\.inv_freq" \(not a parameter of this config\)/);

    const q = layerParam(0, "self_attention.key_proj.weight");
    const shaped = new Map(good);
    shaped.set(q, { dtype: "F32", shape: [H, 8], data: new Float32Array(H * 8) }); // internal layout by mistake
    await writeModel(shaped);
    await expect(readCheckpoint(dir())).rejects.toThrow(/tensor "model\.encoder\.layers\.0\.self_attention\.key_proj\.weight" has shape \[16, 8\], expected \[8, 16\] \(\[out, in\]/);

    const ints = new Map(good);
    ints.set("model.encoder.ln_f.weight", { dtype: "I32", shape: [H], data: new Int32Array(H) });
    await writeModel(ints);
    await expect(readCheckpoint(dir())).rejects.toThrow(/"model\.encoder\.ln_f\.weight" has integer dtype I32/);

    const bytes = writeSafetensors(good);
    await writeFile(join(dir(), CHECKPOINT_FILES.model), bytes.subarray(0, bytes.length - 100));
    // a corrupt safetensors file is the documented CheckpointError, with the SafetensorsError as its cause
    await expect(readCheckpoint(dir())).rejects.toThrow(CheckpointError);
    expect(((await readCheckpoint(dir()).catch((e: unknown) => e)) as Error).cause).toBeInstanceOf(SafetensorsError);
    await expect(readCheckpoint(dir())).rejects.toThrow(new RegExp(`${file}: tensor "[^"]+": data_offsets .* go past the end`));

    await writeModel(good);
    await writeFile(join(dir(), CHECKPOINT_FILES.state), "{ nope");
    await expect(readCheckpoint(dir())).rejects.toThrow(/trainer_state\.json: not valid JSON/);
    await rm(join(dir(), CHECKPOINT_FILES.state));

    await writeFile(join(dir(), CHECKPOINT_FILES.config), JSON.stringify({ ...JSON.parse(await readFile(join(dir(), CHECKPOINT_FILES.config), "utf8")), n_head: 5 }));
    await expect(readCheckpoint(dir())).rejects.toThrow(/config\.json: invalid model config: n_head/);
    await rm(join(dir(), CHECKPOINT_FILES.config));
    await expect(readCheckpoint(dir())).rejects.toThrow(/cannot read .*bad\/config\.json/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("assignWeights checks everything before assigning anything, and leaks nothing", () => {
    const m = model(small, 12);
    const w = initParameters(config, new Rng(13));
    const emb = "model.word_embeddings.weight";
    const embBits = bits(m.params.get(emb)!);
    const stray = tf.zeros([2]);
    const wrong = tf.zeros([301, H]);
    const ints = tf.zeros([H], "int32");
    const before = tf.memory().numTensors;

    const missing = new Map<string, tf.Tensor>(w);
    missing.delete("lm_head.weight");
    expect(() => assignWeights(m.params, missing)).toThrow(/assignWeights: missing tensor "lm_head\.weight"/);
    expect(() => assignWeights(m.params, new Map<string, tf.Tensor>([...w, ["score.weight", stray]]))).toThrow(/unexpected tensor "score\.weight"/);
    expect(() => assignWeights(m.params, new Map<string, tf.Tensor>([...w, ["lm_head.weight", wrong]]))).toThrow(
      /assignWeights: tensor "lm_head\.weight" has shape \[301, 16\], the parameter has \[16, 300\]/,
    );
    expect(() => assignWeights(m.params, new Map<string, tf.Tensor>([...w, ["model.encoder.ln_f.weight", ints]]))).toThrow(/"model\.encoder\.ln_f\.weight" is int32, the parameter is float32/);
    expect(bits(m.params.get(emb)!)).toEqual(embBits); // nothing was assigned
    expect(tf.memory().numTensors).toBe(before);

    const wantBits = bits(w.get(emb)!);
    assignWeights(m.params, w);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(w); // the parameters keep their values
    expect(bits(m.params.get(emb)!)).toEqual(wantBits);
    for (const t of [stray, wrong, ints]) t.dispose();
    disposeAll(m.params);
  });
});

describe("official checkpoint written by PyTorch (bf16, nn.Linear layout)", () => {
  const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

  it("reads config and weights so that x · W_internal + b equals torch's F.linear(x, W, b)", async () => {
    const e = JSON.parse(await readFile(join(fixtures, "py-official.expected.json"), "utf8")) as Record<string, number[]>;
    const params = initParameters(resolveConfig({ vocab_size: 16, hidden_size: 8, n_layer: 1, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 12, max_seq_len: 32 }), new Rng(1));
    const before = tf.memory().numTensors;
    const read = await readCheckpoint(join(fixtures, "py-official"));
    expect(read.config).toMatchObject({ vocab_size: 16, hidden_size: 8, n_layer: 1, n_head: 2, num_heads_per_kv: 1, ffn_hidden_size: 12, qkv_bias: true });
    expect(read.tokenizer).toBeUndefined();
    const w = (name: string) => read.weights.get(name)!;
    const p = (s: string) => w(layerParam(0, s));
    const check = (got: tf.Tensor, want: number[] | undefined) => {
      const g = Array.from(got.dataSync());
      expect(g.length).toBe(want?.length);
      g.forEach((v, i) => expect(v).toBeCloseTo(want?.[i] ?? NaN, 4));
    };
    tf.tidy(() => {
      const x = tf.tensor(e.x!, [2, 8]);
      const xf = tf.tensor(e.xf!, [2, 12]);
      check(tf.add(tf.matMul(x, p("self_attention.query_proj.weight")), p("self_attention.query_proj.bias")), e.query);
      check(tf.add(tf.matMul(x, p("self_attention.key_proj.weight")), p("self_attention.key_proj.bias")), e.key);
      check(tf.matMul(x, p("self_attention.dense.weight")), e.dense);
      check(tf.matMul(x, p("mlp.dense_h_to_4h.weight:gate")), e.gate);
      check(tf.matMul(x, p("mlp.dense_h_to_4h.weight:up")), e.up);
      check(tf.matMul(xf, p("mlp.dense_4h_to_h.weight")), e.down);
      check(tf.matMul(x, w("lm_head.weight")), e.logits);
      check(tf.slice(w("model.word_embeddings.weight"), [3, 0], [1, 8]), e.embedding_row_3);
      check(w("model.encoder.ln_f.weight"), e.ln_f);
    });
    // bf16 → f32 is exact: values match torch's float() bit for bit
    expect(Array.from(w("model.encoder.ln_f.weight").dataSync())).toEqual(e.ln_f);
    assignWeights(params, read.weights);
    disposeRead(read);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(params.get("model.encoder.ln_f.weight")!.dataSync())).toEqual(e.ln_f);
    disposeAll(params);
  });
});

describe("resolveCheckpointDir: the one locator every reader goes through", () => {
  it("gives <dir>, else the newest complete <dir>.old-… by the numbers in its name (not the string), else undefined; the next save cleans up", async () => {
    const dir = join(root, "locate");
    const saveAs = async (name: string, step: number, withTokenizer: boolean) => {
      const m = model(small, 30 + step);
      await saveCheckpoint(join(root, "staging"), { model: m, state: { step }, ...(withTokenizer ? { tokenizer } : {}) });
      await rename(join(root, "staging"), name);
      disposeAll(m.params);
    };
    expect(await resolveCheckpointDir(dir)).toBeUndefined();
    // as a string "7-999-5" sorts after "7-1000-…", and "…-10" before "…-2": the numbers decide
    await saveAs(`${dir}.old-7-999-5`, 1, true);
    await saveAs(`${dir}.old-7-1000-2`, 2, true);
    await saveAs(`${dir}.old-7-1000-10`, 3, true);
    await mkdir(`${dir}.old-7-2000-0`); // newer but incomplete (no config.json, no model.safetensors): skipped
    await saveAs(`${dir}.old-junk`, 4, true); // not a stamp of ours: never read
    await saveAs(`${dir}.tmp-4194305-3000-0`, 5, true); // a temp directory is never read (it may be incomplete)
    await mkdir(`${dir}.tmp-${process.ppid}-3000-1`); // a save in progress in another (running) process
    await mkdir(`${dir}.del-7-500-0`); // a removal that was interrupted

    expect(await resolveCheckpointDir(dir)).toBe(`${dir}.old-7-1000-10`);
    const read = await readCheckpoint(dir);
    expect(read.dir).toBe(`${dir}.old-7-1000-10`);
    expect(read.state).toEqual({ step: 3 });
    disposeRead(read);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.state).toEqual({ step: 3 });
    loaded.model.dispose();

    // a save after the fallback: <dir> holds only the new files (no tokenizer.json from the .old- copy),
    // every .old- and .del- sibling and the dead process's .tmp- are gone; what is not ours, or still running, stays
    const m = model(small, 40);
    await saveCheckpoint(dir, { model: m, state: { step: 4 } });
    expect(await resolveCheckpointDir(dir)).toBe(dir);
    expect((await readdir(dir)).sort()).toEqual([CHECKPOINT_FILES.config, CHECKPOINT_FILES.model, CHECKPOINT_FILES.state]);
    expect((await leftovers(dir)).sort()).toEqual(["locate.old-junk", `locate.tmp-${process.ppid}-3000-1`]);
    disposeAll(m.params);
  });

  it("is what readCheckpoint, loadCheckpoint and the package's exports use", async () => {
    expect(core.resolveCheckpointDir).toBe(resolveCheckpointDir);
    expect(core.CheckpointError).toBe(CheckpointError);
    expect(core.SafetensorsError).toBe(SafetensorsError);
    expect(core.MAX_TENSOR_ELEMENTS).toBe(2 ** 32);
    await expect(loadCheckpoint(join(root, "nowhere"))).rejects.toThrow(CheckpointError);
  });
});

describe("every failure to read a checkpoint is a CheckpointError that names the file", () => {
  let n = 0;
  /** A fresh complete checkpoint (config, weights, tokenizer, optimizer, state). */
  const fresh = async (): Promise<string> => {
    const dir = join(root, `errors-${n++}`);
    const m = model(small, 50);
    const opt = tf.tensor([1, 2], [2]);
    await saveCheckpoint(dir, { model: m, tokenizer, optimizer: new Map([["m", opt]]), state: { step: 3 } });
    opt.dispose();
    disposeAll(m.params);
    return dir;
  };
  /** Read `dir`, expect a CheckpointError, and check that nothing leaked. */
  const failure = async (dir: string, options?: ReadCheckpointOptions): Promise<CheckpointError> => {
    const before = tf.memory().numTensors;
    const err = await readCheckpoint(dir, options).then(
      (r) => {
        disposeRead(r);
        return new Error("expected readCheckpoint to fail");
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect(tf.memory().numTensors).toBe(before);
    return err as CheckpointError;
  };
  const u64 = (v: bigint, extra = 0) => {
    const b = new Uint8Array(8 + extra);
    new DataView(b.buffer).setBigUint64(0, v, true);
    return b;
  };

  it("a missing directory", async () => {
    const dir = join(root, "errors-none");
    expect((await failure(dir)).message).toBe(`checkpoint directory ${dir} does not exist`);
  });

  it("config.json: missing, not JSON, not an object, invalid fields", async () => {
    const dir = await fresh();
    const path = join(dir, CHECKPOINT_FILES.config);
    const good = await readFile(path, "utf8");
    await rm(path);
    let e = await failure(dir);
    expect(e.message.startsWith(`cannot read ${path}: ENOENT`)).toBe(true);
    await writeFile(path, "{");
    e = await failure(dir);
    expect(e.message.startsWith(`${path}: not valid JSON: `)).toBe(true);
    expect(e.cause).toBeInstanceOf(SyntaxError);
    await writeFile(path, "[1]");
    expect((await failure(dir)).message).toBe(`${path}: not a JSON object`);
    await writeFile(path, JSON.stringify({ ...JSON.parse(good), n_head: 5 }));
    e = await failure(dir);
    expect(e.message.startsWith(`${path}: invalid model config: n_head`)).toBe(true);
    expect(e.cause).toBeInstanceOf(ConfigError);
  });

  it("model.safetensors: missing, corrupt, header length past the end of the file, shorter than 8 bytes, unknown dtype", async () => {
    const dir = await fresh();
    const path = join(dir, CHECKPOINT_FILES.model);
    await rm(path);
    let e = await failure(dir);
    expect(e.message.startsWith(`cannot read ${path}: ENOENT`)).toBe(true);
    expect(e.cause).toBeInstanceOf(SafetensorsError);

    await writeFile(path, new Uint8Array(64).fill(0xff)); // corrupt: the u64 header length is 2^64 - 1
    e = await failure(dir);
    expect(e.message).toBe(`${path}: header length 18446744073709551615 is implausible (over 100000000 bytes; not a safetensors file?)`);
    expect(e.cause).toBeInstanceOf(SafetensorsError);

    await writeFile(path, u64(1000n, 16));
    expect((await failure(dir)).message).toBe(`${path}: truncated file: header says 1000 bytes of JSON but only 16 follow`);

    await writeFile(path, new Uint8Array(3));
    expect((await failure(dir)).message).toBe(`${path}: truncated file (3 bytes, shorter than the 8-byte header length)`);

    const json = new TextEncoder().encode(JSON.stringify({ w: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }));
    const bytes = new Uint8Array(8 + json.length + 8);
    bytes.set(u64(BigInt(json.length)));
    bytes.set(json, 8);
    await writeFile(path, bytes);
    expect((await failure(dir)).message).toBe(`${path}: tensor "w": unknown dtype "C64"`);
  });

  it("tokenizer.json, optimizer.safetensors and trainer_state.json", async () => {
    const dir = await fresh();
    const tokPath = join(dir, CHECKPOINT_FILES.tokenizer);
    const tok = await readFile(tokPath);
    await writeFile(tokPath, "{ nope");
    let e = await failure(dir);
    expect(e.message.startsWith(`${tokPath}: `)).toBe(true); // the rest is the tokenizer package's message
    expect(e.cause).toBeInstanceOf(TokenizerError);
    await writeFile(tokPath, tok);

    const optPath = join(dir, CHECKPOINT_FILES.optimizer);
    const opt = await readFile(optPath);
    await writeFile(optPath, opt.subarray(0, opt.length - 4));
    e = await failure(dir);
    expect(e.message).toBe(`${optPath}: tensor "m": data_offsets [0, 8] go past the end of the data (4 bytes; file truncated?)`);
    expect(e.cause).toBeInstanceOf(SafetensorsError);
    await writeFile(optPath, opt);

    const statePath = join(dir, CHECKPOINT_FILES.state);
    await writeFile(statePath, "[1]");
    expect((await failure(dir)).message).toBe(`${statePath}: not a JSON object`);
  });
});

describe("non-finite weights", () => {
  it("are refused by default with a CheckpointError naming the file and the tensor (index in the file's layout); allowNonFinite: true loads them", async () => {
    const dir = join(root, "nonfinite");
    const m = model(small, 60);
    const q = layerParam(0, "self_attention.query_proj.weight"); // internal [in 16, out 16], the file holds [out, in]
    const qv = m.params.get(q)!.dataSync().slice() as Float32Array;
    qv[1 * 16 + 2] = Infinity; // internal [1, 2] → file [2, 1] = flat index 2 * 16 + 1 = 33
    tf.tidy(() => m.params.get(q)!.assign(tf.tensor(qv, [16, 16])));
    const ln = m.params.get("model.encoder.ln_f.weight")!;
    const lv = ln.dataSync().slice() as Float32Array;
    lv[3] = NaN;
    lv[5] = -Infinity;
    tf.tidy(() => ln.assign(tf.tensor(lv, [16])));
    await saveCheckpoint(dir, { model: m });
    const path = join(dir, CHECKPOINT_FILES.model);
    const before = tf.memory().numTensors;

    await expect(readCheckpoint(dir)).rejects.toThrow(CheckpointError);
    await expect(readCheckpoint(dir)).rejects.toThrow(
      `${path}: tensor "model.encoder.layers.0.self_attention.query_proj.weight" holds 1 non-finite value (first: Infinity at flat index 33 of [16, 16]); refusing to load it (pass allowNonFinite: true to load it anyway)`,
    );
    await expect(loadCheckpoint(dir)).rejects.toThrow(CheckpointError);
    expect(tf.memory().numTensors).toBe(before);

    // fix the first one: the next tensor with non-finite values is named, with its count
    qv[1 * 16 + 2] = 0;
    tf.tidy(() => m.params.get(q)!.assign(tf.tensor(qv, [16, 16])));
    await saveCheckpoint(dir, { model: m });
    await expect(readCheckpoint(dir)).rejects.toThrow(
      `${path}: tensor "model.encoder.ln_f.weight" holds 2 non-finite values (first: NaN at flat index 3 of [16]); refusing to load it (pass allowNonFinite: true to load it anyway)`,
    );

    const read = await readCheckpoint(dir, { allowNonFinite: true });
    expect(bits(read.weights.get("model.encoder.ln_f.weight")!)).toEqual(bits(ln));
    disposeRead(read);
    const loaded = await loadCheckpoint(dir, { allowNonFinite: true });
    const got = Array.from(loaded.model.params.get("model.encoder.ln_f.weight")!.dataSync());
    expect([got[3], got[5]]).toEqual([NaN, -Infinity]);
    loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(m.params);
  });

  it("in optimizer moments too", async () => {
    const dir = join(root, "nonfinite-opt");
    const m = model(small, 61);
    const moment = tf.tensor([0, NaN, 1], [3]);
    await saveCheckpoint(dir, { model: m, optimizer: new Map([["x.m", moment]]) });
    await expect(readCheckpoint(dir)).rejects.toThrow(
      `${join(dir, CHECKPOINT_FILES.optimizer)}: tensor "x.m" holds 1 non-finite value (first: NaN at flat index 1 of [3]); refusing to load it (pass allowNonFinite: true to load it anyway)`,
    );
    const read = await readCheckpoint(dir, { allowNonFinite: true });
    expect(Array.from(read.optimizer!.get("x.m")!.dataSync())).toEqual([0, NaN, 1]);
    disposeRead(read);
    moment.dispose();
    disposeAll(m.params);
  });

  it("options are validated (zod): a wrong type or an unknown key is a ConfigError naming the field", async () => {
    const dir = join(root, "nonfinite-opt");
    await expect(readCheckpoint(dir, { allowNonFinite: "yes" } as unknown as ReadCheckpointOptions)).rejects.toThrow(
      new ConfigError("invalid checkpoint options: allowNonFinite: Invalid input: expected boolean, received string"),
    );
    await expect(loadCheckpoint(dir, { allownonfinite: true } as unknown as ReadCheckpointOptions)).rejects.toThrow(/invalid checkpoint options: Unrecognized key: "allownonfinite"/);
  });
});

describe("saving writes piecewise", () => {
  it("streams the weights tensor by tensor into exactly the bytes of the in-memory writer, and names an unsavable optimizer tensor", async () => {
    const dir = join(root, "stream");
    const m = model(small, 70);
    await saveCheckpoint(dir, { model: m });
    const want = writeSafetensors(await encodeModelWeights(m.config, m.params), { format: "pt" });
    expect(new Uint8Array(await readFile(join(dir, CHECKPOINT_FILES.model)))).toEqual(want);

    const t = tf.tensor([1]);
    const err = await saveCheckpoint(dir, { model: m, optimizer: new Map([["", t]]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toBe('optimizer tensors: cannot write a tensor named ""');
    expect((err as Error).cause).toBeInstanceOf(SafetensorsError);
    expect(await leftovers(dir)).toEqual([]);
    t.dispose();
    disposeAll(m.params);
  });

  // By hand (about 6 GiB of RAM, 2.5 GiB of disk, ~40 s): BATGPT_BIG_TESTS=1 npx vitest run test/checkpoint.test.ts
  it.runIf(process.env.BATGPT_BIG_TESTS === "1")(
    "saves and loads a 2.51 GiB model (over the 2 GiB of Node's readFile)",
    async () => {
      const config = resolveConfig({ vocab_size: 35456, hidden_size: 2048, n_layer: 12, n_head: 16, num_heads_per_kv: 2, ffn_hidden_size: 5632, max_seq_len: 64 });
      expect(countParameters(config)).toBe(673792000);
      const params = emptyParameters(config);
      const emb = params.get("model.word_embeddings.weight")!;
      emb.assign(tf.fill(emb.shape, 0.5));
      const ln = params.get("model.encoder.ln_f.weight")!;
      ln.assign(tf.range(0, 2048, 1, "float32"));
      const dir = join(root, "big");
      let t0 = performance.now();
      await saveCheckpoint(dir, { model: { config, params } });
      const saveSec = (performance.now() - t0) / 1000;
      const size = (await stat(join(dir, CHECKPOINT_FILES.model))).size;
      expect(size).toBe(2695184976); // 2.51 GiB
      disposeAll(params);
      t0 = performance.now();
      const { model: loaded } = await loadCheckpoint(dir);
      const loadSec = (performance.now() - t0) / 1000;
      const e = loaded.params.get("model.word_embeddings.weight")!;
      expect([tf.min(e).dataSync()[0], tf.max(e).dataSync()[0]]).toEqual([0.5, 0.5]);
      expect(Array.from(loaded.params.get("model.encoder.ln_f.weight")!.dataSync().slice(0, 4))).toEqual([0, 1, 2, 3]);
      loaded.dispose();
      await rm(dir, { recursive: true });
      console.log(JSON.stringify({ bytes: size, GiB: size / 2 ** 30, saveSec, loadSec, rssGiB: process.memoryUsage().rss / 2 ** 30 }));
    },
    300_000,
  );
});

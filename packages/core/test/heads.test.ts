import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { trainBpe, type Tokenizer } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { directionalInput } from "../src/bidirectional.js";
import { encodeModelWeights, saveCheckpoint } from "../src/checkpoint.js";
import { readSafetensorsFile } from "../src/safetensors.js";
import { loadCheckpoint } from "../src/load.js";
import { createModel, type BatGPTModel } from "../src/model.js";
import { ConfigError } from "../src/options.js";

const tiny = { hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 16 };
let tok: Tokenizer;
let dir: string;

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
  tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
  dir = mkdtempSync(join(tmpdir(), "batgpt-heads-"));
  return () => rmSync(dir, { recursive: true, force: true });
});

/** The head's output `[B·T, outputs]` for rows of ids read forward. */
function scores(model: BatGPTModel, name: string, ids: number[]): Float32Array {
  return tf.tidy(() => {
    const { input } = directionalInput(Int32Array.from(ids), 1, ids.length, "forward", model.startToken("forward"));
    return model.headOutput(name, model.hidden(input, 1, ids.length).hidden).dataSync() as Float32Array;
  });
}

describe("heads on the trunk", () => {
  it("adds a scalar head whose parameters clone, freeze, save and load with the trunk, bit for bit", async () => {
    const model = createModel(tiny, { tokenizer: tok, seed: 1 });
    const trunk = new Map([...model.params].map(([n, v]) => [n, v.dataSync().slice()]));
    model.addHead("score", { outputs: 1 }, { seed: 7 });
    model.addHead("v_head", { outputs: 1, bias: true }, { seed: 8 });
    expect(model.config.heads).toEqual({ score: { outputs: 1, bias: false }, v_head: { outputs: 1, bias: true } });
    expect(model.headParameterNames("v_head")).toEqual(["v_head.weight", "v_head.bias"]);
    // adding a head leaves the trunk as it was
    for (const [n, values] of trunk) expect(model.params.get(n)!.dataSync()).toEqual(values);
    const ids = [5, 9, 12, 40, 7];
    const s = scores(model, "score", ids);
    expect(s.length).toBe(ids.length);

    // freeze the trunk: only the head trains
    const head = new Set(model.headParameterNames("score"));
    model.setTrainable(false, (n) => !head.has(n));
    expect([...model.params].filter(([, v]) => v.trainable).map(([n]) => n)).toEqual(["score.weight"]);

    const copy = model.clone();
    expect(copy.config.heads).toEqual(model.config.heads);
    copy.params.get("score.weight")!.assign(tf.zerosLike(copy.params.get("score.weight")!));
    expect(scores(model, "score", ids)).toEqual(s);
    copy.dispose();

    const ckpt = join(dir, "with-heads");
    await saveCheckpoint(ckpt, { model, tokenizer: tok });
    const json = JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")) as { heads: unknown };
    expect(json.heads).toEqual({ score: { outputs: 1, bias: false }, v_head: { outputs: 1, bias: true } });
    // on disk, Hugging Face's layout: nn.Linear weights [out, in]
    const disk = await readSafetensorsFile(join(ckpt, "model.safetensors"));
    expect(disk.tensors.get("score.weight")!.shape).toEqual([1, 16]);
    expect(disk.tensors.get("v_head.bias")!.shape).toEqual([1]);
    // dropping the head tensors leaves exactly the trunk's (what the official code loads)
    const trunkOnly = createModel(tiny, { tokenizer: tok });
    const official = new Set((await encodeModelWeights(trunkOnly.config, trunkOnly.params)).keys());
    trunkOnly.dispose();
    expect([...disk.tensors.keys()].filter((n) => !official.has(n)).sort()).toEqual(["score.weight", "v_head.bias", "v_head.weight"]);
    expect([...official].every((n) => disk.tensors.has(n))).toBe(true);
    const loaded = await loadCheckpoint(ckpt);
    expect(scores(loaded.model, "score", ids)).toEqual(s);
    expect(scores(loaded.model, "v_head", ids)).toEqual(scores(model, "v_head", ids));
    loaded.model.dispose();
    model.dispose();
  });

  it("refuses bad heads with a ConfigError naming them", () => {
    const model = createModel(tiny, { tokenizer: tok });
    model.addHead("score");
    expect(() => model.addHead("score")).toThrow(/already has a head named "score"/);
    expect(() => model.addHead("lm_head")).toThrow(ConfigError);
    expect(() => model.addHead("my head")).toThrow(/identifier/);
    expect(() => model.addHead("x", { outputs: 0 })).toThrow(/outputs/);
    expect(() => model.headOutput("nope", tf.zeros([1, 16]) as tf.Tensor2D)).toThrow(/has no head named "nope" \(it has score\)/);
    model.dispose();
  });
});

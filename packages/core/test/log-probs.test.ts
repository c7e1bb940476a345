import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { trainBpe } from "@batgpt/tokenizer";
import { selectBackend } from "../src/backend.js";
import { createModel } from "../src/model.js";
import { Rng } from "../src/rng.js";

const tiny = { hidden_size: 16, n_layer: 2, n_head: 4, num_heads_per_kv: 2, ffn_hidden_size: 24, max_seq_len: 16 };

describe.each(["wasm", "cpu"] as const)("tokenLogProbs on %s", (backend) => {
  it("equals log-softmax-and-gather of the logits within 1e-5, aligned with the ids, in both directions", async () => {
    await selectBackend({ backend, log: false });
    const tok = await trainBpe(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"], { vocabSize: 300, minFrequency: 1 });
    const model = createModel(tiny, { tokenizer: tok, seed: 3 });
    const rng = new Rng(1);
    const B = 3;
    const T = 7;
    const rows = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(tok.vocabSize)));
    const batch = { ids: Int32Array.from(rows.flat()), batch: B, seqLen: T };
    // warm up: the attention ops cache a mask per shape on first use
    tf.tidy(() => model.tokenLogProbs(batch, "forward"));
    const before = tf.memory().numTensors;
    for (const direction of ["forward", "backward"] as const) {
      const lp = model.tokenLogProbs(batch, direction);
      expect(lp.shape).toEqual([B, T]);
      const got = lp.arraySync();
      lp.dispose();
      // reference: logits[b, t] predicts the t-th token in reading order
      const logits = model.logits(rows, { direction });
      const logp = tf.tidy(() => tf.logSoftmax(logits).arraySync());
      logits.dispose();
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < T; j++) {
          const t = direction === "forward" ? j : T - 1 - j;
          expect(Math.abs(got[b]![j]! - logp[b]![t]![rows[b]![j]!]!)).toBeLessThan(1e-5);
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("has a gradient that matches central differences", async () => {
    await selectBackend({ backend, log: false });
    const tok = await trainBpe(["床前明月光，疑是地上霜。"], { vocabSize: 280, minFrequency: 1 });
    const model = createModel(tiny, { tokenizer: tok, seed: 5 });
    const rng = new Rng(2);
    const batch = { ids: Int32Array.from({ length: 2 * 6 }, () => rng.int(tok.vocabSize)), batch: 2, seqLen: 6 };
    const r = tf.tensor2d(Array.from({ length: 12 }, () => rng.normal()), [2, 6]);
    for (const direction of ["forward", "backward"] as const) {
      const f = () => tf.sum(tf.mul(model.tokenLogProbs(batch, direction), r)) as tf.Scalar;
      const names = ["lm_head.weight", "model.encoder.layers.0.self_attention.query_proj.weight", "model.word_embeddings.weight"];
      const vars = names.map((n) => model.params.get(n)!);
      const { grads } = tf.variableGrads(f, vars);
      const eps = 1e-2;
      for (const v of vars) {
        const g = grads[v.name]!.dataSync();
        const base = Float32Array.from(v.dataSync());
        for (let k = 0; k < 8; k++) {
          const j = rng.int(base.length);
          const at = (delta: number): number => {
            const x = Float32Array.from(base);
            x[j]! += delta;
            v.assign(tf.tensor(x, v.shape));
            return tf.tidy(() => f().dataSync()[0]!);
          };
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          v.assign(tf.tensor(base, v.shape));
          expect(Math.abs(numeric - g[j]!), `${v.name}[${j}] ${direction}: analytic ${g[j]}, numeric ${numeric}`).toBeLessThan(2e-3 + 1e-2 * Math.abs(g[j]!));
        }
      }
      Object.values(grads).forEach((t) => t.dispose());
    }
    r.dispose();
    model.dispose();
  });
});

import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { countParameters, Rng, selectBackend, type BatGPTConfigInput, type BatGPTModel } from "@batgpt/core";
import { growModel, maxLogitDiff, type GrowOptions } from "../src/index.js";
import { randomIds, trainedLikeModel } from "./helpers.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm", log: false });
});

const divisors = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

/** A small source config: head dim 4 or 8, 1–4 query heads over a divisor of them as KV heads. */
const sourceArb = fc
  .record({
    headDim: fc.constantFrom(4, 8),
    nHead: fc.integer({ min: 1, max: 4 }),
    kvPick: fc.nat(),
    ffn: fc.integer({ min: 3, max: 20 }),
    layers: fc.integer({ min: 1, max: 3 }),
    qkvBias: fc.boolean(),
    tie: fc.boolean(),
    scheme: fc.constantFrom("token", "embedding") as fc.Arbitrary<"token" | "embedding">,
    score: fc.boolean(),
    seed: fc.nat({ max: 10_000 }),
  })
  .map((s) => {
    const kvs = divisors(s.nHead);
    const config: BatGPTConfigInput = {
      hidden_size: s.nHead * s.headDim,
      n_head: s.nHead,
      num_heads_per_kv: kvs[s.kvPick % kvs.length]!,
      ffn_hidden_size: s.ffn,
      n_layer: s.layers,
      qkv_bias: s.qkvBias,
      tie_word_embeddings: s.tie,
      direction_scheme: s.scheme,
      heads: s.score ? { score: { outputs: 1 } } : {},
    };
    return { config, headDim: s.headDim, seed: s.seed };
  });

/** Query and KV heads of a target that the source's groups fit in (see plan.ts). */
function headsTarget(nHead: number, kv: number, extraHeads: number, kvPick: number): { n_head: number; num_heads_per_kv: number } {
  const n2 = nHead + extraHeads;
  const g = nHead / kv;
  const fits = divisors(n2).filter((kv2) => kv2 >= kv && kv2 >= kv * Math.ceil(g / (n2 / kv2)));
  if (fits.length > 0) return { n_head: n2, num_heads_per_kv: fits[kvPick % fits.length]! };
  return { n_head: nHead * 2, num_heads_per_kv: kv * 2 }; // doubling always fits
}

const optionsArb: fc.Arbitrary<GrowOptions> = fc.record({
  width: fc.constantFrom("zero", "duplicate") as fc.Arbitrary<"zero" | "duplicate">,
  depth: fc.constantFrom("copy", "identity") as fc.Arbitrary<"copy" | "identity">,
  positions: fc.constantFrom("interleave", "top") as fc.Arbitrary<"interleave" | "top">,
  seed: fc.nat({ max: 1000 }),
});

/** The largest difference between two models' named-head outputs on `ids`, in both directions. */
function headDiff(a: BatGPTModel, b: BatGPTModel, head: string, ids: number[][]): number {
  let worst = 0;
  for (const direction of ["forward", "backward"] as const) {
    const input = Int32Array.from(ids.flatMap((row) => [a.startToken(direction), ...row]));
    const out = (m: BatGPTModel) => m.headOutput(head, m.hidden(input, ids.length, ids[0]!.length + 1, { direction }).hidden);
    worst = Math.max(worst, tf.tidy(() => tf.max(tf.abs(tf.sub(out(a), out(b)))).dataSync()[0]!));
  }
  return worst;
}

type Kind = "width" | "heads" | "depth" | "combined";

const caseArb = (kind: Kind) =>
  fc.record({
    source: sourceArb,
    extraHeads: fc.integer({ min: kind === "width" ? 0 : 1, max: 4 }),
    kvPick: fc.nat(),
    widerHeads: fc.boolean(),
    extraFfn: fc.integer({ min: 0, max: 12 }),
    extraLayers: fc.integer({ min: 1, max: 3 }),
    options: optionsArb,
  });

type Case = ReturnType<typeof caseArb> extends fc.Arbitrary<infer T> ? T : never;

function targetOf(kind: Kind, c: Case): BatGPTConfigInput {
  const s = c.source.config as Required<Pick<BatGPTConfigInput, "n_head" | "num_heads_per_kv" | "ffn_hidden_size" | "n_layer">>;
  const target: BatGPTConfigInput = {};
  if (kind === "width" || kind === "combined") {
    // more heads of the same size, and/or wider heads (the rotated dimensions stay), and a wider MLP
    const heads = headsTarget(s.n_head, s.num_heads_per_kv, c.extraHeads, c.kvPick);
    const headDim = c.widerHeads ? c.source.headDim * 2 : c.source.headDim;
    Object.assign(target, heads, { hidden_size: heads.n_head * headDim, ffn_hidden_size: s.ffn_hidden_size + c.extraFfn + 1 });
  }
  if (kind === "heads") {
    // more query heads (and KV heads) of the same size: the residual stream widens with them
    const heads = headsTarget(s.n_head, s.num_heads_per_kv, c.extraHeads, c.kvPick);
    Object.assign(target, heads, { hidden_size: heads.n_head * c.source.headDim });
  }
  if (kind === "depth" || kind === "combined") target.n_layer = s.n_layer + c.extraLayers;
  return target;
}

describe("growth preserves the function (fast-check over small configs and targets)", () => {
  for (const kind of ["width", "heads", "depth", "combined"] as const) {
    it(`${kind}: logits equal within 1e-4 in both directions; the parameter count is the target's`, () => {
      fc.assert(
        fc.property(caseArb(kind), (c) => {
          const source = trainedLikeModel(c.source.config, c.source.seed);
          const target = targetOf(kind, c);
          const { model, plan } = growModel(source, target, c.options);
          try {
            const ids = randomIds(new Rng(c.source.seed), 2, 8);
            const diff = maxLogitDiff(source, model, ids);
            expect(plan.preservesFunction).toBe(true);
            expect(diff).toBeLessThan(1e-4);
            // the logits are not trivially small, so 1e-4 is a real bound
            const scale = tf.tidy(() => tf.max(tf.abs(source.logits(ids))).dataSync()[0]!);
            expect(scale).toBeGreaterThan(0.1);
            const grownCount = [...model.params.values()].reduce((n, v) => n + v.size, 0);
            expect(grownCount).toBe(countParameters(plan.target));
            for (const [k, v] of Object.entries(target)) expect(model.config[k as keyof typeof model.config]).toEqual(v);
            expect(model.config.heads).toEqual(source.config.heads);
            if (source.config.heads.score) expect(headDiff(source, model, "score", ids)).toBeLessThan(1e-4);
          } finally {
            model.dispose();
            source.dispose();
          }
        }),
        { numRuns: 30, seed: 13 },
      );
    });
  }
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng, splitmix64 } from "../src/rng.js";

const u64 = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

describe("Rng seeding", () => {
  it("fills the state with SplitMix64 (reference outputs of splitmix64.c)", () => {
    // the first two outputs of splitmix64.c from state 1234567
    const o = splitmix64(1234567n, 2);
    expect(u64(o[0]!, o[1]!)).toBe(6457827717110365317n);
    expect(u64(o[2]!, o[3]!)).toBe(3203168211198807973n);
  });

  it("spreads the first and second draws over [0, 1) across seeds 0..99", () => {
    for (const draw of [0, 1]) {
      const xs = Array.from({ length: 100 }, (_, seed) => {
        const r = new Rng(seed);
        for (let i = 0; i < draw; i++) r.float();
        return r.float();
      });
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      // uniform: mean 0.5 with standard error 0.029
      expect(mean).toBeGreaterThan(0.4);
      expect(mean).toBeLessThan(0.6);
      expect(Math.min(...xs)).toBeLessThan(0.1);
      expect(Math.max(...xs)).toBeGreaterThan(0.9);
      // every tenth of [0, 1) is hit
      expect(new Set(xs.map((x) => Math.floor(x * 10))).size).toBe(10);
    }
  });

  it("gives different streams for nearby and negative seeds, the same for the same seed", () => {
    const first = (seed: number) => Array.from({ length: 4 }, ((r) => () => r.uint32())(new Rng(seed)));
    const seeds = [0, 1, 2, 3, -1, -2, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
    const streams = seeds.map((s) => first(s).join(","));
    expect(new Set(streams).size).toBe(seeds.length);
    expect(first(5)).toEqual(first(5));
  });

  it("resumes exactly from its state", () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(20), (seed, skip) => {
        const a = new Rng(seed);
        for (let i = 0; i < skip; i++) a.normal();
        const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
        expect(Array.from({ length: 5 }, () => b.normal())).toEqual(Array.from({ length: 5 }, () => a.normal()));
      }),
    );
  });

  it("refuses a seed that is not a safe integer", () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53]) expect(() => new Rng(bad)).toThrow(/seed must be a safe integer/);
  });
});

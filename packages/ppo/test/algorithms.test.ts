import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AdaptiveKlController, FixedKlController, gae, klController, klPerToken, PpoError, tokenRewards, whiten } from "../src/index.js";

/** GAE written the plain way: each advantage as the discounted sum of future TD errors. */
function referenceGae(r: number[], v: number[], gamma: number, lambda: number): { adv: number[]; ret: number[] } {
  const n = r.length;
  const delta = r.map((x, t) => x + gamma * (t + 1 < n ? v[t + 1]! : 0) - v[t]!);
  const adv = r.map((_, t) => {
    let s = 0;
    for (let l = 0; t + l < n; l++) s += (gamma * lambda) ** l * delta[t + l]!;
    return s;
  });
  return { adv, ret: adv.map((a, t) => a + v[t]!) };
}

describe("gae", () => {
  it("equals the discounted sum of TD errors on random inputs", () => {
    const f = fc.double({ min: -10, max: 10, noNaN: true });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(fc.array(f, { minLength: n, maxLength: n }), fc.array(f, { minLength: n, maxLength: n }))), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), ([r, v], gamma, lambda) => {
        const got = gae(r, v, gamma, lambda);
        const want = referenceGae(r, v, gamma, lambda);
        for (let t = 0; t < r.length; t++) {
          expect(got.advantages[t]).toBeCloseTo(want.adv[t]!, 8);
          expect(got.returns[t]).toBeCloseTo(want.ret[t]!, 8);
        }
      }),
    );
  });
  it("with γ = λ = 1 and zero values, the advantage is the reward-to-go", () => {
    expect(Array.from(gae([1, 2, 3], [0, 0, 0], 1, 1).advantages)).toEqual([6, 5, 3]);
  });
  it("refuses arrays of different lengths and γ outside [0, 1]", () => {
    expect(() => gae([1], [1, 2], 1, 1)).toThrow(PpoError);
    expect(() => gae([1], [1], 1.5, 1)).toThrow(/gamma and lambda must be in \[0, 1\]/);
  });
});

describe("whiten", () => {
  it("gives zero mean and unit (unbiased) variance over the masked entries and leaves the rest", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 3, maxLength: 40 }), (xs) => {
        fc.pre(new Set(xs).size > 1 && Math.max(...xs) - Math.min(...xs) > 0.1);
        const values = Float64Array.from([...xs, 123]);
        const mask = [...xs.map(() => 1), 0];
        whiten(values, mask);
        const m = xs.map((_, i) => values[i]!);
        const mean = m.reduce((a, b) => a + b, 0) / m.length;
        const variance = m.reduce((a, b) => a + (b - mean) ** 2, 0) / (m.length - 1);
        expect(mean).toBeCloseTo(0, 6);
        expect(variance).toBeCloseTo(1, 4);
        expect(values[xs.length]).toBe(123);
      }),
    );
  });
  it("keeps the mean when shiftMean is false, and needs two entries", () => {
    const v = Float64Array.from([1, 3]);
    whiten(v, [1, 1], false);
    expect((v[0]! + v[1]!) / 2).toBeCloseTo(2, 10);
    expect(() => whiten(Float64Array.from([1, 2]), [1, 0])).toThrow(/at least 2 masked entries/);
  });
});

describe("KL and rewards", () => {
  it("k1 is log π − log π_ref and k3 = (r − 1) − log r ≥ 0", () => {
    const lp = [-1, -2, -0.5];
    const ref = [-1.5, -1, -0.5];
    expect(Array.from(klPerToken(lp, ref, "k1"), (x) => x + 0)).toEqual([0.5, -1, 0]);
    const k3 = klPerToken(lp, ref, "k3");
    expect(k3[0]).toBeCloseTo(Math.exp(-0.5) - 1 + 0.5, 12);
    expect(k3[1]).toBeCloseTo(Math.exp(1) - 1 - 1, 12);
    expect(k3[2]).toBe(0);
    for (const x of k3) expect(x).toBeGreaterThanOrEqual(0);
  });
  it("puts −β·kl on every token and the score on the last", () => {
    expect(Array.from(tokenRewards([1, 2], 3, 0.5))).toEqual([-0.5, 2]);
    expect(() => tokenRewards([], 1, 0.1)).toThrow(/0 tokens/);
  });
});

describe("KL controllers", () => {
  it("the adaptive controller raises β above the target and lowers it below (Ziegler et al.'s rule)", () => {
    const c = new AdaptiveKlController(0.1, 6, 10000);
    c.update(12, 100); // error clipped to +0.2
    expect(c.value).toBeCloseTo(0.1 * (1 + (0.2 * 100) / 10000), 12);
    const before = c.value;
    c.update(3, 100); // error −0.5 → −0.2
    expect(c.value).toBeCloseTo(before * (1 - (0.2 * 100) / 10000), 12);
    const d = new AdaptiveKlController(0.1, 6, 10000);
    d.update(6.6, 1000); // error 0.1, inside the clip
    expect(d.value).toBeCloseTo(0.1 * (1 + (0.1 * 1000) / 10000), 12);
  });
  it("a fixed β never moves; klController picks by target", () => {
    const f = new FixedKlController(0.2);
    f.update();
    expect(f.value).toBe(0.2);
    expect(klController({ beta: 0.3 })).toBeInstanceOf(FixedKlController);
    expect(klController({ beta: 0.3, target: 6 })).toBeInstanceOf(AdaptiveKlController);
    expect(() => klController({ beta: -1 })).toThrow(/beta/);
  });
});

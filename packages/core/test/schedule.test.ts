import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lrAt, makeSchedule } from "../src/schedule.js";

const opts = { peak: 3e-4, warmupSteps: 100, totalSteps: 1000, minRatio: 0.1 };

describe("lrAt", () => {
  it("warms up linearly, peaks, decays by cosine to peak·minRatio", () => {
    expect(lrAt(0, opts)).toBeCloseTo(3e-4 / 100, 15);
    expect(lrAt(49, opts)).toBeCloseTo(3e-4 * 0.5, 15);
    expect(lrAt(99, opts)).toBeCloseTo(3e-4, 15);
    expect(lrAt(100, opts)).toBeCloseTo(3e-4, 15);
    // halfway through the decay: the mean of peak and floor
    expect(lrAt(550, opts)).toBeCloseTo((3e-4 + 3e-5) / 2, 15);
    expect(lrAt(1000, opts)).toBeCloseTo(3e-5, 15);
    expect(lrAt(5000, opts)).toBeCloseTo(3e-5, 15);
  });

  it("without warmup starts at the peak; defaults fill minRatio", () => {
    expect(lrAt(0, { peak: 1, totalSteps: 10 })).toBe(1);
    expect(lrAt(10, { peak: 1, totalSteps: 10 })).toBeCloseTo(0.1, 15);
  });

  it("names the bad field", () => {
    expect(() => lrAt(0, { peak: -1, totalSteps: 10 })).toThrow(/peak/);
    expect(() => lrAt(0, { peak: 1, totalSteps: 10, warmupSteps: 20 })).toThrow(/warmupSteps/);
    expect(() => lrAt(0, { peak: 1, totalSteps: 10, minRatio: 2 })).toThrow(/minRatio/);
    expect(() => lrAt(0, { peak: 1, totalSteps: 10, extra: 1 } as never)).toThrow(/extra|unrecognized/i);
    expect(() => lrAt(-1, { peak: 1, totalSteps: 10 })).toThrow(/step/);
  });

  it("never exceeds the peak, also where peak·(step+1)/warmupSteps rounds one ulp above it", () => {
    // found by the property below (fast-check seed 1910440346): (peak · 10) / 10 > peak in float64
    const o = { peak: 0.000003303172416490142, totalSteps: 11, warmupSteps: 10, minRatio: 0 };
    expect((o.peak * 10) / 10).toBeGreaterThan(o.peak);
    expect(lrAt(9, o)).toBe(o.peak);
  });

  it("property: increasing in warmup, decreasing after, within bounds", () => {
    const arb = fc.record({
      peak: fc.double({ min: 1e-6, max: 1, noNaN: true }),
      totalSteps: fc.integer({ min: 1, max: 5000 }),
      warmFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      minRatio: fc.double({ min: 0, max: 1, noNaN: true }),
      a: fc.integer({ min: 0, max: 6000 }),
      b: fc.integer({ min: 0, max: 6000 }),
    });
    fc.assert(
      fc.property(arb, ({ peak, totalSteps, warmFrac, minRatio, a, b }) => {
        const o = { peak, totalSteps, warmupSteps: Math.floor(warmFrac * totalSteps), minRatio };
        const lr = makeSchedule(o);
        const [s, t] = a <= b ? [a, b] : [b, a];
        const ls = lr(s);
        const lt = lr(t);
        expect(ls).toBe(lrAt(s, o));
        for (const [step, v] of [[s, ls], [t, lt]] as const) {
          expect(v).toBeLessThanOrEqual(peak);
          // warmup lies in (0, peak]; after it, [peak·minRatio, peak]
          if (step < o.warmupSteps) expect(v).toBeGreaterThan(0);
          else expect(v).toBeGreaterThanOrEqual(peak * minRatio);
        }
        if (t < o.warmupSteps) expect(lt).toBeGreaterThanOrEqual(ls);
        if (s >= o.warmupSteps) expect(lt).toBeLessThanOrEqual(ls);
      }),
      { numRuns: 500 },
    );
  });
});

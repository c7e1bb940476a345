import { describe, expect, it } from "vitest";
import { cohensKappa, fleissKappa } from "../src/index.js";

describe("agreement", () => {
  it("Cohen's kappa of Wikipedia's worked example is 0.4", () => {
    // 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o = 0.7, p_e = 0.5
    const a = [...Array(20).fill("yes"), ...Array(5).fill("yes"), ...Array(10).fill("no"), ...Array(15).fill("no")] as string[];
    const b = [...Array(20).fill("yes"), ...Array(5).fill("no"), ...Array(10).fill("yes"), ...Array(15).fill("no")] as string[];
    expect(cohensKappa(a, b)).toBeCloseTo(0.4, 12);
    expect(cohensKappa(a, a)).toBe(1);
    expect(cohensKappa(["x", "x"], ["x", "x"])).toBeNaN();
  });

  it("Fleiss' kappa of Fleiss' worked example (Wikipedia: 10 items, 14 raters, 5 categories) is 0.210", () => {
    const counts = [
      [0, 0, 0, 0, 14],
      [0, 2, 6, 4, 2],
      [0, 0, 3, 5, 6],
      [0, 3, 9, 2, 0],
      [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0],
      [3, 2, 6, 3, 0],
      [2, 5, 3, 2, 2],
      [6, 5, 2, 1, 0],
      [0, 2, 2, 3, 7],
    ];
    expect(fleissKappa(counts)).toBeCloseTo(0.21, 3);
    expect(() => fleissKappa([[1, 1], [2, 1]])).toThrow(/an item has 3 ratings, the first 2/);
  });
});

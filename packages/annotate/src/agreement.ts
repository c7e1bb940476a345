/**
 * Agreement between annotators on categorical verdicts.
 *
 * - Cohen's kappa (Cohen 1960) for two raters: `κ = (p_o − p_e) / (1 − p_e)`, `p_o` the observed
 *   agreement, `p_e = Σ_c p₁(c)·p₂(c)` the agreement expected from each rater's own marginals.
 * - Fleiss' kappa (Fleiss 1971) for n raters per item: `κ = (P̄ − P̄_e) / (1 − P̄_e)`, with
 *   `P_i = (Σ_c n_ic² − n) / (n(n − 1))`, `P̄` their mean and `P̄_e = Σ_c p_c²`, `p_c` the share of
 *   all ratings in category c.
 *
 * Both are 1 for perfect agreement, 0 for chance; `NaN` when chance agreement is already 1 (every
 * rating in one category), where kappa is undefined.
 */

/** Cohen's kappa of two raters' labels of the same items (`a[i]` and `b[i]` label item i). */
export function cohensKappa(a: readonly string[], b: readonly string[]): number {
  if (a.length !== b.length) throw new Error(`cohensKappa: ${a.length} labels against ${b.length}`);
  if (a.length === 0) return Number.NaN;
  const n = a.length;
  let agree = 0;
  const ca = new Map<string, number>();
  const cb = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
  }
  const po = agree / n;
  let pe = 0;
  for (const [c, k] of ca) pe += (k / n) * ((cb.get(c) ?? 0) / n);
  return pe === 1 ? Number.NaN : (po - pe) / (1 - pe);
}

/**
 * Fleiss' kappa of `counts[i][c]`: how many raters put item i in category c; every item must have
 * the same number of raters n ≥ 2.
 */
export function fleissKappa(counts: readonly (readonly number[])[]): number {
  if (counts.length === 0) return Number.NaN;
  const n = counts[0]!.reduce((s, x) => s + x, 0);
  if (n < 2) throw new Error(`fleissKappa: items need at least 2 ratings, got ${n}`);
  const k = counts[0]!.length;
  const totals = new Array<number>(k).fill(0);
  let pBar = 0;
  for (const row of counts) {
    if (row.length !== k) throw new Error(`fleissKappa: rows have ${row.length} and ${k} categories`);
    const ni = row.reduce((s, x) => s + x, 0);
    if (ni !== n) throw new Error(`fleissKappa: an item has ${ni} ratings, the first ${n}`);
    row.forEach((x, c) => (totals[c]! += x));
    pBar += (row.reduce((s, x) => s + x * x, 0) - n) / (n * (n - 1));
  }
  pBar /= counts.length;
  const all = counts.length * n;
  const pe = totals.reduce((s, t) => s + (t / all) ** 2, 0);
  return pe === 1 ? Number.NaN : (pBar - pe) / (1 - pe);
}

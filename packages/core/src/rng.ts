/**
 * The one seeded random generator every part of training draws from: weight init, batch
 * windows, sampling. Its state serialises to a few numbers, so a checkpoint resumes exactly.
 *
 * The generator is `pure-rand`'s xoroshiro128+. Its 128-bit state is filled from the seed with
 * SplitMix64, as the xoroshiro authors recommend (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", 2021, and prng.di.unimi.it: "We suggest to use a SplitMix64 to
 * initialize the state of our generators starting from a 64-bit seed"), so nearby seeds (0, 1,
 * 2, …) give unrelated streams from the very first draw.
 *
 * What a seed covers: one `Rng` and everything drawn from it, in order. The same seed, the same
 * calls in the same order and the same backend give the same numbers; weights, data windows and
 * sampling each take their seed from their own option (`createModel({ seed })`,
 * `train({ seed })`, `generate({ seed })`), so changing one does not change the others.
 */
import { xoroshiro128plusFromState, type xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

type Generator = ReturnType<typeof xoroshiro128plus>;

const MASK64 = (1n << 64n) - 1n;

/**
 * SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014;
 * the reference `splitmix64.c` at prng.di.unimi.it): the `n` 64-bit outputs that follow state
 * `seed`, each split into its high and low signed 32-bit halves.
 */
export function splitmix64(seed: bigint, n: number): number[] {
  let x = BigInt.asUintN(64, seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    z = z ^ (z >> 31n);
    out.push(Number(BigInt.asIntN(32, z >> 32n)), Number(BigInt.asIntN(32, z)));
  }
  return out;
}

/** A seeded generator with a serialisable state. */
export class Rng {
  private gen: Generator;
  private spare: number | undefined;

  /**
   * @param seed an integer seed in ±(2^53 − 1); the same seed gives the same stream.
   * @throws RangeError when `seed` is not a safe integer.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    // pure-rand's state is [s0 high, s0 low, s1 high, s1 low]; SplitMix64 never yields two zero words in a row
    this.gen = xoroshiro128plusFromState(splitmix64(BigInt(seed), 2));
  }

  /** Restore a generator from {@link Rng.state}. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.gen = xoroshiro128plusFromState(state.gen);
    r.spare = state.spare ?? undefined;
    return r;
  }

  /** The state, as plain JSON. */
  state(): RngState {
    return { gen: [...this.gen.getState()], spare: this.spare ?? null };
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.gen.next() >>> 0;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0) || !Number.isInteger(n)) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** A standard normal sample (Box–Muller; the second value is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` normal samples with standard deviation `std` as a Float32Array. */
  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }

  /** Shuffle `a` in place (Fisher–Yates). */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

/** Serialisable state of an {@link Rng}. */
export interface RngState {
  gen: number[];
  spare: number | null;
}

/**
 * An open-addressing hash table from a pair of token ids `(a, b)` to the merge it makes:
 * its priority (lower merges first) and the id of the merged token. Typed arrays, no
 * allocation per lookup: this is the innermost loop of encoding.
 */
export class PairTable {
  private mask: number;
  private keysA: Int32Array;
  private keysB: Int32Array;
  private prios: Int32Array;
  private results: Int32Array;
  private count = 0;
  /** The merged id of the last successful {@link PairTable.get}. */
  result = -1;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.prios = new Int32Array(cap);
    this.results = new Int32Array(cap);
  }

  /** Number of pairs stored. */
  get size(): number {
    return this.count;
  }

  private slot(a: number, b: number): number {
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) | 0;
    h ^= h >>> 15;
    return h & this.mask;
  }

  /**
   * The priority of merging `(a, b)` (and sets {@link PairTable.result}), `-1` if the pair
   * is stored as "does not merge", or `-2` if the pair is not stored.
   */
  get(a: number, b: number): number {
    const keysA = this.keysA;
    const mask = this.mask;
    let i = this.slot(a, b);
    for (;;) {
      const ka = keysA[i]!;
      if (ka === -1) return -2;
      if (ka === a && this.keysB[i] === b) {
        this.result = this.results[i]!;
        return this.prios[i]!;
      }
      i = (i + 1) & mask;
    }
  }

  /** Store the merge of `(a, b)`; `prio = -1` records that the pair does not merge. */
  set(a: number, b: number, prio: number, result: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const mask = this.mask;
    let i = this.slot(a, b);
    for (;;) {
      const ka = this.keysA[i]!;
      if (ka === -1) {
        this.count++;
        break;
      }
      if (ka === a && this.keysB[i] === b) break;
      i = (i + 1) & mask;
    }
    this.keysA[i] = a;
    this.keysB[i] = b;
    this.prios[i] = prio;
    this.results[i] = result;
  }

  private grow(): void {
    const { keysA, keysB, prios, results } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.prios = new Int32Array(cap);
    this.results = new Int32Array(cap);
    this.count = 0;
    for (let i = 0; i < keysA.length; i++) {
      if (keysA[i] !== -1) this.set(keysA[i]!, keysB[i]!, prios[i]!, results[i]!);
    }
  }
}

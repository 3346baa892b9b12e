/**
 * The Mersenne Twister (MT19937, Matsumoto–Nishimura) behind numpy's legacy `RandomState` and CPython's
 * `random.Random`; the two differ only in seeding: `RandomState(int)` uses `init_genrand` (the constructor),
 * CPython's `random.seed(int)` uses `init_by_array` on the integer's 32-bit words (`MT19937.fromKey`).
 *
 * numpy's legacy `RandomState` (MT19937) is ported far enough to reproduce `randint(low, high, dtype=np.uint64)`, which is
 * how datatrove draws the MinHash permutation parameters (minhash.py `MinhashDedupSignature.parameters`:
 * `np.random.RandomState(seed)`, then `randint(1, p)` and `randint(0, p)` for p = 2^61 − 1). Every task must draw
 * the same parameters as datatrove, or signatures from the two tools could never be compared.
 *
 * Sources: numpy/random/src/mt19937/mt19937.c (`mt19937_seed` = Matsumoto–Nishimura init_genrand, `mt19937_gen`,
 * the tempering, `mt19937_next64` = high word drawn first), numpy/random/_bounded_integers.pyx `_rand_uint64`
 * (exclusive `high` becomes `high − 1`, rng = high − low) and distributions.c `bounded_masked_uint64` (RandomState
 * uses the masked rejection sampler: draw 64 bits, AND with the smallest 2^k − 1 ≥ rng, retry while > rng).
 */
const N = 624
const M = 397

export class MT19937 {
  private readonly mt = new Uint32Array(N)
  private index = N

  /** `init_genrand(seed)`; RandomState(int) → _legacy_seeding → mt19937_seed(seed & 0xffffffff). */
  constructor(seed: number) {
    this.mt[0] = seed >>> 0
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1]! ^ (this.mt[i - 1]! >>> 30)
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0
    }
  }

  /** `init_by_array(key)` (CPython's `_randommodule.c`), the seeding of `random.seed(n)`. */
  static fromKey(key: ReadonlyArray<number>): MT19937 {
    const g = new MT19937(19650218)
    const mt = g.mt
    let i = 1
    let j = 0
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + key[j]! + j) >>> 0
      i++
      j++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
      if (j >= key.length) j = 0
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0
      i++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
    }
    mt[0] = 0x80000000
    return g
  }

  private generate(): void {
    const mt = this.mt
    for (let k = 0; k < N; k++) {
      const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % N]! & 0x7fffffff)
      mt[k] = mt[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)
    }
    this.index = 0
  }

  /** `genrand_uint32`. */
  next32(): number {
    if (this.index >= N) this.generate()
    let y = this.mt[this.index++]!
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }

  next64(): bigint {
    const hi = this.next32()
    const lo = this.next32()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** `RandomState.randint(low, high, size, dtype=np.uint64)` for a range wider than 32 bits. */
  randintUint64(low: bigint, high: bigint, size: number): Array<bigint> {
    const rng = high - 1n - low
    if (rng <= 0xffffffffn) throw new RangeError("randintUint64: only ranges wider than 32 bits are ported")
    let mask = rng
    for (const s of [1n, 2n, 4n, 8n, 16n, 32n]) mask |= mask >> s
    const out: Array<bigint> = []
    for (let i = 0; i < size; i++) {
      let v: bigint
      do v = this.next64() & mask
      while (v > rng)
      out.push(low + v)
    }
    return out
  }
}

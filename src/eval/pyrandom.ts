/**
 * CPython's `random.Random` (MT19937, `Modules/_randommodule.c` and `Lib/random.py` of 3.10–3.12), the parts
 * lighteval uses: `seed(int)`, `random()`, `shuffle`, `sample`. lighteval shuffles every task's documents with
 * `random.Random(42)` before taking `--max_samples`, then draws GSM8K's few-shot examples from that same
 * generator (`tasks/lighteval_task.py`, `create_requests_from_tasks`), so which questions a `--limit` run sees
 * and which exemplars each question gets are only reproducible with the same generator.
 */
export class PyRandom {
  private readonly mt = new Uint32Array(624)
  private index = 625

  constructor(seed: number) {
    this.seed(seed)
  }

  /** `random.seed(n)` for a non-negative or negative integer: the key is |n| in 32-bit little-endian words. */
  seed(n: number): void {
    if (!Number.isSafeInteger(n)) throw new RangeError(`seed must be a safe integer, got ${n}`)
    let a = Math.abs(n)
    const key: Array<number> = []
    do {
      key.push(a % 0x1_0000_0000)
      a = Math.floor(a / 0x1_0000_0000)
    } while (a > 0)
    this.initByArray(key)
  }

  private initGenrand(s: number): void {
    const mt = this.mt
    mt[0] = s >>> 0
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0
    }
    this.index = 624
  }

  private initByArray(key: ReadonlyArray<number>): void {
    const mt = this.mt
    this.initGenrand(19650218)
    let i = 1
    let j = 0
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + key[j]! + j) >>> 0
      i++
      j++
      if (i >= 624) {
        mt[0] = mt[623]!
        i = 1
      }
      if (j >= key.length) j = 0
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0
      i++
      if (i >= 624) {
        mt[0] = mt[623]!
        i = 1
      }
    }
    mt[0] = 0x80000000
    this.index = 624
  }

  /** `genrand_uint32`. */
  uint32(): number {
    const mt = this.mt
    if (this.index >= 624) {
      for (let kk = 0; kk < 624; kk++) {
        const y = (mt[kk]! & 0x80000000) | (mt[(kk + 1) % 624]! & 0x7fffffff)
        mt[kk] = mt[(kk + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)
      }
      this.index = 0
    }
    let y = mt[this.index++]!
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }

  /** `random()`: 53 random bits in [0, 1). */
  random(): number {
    const a = this.uint32() >>> 5
    const b = this.uint32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  /** `getrandbits(k)` for 0 < k ≤ 32. */
  getrandbits(k: number): number {
    return this.uint32() >>> (32 - k)
  }

  /** `_randbelow_with_getrandbits(n)`: rejection sampling on bit_length(n) bits. */
  randbelow(n: number): number {
    if (n <= 0 || n > 0xffffffff) throw new RangeError(`randbelow supports 0 < n < 2^32, got ${n}`)
    const k = 32 - Math.clz32(n)
    let r = this.getrandbits(k)
    while (r >= n) r = this.getrandbits(k)
    return r
  }

  /** `shuffle(x)` in place (Fisher–Yates from the end). */
  shuffle<A>(x: Array<A>): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1)
      const t = x[i]!
      x[i] = x[j]!
      x[j] = t
    }
  }

  /** `sample(population, k)`: the pool method for small populations, the set method otherwise, as CPython. */
  sample<A>(population: ReadonlyArray<A>, k: number): Array<A> {
    const n = population.length
    if (k < 0 || k > n) throw new RangeError("Sample larger than population or is negative")
    const result: Array<A> = []
    let setsize = 21
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4))
    if (n <= setsize) {
      const pool = population.slice()
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i)
        result.push(pool[j]!)
        pool[j] = pool[n - i - 1]!
      }
    } else {
      const selected = new Set<number>()
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n)
        while (selected.has(j)) j = this.randbelow(n)
        selected.add(j)
        result.push(population[j]!)
      }
    }
    return result
  }
}

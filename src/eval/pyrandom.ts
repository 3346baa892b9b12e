import { MT19937 } from "../data/random/mt19937.ts"

/**
 * CPython's `random.Random` (MT19937, `Modules/_randommodule.c` and `Lib/random.py` of 3.10–3.12), the parts
 * lighteval uses: `seed(int)`, `random()`, `shuffle`, `sample`. lighteval shuffles every task's documents with
 * `random.Random(42)` before taking `--max_samples`, then draws GSM8K's few-shot examples from that same
 * generator (`tasks/lighteval_task.py`, `create_requests_from_tasks`), so which questions a `--limit` run sees
 * and which exemplars each question gets are only reproducible with the same generator.
 */
export class PyRandom {
  private mt: MT19937

  constructor(seed: number) {
    this.mt = PyRandom.seeded(seed)
  }

  /** `random.seed(n)` for a non-negative or negative integer: the key is |n| in 32-bit little-endian words. */
  seed(n: number): void {
    this.mt = PyRandom.seeded(n)
  }

  private static seeded(n: number): MT19937 {
    if (!Number.isSafeInteger(n)) throw new RangeError(`seed must be a safe integer, got ${n}`)
    let a = Math.abs(n)
    const key: Array<number> = []
    do {
      key.push(a % 0x1_0000_0000)
      a = Math.floor(a / 0x1_0000_0000)
    } while (a > 0)
    return MT19937.fromKey(key)
  }

  /** `genrand_uint32`. */
  uint32(): number {
    return this.mt.next32()
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

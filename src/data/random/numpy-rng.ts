/**
 * numpy's `np.random.default_rng(seed)` for an integer seed, bit for bit: `Generator(PCG64(SeedSequence(seed)))`.
 * datatrove draws its seeded randomness from it (`SamplerFilter`, the tokenizer's and merger's document shuffles),
 * so the same seed keeps the same documents and gives the same document order here as there.
 *
 * Written from numpy's sources (numpy/random/bit_generator.pyx, _pcg64.pyx, src/pcg64/pcg64.h,
 * _generator.pyx, _bounded_integers.pyx.in, src/distributions/distributions.c):
 * - `SeedSequence(seed)`: the seed as 32-bit words, lowest first (0 is one word), hashed into a pool of four
 *   words (`mix_entropy`: `hashmix` with INIT_A/MULT_A, then `mix` with MIX_MULT_L/MIX_MULT_R), and
 *   `generate_state(4, uint64)` hashing the pool again (INIT_B/MULT_B) into eight words read as four
 *   little-endian uint64: state high, state low, increment high, increment low.
 * - `PCG64`: `pcg64_set_seed` (`pcg_setseq_128_srandom_r`): inc = (initseq << 1) | 1, state = 0, one step,
 *   state += initstate, one step. Each draw steps the 128-bit LCG (state * 0x2360ED051FC65DA44385DF649FCCF645
 *   + inc) and outputs XSL-RR (high ^ low, rotated right by the top six bits). `next_uint32` hands out the
 *   low half of a 64-bit draw and keeps the high half for the next call (`has_uint32`); `next_double` is
 *   (next_uint64 >> 11) * 2^-53 and does not touch that buffer.
 * - `Generator`: `random()`, `uniform(low, high)` = low + (high - low) * next_double, `integers(low, high)` for
 *   the default int64 dtype (Lemire's method, 32-bit draws when high - low - 1 fits in 32 bits), and
 *   `shuffle`/`permutation` for 1-D arrays (Fisher-Yates from the last element down with `random_interval`,
 *   masked rejection on 32-bit draws).
 *
 * The 128-bit state is eight 16-bit limbs in plain numbers (products and sums stay exact in doubles); BigInt is
 * only used for seeding and for bounds wider than 32 bits.
 */

const MASK32 = 0xffffffff
const TWO32 = 4294967296
const TWO_NEG_53 = 1 / 9007199254740992

// SeedSequence constants (bit_generator.pyx).
const POOL_SIZE = 4
const INIT_A = 0x43b0d7e5
const MULT_A = 0x931e8875
const INIT_B = 0x8b51f9dd
const MULT_B = 0x58f38ded
const MIX_MULT_L = 0xca01f9dd
const MIX_MULT_R = 0x4973f715
const XSHIFT = 16

/** PCG64's multiplier, 0x2360ED051FC65DA44385DF649FCCF645, as 16-bit limbs, lowest first. */
const MULTIPLIER = limbsOf(0x2360ed051fc65da44385df649fccf645n)

function limbsOf(x: bigint): Float64Array {
  const out = new Float64Array(8)
  for (let i = 0; i < 8; i++) out[i] = Number((x >> BigInt(16 * i)) & 0xffffn)
  return out
}

const bigOf = (limbs: Float64Array): bigint => {
  let x = 0n
  for (let i = 7; i >= 0; i--) x = (x << 16n) | BigInt(limbs[i]!)
  return x
}

/** An integer seed as numpy accepts it: a non-negative safe integer or a non-negative bigint. */
export type NumpySeed = number | bigint

const seedBig = (seed: NumpySeed): bigint => {
  if (typeof seed === "number" && !Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  const s = BigInt(seed)
  if (s < 0n) throw new RangeError(`seed must be non-negative, got ${seed}`)
  return s
}

/** `_int_to_uint32_array`: 32-bit words, lowest first; 0 is the single word 0. */
const seedWords = (seed: bigint): Array<number> => {
  if (seed === 0n) return [0]
  const out: Array<number> = []
  for (let n = seed; n > 0n; n >>= 32n) out.push(Number(n & 0xffffffffn))
  return out
}

/** `hashmix` with the running multiplier in `hash[0]`. */
const hashmix = (value: number, hash: Uint32Array): number => {
  value = (value ^ hash[0]!) >>> 0
  hash[0] = Math.imul(hash[0]!, MULT_A)
  value = Math.imul(value, hash[0]!) >>> 0
  return (value ^ (value >>> XSHIFT)) >>> 0
}

const mix = (x: number, y: number): number => {
  const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0
  return (r ^ (r >>> XSHIFT)) >>> 0
}

/** `SeedSequence(seed).pool`: the entropy mixed into four 32-bit words (no spawn key). */
export const seedSequencePool = (seed: NumpySeed): Uint32Array => {
  const entropy = seedWords(seedBig(seed))
  const pool = new Uint32Array(POOL_SIZE)
  const hash = Uint32Array.of(INIT_A)
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0, hash)
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!, hash))
    }
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst]!, hashmix(entropy[src]!, hash))
  }
  return pool
}

/** `SeedSequence(seed).generate_state(nWords, np.uint32)`. */
export const seedSequenceState32 = (seed: NumpySeed, nWords: number): Uint32Array => {
  const pool = seedSequencePool(seed)
  const out = new Uint32Array(nWords)
  let hash = INIT_B
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % POOL_SIZE]! ^ hash) >>> 0
    hash = Math.imul(hash, MULT_B) >>> 0
    v = Math.imul(v, hash) >>> 0
    out[i] = (v ^ (v >>> XSHIFT)) >>> 0
  }
  return out
}

/** `SeedSequence(seed).generate_state(nWords, np.uint64)`: pairs of 32-bit words, low word first. */
export const seedSequenceState64 = (seed: NumpySeed, nWords: number): Array<bigint> => {
  const w = seedSequenceState32(seed, 2 * nWords)
  return Array.from({ length: nWords }, (_, i) => (BigInt(w[2 * i + 1]!) << 32n) | BigInt(w[2 * i]!))
}

/** Anything `shuffle` can permute in place: arrays and typed arrays. */
export interface MutableIndexed<T> {
  readonly length: number
  [index: number]: T
}

/** numpy's `PCG64` bit generator: the 128-bit LCG with XSL-RR output, plus the 32-bit half buffer. */
export class PCG64 {
  private readonly state = new Float64Array(8)
  private readonly inc = new Float64Array(8)
  private readonly sums = new Float64Array(8)
  private hasUint32 = false
  private uinteger = 0
  /** The last 64-bit output, high and low words (read right after `step64`). */
  private outHi = 0
  private outLo = 0

  /** `PCG64(seed)`: seeded through `SeedSequence(seed).generate_state(4, uint64)`. */
  static fromSeed(seed: NumpySeed): PCG64 {
    const [sHi, sLo, iHi, iLo] = seedSequenceState64(seed, 4) as [bigint, bigint, bigint, bigint]
    return new PCG64((sHi << 64n) | sLo, (iHi << 64n) | iLo)
  }

  /** `pcg64_set_seed(initstate, initseq)` (`pcg_setseq_128_srandom_r`). */
  constructor(initstate: bigint, initseq: bigint) {
    const mask128 = (1n << 128n) - 1n
    this.inc.set(limbsOf(((initseq << 1n) | 1n) & mask128))
    this.state.fill(0)
    this.step()
    this.state.set(limbsOf((bigOf(this.state) + (initstate & mask128)) & mask128))
    this.step()
  }

  /** The state as numpy's `bit_generator.state` reports it. */
  get stateInfo(): { readonly state: bigint; readonly inc: bigint; readonly hasUint32: boolean; readonly uinteger: number } {
    return { state: bigOf(this.state), inc: bigOf(this.inc), hasUint32: this.hasUint32, uinteger: this.uinteger }
  }

  /** state = state * MULTIPLIER + inc (mod 2^128). */
  private step(): void {
    const s = this.state
    const m = MULTIPLIER
    const t = this.sums
    for (let k = 0; k < 8; k++) {
      let acc = 0
      for (let i = 0; i <= k; i++) acc += s[i]! * m[k - i]!
      t[k] = acc
    }
    const inc = this.inc
    let carry = 0
    for (let k = 0; k < 8; k++) {
      const v = t[k]! + inc[k]! + carry
      carry = Math.floor(v / 65536)
      s[k] = v - carry * 65536
    }
  }

  /** One step and its XSL-RR output, left in `outHi`/`outLo`. */
  private step64(): void {
    this.step()
    const s = this.state
    const xh = ((s[7]! * 65536 + s[6]!) ^ (s[3]! * 65536 + s[2]!)) >>> 0
    const xl = ((s[5]! * 65536 + s[4]!) ^ (s[1]! * 65536 + s[0]!)) >>> 0
    const rot = s[7]! >>> 10
    if (rot === 0) {
      this.outHi = xh
      this.outLo = xl
    } else if (rot < 32) {
      this.outHi = ((xh >>> rot) | (xl << (32 - rot))) >>> 0
      this.outLo = ((xl >>> rot) | (xh << (32 - rot))) >>> 0
    } else if (rot === 32) {
      this.outHi = xl
      this.outLo = xh
    } else {
      const r = rot - 32
      this.outHi = ((xl >>> r) | (xh << (32 - r))) >>> 0
      this.outLo = ((xh >>> r) | (xl << (32 - r))) >>> 0
    }
  }

  /** `next_uint64`. */
  nextUint64(): bigint {
    this.step64()
    return (BigInt(this.outHi) << 32n) | BigInt(this.outLo)
  }

  /** `next_uint32`: the low half of a 64-bit draw, then the high half on the next call. */
  nextUint32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false
      return this.uinteger
    }
    this.step64()
    this.hasUint32 = true
    this.uinteger = this.outHi
    return this.outLo
  }

  /** `next_double`: (next_uint64 >> 11) * 2^-53. */
  nextDouble(): number {
    this.step64()
    return (this.outHi * 2097152 + (this.outLo >>> 11)) * TWO_NEG_53
  }
}

/** x * y for 32-bit unsigned x, y, as [high 32 bits, low 32 bits]. */
const mul32 = (x: number, y: number): [number, number] => {
  const x0 = x & 0xffff
  const x1 = x >>> 16
  const y0 = y & 0xffff
  const y1 = y >>> 16
  const low = x1 * y0 * 65536 + x0 * y1 * 65536 + x0 * y0 // < 2^50, exact
  const carry = Math.floor(low / TWO32)
  return [x1 * y1 + carry, low - carry * TWO32]
}

const UINT64_MAX = (1n << 64n) - 1n

/** numpy's `Generator` over `PCG64`, for the draws datatrove makes. */
export class NumpyGenerator {
  constructor(readonly bitGenerator: PCG64) {}

  /** `Generator.random()`: a double in [0, 1). */
  random(): number {
    return this.bitGenerator.nextDouble()
  }

  /** `Generator.uniform(low, high)` for scalars: low + (high - low) * next_double. */
  uniform(low = 0, high = 1): number {
    const range = high - low
    if (!Number.isFinite(range)) throw new RangeError("high - low range exceeds valid bounds")
    if (range < 0) throw new RangeError("high - low < 0")
    return low + range * this.bitGenerator.nextDouble()
  }

  /**
   * `Generator.integers(low, high)` (high exclusive; `integers(n)` is `integers(0, n)`) for the default int64
   * dtype, with `endpoint` making high inclusive. Bounds are safe integers; `random_bounded_uint64` with
   * `use_masked=False`: Lemire's method on 32-bit draws when the inclusive range fits in 32 bits, on 64-bit
   * draws otherwise.
   */
  integers(low: number, high?: number, endpoint = false): number {
    if (high === undefined) {
      high = low
      low = 0
    }
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high)) throw new RangeError(`integers: bounds must be safe integers, got ${low}, ${high}`)
    const top = endpoint ? high : high - 1
    if (low > top) throw new RangeError(endpoint ? "low > high" : "low >= high")
    const rng = top - low
    if (!Number.isSafeInteger(rng)) throw new RangeError(`integers: range ${low}..${top} is wider than 2^53`)
    return low + this.boundedUint64(rng)
  }

  /** `random_bounded_uint64(off=0, rng, use_masked=False)`: a value in [0, rng]. */
  private boundedUint64(rng: number): number {
    if (rng === 0) return 0
    if (rng <= MASK32) {
      if (rng === MASK32) return this.bitGenerator.nextUint32()
      return this.lemire32(rng)
    }
    return Number(this.lemire64(BigInt(rng)))
  }

  /** `buffered_bounded_lemire_uint32`. */
  private lemire32(rng: number): number {
    const excl = rng + 1
    let [hi, leftover] = mul32(this.bitGenerator.nextUint32(), excl)
    if (leftover < excl) {
      const threshold = (MASK32 - rng) % excl
      while (leftover < threshold) [hi, leftover] = mul32(this.bitGenerator.nextUint32(), excl)
    }
    return hi
  }

  /** `bounded_lemire_uint64` (rng < 2^64 - 1). */
  private lemire64(rng: bigint): bigint {
    const excl = rng + 1n
    let m = this.bitGenerator.nextUint64() * excl
    let leftover = m & UINT64_MAX
    if (leftover < excl) {
      const threshold = (UINT64_MAX - rng) % excl
      while (leftover < threshold) {
        m = this.bitGenerator.nextUint64() * excl
        leftover = m & UINT64_MAX
      }
    }
    return m >> 64n
  }

  /** `random_interval(max)`: a value in [0, max] by masked rejection (32-bit draws when max fits in 32 bits). */
  randomInterval(max: number): number {
    if (max === 0) return 0
    if (max <= MASK32) {
      let mask = max
      mask |= mask >>> 1
      mask |= mask >>> 2
      mask |= mask >>> 4
      mask |= mask >>> 8
      mask |= mask >>> 16
      let value: number
      while ((value = (this.bitGenerator.nextUint32() & mask) >>> 0) > max);
      return value
    }
    if (!Number.isSafeInteger(max)) throw new RangeError(`randomInterval: max must be a safe integer, got ${max}`)
    const big = BigInt(max)
    let mask = big
    for (const s of [1n, 2n, 4n, 8n, 16n, 32n]) mask |= mask >> s
    let value: bigint
    while ((value = this.bitGenerator.nextUint64() & mask) > big);
    return Number(value)
  }

  /** `Generator.shuffle(x)` for a 1-D array, in place: for i = n-1 down to 1, swap x[i] with x[random_interval(i)]. */
  shuffle<T>(x: MutableIndexed<T>): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randomInterval(i)
      const t = x[j]!
      x[j] = x[i]!
      x[i] = t
    }
  }

  /** `Generator.permutation(n)`: `np.arange(n)` shuffled (n < 2^32). */
  permutation(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > MASK32) throw new RangeError(`permutation: n must be an integer in [0, 2^32), got ${n}`)
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i++) out[i] = i
    this.shuffle(out)
    return out
  }

  /** `Generator.permutation(array)` for a 1-D array: a shuffled copy. */
  permuted<T>(items: ReadonlyArray<T>): Array<T> {
    const out = items.slice()
    this.shuffle(out)
    return out
  }
}

/** `np.random.default_rng(seed)` for a non-negative integer seed. */
export const defaultRng = (seed: NumpySeed): NumpyGenerator => new NumpyGenerator(PCG64.fromSeed(seed))

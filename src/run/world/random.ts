/**
 * The default world's randomness: numpy's `default_rng` (src/data/random/numpy-rng.ts) behind a few helpers, and
 * one independent stream per part of the world (`fork`), so that growing the web pages with `scale` never moves
 * a draw of the facts, the code or the evaluation tasks: the same seed gives the same world, part by part.
 */
import { defaultRng, type NumpyGenerator } from "../../data/random/numpy-rng.ts"

/** FNV-1a over UTF-16 code units: a stable 32-bit number for a stream's label. */
const labelHash = (label: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0
  return h
}

export class WorldRandom {
  private readonly rng: NumpyGenerator

  constructor(readonly seed: number, readonly label = "world") {
    // numpy seeds from any non-negative integer; seed and label side by side keep the streams apart.
    this.rng = defaultRng((BigInt(seed) << 32n) | BigInt(labelHash(label)))
  }

  /** An independent stream for one part of the world. */
  fork(label: string): WorldRandom {
    return new WorldRandom(this.seed, `${this.label}/${label}`)
  }

  /** An integer in [low, high], both included. */
  int(low: number, high: number): number {
    return this.rng.integers(low, high, true)
  }

  /** A number in [0, 1). */
  random(): number {
    return this.rng.random()
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.rng.random() < p
  }

  pick<A>(items: ReadonlyArray<A>): A {
    if (items.length === 0) throw new RangeError("pick from an empty list")
    return items[this.rng.integers(0, items.length)]!
  }

  /** `k` distinct items, in random order. */
  sample<A>(items: ReadonlyArray<A>, k: number): Array<A> {
    return this.shuffled(items).slice(0, k)
  }

  shuffled<A>(items: ReadonlyArray<A>): Array<A> {
    return this.rng.permuted(items)
  }

  /** An index drawn with probability proportional to `weights`. */
  weighted(weights: ReadonlyArray<number>): number {
    const total = weights.reduce((a, b) => a + b, 0)
    let u = this.rng.random() * total
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!
      if (u < 0) return i
    }
    return weights.length - 1
  }
}

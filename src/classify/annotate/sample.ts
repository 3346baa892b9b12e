import { defaultRng } from "../../data/random/numpy-rng.ts"

/**
 * A seeded uniform sample of `n` items from a stream of unknown length (reservoir sampling, Algorithm R): the
 * recipe annotates ~450k documents drawn from many millions, and a resumed run must draw the very same ones, so
 * the draw depends only on the seed and the input order. Returned in input order (by `position`).
 */
export class ReservoirSample<T> {
  private readonly rng
  private readonly items: Array<{ position: number; item: T }> = []
  private seen = 0

  constructor(readonly size: number, seed: number) {
    this.rng = defaultRng(seed)
  }

  offer(item: T): void {
    const position = this.seen++
    if (this.items.length < this.size) {
      this.items.push({ position, item })
      return
    }
    const j = this.rng.integers(0, position + 1)
    if (j < this.size) this.items[j] = { position, item }
  }

  /** How many items were offered. */
  get offered(): number {
    return this.seen
  }

  result(): Array<T> {
    return [...this.items].sort((a, b) => a.position - b.position).map((x) => x.item)
  }
}

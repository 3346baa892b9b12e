/**
 * mulberry32: a small, fast 32-bit generator, uniform in [0, 1). Not numpy's (see numpy-rng.ts for that): for
 * what only needs to be reproducible from a seed (test inputs, SFT epoch shuffles).
 */
export const mulberry32 = (seed: number): () => number => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

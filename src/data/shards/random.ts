/**
 * Seeded randomness for the training mixture's per-source, per-epoch document orders (mixture/Mixture.ts), which
 * have no datatrove counterpart: sfc32 seeded through splitmix32 over a seed and any number of stream keys. It
 * passes PractRand to 2^40+ and is plenty for permuting documents. It is not numpy's generator: what must match
 * datatrove for the same seed (the token shard writer's and merger's shuffles, SamplerFilter) draws from
 * ../random/numpy-rng.ts instead.
 */
const splitmix32 = (seed: number) => () => {
  seed = (seed + 0x9e3779b9) | 0
  let z = seed
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** A generator of floats in [0, 1) from a seed and any number of integer "stream" keys (epoch, source index, …). */
export const seededRandom = (seed: number, ...keys: ReadonlyArray<number>): (() => number) => {
  let mix = seed >>> 0
  for (const k of keys) mix = (Math.imul(mix ^ (k >>> 0), 0x27d4eb2d) + 0x165667b1) >>> 0
  const init = splitmix32(mix)
  let a = init()
  let b = init()
  let c = init()
  let d = init()
  const next = () => {
    a >>>= 0, b >>>= 0, c >>>= 0, d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  return next
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export const permutation = (n: number, random: () => number): Uint32Array => {
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

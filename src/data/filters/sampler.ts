import type { Document } from "../Document.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * datatrove's pipeline/filters/sampler_filter.py: keep each document with probability `rate`, from a seeded
 * generator so a rerun keeps the same documents. datatrove draws from numpy's `default_rng(seed)` (PCG64); this
 * draws from SplitMix64, so the same seed keeps a different (equally sized in expectation) sample.
 */
export const SamplerFilter = (rate = 0.5, seed = 0, id = "sampler"): DocFilter => {
  let state = BigInt.asUintN(64, BigInt(seed))
  const next = (): number => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n)
    let z = state
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n)
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn)
    z = z ^ (z >> 31n)
    return Number(z >> 11n) / 2 ** 53
  }
  return { id, filter: (doc: Document) => (next() < rate ? keep(doc) : drop()) }
}

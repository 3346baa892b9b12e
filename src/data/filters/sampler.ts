import type { Document } from "../Document.ts"
import { defaultRng, type NumpySeed } from "../random/numpy-rng.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * datatrove's pipeline/filters/sampler_filter.py: keep each document with probability `rate`, from a seeded
 * generator so a rerun keeps the same documents. As in datatrove, one draw of numpy's
 * `default_rng(seed).uniform()` per document, in order, and the document is kept when the draw is `< rate`; the
 * generator is numpy's bit for bit (../random/numpy-rng.ts), so the same seed keeps the same documents as
 * datatrove does. datatrove's seed defaults to None (fresh OS entropy); here it defaults to 0 so runs repeat.
 * The seed is a non-negative integer (numpy refuses others); a filter instance keeps its generator across
 * documents, as datatrove's step does within one task.
 */
export const SamplerFilter = (rate = 0.5, seed: NumpySeed = 0, id = "sampler"): DocFilter => {
  const rng = defaultRng(seed)
  return { id, filter: (doc: Document) => (rng.uniform() < rate ? keep(doc) : drop()) }
}

import type { LlamaConfig } from "../../src/model/config.ts"

/** Small enough for finite differences and f64 references, yet with GQA (4 query heads over 2 KV heads). */
export const microConfig = (tie: boolean): LlamaConfig => ({
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 4,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tieWordEmbeddings: tie,
  vocabSize: 37,
  maxPositionEmbeddings: 64,
  initializerRange: 0.3,
  bosTokenId: 0,
  eosTokenId: 0
})

/** Deterministic token ids that repeat (so the embedding backward sums several positions per id). */
export const tokenIds = (n: number, vocab: number, seed: number): Array<number> =>
  Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % vocab)

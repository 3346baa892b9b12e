import { type LlamaConfig, parameterCount } from "../model/config.ts"

/** Matmul FLOPs of one token through forward and backward: 6 per weight, plus attention's 12·L·T·H·D. */
export const flopsPerToken = (c: LlamaConfig, seq: number): number => {
  // Every weight takes part in a matmul except the norm gains and, when untied, the input embedding (a lookup).
  const norms = c.hiddenSize * (2 * c.numHiddenLayers + 1)
  const lookup = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize
  return 6 * (parameterCount(c) - norms - lookup) + 12 * c.numHiddenLayers * seq * c.numAttentionHeads * c.headDim
}

/** Bytes the run keeps on the device: weights, gradients and two moments, plus the activations of one micro-batch. */
export const memoryEstimate = (c: LlamaConfig, batch: number, seq: number): number => {
  const n = batch * seq
  const q = c.numAttentionHeads * c.headDim
  const kv = c.numKeyValueHeads * c.headDim
  const blocks = batch * c.numAttentionHeads
  const perLayer = n * (4 * c.hiddenSize + q * 2 + 2 * kv + 3 * c.intermediateSize + 2) + blocks * seq * (4 * c.headDim + seq)
  const scratch = n * (3 * c.hiddenSize + 2 * q + 2 * kv + 3 * c.intermediateSize) + blocks * seq * (5 * c.headDim + seq)
  const activations = c.numHiddenLayers * perLayer + (c.numHiddenLayers + 2) * n * c.hiddenSize + n * c.vocabSize + scratch
  return 4 * (4 * parameterCount(c) + activations)
}

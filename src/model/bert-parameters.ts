import type { BertConfig } from "./bert-config.ts"
import { elementCount, normalGenerator, type TensorSpec } from "./parameters.ts"

/**
 * The encoder's tensors, named exactly as transformers' `BertModel` names them (a `BertForSequenceClassification`
 * file puts `bert.` in front of these and adds `classifier.weight` / `classifier.bias`; the checkpoint code maps
 * between the two). Linear weights are [out, in], so a projection is y = x·Wᵀ + b.
 */
export const bertLayerPrefix = (l: number) => `encoder.layer.${l}`

export const classifierWeight = "classifier.weight"
export const classifierBias = "classifier.bias"
export const poolerWeight = "pooler.dense.weight"
export const poolerBias = "pooler.dense.bias"

/** Which parts a set of weights has: the encoder always; the pooler and the head when the folder has them. */
export interface BertParts {
  readonly pooler: boolean
  readonly classifier: boolean
}

const linear = (name: string, out: number, inF: number): Array<TensorSpec> => [
  { name: `${name}.weight`, shape: [out, inF], decay: true },
  { name: `${name}.bias`, shape: [out], decay: false }
]

const layerNorm = (name: string, c: number): Array<TensorSpec> => [
  { name: `${name}.weight`, shape: [c], decay: false },
  { name: `${name}.bias`, shape: [c], decay: false }
]

export const bertParameterSpecs = (c: BertConfig, parts: BertParts): ReadonlyArray<TensorSpec> => {
  const C = c.hiddenSize
  const specs: Array<TensorSpec> = [
    { name: "embeddings.word_embeddings.weight", shape: [c.vocabSize, C], decay: true },
    { name: "embeddings.position_embeddings.weight", shape: [c.maxPositionEmbeddings, C], decay: true },
    { name: "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, C], decay: true },
    ...layerNorm("embeddings.LayerNorm", C)
  ]
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = bertLayerPrefix(l)
    specs.push(
      ...linear(`${p}.attention.self.query`, C, C),
      ...linear(`${p}.attention.self.key`, C, C),
      ...linear(`${p}.attention.self.value`, C, C),
      ...linear(`${p}.attention.output.dense`, C, C),
      ...layerNorm(`${p}.attention.output.LayerNorm`, C),
      ...linear(`${p}.intermediate.dense`, c.intermediateSize, C),
      ...linear(`${p}.output.dense`, C, c.intermediateSize),
      ...layerNorm(`${p}.output.LayerNorm`, C)
    )
  }
  if (parts.pooler) specs.push(...linear("pooler.dense", C, C))
  if (parts.classifier) specs.push(...linear("classifier", c.numLabels, C))
  return specs
}

/** Which parts `weights` holds, judged by the pooler's and the head's weight matrices. */
export const bertPartsOf = (weights: ReadonlyMap<string, unknown>): BertParts => ({
  pooler: weights.has(poolerWeight),
  classifier: weights.has(classifierWeight)
})

/**
 * Random weights as transformers' `BertPreTrainedModel._init_weights` draws them: matrices and embeddings from
 * N(0, initializer_range²), biases 0, LayerNorm gains 1 and shifts 0 (the padding row of the word embeddings 0).
 */
export const initBertWeights = (c: BertConfig, parts: BertParts, seed: number): Map<string, Float32Array> => {
  const normal = normalGenerator(seed)
  const weights = new Map<string, Float32Array>()
  for (const spec of bertParameterSpecs(c, parts)) {
    const data = new Float32Array(elementCount(spec.shape))
    if (spec.name.endsWith("LayerNorm.weight")) data.fill(1)
    else if (spec.shape.length === 2) for (let i = 0; i < data.length; i++) data[i] = normal() * c.initializerRange
    if (spec.name === "embeddings.word_embeddings.weight" && c.padTokenId < c.vocabSize) {
      data.fill(0, c.padTokenId * c.hiddenSize, (c.padTokenId + 1) * c.hiddenSize)
    }
    weights.set(spec.name, data)
  }
  return weights
}

import { hashNgrams } from "./features.ts"

/**
 * A fastText-style quality classifier: the mean of the embedding rows of a document's hashed word n-grams
 * (an embedding bag), then one linear layer.
 * - `regression`: one output, the 0–5 score itself, trained with MSE like FineWeb-Edu's regression head.
 * - `softmax`: six outputs, the classes 0–5, trained with cross-entropy; the score is the expected class
 *   Σ p_k·k, so both modes give a 0–5 score that `intScore` rounds the same way.
 */
export type NgramMode = "regression" | "softmax"

/** The number of classes of the additive 0–5 scale. */
export const SCORE_CLASSES = 6

export interface NgramConfig {
  readonly mode: NgramMode
  /** Hash buckets shared by unigrams and bigrams (fastText's `-bucket`, default 2M there). */
  readonly buckets: number
  /** Embedding width (fastText's `-dim`). */
  readonly dim: number
  /** 1: words only; 2: words and adjacent word pairs (fastText's `-wordNgrams`). */
  readonly wordNgrams: 1 | 2
}

export const outputsOf = (mode: NgramMode): number => mode === "regression" ? 1 : SCORE_CLASSES

/** The learned parameters, row-major: `embedding[bucket * dim + j]`, `outputWeight[k * dim + j]`. */
export interface NgramWeights {
  readonly embedding: Float32Array
  readonly outputWeight: Float32Array
  readonly outputBias: Float32Array
}

export class NgramClassifier {
  /**
   * `projected[bucket * outputs + k] = Σ_j outputWeight[k, j] · embedding[bucket, j]`. The model is linear between
   * the bag and the output, so the mean of projected rows equals the projection of the mean row; applying then
   * reads `outputs` floats per feature instead of `dim` (1 instead of 16–64 for regression), from a table
   * `dim / outputs` times smaller than the embedding, which is what makes apply fast. Built on first use.
   */
  private projected: Float32Array | undefined
  private scratch: Int32Array = new Int32Array(4096)
  readonly outputs: number

  constructor(readonly config: NgramConfig, readonly weights: NgramWeights) {
    this.outputs = outputsOf(config.mode)
  }

  private projection(): Float32Array {
    if (this.projected !== undefined) return this.projected
    const { buckets, dim } = this.config
    const { embedding, outputWeight } = this.weights
    const outs = this.outputs
    const table = new Float32Array(buckets * outs)
    for (let b = 0; b < buckets; b++) {
      const row = b * dim
      for (let k = 0; k < outs; k++) {
        const w = k * dim
        let s = 0
        for (let j = 0; j < dim; j++) s += outputWeight[w + j]! * embedding[row + j]!
        table[b * outs + k] = s
      }
    }
    this.projected = table
    return table
  }

  /** The raw outputs (the score in regression mode, the six logits in softmax mode) of one document, into `out`. */
  logitsInto(text: string, out: Float64Array): void {
    const table = this.projection()
    const outs = this.outputs
    const { ids, count } = hashNgrams(text, this.config.buckets, this.config.wordNgrams, this.scratch)
    this.scratch = ids
    const bias = this.weights.outputBias
    if (outs === 1) {
      let s = 0
      for (let i = 0; i < count; i++) s += table[ids[i]!]!
      out[0] = bias[0]! + (count > 0 ? s / count : 0)
      return
    }
    for (let k = 0; k < outs; k++) out[k] = 0
    for (let i = 0; i < count; i++) {
      const at = ids[i]! * outs
      for (let k = 0; k < outs; k++) out[k] += table[at + k]!
    }
    const inv = count > 0 ? 1 / count : 0
    for (let k = 0; k < outs; k++) out[k] = bias[k]! + out[k]! * inv
  }

  /** The 0–5 score of each text: the raw output (regression) or the expected class Σ p_k·k (softmax). */
  predict(texts: ReadonlyArray<string>): Float64Array {
    const scores = new Float64Array(texts.length)
    const logits = new Float64Array(this.outputs)
    for (let i = 0; i < texts.length; i++) {
      this.logitsInto(texts[i]!, logits)
      scores[i] = this.config.mode === "regression" ? logits[0]! : expectedClass(softmaxInPlace(logits))
    }
    return scores
  }

  /** Softmax mode: class probabilities, `[text * 6 + k]`. Regression mode has no distribution: the raw score per text. */
  probabilities(texts: ReadonlyArray<string>): Float64Array {
    const outs = this.outputs
    const probs = new Float64Array(texts.length * outs)
    const logits = new Float64Array(outs)
    for (let i = 0; i < texts.length; i++) {
      this.logitsInto(texts[i]!, logits)
      if (this.config.mode === "softmax") softmaxInPlace(logits)
      probs.set(logits, i * outs)
    }
    return probs
  }
}

export const softmaxInPlace = (x: Float64Array): Float64Array => {
  let max = -Infinity
  for (let k = 0; k < x.length; k++) if (x[k]! > max) max = x[k]!
  let sum = 0
  for (let k = 0; k < x.length; k++) {
    x[k] = Math.exp(x[k]! - max)
    sum += x[k]!
  }
  for (let k = 0; k < x.length; k++) x[k] = x[k]! / sum
  return x
}

const expectedClass = (p: Float64Array): number => {
  let s = 0
  for (let k = 1; k < p.length; k++) s += k * p[k]!
  return s
}

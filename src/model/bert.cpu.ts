import { geluExact } from "../gpu/kernels/gelu.cpu.ts"
import { layerNormCpu } from "../gpu/kernels/layernorm.cpu.ts"
import type { BertConfig } from "./bert-config.ts"
import { bertLayerPrefix, classifierBias, classifierWeight, poolerBias, poolerWeight } from "./bert-parameters.ts"
import type { Weights } from "./parameters.ts"

/**
 * The plain reference of the BERT encoder's forward pass in f64, one sequence at a time (so no padding and no
 * mask: what the GPU encoder's padded batches must reproduce). Readable top to bottom, as transformers'
 * `BertModel` computes it in eval mode (dropout off, token type 0 everywhere):
 *
 *   h = LayerNorm(word[ids] + position[0..T) + token_type[0])
 *   per layer:  a = LayerNorm(h + Wo·attention(Wq·h + bq, Wk·h + bk, Wv·h + bv) + bo)     (post-LN)
 *               h = LayerNorm(a + W2·gelu(W1·a + b1) + b2)
 *   pooled = tanh(Wp·h[CLS] + bp),  logits = Wc·pooled + bc
 */

type Arr = Float64Array

/** y[n, m] = x[n, k] · W[m, k]ᵀ + b[m] */
const linear = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Arr => {
  const y = new Float64Array(n * m)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = b[j]!
      for (let t = 0; t < k; t++) s += x[i * k + t]! * w[j * k + t]!
      y[i * m + j] = s
    }
  }
  return y
}

/** Bidirectional multi-head attention over one sequence: every position sees all T positions. */
const attention = (q: Arr, k: Arr, v: Arr, seq: number, heads: number, headDim: number): Arr => {
  const C = heads * headDim
  const out = new Float64Array(seq * C)
  const scale = 1 / Math.sqrt(headDim)
  const p = new Float64Array(seq)
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < seq; t++) {
      let max = -Infinity
      for (let s = 0; s < seq; s++) {
        let dot = 0
        for (let d = 0; d < headDim; d++) dot += q[t * C + h * headDim + d]! * k[s * C + h * headDim + d]!
        p[s] = dot * scale
        max = Math.max(max, p[s]!)
      }
      let sum = 0
      for (let s = 0; s < seq; s++) sum += p[s] = Math.exp(p[s]! - max)
      for (let s = 0; s < seq; s++) {
        for (let d = 0; d < headDim; d++) out[t * C + h * headDim + d]! += (p[s]! / sum) * v[s * C + h * headDim + d]!
      }
    }
  }
  return out
}

export interface BertReferenceOutput {
  /** The last hidden states of each sequence, [T_i, hidden]. */
  readonly lastHidden: ReadonlyArray<Arr>
  /** The `[CLS]` (first) row of each, [batch, hidden]: what the classifier caches. */
  readonly cls: Arr
  /** tanh(Wp·cls + bp), [batch, hidden], when the weights have a pooler. */
  readonly pooled?: Arr
  /** Wc·pooled + bc, [batch, labels], when they also have a classifier head. */
  readonly logits?: Arr
}

/** One sequence through the embeddings and the encoder layers: its last hidden states [T, hidden]. */
export const bertEncoderReference = (c: BertConfig, w: Weights, ids: ReadonlyArray<number>): Arr => {
  const C = c.hiddenSize
  const T = ids.length
  const W = (name: string) => {
    const t = w.get(name)
    if (t === undefined) throw new RangeError(`BERT reference: weight "${name}" is missing`)
    return t
  }
  if (T < 1 || T > c.maxPositionEmbeddings) throw new RangeError(`sequence of ${T} tokens; 1..${c.maxPositionEmbeddings} allowed`)
  const word = W("embeddings.word_embeddings.weight")
  const position = W("embeddings.position_embeddings.weight")
  const tokenType = W("embeddings.token_type_embeddings.weight")
  const e = new Float64Array(T * C)
  for (let t = 0; t < T; t++) {
    const id = ids[t]!
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`token id ${id} outside the vocabulary of ${c.vocabSize}`)
    for (let j = 0; j < C; j++) e[t * C + j] = word[id * C + j]! + position[t * C + j]! + tokenType[j]!
  }
  let h = layerNormCpu(e, undefined, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), T, C, c.layerNormEps)
  const heads = c.numAttentionHeads
  const F = c.intermediateSize
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = bertLayerPrefix(l)
    const proj = (name: string, x: Arr, k: number, m: number) => linear(x, W(`${p}.${name}.weight`), W(`${p}.${name}.bias`), T, k, m)
    const q = proj("attention.self.query", h, C, C)
    const k = proj("attention.self.key", h, C, C)
    const v = proj("attention.self.value", h, C, C)
    const att = proj("attention.output.dense", attention(q, k, v, T, heads, C / heads), C, C)
    const a = layerNormCpu(att, h, W(`${p}.attention.output.LayerNorm.weight`), W(`${p}.attention.output.LayerNorm.bias`), T, C, c.layerNormEps)
    const inner = proj("intermediate.dense", a, C, F).map(geluExact)
    const out = proj("output.dense", inner, F, C)
    h = layerNormCpu(out, a, W(`${p}.output.LayerNorm.weight`), W(`${p}.output.LayerNorm.bias`), T, C, c.layerNormEps)
  }
  return h
}

/** The whole forward for each sequence alone; pooler and head run when `weights` has them. */
export const bertReference = (c: BertConfig, w: Weights, sequences: ReadonlyArray<ReadonlyArray<number>>): BertReferenceOutput => {
  const C = c.hiddenSize
  const B = sequences.length
  const lastHidden = sequences.map((ids) => bertEncoderReference(c, w, ids))
  const cls = new Float64Array(B * C)
  lastHidden.forEach((h, b) => cls.set(h.subarray(0, C), b * C))
  const pw = w.get(poolerWeight)
  if (pw === undefined) return { lastHidden, cls }
  const pooled = linear(cls, pw, w.get(poolerBias)!, B, C, C).map(Math.tanh)
  const cw = w.get(classifierWeight)
  if (cw === undefined) return { lastHidden, cls, pooled }
  return { lastHidden, cls, pooled, logits: linear(pooled, cw, w.get(classifierBias)!, B, C, c.numLabels) }
}

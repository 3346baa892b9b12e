/**
 * References for the decode-attention kernels: one new token's query heads [heads, D] over caches
 * [maxLength, kvHeads·D], of which positions 0..length−1 count; query head h reads KV head ⌊h / group⌋.
 */

/** Reference for `decodeScores`: a copy of `scores` with scores[h, s] = q[h]·K[s, kv(h)]·scale for s < length. */
export const decodeScoresCpu = (
  q: Float32Array, keys: Float32Array, length: number, scores: Float32Array,
  heads: number, kvHeads: number, headDim: number, maxLength: number, scale: number
): Float32Array => {
  const out = Float32Array.from(scores)
  const group = heads / kvHeads
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group)
    for (let s = 0; s < length; s++) {
      let dot = 0
      for (let d = 0; d < headDim; d++) dot += q[h * headDim + d]! * keys[s * kvHeads * headDim + kv * headDim + d]!
      out[h * maxLength + s] = dot * scale
    }
  }
  return out
}

/** Reference for `decodeSoftmax`: each head's softmax over its first `length` scores, zeros after them. */
export const decodeSoftmaxCpu = (scores: Float32Array, length: number, heads: number, maxLength: number): Float32Array => {
  const out = new Float32Array(heads * maxLength)
  for (let h = 0; h < heads; h++) {
    const row = scores.subarray(h * maxLength, h * maxLength + length)
    let max = -Infinity
    for (const v of row) max = Math.max(max, v)
    let sum = 0
    for (const v of row) sum += Math.exp(v - max)
    row.forEach((v, s) => {
      out[h * maxLength + s] = Math.exp(v - max) / sum
    })
  }
  return out
}

/** Reference for `decodeWeightedSum`: out[h, d] = Σ_{s < length} P[h, s]·V[s, kv(h), d]. */
export const decodeWeightedSumCpu = (
  probs: Float32Array, values: Float32Array, length: number,
  heads: number, kvHeads: number, headDim: number, maxLength: number
): Float32Array => {
  const out = new Float32Array(heads * headDim)
  const group = heads / kvHeads
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group)
    for (let d = 0; d < headDim; d++) {
      let acc = 0
      for (let s = 0; s < length; s++) acc += probs[h * maxLength + s]! * values[s * kvHeads * headDim + kv * headDim + d]!
      out[h * headDim + d] = acc
    }
  }
  return out
}

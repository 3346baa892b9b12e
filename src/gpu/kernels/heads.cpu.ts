/** Reference for `splitHeads`. */
export const splitHeadsCpu = (x: Float32Array, batch: number, seq: number, heads: number, headDim: number, group: number): Float32Array => {
  const y = new Float32Array(batch * heads * seq * headDim)
  const source = (heads / group) * headDim
  for (let b = 0; b < batch; b++) for (let h = 0; h < heads; h++) for (let t = 0; t < seq; t++) for (let d = 0; d < headDim; d++) {
    y[((b * heads + h) * seq + t) * headDim + d] = x[(b * seq + t) * source + Math.floor(h / group) * headDim + d]!
  }
  return y
}

/** Reference for `mergeHeads`. */
export const mergeHeadsCpu = (y: Float32Array, batch: number, seq: number, heads: number, headDim: number, group: number): Float32Array => {
  const kv = heads / group
  const x = new Float32Array(batch * seq * kv * headDim)
  for (let b = 0; b < batch; b++) for (let h = 0; h < heads; h++) for (let t = 0; t < seq; t++) for (let d = 0; d < headDim; d++) {
    x[(b * seq + t) * kv * headDim + Math.floor(h / group) * headDim + d]! += y[((b * heads + h) * seq + t) * headDim + d]!
  }
  return x
}

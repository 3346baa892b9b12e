/** Reference for `embeddingForward`. */
export const embeddingForwardCpu = (ids: ArrayLike<number>, table: Float32Array, c: number): Float32Array => {
  const out = new Float32Array(ids.length * c)
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i]! * c, ids[i]! * c + c), i * c)
  return out
}

/** Reference for `embeddingBackward`: dTable (a copy) += scatter of dOut rows by id. */
export const embeddingBackwardCpu = (ids: ArrayLike<number>, dOut: Float32Array, dTable: Float32Array, c: number): Float32Array => {
  const out = Float32Array.from(dTable)
  const acc = new Float64Array(out.length)
  for (let i = 0; i < ids.length; i++) for (let j = 0; j < c; j++) acc[ids[i]! * c + j]! += dOut[i * c + j]!
  for (let k = 0; k < out.length; k++) out[k] = out[k]! + acc[k]!
  return out
}

/** Reference for `rope` (returns a rotated copy); `rowPositions` gives each row its position (packed documents). */
export const ropeCpu = (
  x: Float32Array, cos: Float32Array, sin: Float32Array, rows: number, seq: number, heads: number, headDim: number, inverse: boolean,
  rowPositions?: ArrayLike<number>
): Float32Array => {
  const out = Float32Array.from(x)
  const half = headDim / 2
  for (let r = 0; r < rows; r++) {
    const t = rowPositions === undefined ? r % seq : rowPositions[r]!
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < half; j++) {
        const o = r * heads * headDim + h * headDim + j
        const c = cos[t * half + j]!
        const s = inverse ? -sin[t * half + j]! : sin[t * half + j]!
        const a = x[o]!
        const b = x[o + half]!
        out[o] = a * c - b * s
        out[o + half] = b * c + a * s
      }
    }
  }
  return out
}

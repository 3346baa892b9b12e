/** Reference for `layerNorm`, in f64: y = (s − mean) / sqrt(var + eps) · w + b with s = x (+ residual). */
export const layerNormCpu = (
  x: ArrayLike<number>, residual: ArrayLike<number> | undefined, w: ArrayLike<number>, b: ArrayLike<number>,
  rows: number, cols: number, eps: number
): Float64Array => {
  const y = new Float64Array(rows * cols)
  const s = new Float64Array(cols)
  for (let r = 0; r < rows; r++) {
    let total = 0
    for (let j = 0; j < cols; j++) {
      s[j] = x[r * cols + j]! + (residual === undefined ? 0 : residual[r * cols + j]!)
      total += s[j]!
    }
    const mean = total / cols
    let squares = 0
    for (let j = 0; j < cols; j++) squares += (s[j]! - mean) ** 2
    const rstd = 1 / Math.sqrt(squares / cols + eps)
    for (let j = 0; j < cols; j++) y[r * cols + j] = (s[j]! - mean) * rstd * w[j]! + b[j]!
  }
  return y
}

/** Reference for `rmsNormForward`, in f64. */
export const rmsNormForwardCpu = (x: Float32Array, w: Float32Array, rows: number, cols: number, eps: number) => {
  const y = new Float32Array(rows * cols)
  const rstd = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    let ss = 0
    for (let j = 0; j < cols; j++) ss += x[r * cols + j]! ** 2
    const inv = 1 / Math.sqrt(ss / cols + eps)
    rstd[r] = inv
    for (let j = 0; j < cols; j++) y[r * cols + j] = x[r * cols + j]! * inv * w[j]!
  }
  return { y, rstd }
}

/** Reference for `rmsNormBackward` (dx, not accumulated) and `rmsNormWeightGrad` (dw from zero). */
export const rmsNormBackwardCpu = (dy: Float32Array, x: Float32Array, w: Float32Array, rstd: Float32Array, rows: number, cols: number) => {
  const dx = new Float32Array(rows * cols)
  const dw = new Float64Array(cols)
  for (let r = 0; r < rows; r++) {
    const inv = rstd[r]!
    let dot = 0
    for (let j = 0; j < cols; j++) dot += dy[r * cols + j]! * w[j]! * x[r * cols + j]! * inv
    dot /= cols
    for (let j = 0; j < cols; j++) {
      dx[r * cols + j] = inv * (dy[r * cols + j]! * w[j]! - x[r * cols + j]! * inv * dot)
      dw[j]! += dy[r * cols + j]! * x[r * cols + j]! * inv
    }
  }
  return { dx, dw: Float32Array.from(dw) }
}

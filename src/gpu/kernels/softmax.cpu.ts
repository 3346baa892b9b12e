/** Reference for `rowSoftmax`, in f64. */
export const rowSoftmaxCpu = (x: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    let max = -Infinity
    for (let j = 0; j < cols; j++) max = Math.max(max, x[r * cols + j]!)
    let sum = 0
    for (let j = 0; j < cols; j++) sum += Math.exp(x[r * cols + j]! - max)
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(x[r * cols + j]! - max) / sum
  }
  return out
}

/** Reference for `rowProbe` (returns a shifted copy): x − max(row) + mean(row), in f64. */
export const rowProbeCpu = (x: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    let max = -Infinity
    let sum = 0
    for (let j = 0; j < cols; j++) {
      max = Math.max(max, x[r * cols + j]!)
      sum += x[r * cols + j]!
    }
    const shift = sum / cols - max
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j]! + shift
  }
  return out
}

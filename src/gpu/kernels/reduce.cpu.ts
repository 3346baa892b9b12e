import type { Combine } from "./rows.ts"

/** Reference for `rowReduce`, accumulated in f64. */
export const rowReduceCpu = (combine: Combine, x: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    let acc = combine === "sum" ? 0 : -Infinity
    for (let j = 0; j < cols; j++) {
      const v = x[r * cols + j]!
      acc = combine === "sum" ? acc + v : Math.max(acc, v)
    }
    out[r] = acc
  }
  return out
}

/** Packed documents for the references: a position per [batch·seq] row (0 starts a document), heads per batch row. */
export interface AttentionDocumentsCpu {
  readonly positions: ArrayLike<number>
  readonly heads: number
}

/** Reference for `causalSoftmax`; with `documents`, query t sees only s in [t − position(t), t]. */
export const causalSoftmaxCpu = (s: Float32Array, rows: number, seq: number, scale: number, documents?: AttentionDocumentsCpu): Float32Array => {
  const p = new Float32Array(rows * seq)
  for (let r = 0; r < rows; r++) {
    const t = r % seq
    const first = documents === undefined ? 0 : t - documents.positions[Math.floor(r / (seq * documents.heads)) * seq + t]!
    let max = -Infinity
    for (let j = first; j <= t; j++) max = Math.max(max, s[r * seq + j]! * scale)
    let sum = 0
    for (let j = first; j <= t; j++) sum += Math.exp(s[r * seq + j]! * scale - max)
    for (let j = first; j <= t; j++) p[r * seq + j] = Math.exp(s[r * seq + j]! * scale - max) / sum
  }
  return p
}

/** Reference for `causalSoftmaxBackward`. */
export const causalSoftmaxBackwardCpu = (p: Float32Array, dp: Float32Array, rows: number, seq: number, scale: number): Float32Array => {
  const ds = new Float32Array(rows * seq)
  for (let r = 0; r < rows; r++) {
    let dot = 0
    for (let j = 0; j < seq; j++) dot += p[r * seq + j]! * dp[r * seq + j]!
    for (let j = 0; j < seq; j++) ds[r * seq + j] = scale * p[r * seq + j]! * (dp[r * seq + j]! - dot)
  }
  return ds
}

/** Reference for `maskedSoftmax`: rows of sequence q see only their first lengths[q] keys. */
export const maskedSoftmaxCpu = (
  s: ArrayLike<number>, lengths: ArrayLike<number>, rows: number, seq: number, rowsPerSequence: number, scale: number,
  firstSequence = 0
): Float64Array => {
  const p = new Float64Array(rows * seq)
  for (let r = 0; r < rows; r++) {
    const keys = lengths[firstSequence + Math.floor(r / rowsPerSequence)]!
    let max = -Infinity
    for (let j = 0; j < keys; j++) max = Math.max(max, s[r * seq + j]! * scale)
    let sum = 0
    for (let j = 0; j < keys; j++) sum += Math.exp(s[r * seq + j]! * scale - max)
    for (let j = 0; j < keys; j++) p[r * seq + j] = Math.exp(s[r * seq + j]! * scale - max) / sum
  }
  return p
}

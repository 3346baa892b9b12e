/**
 * The next-token shift, the one place it is written: a row of tokens `r` becomes inputs `r[0..T)` and targets
 * `r[1..T]`, so position t is asked to predict token t + 1. Training, scoring and evaluation all lay out their
 * batches this way; it lives here, below train/ and eval/, so that each of them imports the same function.
 */
export interface NextTokenBatch {
  /** [batch, seq] flattened; positions a row does not reach stay 0. */
  readonly inputs: Int32Array
  readonly targets: Int32Array
}

/**
 * Lays out `rows` (at most `batch`, each at most `seq + 1` tokens) as a [batch, seq] batch. A row of n tokens fills
 * its first n − 1 positions; the rest of the row, and rows past `rows.length`, are zero padding, which a causal
 * model never looks back at.
 */
export const nextTokenBatch = (rows: ReadonlyArray<ArrayLike<number>>, batch: number, seq: number): NextTokenBatch => {
  if (rows.length > batch) throw new RangeError(`${rows.length} rows do not fit a batch of ${batch}`)
  const inputs = new Int32Array(batch * seq)
  const targets = new Int32Array(batch * seq)
  rows.forEach((row, b) => {
    if (row.length > seq + 1) throw new RangeError(`a row of ${row.length} tokens is longer than seq + 1 = ${seq + 1}`)
    for (let t = 0; t + 1 < row.length; t++) {
      inputs[b * seq + t] = row[t]!
      targets[b * seq + t] = row[t + 1]!
    }
  })
  return { inputs, targets }
}

/** Reference for `addBias` (returns a new array). */
export const addBiasCpu = (x: ArrayLike<number>, bias: ArrayLike<number>, cols: number): Float32Array =>
  Float32Array.from({ length: x.length }, (_, i) => x[i]! + bias[i % cols]!)

import { CHUNK, partialsFor } from "./grad-norm.ts"

/**
 * Reference for `sumSquaresPartials`: the sum of squares of each CHUNK-element chunk, in f64 and then rounded to
 * f32, so that a sum beyond f32's range becomes infinity as it does on the GPU (what the non-finite guard sees).
 */
export const sumSquaresPartialsCpu = (x: Float32Array): Float32Array => {
  const out = new Float32Array(partialsFor(x.length))
  for (let p = 0; p < out.length; p++) {
    let acc = 0
    for (let e = p * CHUNK; e < Math.min((p + 1) * CHUNK, x.length); e++) acc += x[e]! * x[e]!
    out[p] = Math.fround(acc)
  }
  return out
}

/**
 * Reference for `clipCoefficient`: [global norm, clip coefficient, non-finite flag], the coefficient being torch's
 * clip_grad_norm_ min(1, maxNorm / (norm + 1e-6)), or 1 when maxNorm ≤ 0 (no clipping).
 */
export const clipCoefficientCpu = (partials: ArrayLike<number>, maxNorm: number): Float32Array => {
  let sum = 0
  for (let i = 0; i < partials.length; i++) sum += partials[i]!
  const norm = Math.fround(Math.sqrt(Math.fround(sum)))
  const finite = norm <= 3.4028234663852886e38
  return Float32Array.of(norm, maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1, finite ? 0 : 1)
}

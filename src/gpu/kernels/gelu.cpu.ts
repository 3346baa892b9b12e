/**
 * Exact GELU, x·Φ(x) = x·erfc(−x/√2)/2, in f64: the reference for `gelu.ts` and the BERT reference model.
 * JavaScript has no erf, so it is computed here to about 1e-15: a series without cancellation below 2.5, a
 * continued fraction for the tail (Abramowitz & Stegun 7.1.6 and 7.1.14).
 */

const SQRT_PI = Math.sqrt(Math.PI)

/** erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3···(2n+1)): every term positive, for 0 ≤ x < 2.5. */
const erfSeries = (x: number): number => {
  let term = x
  let sum = x
  for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
    term *= (2 * x * x) / (2 * n + 1)
    sum += term
  }
  return (2 / SQRT_PI) * Math.exp(-x * x) * sum
}

/** erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))), evaluated from a deep tail, for x ≥ 2.5. */
const erfcFraction = (x: number): number => {
  let f = x
  for (let n = 120; n >= 1; n--) f = x + n / 2 / f
  return Math.exp(-x * x) / SQRT_PI / f
}

export const erf = (x: number): number =>
  Number.isNaN(x) ? NaN : x < 0 ? -erf(-x) : x < 2.5 ? erfSeries(x) : 1 - erfcFraction(x)

export const erfc = (x: number): number =>
  Number.isNaN(x) ? NaN : x < 0 ? 2 - erfc(-x) : x < 2.5 ? 1 - erfSeries(x) : erfcFraction(x)

/** transformers' `GELUActivation` (hidden_act "gelu"): x·Φ(x), not the tanh approximation. */
export const geluExact = (x: number): number => 0.5 * x * erfc(-x / Math.SQRT2)

/** Reference for `gelu` (with its optional bias [cols] added first). */
export const geluCpu = (x: ArrayLike<number>, bias?: ArrayLike<number>, cols = 1): Float32Array =>
  Float32Array.from({ length: x.length }, (_, i) => geluExact(x[i]! + (bias === undefined ? 0 : bias[i % cols]!)))

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * Exact GELU, x·Φ(x) = x·erfc(−x/√2)/2 (BERT's hidden_act "gelu"). WGSL has no erf, so erfc comes from the
 * Chebyshev fit of Numerical Recipes (`erfcc`, 2nd ed. §6.2), whose *fractional* error is below 1.2e-7 for every
 * z ≥ 0: the negative tail, where GELU is a small number, keeps its relative accuracy (1 − erf would cancel).
 * The same formula in JavaScript (`geluFit`) lets a test measure the fit against the exact function.
 */
const coefficients = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277]

const horner = (t: string): string =>
  coefficients.slice(1).reduceRight((inner, c) => inner === "" ? `${c}` : `${c} + ${t} * (${inner})`, "")

export const geluWgsl = `fn erfcNonNegative(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z + ${coefficients[0]} + t * (${horner("t")}));
}
fn gelu(x: f32) -> f32 {
  let c = erfcNonNegative(abs(x) * 0.70710678118654752);
  // Φ(x) = erfc(−x/√2)/2: read directly for x < 0, as 1 − erfc(x/√2)/2 for x ≥ 0.
  return x * select(1.0 - 0.5 * c, 0.5 * c, x < 0.0);
}`

/** The fit in f64, for measuring its error (the kernel evaluates the same expression in f32). */
export const geluFit = (x: number): number => {
  const z = Math.abs(x) * Math.SQRT1_2
  const t = 1 / (1 + 0.5 * z)
  let p = coefficients[coefficients.length - 1]!
  for (let i = coefficients.length - 2; i >= 1; i--) p = coefficients[i]! + t * p
  const c = t * Math.exp(-z * z + coefficients[0]! + t * p)
  return x * (x < 0 ? 0.5 * c : 1 - 0.5 * c)
}

/**
 * y = gelu(x + bias[column]) over `size` values of a row-major [·, cols] tensor; without a bias, y = gelu(x).
 * In place when `y` is `x`.
 */
export const gelu = (
  gpu: Pick<GpuShape, "limits">, x: GpuBuffer, y: GpuBuffer, size: number, bias?: { readonly buffer: GpuBuffer; readonly cols: number }
): Dispatch => {
  const inPlace = x.buffer === y.buffer && (x.offset ?? 0) === (y.offset ?? 0)
  const src = inPlace ? "Y" : "X"
  const decls = [
    ...(inPlace ? [] : ["@group(0) @binding(0) var<storage, read> X: array<f32>;"]),
    `@group(0) @binding(${inPlace ? 0 : 1}) var<storage, read_write> Y: array<f32>;`,
    ...(bias === undefined ? [] : [`@group(0) @binding(${inPlace ? 1 : 2}) var<storage, read> BIAS: array<f32>;`]),
    geluWgsl
  ].join("\n")
  const value = bias === undefined ? `${src}[i]` : `${src}[i] + BIAS[i % ${bias.cols}u]`
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, decls, `  Y[i] = gelu(${value});`)
  const bindings = [...(inPlace ? [y] : [x, y]), ...(bias === undefined ? [] : [bias.buffer])]
  return dispatch({ label: `gelu ×${size}${bias === undefined ? "" : ` + bias[${bias.cols}]`}`, code }, bindings, workgroups)
}

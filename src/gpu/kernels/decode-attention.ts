import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal, flatKernel } from "./wgsl.ts"

/**
 * Attention of one new token over a KV cache, for generation. The number of cached positions changes every
 * step, so it is read from a u32 buffer (`length` = positions 0..length−1 attended) instead of being baked into
 * the shader: one compilation serves the whole generation. Caches are [maxLength, kvHeads·D] with roped keys;
 * query head h reads KV head ⌊h / group⌋. Three passes: scores, masked softmax, weighted sum of values.
 */
type G = Pick<GpuShape, "adapter" | "limits">

/** scores[h, s] = q[h]·K[s, kv(h)] · scale for s < length (other entries are left for the softmax to mask). */
export const decodeScores = (
  gpu: G, q: GpuBuffer, keys: GpuBuffer, length: GpuBuffer, scores: GpuBuffer,
  heads: number, kvHeads: number, headDim: number, maxLength: number, scale: number
): Dispatch => {
  const group = heads / kvHeads
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, heads * maxLength, `@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> LEN: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;`, `  let h = i / ${maxLength}u;
  let s = i % ${maxLength}u;
  if (s >= LEN[0]) { return; }
  let kBase = s * ${kvHeads * headDim}u + (h / ${group}u) * ${headDim}u;
  var dot = 0.0;
  for (var d = 0u; d < ${headDim}u; d++) { dot += Q[h * ${headDim}u + d] * K[kBase + d]; }
  S[i] = dot * ${f32Literal(scale)};`)
  return dispatch({ label: `decode scores ${heads}×${maxLength}`, code }, [q, keys, length, scores], workgroups)
}

/** Softmax over the first `length` entries of each head's row of scores [heads, maxLength], in place; zeros after. */
export const decodeSoftmax = (
  gpu: G, scores: GpuBuffer, length: GpuBuffer, heads: number, maxLength: number,
  variant: RowVariant = rowVariantFor(gpu, maxLength, 3)
): Dispatch => {
  const layout = rowLayout(gpu, variant, heads, maxLength, 3)
  const NEG = "-3.4028234663852886e38"
  const code = `@group(0) @binding(0) var<storage, read_write> S: array<f32>;
@group(0) @binding(1) var<storage, read> LEN: array<u32>;
const COLS = ${maxLength}u;
${rowEntry(layout, `let n = LEN[0];
  ${layout.reduce("rowMax", "max", (j) => `select(${NEG}, S[base + ${j}], ${j} < n)`)}
  ${layout.reduce("denominator", "sum", (j) => `select(0.0, exp(S[base + ${j}] - rowMax), ${j} < n)`)}
  let inv = 1.0 / denominator;
  ${layout.barrier}
  ${layout.forEachColumn((j) => `S[base + ${j}] = select(0.0, exp(S[base + ${j}] - rowMax) * inv, ${j} < n);`)}`)}`
  return dispatch({ label: `decode softmax ${heads}×${maxLength} (${variant})`, code }, [scores, length], layout.workgroups)
}

/** out[h, d] = Σ_{s < length} P[h, s] · V[s, kv(h), d]. */
export const decodeWeightedSum = (
  gpu: G, probs: GpuBuffer, values: GpuBuffer, length: GpuBuffer, out: GpuBuffer,
  heads: number, kvHeads: number, headDim: number, maxLength: number
): Dispatch => {
  const group = heads / kvHeads
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, heads * headDim, `@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> V: array<f32>;
@group(0) @binding(2) var<storage, read> LEN: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;`, `  let h = i / ${headDim}u;
  let d = i % ${headDim}u;
  let vBase = (h / ${group}u) * ${headDim}u + d;
  var acc = 0.0;
  for (var s = 0u; s < LEN[0]; s++) { acc += P[h * ${maxLength}u + s] * V[s * ${kvHeads * headDim}u + vBase]; }
  O[i] = acc;`)
  return dispatch({ label: `decode weighted sum ${heads}×${headDim}`, code }, [probs, values, length, out], workgroups)
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * Attention runs as batched matmuls over [batch·heads, seq, D] blocks. These kernels move between that layout
 * and the projections' [batch·seq, heads·D]. With grouped-query attention (`group` query heads per KV head)
 * `splitHeads` repeats each KV head for its group and `mergeHeads` sums the group's gradients back.
 */
/** y[b, h, t, d] = x[b·seq + t, ⌊h / group⌋·D + d] for h < heads. */
export const splitHeads = (
  gpu: Pick<GpuShape, "limits">, x: GpuBuffer, y: GpuBuffer, batch: number, seq: number, heads: number, headDim: number, group: number
): Dispatch => {
  const source = (heads / group) * headDim
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, batch * heads * seq * headDim, `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;`, `  let d = i % ${headDim}u;
  let t = (i / ${headDim}u) % ${seq}u;
  let h = (i / ${headDim * seq}u) % ${heads}u;
  let b = i / ${headDim * seq * heads}u;
  Y[i] = X[(b * ${seq}u + t) * ${source}u + (h / ${group}u) * ${headDim}u + d];`)
  return dispatch({ label: `split heads ${batch}×${heads}×${seq}×${headDim} /${group}`, code }, [x, y], workgroups)
}

/** x[b·seq + t, k·D + d] = Σ_{h in group k} y[b, h, t, d] (for group 1, the inverse permutation). */
export const mergeHeads = (
  gpu: Pick<GpuShape, "limits">, y: GpuBuffer, x: GpuBuffer, batch: number, seq: number, heads: number, headDim: number, group: number
): Dispatch => {
  const kvHeads = heads / group
  const terms = Array.from({ length: group }, (_, g) =>
    `Y[((b * ${heads}u + k * ${group}u + ${g}u) * ${seq}u + t) * ${headDim}u + d]`).join(" + ")
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, batch * seq * kvHeads * headDim, `@group(0) @binding(0) var<storage, read> Y: array<f32>;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;`, `  let d = i % ${headDim}u;
  let k = (i / ${headDim}u) % ${kvHeads}u;
  let row = i / ${headDim * kvHeads}u;
  let t = row % ${seq}u;
  let b = row / ${seq}u;
  X[i] = ${terms};`)
  return dispatch({ label: `merge heads ${batch}×${heads}×${seq}×${headDim} /${group}`, code }, [y, x], workgroups)
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * x[r, c] += bias[c] in place over a row-major [rows, cols] tensor: the bias of a linear layer (BERT's
 * projections have one; the matmul kernels do not add it). In place, so no second activation buffer is needed.
 */
export const addBias = (gpu: Pick<GpuShape, "limits">, x: GpuBuffer, bias: GpuBuffer, rows: number, cols: number): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, rows * cols, `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> BIAS: array<f32>;`, `  X[i] = X[i] + BIAS[i % ${cols}u];`)
  return dispatch({ label: `add bias ${rows}×${cols}`, code }, [x, bias], workgroups)
}

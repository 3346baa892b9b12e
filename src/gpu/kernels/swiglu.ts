import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/** SwiGLU's product: h = silu(gate) ⊙ up (Llama MLP). */
export const swigluForward = (gpu: Pick<GpuShape, "limits">, gate: GpuBuffer, up: GpuBuffer, h: GpuBuffer, size: number): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> H: array<f32>;`, `  let g = G[i];
  H[i] = g / (1.0 + exp(-g)) * U[i];`)
  return dispatch({ label: `swiglu ×${size}`, code }, [gate, up, h], workgroups)
}

/** dgate = dh ⊙ up ⊙ silu′(gate), dup = dh ⊙ silu(gate), with silu′(z) = σ(z)·(1 + z·(1 − σ(z))). */
export const swigluBackward = (
  gpu: Pick<GpuShape, "limits">, dh: GpuBuffer, gate: GpuBuffer, up: GpuBuffer, dGate: GpuBuffer, dUp: GpuBuffer, size: number
): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, `@group(0) @binding(0) var<storage, read> DH: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> DG: array<f32>;
@group(0) @binding(4) var<storage, read_write> DU: array<f32>;`, `  let g = G[i];
  let s = 1.0 / (1.0 + exp(-g));
  DG[i] = DH[i] * U[i] * s * (1.0 + g * (1.0 - s));
  DU[i] = DH[i] * g * s;`)
  return dispatch({ label: `swiglu backward ×${size}`, code }, [dh, gate, up, dGate, dUp], workgroups)
}

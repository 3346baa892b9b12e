import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { f32Literal, flatKernel } from "./wgsl.ts"

export interface AdamWSettings {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  /** Decoupled weight decay for this tensor (0 for tensors that are not decayed). */
  readonly weightDecay: number
}

/**
 * One AdamW step, as torch.optim.AdamW computes it: p ← p·(1 − lr·wd), then
 * p ← p − (lr / bc1) · m / (√v / √bc2 + eps) with m, v the moment estimates of the clipped gradient.
 * The step-dependent numbers come from `hyper` = [lr, bc1, √bc2] (written each step, so the shader never
 * changes); `clip` = [global norm, clip coefficient, non-finite flag] comes from `clipCoefficient`, and a
 * non-finite gradient leaves every weight and moment as it was.
 */
export const adamw = (
  gpu: Pick<GpuShape, "limits">, s: AdamWSettings, p: GpuBuffer, g: GpuBuffer, m: GpuBuffer, v: GpuBuffer,
  hyper: GpuBuffer, clip: GpuBuffer, size: number
): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, size, `@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<storage, read> HYPER: array<f32>;
@group(0) @binding(5) var<storage, read> CLIP: array<f32>;`, `  if (CLIP[2] != 0.0) { return; }
  let lr = HYPER[0];
  let grad = G[i] * CLIP[1];
  let m = ${f32Literal(s.beta1)} * M[i] + ${f32Literal(1 - s.beta1)} * grad;
  let v = ${f32Literal(s.beta2)} * V[i] + ${f32Literal(1 - s.beta2)} * grad * grad;
  M[i] = m;
  V[i] = v;
  let decayed = P[i] * (1.0 - lr * ${f32Literal(s.weightDecay)});
  P[i] = decayed - (lr / HYPER[1]) * m / (sqrt(v) / HYPER[2] + ${f32Literal(s.eps)});`)
  return dispatch({ label: `adamw ×${size}`, code }, [p, g, m, v, hyper, clip], workgroups)
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { f32Literal, flatKernel, softwareLoopBudget } from "./wgsl.ts"

/**
 * The global gradient norm without a read-back: each tensor writes sums of squares of 256-element chunks into
 * a shared partials buffer, then one workgroup adds all partials in a fixed order (deterministic) and writes
 * [norm, clip coefficient, non-finite flag] for the optimizer (torch's clip_grad_norm_: min(1, max/(norm+1e-6))).
 */
export const CHUNK = 256

export const partialsFor = (size: number): number => Math.ceil(size / CHUNK)

export const sumSquaresPartials = (gpu: Pick<GpuShape, "limits">, x: GpuBuffer, partials: GpuBuffer, size: number, offset: number): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, partialsFor(size), `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> PART: array<f32>;`, `  var acc = 0.0;
  let end = min((i + 1u) * ${CHUNK}u, ${size}u);
  for (var e = i * ${CHUNK}u; e < end; e++) { acc += X[e] * X[e]; }
  PART[${offset}u + i] = acc;`)
  return dispatch({ label: `sum of squares ×${size}`, code }, [x, partials], workgroups)
}

export const clipCoefficient = (
  gpu: Pick<GpuShape, "adapter">, partials: GpuBuffer, count: number, maxNorm: number, out: GpuBuffer
): Dispatch => {
  const WG = 256
  if (gpu.adapter.kind === "software" && Math.ceil(count / WG) >= softwareLoopBudget) {
    throw new RangeError(`gradient norm over ${count} partials exceeds llvmpipe's loop budget`)
  }
  const code = `@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
var<workgroup> sums: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var acc = 0.0;
  for (var i = lid.x; i < ${count}u; i += ${WG}u) { acc += PART[i]; }
  sums[lid.x] = acc;
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half = half / 2u) {
    if (lid.x < half) { sums[lid.x] = sums[lid.x] + sums[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let norm = sqrt(sums[0]);
    // NaN fails every comparison, so "not (norm <= max f32)" catches both NaN and infinity.
    let bad = !(norm <= 3.4028234663852886e38);
    OUT[0] = norm;
    OUT[1] = ${maxNorm > 0 ? `min(1.0, ${f32Literal(maxNorm)} / (norm + 1e-6))` : "1.0"};
    OUT[2] = select(0.0, 1.0, bad);
  }
}`
  return dispatch({ label: `gradient norm over ${count} partials`, code }, [partials, out], [1])
}

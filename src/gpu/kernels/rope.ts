import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * Rotary embedding in HF's rotate-half layout, in place over x = [rows, heads·D] where row i is position
 * i mod seq: (a, b) = (x[j], x[j + D/2]) → (a·cos − b·sin, b·cos + a·sin). `inverse` rotates back (the
 * backward pass: the rotation's transpose). cos and sin are [seq, D/2] tables (llama.cpu.ts `ropeTables`).
 */
export const rope = (
  gpu: Pick<GpuShape, "limits">, x: GpuBuffer, cos: GpuBuffer, sin: GpuBuffer,
  rows: number, seq: number, heads: number, headDim: number, inverse: boolean,
  /** Decoding: a u32 buffer whose first value is the position of row 0 (so one shader serves every step). */
  firstPosition?: GpuBuffer
): Dispatch => {
  const half = headDim / 2
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, rows * heads * half, `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> COS: array<f32>;
@group(0) @binding(2) var<storage, read> SIN: array<f32>;
${firstPosition === undefined ? "" : "@group(0) @binding(3) var<storage, read> FIRST: array<u32>;"}`, `  let j = i % ${half}u;
  let head = (i / ${half}u) % ${heads}u;
  let row = i / ${half * heads}u;
  let t = ${firstPosition === undefined ? `row % ${seq}u` : "FIRST[0] + row"};
  let c = COS[t * ${half}u + j];
  let s = ${inverse ? "-" : ""}SIN[t * ${half}u + j];
  let o = row * ${heads * headDim}u + head * ${headDim}u + j;
  let a = X[o];
  let b = X[o + ${half}u];
  X[o] = a * c - b * s;
  X[o + ${half}u] = b * c + a * s;`)
  return dispatch(
    { label: `rope${inverse ? " backward" : ""} ${rows}×${heads}×${headDim}${firstPosition === undefined ? "" : " at a position"}`, code },
    firstPosition === undefined ? [x, cos, sin] : [x, cos, sin, firstPosition],
    workgroups
  )
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * Rotary embedding in HF's rotate-half layout, in place over x = [rows, heads·D] where row i is position
 * i mod seq: (a, b) = (x[j], x[j + D/2]) → (a·cos − b·sin, b·cos + a·sin). `inverse` rotates back (the
 * backward pass: the rotation's transpose). cos and sin are [seq, D/2] tables (llama.cpu.ts `ropeTables`).
 * Packed documents give each row its own position instead (`rowPositions`), so RoPE restarts at every document.
 */
export const rope = (
  gpu: Pick<GpuShape, "limits">, x: GpuBuffer, cos: GpuBuffer, sin: GpuBuffer,
  rows: number, seq: number, heads: number, headDim: number, inverse: boolean,
  /** Decoding: a u32 buffer whose first value is the position of row 0 (so one shader serves every step). */
  firstPosition?: GpuBuffer,
  /** Packed documents: a u32 position per row (0 where a document starts), in place of `row mod seq`. */
  rowPositions?: GpuBuffer
): Dispatch => {
  if (firstPosition !== undefined && rowPositions !== undefined) throw new RangeError("rope takes a first position or row positions, not both")
  const half = headDim / 2
  const positionOf = firstPosition !== undefined ? "FIRST[0] + row" : rowPositions !== undefined ? "POS[row]" : `row % ${seq}u`
  const extra = firstPosition ?? rowPositions
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, rows * heads * half, `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> COS: array<f32>;
@group(0) @binding(2) var<storage, read> SIN: array<f32>;
${extra === undefined ? "" : `@group(0) @binding(3) var<storage, read> ${firstPosition !== undefined ? "FIRST" : "POS"}: array<u32>;`}`, `  let j = i % ${half}u;
  let head = (i / ${half}u) % ${heads}u;
  let row = i / ${half * heads}u;
  let t = ${positionOf};
  let c = COS[t * ${half}u + j];
  let s = ${inverse ? "-" : ""}SIN[t * ${half}u + j];
  let o = row * ${heads * headDim}u + head * ${headDim}u + j;
  let a = X[o];
  let b = X[o + ${half}u];
  X[o] = a * c - b * s;
  X[o + ${half}u] = b * c + a * s;`)
  return dispatch(
    { label: `rope${inverse ? " backward" : ""} ${rows}×${heads}×${headDim}${firstPosition !== undefined ? " at a position" : rowPositions !== undefined ? " at row positions" : ""}`, code },
    extra === undefined ? [x, cos, sin] : [x, cos, sin, extra],
    workgroups
  )
}

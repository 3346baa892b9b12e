import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal, flatKernel, softwareLoopBudget } from "./wgsl.ts"

type G = Pick<GpuShape, "adapter" | "limits">

/** y = x · rsqrt(mean(x²) + eps) · w over rows of [rows, cols]; keeps rstd per row for the backward pass. */
export const rmsNormForward = (
  gpu: G, x: GpuBuffer, w: GpuBuffer, y: GpuBuffer, rstd: GpuBuffer, rows: number, cols: number, eps: number,
  variant: RowVariant = rowVariantFor(gpu, cols, 2)
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, cols, 2)
  const code = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> R: array<f32>;
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("ss", "sum", (j) => `X[base + ${j}] * X[base + ${j}]`)}
  let r = inverseSqrt(ss / ${f32Literal(cols)} + ${f32Literal(eps)});
  ${variant === "workgroup" ? "if (lid.x == 0u) { R[row] = r; }" : "R[row] = r;"}
  ${layout.forEachColumn((j) => `Y[base + ${j}] = X[base + ${j}] * r * W[${j}];`)}`)}`
  return dispatch({ label: `rmsnorm ${rows}×${cols} (${variant})`, code }, [x, w, y, rstd], layout.workgroups)
}

/**
 * dx (+)= r·(dy·w − x̂·mean(dy·w·x̂)) with x̂ = x·r. `accumulate` adds into dx, which is how the residual
 * stream's gradient joins the branch's.
 */
export const rmsNormBackward = (
  gpu: G, dy: GpuBuffer, x: GpuBuffer, w: GpuBuffer, rstd: GpuBuffer, dx: GpuBuffer, rows: number, cols: number,
  accumulate: boolean, variant: RowVariant = rowVariantFor(gpu, cols, 2)
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, cols, 2)
  const value = (j: string) => `R[row] * (DY[base + ${j}] * W[${j}] - X[base + ${j}] * R[row] * dot)`
  const code = `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> R: array<f32>;
@group(0) @binding(4) var<storage, read_write> DX: array<f32>;
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("total", "sum", (j) => `DY[base + ${j}] * W[${j}] * X[base + ${j}]`)}
  let dot = total * R[row] / ${f32Literal(cols)};
  ${layout.forEachColumn((j) => accumulate ? `DX[base + ${j}] = DX[base + ${j}] + ${value(j)};` : `DX[base + ${j}] = ${value(j)};`)}`)}`
  return dispatch({ label: `rmsnorm backward ${rows}×${cols} (${variant})`, code }, [dy, x, w, rstd, dx], layout.workgroups)
}

/**
 * dw[c] += Σ_rows dy·x·r: one invocation per column walking the rows in order (deterministic; on software
 * adapters the row count is bounded by the loop budget, which a CPU-sized batch never reaches).
 */
export const rmsNormWeightGrad = (gpu: G, dy: GpuBuffer, x: GpuBuffer, rstd: GpuBuffer, dw: GpuBuffer, rows: number, cols: number): Dispatch => {
  if (gpu.adapter.kind === "software" && rows >= softwareLoopBudget) {
    throw new RangeError(`rmsnorm weight gradient over ${rows} rows exceeds llvmpipe's loop budget; use smaller micro-batches`)
  }
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, cols, `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> R: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;`, `  var acc = 0.0;
  for (var r = 0u; r < ${rows}u; r++) { acc += DY[r * ${cols}u + i] * X[r * ${cols}u + i] * R[r]; }
  DW[i] = DW[i] + acc;`)
  return dispatch({ label: `rmsnorm weight grad ${rows}×${cols}`, code }, [dy, x, rstd, dw], workgroups)
}

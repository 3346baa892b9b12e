import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { assertPositiveInts } from "./wgsl.ts"

/**
 * Row softmax of a row-major [rows, cols] matrix: exp(x - max) / Σ exp(x - max). Subtracting the row max
 * keeps exp from overflowing; out may be x itself.
 */
export const rowSoftmax = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  cols: number,
  variant: RowVariant = rowVariantFor(gpu, cols, 3)
): Dispatch => {
  assertPositiveInts("row softmax", { rows, cols })
  const layout = rowLayout(gpu, variant, rows, cols, 3)
  const inPlace = x.buffer === out.buffer
  const src = inPlace ? "Y" : "X"
  const code = `${inPlace ? "" : "@group(0) @binding(0) var<storage, read> X: array<f32>;\n"}@group(0) @binding(${inPlace ? 0 : 1}) var<storage, read_write> Y: array<f32>;
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("rowMax", "max", (j) => `${src}[base + ${j}]`)}
  ${layout.reduce("denominator", "sum", (j) => `exp(${src}[base + ${j}] - rowMax)`)}
  let scale = 1.0 / denominator;
  ${layout.forEachColumn((j) => `Y[base + ${j}] = exp(${src}[base + ${j}] - rowMax) * scale;`)}`)}`
  return dispatch({ label: `row softmax ${rows}×${cols} (${variant})`, code }, inPlace ? [out] : [x, out], layout.workgroups)
}

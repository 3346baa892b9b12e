import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { type Combine, rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { assertPositiveInts } from "./wgsl.ts"

/** out[r] = sum or max of x[r, 0..cols) for a row-major [rows, cols] matrix. */
export const rowReduce = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  combine: Combine,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  cols: number,
  variant: RowVariant = rowVariantFor(gpu, cols, 1)
): Dispatch => {
  assertPositiveInts(`row ${combine}`, { rows, cols })
  const layout = rowLayout(gpu, variant, rows, cols, 1)
  const code = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("total", combine, (j) => `X[base + ${j}]`)}
  ${variant === "workgroup" ? "if (lid.x == 0u) { Y[row] = total; }" : "Y[row] = total;"}`)}`
  return dispatch({ label: `row ${combine} ${rows}×${cols} (${variant})`, code }, [x, out], layout.workgroups)
}

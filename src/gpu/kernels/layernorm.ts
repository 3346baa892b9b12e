import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal } from "./wgsl.ts"

/**
 * LayerNorm over rows of [rows, cols]: y = (s − mean(s)) / sqrt(var(s) + eps) · w + b with s = x (+ residual),
 * the biased variance as torch computes it. The optional residual makes it BERT's post-LN "add & norm"
 * (`LayerNorm(dense(h) + h)`) in one pass. Forward only: the BERT encoder is frozen in the recipe. The mean
 * and the variance are two separate sweeps (not E[s²] − E[s]²), which would cancel for rows far from zero.
 * `y` must be a buffer of its own (not `x` or `residual`).
 */
export const layerNorm = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  x: GpuBuffer,
  residual: GpuBuffer | undefined,
  w: GpuBuffer,
  b: GpuBuffer,
  y: GpuBuffer,
  rows: number,
  cols: number,
  eps: number,
  variant: RowVariant = rowVariantFor(gpu, cols, 3)
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, cols, 3)
  const s = (j: string) => residual === undefined ? `X[base + ${j}]` : `(X[base + ${j}] + RES[base + ${j}])`
  const inputs = residual === undefined ? ["X"] : ["X", "RES"]
  const names = [...inputs, "W", "B"]
  // The workgroup variant's reductions share one workgroup array; on llvmpipe the read of the first result
  // (the mean) was observed to land after the second reduction had overwritten the array (a variance of garbage),
  // so the second reduction gets an array of its own.
  const squares = layout.reduce("squares", "sum", (j) => `(${s(j)} - mean) * (${s(j)} - mean)`)
  const ownArray = variant === "workgroup"
  const code = `${names.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`).join("\n")}
@group(0) @binding(${names.length}) var<storage, read_write> Y: array<f32>;
${ownArray ? `var<workgroup> partialSquares: array<f32, ${layout.workgroupSize}>;` : ""}
const COLS = ${cols}u;
${rowEntry(layout, `${layout.reduce("total", "sum", s)}
  let mean = total / ${f32Literal(cols)};
  ${ownArray ? squares.replaceAll("partial[", "partialSquares[") : squares}
  let rstd = inverseSqrt(squares / ${f32Literal(cols)} + ${f32Literal(eps)});
  ${layout.forEachColumn((j) => `Y[base + ${j}] = (${s(j)} - mean) * rstd * W[${j}] + B[${j}];`)}`)}`
  const bindings = [x, ...(residual === undefined ? [] : [residual]), w, b, y]
  return dispatch({ label: `layernorm ${rows}×${cols}${residual === undefined ? "" : " + residual"} (${variant})`, code }, bindings, layout.workgroups)
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal } from "./wgsl.ts"

type G = Pick<GpuShape, "adapter" | "limits">
const NEG = "-3.4028234663852886e38"

/**
 * Attention probabilities in place over scores [blocks·seq, seq]: row r is query position t = r mod seq, and
 * P[t, s] = softmax over s ≤ t of scale·S[t, s], exactly 0 for s > t (the causal mask).
 */
export const causalSoftmax = (gpu: G, scores: GpuBuffer, rows: number, seq: number, scale: number, variant: RowVariant = rowVariantFor(gpu, seq, 3)): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, seq, 3)
  const sc = f32Literal(scale)
  const code = `@group(0) @binding(0) var<storage, read_write> S: array<f32>;
const COLS = ${seq}u;
${rowEntry(layout, `let t = row % ${seq}u;
  ${layout.reduce("rowMax", "max", (j) => `select(${NEG}, S[base + ${j}] * ${sc}, ${j} <= t)`)}
  ${layout.reduce("denominator", "sum", (j) => `select(0.0, exp(S[base + ${j}] * ${sc} - rowMax), ${j} <= t)`)}
  let inv = 1.0 / denominator;
  ${layout.barrier}
  ${layout.forEachColumn((j) => `S[base + ${j}] = select(0.0, exp(S[base + ${j}] * ${sc} - rowMax) * inv, ${j} <= t);`)}`)}`
  return dispatch({ label: `causal softmax ${rows}×${seq} (${variant})`, code }, [scores], layout.workgroups)
}

/** Softmax backward in place over dP: dS = scale·P ⊙ (dP − Σ_s P·dP), the gradient w.r.t. the raw scores. */
export const causalSoftmaxBackward = (gpu: G, probs: GpuBuffer, dP: GpuBuffer, rows: number, seq: number, scale: number, variant: RowVariant = rowVariantFor(gpu, seq, 2)): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, seq, 2)
  const code = `@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> DP: array<f32>;
const COLS = ${seq}u;
${rowEntry(layout, `${layout.reduce("dot", "sum", (j) => `P[base + ${j}] * DP[base + ${j}]`)}
  ${layout.barrier}
  ${layout.forEachColumn((j) => `DP[base + ${j}] = ${f32Literal(scale)} * P[base + ${j}] * (DP[base + ${j}] - dot);`)}`)}`
  return dispatch({ label: `causal softmax backward ${rows}×${seq} (${variant})`, code }, [probs, dP], layout.workgroups)
}

import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal } from "./wgsl.ts"

type G = Pick<GpuShape, "adapter" | "limits">
const NEG = "-3.4028234663852886e38"

/**
 * Packed documents (SFT with per-document position ids): a u32 position per [batch·seq] row, 0 where a document
 * starts, and the heads per batch row, so that score block ⌊r / seq⌋ belongs to batch row ⌊block / heads⌋.
 */
export interface AttentionDocuments {
  readonly positions: GpuBuffer
  readonly heads: number
}

/**
 * Attention probabilities in place over scores [blocks·seq, seq]: row r is query position t = r mod seq, and
 * P[t, s] = softmax over s ≤ t of scale·S[t, s], exactly 0 for s > t (the causal mask). With `documents`, the
 * mask is block-diagonal too: query t sees only s ≥ t − position(t), the start of its own document, so a packed
 * row attends as its documents would one by one (TRL's padding-free packing, flash-attn's varlen).
 */
export const causalSoftmax = (
  gpu: G, scores: GpuBuffer, rows: number, seq: number, scale: number,
  variant: RowVariant = rowVariantFor(gpu, seq, 3), documents?: AttentionDocuments
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, seq, 3)
  const sc = f32Literal(scale)
  // `first` is where the query's document starts (without documents the shader is the plain causal one).
  const first = documents === undefined ? "" : `\n  let first = t - POS[(row / ${seq * documents.heads}u) * ${seq}u + t];`
  const visible = (j: string) => documents === undefined ? `${j} <= t` : `(${j} <= t && ${j} >= first)`
  const code = `@group(0) @binding(0) var<storage, read_write> S: array<f32>;
${documents === undefined ? "" : "@group(0) @binding(1) var<storage, read> POS: array<u32>;"}
const COLS = ${seq}u;
${rowEntry(layout, `let t = row % ${seq}u;${first}
  ${layout.reduce("rowMax", "max", (j) => `select(${NEG}, S[base + ${j}] * ${sc}, ${visible(j)})`)}
  ${layout.reduce("denominator", "sum", (j) => `select(0.0, exp(S[base + ${j}] * ${sc} - rowMax), ${visible(j)})`)}
  let inv = 1.0 / denominator;
  ${layout.barrier}
  ${layout.forEachColumn((j) => `S[base + ${j}] = select(0.0, exp(S[base + ${j}] * ${sc} - rowMax) * inv, ${visible(j)});`)}`)}`
  return dispatch(
    { label: `causal softmax ${rows}×${seq}${documents === undefined ? "" : " within documents"} (${variant})`, code },
    documents === undefined ? [scores] : [scores, documents.positions],
    layout.workgroups
  )
}

/**
 * Softmax backward in place over dP: dS = scale·P ⊙ (dP − Σ_s P·dP), the gradient w.r.t. the raw scores. It serves
 * the document-masked forward unchanged: P is exactly 0 outside the query's document, so dS is 0 there as well.
 */
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

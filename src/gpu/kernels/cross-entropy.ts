import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal } from "./wgsl.ts"

/**
 * Cross-entropy with a fused log-softmax, in place over logits [rows, vocab]: losses[r] = logsumexp − logit of
 * the target, and the logits become the gradient of the mean loss, (softmax − onehot) · gradScale, so the
 * [rows, vocab] probabilities are never stored separately. gradScale is 1 / (positions in the whole batch).
 * With `weights` (SFT's loss masks), row r's gradient is also multiplied by weights[r] (0 for a target that does
 * not count; gradScale is then 1 / the counted targets of the step); the losses stay unweighted.
 */
export const crossEntropy = (
  gpu: Pick<GpuShape, "adapter" | "limits">, logits: GpuBuffer, targets: GpuBuffer, losses: GpuBuffer,
  rows: number, vocab: number, gradScale: number, variant: RowVariant = rowVariantFor(gpu, vocab, 3),
  /** Row of `targets` and `losses` that logits row 0 belongs to (the head runs in row chunks). */
  rowBase = 0,
  /** When given, 1 where the target is the most likely token (evaluation's is_greedy), else 0. */
  greedy?: GpuBuffer,
  /** Per row of `targets` (indexed like them): the weight of that row's gradient. */
  weights?: GpuBuffer
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, vocab, 3)
  const g = f32Literal(gradScale)
  const weightBinding = greedy === undefined ? 3 : 4
  const code = `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<u32>;
@group(0) @binding(2) var<storage, read_write> L: array<f32>;
${greedy === undefined ? "" : "@group(0) @binding(3) var<storage, read_write> GREEDY: array<f32>;"}
${weights === undefined ? "" : `@group(0) @binding(${weightBinding}) var<storage, read> W: array<f32>;`}
const COLS = ${vocab}u;
${rowEntry(layout, `${layout.reduce("rowMax", "max", (j) => `X[base + ${j}]`)}
  ${layout.reduce("total", "sum", (j) => `exp(X[base + ${j}] - rowMax)`)}
  let lse = rowMax + log(total);
  let tgt = T[${rowBase}u + row];
  let targetLogit = X[base + tgt];
  ${variant === "workgroup" ? `if (lid.x == 0u) { L[${rowBase}u + row] = lse - targetLogit; }` : `L[${rowBase}u + row] = lse - targetLogit;`}
  ${greedy === undefined ? "" : `${variant === "workgroup" ? "if (lid.x == 0u) { " : "{ "}GREEDY[${rowBase}u + row] = select(0.0, 1.0, targetLogit >= rowMax); }`}
  ${layout.barrier}
  ${weights === undefined ? "" : `let scale = ${g} * W[${rowBase}u + row];`}
  ${layout.forEachColumn((j) => `X[base + ${j}] = (exp(X[base + ${j}] - lse) - select(0.0, 1.0, ${j} == tgt)) * ${weights === undefined ? g : "scale"};`)}`)}`
  return dispatch(
    { label: `cross-entropy ${rows}×${vocab} from row ${rowBase}${weights === undefined ? "" : " weighted"} (${variant})`, code },
    [logits, targets, losses, ...(greedy === undefined ? [] : [greedy]), ...(weights === undefined ? [] : [weights])],
    layout.workgroups
  )
}

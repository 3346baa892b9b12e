import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { rowEntry, rowLayout, type RowVariant, rowVariantFor } from "./rows.ts"
import { f32Literal } from "./wgsl.ts"

const NEG = "-3.4028234663852886e38"

/**
 * Bidirectional attention probabilities in place over scores [rows, seq] of sequences padded to `seq`: row r
 * belongs to sequence q = firstSequence + ⌊r / rowsPerSequence⌋ (rowsPerSequence = heads·seq for a
 * [batch·heads, seq, seq] block), and P[r, s] = softmax over s < lengths[q] of scale·S[r, s], exactly 0 for the
 * padded keys s ≥ lengths[q] — what an encoder's attention mask does (transformers adds the dtype's minimum to
 * masked scores; both give exp = 0). Every length must be ≥ 1. `lengths` holds u32, indexed from 0 for the
 * whole batch, so attention processed in chunks of sequences passes the chunk's first sequence.
 */
export const maskedSoftmax = (
  gpu: Pick<GpuShape, "adapter" | "limits">,
  scores: GpuBuffer,
  lengths: GpuBuffer,
  rows: number,
  seq: number,
  rowsPerSequence: number,
  scale: number,
  firstSequence = 0,
  variant: RowVariant = rowVariantFor(gpu, seq, 3)
): Dispatch => {
  const layout = rowLayout(gpu, variant, rows, seq, 3)
  const sc = f32Literal(scale)
  const code = `@group(0) @binding(0) var<storage, read_write> S: array<f32>;
@group(0) @binding(1) var<storage, read> LENGTHS: array<u32>;
const COLS = ${seq}u;
${rowEntry(layout, `let keys = LENGTHS[${firstSequence}u + row / ${rowsPerSequence}u];
  ${layout.reduce("rowMax", "max", (j) => `select(${NEG}, S[base + ${j}] * ${sc}, ${j} < keys)`)}
  ${layout.reduce("denominator", "sum", (j) => `select(0.0, exp(S[base + ${j}] * ${sc} - rowMax), ${j} < keys)`)}
  let inv = 1.0 / denominator;
  ${layout.barrier}
  ${layout.forEachColumn((j) => `S[base + ${j}] = select(0.0, exp(S[base + ${j}] * ${sc} - rowMax) * inv, ${j} < keys);`)}`)}`
  return dispatch({ label: `masked softmax ${rows}×${seq} (${variant})`, code }, [scores, lengths], layout.workgroups)
}

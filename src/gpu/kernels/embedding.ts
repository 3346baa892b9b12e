import { dispatch, type Dispatch, type GpuBuffer, type GpuShape } from "../Gpu.ts"
import { flatKernel } from "./wgsl.ts"

/**
 * out[i, :] = table[ids[i], :] for n ids (u32) over a [vocab, c] table. A table larger than one binding is bound
 * in vocabulary chunks: `vocabRange` [v0, v1) says which rows `table` holds, and only those ids are written.
 */
export const embeddingForward = (
  gpu: Pick<GpuShape, "limits">, ids: GpuBuffer, table: GpuBuffer, out: GpuBuffer, n: number, c: number,
  vocabRange?: readonly [number, number]
): Dispatch => {
  const [v0, v1] = vocabRange ?? [0, 0xffffffff]
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, n * c, `@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`, `  let id = ids[i / ${c}u];
  if (id < ${v0}u || id >= ${v1}u) { return; }
  out[i] = table[(id - ${v0}u) * ${c}u + i % ${c}u];`)
  return dispatch({ label: `embedding ${n}×${c} rows ${v0}..`, code }, [ids, table, out], workgroups)
}

/**
 * Positions grouped by token id, computed on the CPU where the ids already are: the backward pass then sums
 * each id's rows in a fixed order, deterministic without float atomics (which WGSL lacks anyway).
 */
export interface EmbeddingSegments {
  /** Distinct ids, ascending. */
  readonly ids: Uint32Array
  /** Segment u covers order[starts[u] .. starts[u+1]). */
  readonly starts: Uint32Array
  /** Positions sorted by id, stable. */
  readonly order: Uint32Array
}

export const embeddingSegments = (ids: ArrayLike<number>): EmbeddingSegments => {
  const order = Uint32Array.from({ length: ids.length }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]! || a - b)
  const unique: Array<number> = []
  const starts: Array<number> = []
  order.forEach((pos, k) => {
    if (k === 0 || ids[pos] !== ids[order[k - 1]!]) {
      unique.push(ids[pos]!)
      starts.push(k)
    }
  })
  starts.push(order.length)
  return { ids: Uint32Array.from(unique), starts: Uint32Array.from(starts), order }
}

/**
 * dTable[id, :] += Σ over positions of that id of dOut[pos, :]. For a table bound in vocabulary chunks,
 * `firstSegment` and `segments` select the (contiguous, ids being sorted) segments of ids in the chunk and
 * `firstId` is the chunk's first vocabulary row.
 */
export const embeddingBackward = (
  gpu: Pick<GpuShape, "limits">,
  segmentIds: GpuBuffer,
  starts: GpuBuffer,
  order: GpuBuffer,
  dOut: GpuBuffer,
  dTable: GpuBuffer,
  segments: number,
  c: number,
  firstSegment = 0,
  firstId = 0
): Dispatch => {
  const { code, workgroups } = flatKernel(gpu.limits.maxComputeWorkgroupsPerDimension, segments * c, `@group(0) @binding(0) var<storage, read> segmentIds: array<u32>;
@group(0) @binding(1) var<storage, read> starts: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> dOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> dTable: array<f32>;`, `  let u = ${firstSegment}u + i / ${c}u;
  let col = i % ${c}u;
  var acc = 0.0;
  for (var k = starts[u]; k < starts[u + 1u]; k++) { acc += dOut[order[k] * ${c}u + col]; }
  let at = (segmentIds[u] - ${firstId}u) * ${c}u + col;
  dTable[at] = dTable[at] + acc;`)
  return dispatch({ label: `embedding backward ${segments}×${c}`, code }, [segmentIds, starts, order, dOut, dTable], workgroups)
}

import { Effect } from "effect"
import { mergeHeads, splitHeads } from "./heads.ts"
import { mergeHeadsCpu, splitHeadsCpu } from "./heads.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

// [batch, seq, heads, head dim, query heads per KV head]: grouped-query attention, and plain multi-head (group 1).
const shapes: ReadonlyArray<readonly [number, number, number, number, number]> = [[2, 7, 6, 8, 3], [1, 4, 4, 16, 1]]

export const headsCases: ReadonlyArray<KernelCase> = shapes.map(([batch, seq, heads, d, group]) =>
  kernelCase({
    kernel: "split heads, then merge them back",
    case: `batch ${batch}, seq ${seq}, ${heads} heads of ${d}, ${group} per KV head`,
    // The split is a copy; the merge sums each group.
    tolerances: { split: 0, merged: 1e-6 },
    inputs: (next) => randomArray(next, batch * seq * (heads / group) * d),
    gpu: (gpu, kv) =>
      Effect.gen(function*() {
        const KV = yield* gpu.upload(kv)
        const SPLIT = yield* gpu.buffer(batch * heads * seq * d * 4)
        const MERGED = yield* gpu.buffer(kv.length * 4)
        yield* gpu.run([splitHeads(gpu, KV, SPLIT, batch, seq, heads, d, group), mergeHeads(gpu, SPLIT, MERGED, batch, seq, heads, d, group)])
        return { split: yield* gpu.readF32(SPLIT), merged: yield* gpu.readF32(MERGED) }
      }),
    cpu: (kv) => {
      const split = splitHeadsCpu(kv, batch, seq, heads, d, group)
      return { split, merged: mergeHeadsCpu(split, batch, seq, heads, d, group) }
    }
  })
)

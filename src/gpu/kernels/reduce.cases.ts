import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowReduce } from "./reduce.ts"
import { rowReduceCpu } from "./reduce.cpu.ts"
import type { RowVariant } from "./rows.ts"

/** Shapes for every row kernel: one element, rows shorter than the unroll, odd and even, and rows of 49k. */
export const rowShapes: ReadonlyArray<readonly [number, number]> = [[1, 1], [3, 7], [65, 1000], [37, 1025], [130, 64], [2, 49152], [4, 49152]]
export const rowVariants: ReadonlyArray<RowVariant> = ["thread", "workgroup"]

export const reduceCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  (["sum", "max"] as const).flatMap((combine) =>
    rowShapes.map(([rows, cols]) =>
      kernelCase({
        kernel: `row ${combine}`,
        case: `${rows}×${cols}`,
        variant,
        // Positive inputs for sums: the tolerance then measures the kernel, not cancellation.
        inputs: (next) => combine === "sum" ? randomArray(next, rows * cols, 0, 1) : randomArray(next, rows * cols, -5, 5),
        gpu: (gpu, x) =>
          Effect.gen(function*() {
            const X = yield* gpu.upload(x, "x")
            const Y = yield* gpu.buffer(rows * 4, "y")
            yield* gpu.run([rowReduce(gpu, combine, X, Y, rows, cols, variant)])
            return { y: yield* gpu.readF32(Y) }
          }),
        cpu: (x) => ({ y: rowReduceCpu(combine, x, rows, cols) })
      })
    )
  )
)

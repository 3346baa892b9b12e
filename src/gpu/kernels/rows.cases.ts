import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"
import { rowProbe } from "./rows.ts"
import { rowProbeCpu } from "./rows.cpu.ts"

const shapes: ReadonlyArray<readonly [number, number, string]> = [
  [1, 1, ""],
  [3, 7, ""],
  [37, 1025, ""],
  // The workgroup variant (a workgroup per row) needs a second grid dimension past 65,535 rows.
  [70_000, 3, ", a 2-D grid of workgroups"],
  // 3 passes × 174,752 / 8 = 65,532 loop iterations per invocation: just under llvmpipe's budget of 65,535.
  [2, 174_752, ", just under llvmpipe's loop budget"]
]

export const rowsCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  shapes.map(([rows, cols, note]) =>
    kernelCase({
      kernel: "row skeleton (x − max + mean, in place)",
      case: `${rows}×${cols}${note}`,
      variant,
      inputs: (next) => randomArray(next, rows * cols),
      gpu: (gpu, x) =>
        Effect.gen(function*() {
          const X = yield* gpu.upload(x, "x")
          yield* gpu.run([rowProbe(gpu, X, rows, cols, variant)])
          return { x: yield* gpu.readF32(X) }
        }),
      cpu: (x) => ({ x: rowProbeCpu(x, rows, cols) })
    })
  )
)

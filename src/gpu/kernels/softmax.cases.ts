import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowShapes, rowVariants } from "./reduce.cases.ts"
import type { RowVariant } from "./rows.ts"
import { rowSoftmax } from "./softmax.ts"
import { rowSoftmaxCpu } from "./softmax.cpu.ts"

const softmaxCase = (rows: number, cols: number, variant: RowVariant | undefined, spread: number, note = ""): KernelCase =>
  kernelCase({
    kernel: "row softmax",
    case: `${rows}×${cols}, logits ±${spread}${note}, into another buffer and in place`,
    ...(variant === undefined ? {} : { variant }),
    inputs: (next) => randomArray(next, rows * cols, -spread, spread),
    gpu: (gpu, x) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x, "x")
        const Y = yield* gpu.buffer(rows * cols * 4, "y")
        yield* gpu.run([rowSoftmax(gpu, X, Y, rows, cols, variant), rowSoftmax(gpu, X, X, rows, cols, variant)])
        return { y: yield* gpu.readF32(Y), "in place": yield* gpu.readF32(X) }
      }),
    cpu: (x) => {
      const y = rowSoftmaxCpu(x, rows, cols)
      return { y, "in place": y }
    }
  })

export const softmaxCases: ReadonlyArray<KernelCase> = [
  // Logits around ±80 overflow a naive exp in f32: the max subtraction must be there.
  ...rowVariants.flatMap((variant) => rowShapes.map(([rows, cols]) => softmaxCase(rows, cols, variant, 80))),
  // Rows too long for one llvmpipe invocation (3·200003/8 loop iterations): the adapter's choice shares the row.
  softmaxCase(2, 200_003, undefined, 20, " (over llvmpipe's loop budget for one invocation)")
]

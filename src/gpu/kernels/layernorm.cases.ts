import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { layerNorm } from "./layernorm.ts"
import { layerNormCpu } from "./layernorm.cpu.ts"
import { rowVariants } from "./reduce.cases.ts"

// [rows, cols, eps]: BERT's eps 1e-12 on its odd test width and on 768, and one long row; the rows are offset by
// +5 so that a one-pass variance (E[s²] − E[s]²) would show its cancellation.
const shapes: ReadonlyArray<readonly [number, number, number]> = [[1, 1, 1e-5], [41, 40, 1e-12], [9, 768, 1e-12], [2, 4099, 1e-5]]

export const layernormCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  shapes.map(([rows, cols, eps]) =>
    kernelCase({
      kernel: "layernorm forward, alone and with a residual added first",
      case: `${rows}×${cols}, eps ${eps}`,
      variant,
      inputs: (next) => ({
        x: randomArray(next, rows * cols, 3, 7),
        residual: randomArray(next, rows * cols, -2, 2),
        w: randomArray(next, cols, 0.5, 1.5),
        b: randomArray(next, cols, -0.5, 0.5)
      }),
      gpu: (gpu, { x, residual, w, b }) =>
        Effect.gen(function*() {
          const [X, R, W, B] = [yield* gpu.upload(x), yield* gpu.upload(residual), yield* gpu.upload(w), yield* gpu.upload(b)]
          const Y = yield* gpu.buffer(rows * cols * 4)
          const YR = yield* gpu.buffer(rows * cols * 4)
          yield* gpu.run([
            layerNorm(gpu, X, undefined, W, B, Y, rows, cols, eps, variant),
            layerNorm(gpu, X, R, W, B, YR, rows, cols, eps, variant)
          ])
          return { y: yield* gpu.readF32(Y), "y with residual": yield* gpu.readF32(YR) }
        }),
      cpu: ({ x, residual, w, b }) => ({
        y: layerNormCpu(x, undefined, w, b, rows, cols, eps),
        "y with residual": layerNormCpu(x, residual, w, b, rows, cols, eps)
      })
    })
  )
)

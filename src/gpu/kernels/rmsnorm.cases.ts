import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"
import { rmsNormBackward, rmsNormForward, rmsNormWeightGrad } from "./rmsnorm.ts"
import { rmsNormBackwardCpu, rmsNormForwardCpu } from "./rmsnorm.cpu.ts"

const eps = 1e-5

// dx is either written or added onto a random dx (the residual stream's gradient joining the branch's).
const shapes: ReadonlyArray<readonly [number, number, boolean]> = [[13, 67, true], [8, 64, false], [3, 1025, true]]

export const rmsnormCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  shapes.map(([rows, cols, accumulate]) =>
    kernelCase({
      kernel: "rmsnorm forward, backward, weight gradient",
      case: `${rows}×${cols}, dx ${accumulate ? "accumulated" : "written"}`,
      variant,
      inputs: (next) => ({
        x: randomArray(next, rows * cols, -2, 2),
        w: randomArray(next, cols, 0.5, 1.5),
        dy: randomArray(next, rows * cols),
        base: randomArray(next, rows * cols)
      }),
      gpu: (gpu, { x, w, dy, base }) =>
        Effect.gen(function*() {
          const [X, W, DY] = [yield* gpu.upload(x), yield* gpu.upload(w), yield* gpu.upload(dy)]
          const Y = yield* gpu.buffer(rows * cols * 4)
          const R = yield* gpu.buffer(rows * 4)
          const DX = yield* gpu.upload(base)
          const DW = yield* gpu.buffer(cols * 4)
          yield* gpu.run([
            rmsNormForward(gpu, X, W, Y, R, rows, cols, eps, variant),
            rmsNormBackward(gpu, DY, X, W, R, DX, rows, cols, accumulate, variant),
            rmsNormWeightGrad(gpu, DY, X, R, DW, rows, cols)
          ])
          return { y: yield* gpu.readF32(Y), rstd: yield* gpu.readF32(R), dx: yield* gpu.readF32(DX), dw: yield* gpu.readF32(DW) }
        }),
      cpu: ({ x, w, dy, base }) => {
        const forward = rmsNormForwardCpu(x, w, rows, cols, eps)
        const back = rmsNormBackwardCpu(dy, x, w, forward.rstd, rows, cols)
        return {
          y: forward.y,
          rstd: forward.rstd,
          dx: accumulate ? back.dx.map((v, i) => v + base[i]!) : back.dx,
          dw: back.dw
        }
      }
    })
  )
)

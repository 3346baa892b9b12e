import { Effect } from "effect"
import { gelu } from "./gelu.ts"
import { geluCpu } from "./gelu.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

// [rows, cols, input spread]: the body of GELU, and a wide range reaching both tails (x ≈ −20 gives ≈ −1e-88 → −0).
const shapes: ReadonlyArray<readonly [number, number, number]> = [[1, 1, 4], [37, 72, 6], [1000, 1003, 20]]

export const geluCases: ReadonlyArray<KernelCase> = shapes.map(([rows, cols, spread]) =>
  kernelCase({
    kernel: "exact GELU (erf), with and without a bias, in place",
    case: `${rows}×${cols}, x in ±${spread}`,
    // The erfc fit has fractional error ≤ 1.2e-7; f32 exp and rounding add a few ulp.
    tolerance: 2e-6,
    inputs: (next) => ({ x: randomArray(next, rows * cols, -spread, spread), bias: randomArray(next, cols) }),
    gpu: (gpu, { x, bias }) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x)
        const B = yield* gpu.upload(bias)
        const Y = yield* gpu.buffer(x.length * 4)
        yield* gpu.run([gelu(gpu, X, Y, rows * cols, { buffer: B, cols }), gelu(gpu, X, X, rows * cols)])
        return { "with bias": yield* gpu.readF32(Y), "in place": yield* gpu.readF32(X) }
      }),
    cpu: ({ x, bias }) => ({ "with bias": geluCpu(x, bias, cols), "in place": geluCpu(x) })
  })
)

import { Effect } from "effect"
import { addBias } from "./bias.ts"
import { addBiasCpu } from "./bias.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

// One value, a row shorter than a workgroup, and rows of BERT's odd test width across several workgroups.
const shapes: ReadonlyArray<readonly [number, number]> = [[1, 1], [3, 5], [41, 40]]

export const biasCases: ReadonlyArray<KernelCase> = shapes.map(([rows, cols]) =>
  kernelCase({
    kernel: "add bias in place",
    case: `${rows}×${cols}`,
    // One f32 addition, as the reference rounds it.
    tolerance: 0,
    inputs: (next) => ({ x: randomArray(next, rows * cols, -3, 3), bias: randomArray(next, cols) }),
    gpu: (gpu, { x, bias }) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x)
        yield* gpu.run([addBias(gpu, X, yield* gpu.upload(bias), rows, cols)])
        return { x: yield* gpu.readF32(X) }
      }),
    cpu: ({ x, bias }) => ({ x: addBiasCpu(x, bias, cols) })
  })
)

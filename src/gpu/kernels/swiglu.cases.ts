import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { swigluBackward, swigluForward } from "./swiglu.ts"
import { swigluBackwardCpu, swigluForwardCpu } from "./swiglu.cpu.ts"

export const swigluCases: ReadonlyArray<KernelCase> = [1001, 1024].map((size) =>
  kernelCase({
    kernel: "swiglu forward and backward",
    case: `×${size}`,
    tolerance: 1e-5,
    inputs: (next) => ({ g: randomArray(next, size, -5, 5), u: randomArray(next, size), dh: randomArray(next, size) }),
    gpu: (gpu, { g, u, dh }) =>
      Effect.gen(function*() {
        const [G, U, DH] = [yield* gpu.upload(g), yield* gpu.upload(u), yield* gpu.upload(dh)]
        const [H, DG, DU] = [yield* gpu.buffer(size * 4), yield* gpu.buffer(size * 4), yield* gpu.buffer(size * 4)]
        yield* gpu.run([swigluForward(gpu, G, U, H, size), swigluBackward(gpu, DH, G, U, DG, DU, size)])
        return { h: yield* gpu.readF32(H), dgate: yield* gpu.readF32(DG), dup: yield* gpu.readF32(DU) }
      }),
    cpu: ({ g, u, dh }) => {
      const back = swigluBackwardCpu(dh, g, u)
      return { h: swigluForwardCpu(g, u), dgate: back.dGate, dup: back.dUp }
    }
  })
)

import { Effect } from "effect"
import { clipCoefficient, partialsFor, sumSquaresPartials } from "./grad-norm.ts"
import { clipCoefficientCpu, sumSquaresPartialsCpu } from "./grad-norm.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

/** Gradients of `sizes` elements share one partials buffer, each at its offset, as the optimizer lays them out. */
const normCase = (name: string, sizes: ReadonlyArray<number>, maxNorm: number, poison?: number): KernelCase =>
  kernelCase({
    kernel: "gradient norm (sums of squares, clip coefficient)",
    case: name,
    // The norm sums every square once more; the flag is exact.
    tolerances: { "norm": 1e-5, "clip coefficient": 1e-5, "non-finite flag": 0 },
    inputs: (next) => {
      const grads = sizes.map((n) => randomArray(next, n, -2, 2))
      if (poison !== undefined) grads.at(-1)![Math.floor(next() * sizes.at(-1)!)] = poison
      return grads
    },
    gpu: (gpu, grads) =>
      Effect.gen(function*() {
        const count = sizes.reduce((s, n) => s + partialsFor(n), 0)
        const PART = yield* gpu.buffer(count * 4)
        const CLIP = yield* gpu.buffer(12)
        const G = yield* Effect.forEach(grads, (g) => gpu.upload(g))
        let offset = 0
        const steps = sizes.map((n, i) => {
          const step = sumSquaresPartials(gpu, G[i]!, PART, n, offset)
          offset += partialsFor(n)
          return step
        })
        yield* gpu.run([...steps, clipCoefficient(gpu, PART, count, maxNorm, CLIP)])
        const clip = yield* gpu.readF32(CLIP)
        return {
          partials: yield* gpu.readF32(PART),
          norm: [clip[0]!],
          // A non-finite norm leaves the coefficient unspecified (WGSL's min of NaN); the optimizer skips the step.
          ...(poison === undefined ? { "clip coefficient": [clip[1]!] } : {}),
          "non-finite flag": [clip[2]!]
        }
      }),
    cpu: (grads) => {
      const partials = new Float32Array(sizes.reduce((s, n) => s + partialsFor(n), 0))
      let offset = 0
      for (const g of grads) {
        partials.set(sumSquaresPartialsCpu(g), offset)
        offset += partialsFor(g.length)
      }
      const clip = clipCoefficientCpu(partials, maxNorm)
      return {
        partials,
        norm: [clip[0]!],
        ...(poison === undefined ? { "clip coefficient": [clip[1]!] } : {}),
        "non-finite flag": [clip[2]!]
      }
    }
  })

export const gradNormCases: ReadonlyArray<KernelCase> = [
  normCase("tensors of 1000, 257 and 3, max norm 1", [1000, 257, 3], 1),
  // 1,172 partials: more than the 256 invocations that add them, so each adds several.
  normCase("one tensor of 300,007, no clipping (max norm 0)", [300_007], 0),
  normCase("tensors of 64 and 1, norm under the maximum (coefficient 1)", [64, 1], 1e6),
  normCase("a NaN in the last tensor raises the flag", [1000, 257, 3], 1, NaN),
  normCase("a square beyond f32's range (1e20²) raises the flag", [513], 1, 1e20)
]

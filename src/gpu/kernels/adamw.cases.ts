import { Effect } from "effect"
import { adamw, type AdamWSettings } from "./adamw.ts"
import { adamwCpu } from "./adamw.cpu.ts"
import { clipCoefficient, partialsFor, sumSquaresPartials } from "./grad-norm.ts"
import { clipCoefficientCpu, sumSquaresPartialsCpu } from "./grad-norm.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

const steps: ReadonlyArray<readonly [step: number, lr: number]> = [[1, 3e-3], [2, 2e-3]]

/**
 * Two AdamW steps on the first of several gradients, with the clip coefficient computed on the GPU from all of
 * them, as the optimizer runs it; then, when `nonFinite`, a NaN in the last gradient must leave every weight and
 * moment as it was.
 */
const adamwCase = (sizes: ReadonlyArray<number>, s: AdamWSettings, maxNorm: number, nonFinite: boolean): KernelCase =>
  kernelCase({
    kernel: "adamw after the gradient norm",
    case: `2 steps on ${sizes[0]} of [${sizes.join(", ")}], β ${s.beta1}/${s.beta2}, weight decay ${s.weightDecay}, max norm ${maxNorm}` +
      (nonFinite ? ", then a NaN gradient" : ""),
    // Elementwise, a handful of roundings per step.
    tolerance: 1e-5,
    tolerances: { "non-finite flag": 0 },
    inputs: (next) => ({ grads: sizes.map((n) => randomArray(next, n, -2, 2)), p: randomArray(next, sizes[0]!) }),
    gpu: (gpu, { grads, p }) =>
      Effect.gen(function*() {
        const n = sizes[0]!
        const count = sizes.reduce((t, size) => t + partialsFor(size), 0)
        const PART = yield* gpu.buffer(count * 4)
        const CLIP = yield* gpu.buffer(16)
        const G = yield* Effect.forEach(grads, (g) => gpu.upload(g))
        let offset = 0
        const norm = [
          ...sizes.map((size, i) => {
            const step = sumSquaresPartials(gpu, G[i]!, PART, size, offset)
            offset += partialsFor(size)
            return step
          }),
          clipCoefficient(gpu, PART, count, maxNorm, CLIP)
        ]
        const [P, M, V] = [yield* gpu.upload(p), yield* gpu.buffer(n * 4), yield* gpu.buffer(n * 4)]
        const HYPER = yield* gpu.buffer(12)
        yield* gpu.run(norm)
        for (const [step, lr] of steps) {
          yield* gpu.write(HYPER, Float32Array.of(lr, 1 - s.beta1 ** step, Math.sqrt(1 - s.beta2 ** step)))
          yield* gpu.run([adamw(gpu, s, P, G[0]!, M, V, HYPER, CLIP, n)])
        }
        const out = { "weights": yield* gpu.readF32(P), "first moment": yield* gpu.readF32(M), "second moment": yield* gpu.readF32(V) }
        if (!nonFinite) return out
        const bad = Float32Array.from(grads.at(-1)!)
        bad[Math.floor(bad.length / 2)] = NaN
        yield* gpu.write(G.at(-1)!, bad)
        yield* gpu.run([...norm, adamw(gpu, s, P, G[0]!, M, V, HYPER, CLIP, n)])
        return {
          ...out,
          "non-finite flag": [(yield* gpu.readF32(CLIP))[2]!],
          "weights after the NaN step": yield* gpu.readF32(P),
          "second moment after the NaN step": yield* gpu.readF32(V)
        }
      }),
    cpu: ({ grads, p }) => {
      const partials = grads.flatMap((g) => [...sumSquaresPartialsCpu(g)])
      const coefficient = clipCoefficientCpu(partials, maxNorm)[1]!
      let state = { p, m: new Float32Array(p.length), v: new Float32Array(p.length) }
      for (const [step, lr] of steps) state = adamwCpu(s, state.p, grads[0]!, state.m, state.v, lr, step, coefficient)
      const out = { "weights": state.p, "first moment": state.m, "second moment": state.v }
      return nonFinite
        ? { ...out, "non-finite flag": [1], "weights after the NaN step": state.p, "second moment after the NaN step": state.v }
        : out
    }
  })

export const adamwCases: ReadonlyArray<KernelCase> = [
  adamwCase([1000, 257, 3], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 }, 1, true),
  adamwCase([4097], { beta1: 0.8, beta2: 0.999, eps: 1e-6, weightDecay: 0 }, 0, false)
]

import { Effect } from "effect"
import { causalSoftmax, causalSoftmaxBackward } from "./causal-softmax.ts"
import { causalSoftmaxBackwardCpu, causalSoftmaxCpu } from "./causal-softmax.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"

const shapes: ReadonlyArray<readonly [number, number, number]> = [[6, 11, 0.35], [3, 16, 0.25], [1, 1, 1]]

export const causalSoftmaxCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  shapes.map(([blocks, seq, scale]) =>
    kernelCase({
      kernel: "causal softmax and its backward",
      case: `${blocks} block${blocks === 1 ? "" : "s"} of ${seq}×${seq}, scale ${scale}`,
      variant,
      inputs: (next) => ({ s: randomArray(next, blocks * seq * seq, -6, 6), dp: randomArray(next, blocks * seq * seq) }),
      gpu: (gpu, { s, dp }) =>
        Effect.gen(function*() {
          const [S, DP] = [yield* gpu.upload(s), yield* gpu.upload(dp)]
          yield* gpu.run([
            causalSoftmax(gpu, S, blocks * seq, seq, scale, variant),
            causalSoftmaxBackward(gpu, S, DP, blocks * seq, seq, scale, variant)
          ])
          return { probabilities: yield* gpu.readF32(S), "score gradient": yield* gpu.readF32(DP) }
        }),
      cpu: ({ s, dp }) => {
        const p = causalSoftmaxCpu(s, blocks * seq, seq, scale)
        return { probabilities: p, "score gradient": causalSoftmaxBackwardCpu(p, dp, blocks * seq, seq, scale) }
      }
    })
  )
)

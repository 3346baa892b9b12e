import { Effect } from "effect"
import { type AttentionDocuments, causalSoftmax, causalSoftmaxBackward } from "./causal-softmax.ts"
import { causalSoftmaxBackwardCpu, causalSoftmaxCpu } from "./causal-softmax.cpu.ts"
import { type KernelCase, kernelCase, randomArray, type Rng } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"

const shapes: ReadonlyArray<readonly [number, number, number]> = [[6, 11, 0.35], [3, 16, 0.25], [1, 1, 1]]

const plain: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
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

/** Positions of `batch` packed rows of `seq`: documents of random lengths 1…`longest`, each counting from 0. */
export const randomDocumentPositions = (next: Rng, batch: number, seq: number, longest: number): Uint32Array => {
  const positions = new Uint32Array(batch * seq)
  for (let b = 0; b < batch; b++) {
    let length = 0
    let at = 0
    for (let t = 0; t < seq; t++) {
      if (at === length) [length, at] = [1 + Math.floor(next() * longest), 0]
      positions[b * seq + t] = at++
    }
  }
  return positions
}

// Packed rows: each of `batch` rows holds documents of random lengths, its `heads` score blocks share its positions.
const withinDocuments = (batch: number, heads: number, seq: number, scale: number, variant: (typeof rowVariants)[number]): KernelCase =>
  kernelCase({
    kernel: "causal softmax within packed documents, and its backward",
    case: `${batch} rows × ${heads} heads of ${seq}×${seq}, scale ${scale}`,
    variant,
    inputs: (next) => ({
      s: randomArray(next, batch * heads * seq * seq, -6, 6),
      dp: randomArray(next, batch * heads * seq * seq),
      positions: randomDocumentPositions(next, batch, seq, 5)
    }),
    gpu: (gpu, { s, dp, positions }) =>
      Effect.gen(function*() {
        const [S, DP, POS] = [yield* gpu.upload(s), yield* gpu.upload(dp), yield* gpu.upload(positions)]
        const documents: AttentionDocuments = { positions: POS, heads }
        const rows = batch * heads * seq
        yield* gpu.run([
          causalSoftmax(gpu, S, rows, seq, scale, variant, documents),
          causalSoftmaxBackward(gpu, S, DP, rows, seq, scale, variant)
        ])
        return { probabilities: yield* gpu.readF32(S), "score gradient": yield* gpu.readF32(DP) }
      }),
    cpu: ({ s, dp, positions }) => {
      const rows = batch * heads * seq
      const p = causalSoftmaxCpu(s, rows, seq, scale, { positions, heads })
      return { probabilities: p, "score gradient": causalSoftmaxBackwardCpu(p, dp, rows, seq, scale) }
    }
  })

export const causalSoftmaxCases: ReadonlyArray<KernelCase> = [
  ...plain,
  ...rowVariants.flatMap((variant) => [withinDocuments(2, 3, 13, 0.35, variant), withinDocuments(1, 2, 20, 0.25, variant)])
]

import { Effect } from "effect"
import { decodeScores, decodeSoftmax, decodeWeightedSum } from "./decode-attention.ts"
import { decodeScoresCpu, decodeSoftmaxCpu, decodeWeightedSumCpu } from "./decode-attention.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"
import type { RowVariant } from "./rows.ts"

interface DecodeShape {
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly maxLength: number
  /** Cached positions attended: the kernels read it from a buffer, not from the shader. */
  readonly length: number
}

// Grouped KV heads with a partly filled cache, a full cache without grouping, and the first generated token.
const shapes: ReadonlyArray<DecodeShape> = [
  { heads: 6, kvHeads: 2, headDim: 8, maxLength: 13, length: 9 },
  { heads: 4, kvHeads: 4, headDim: 16, maxLength: 32, length: 32 },
  { heads: 9, kvHeads: 3, headDim: 64, maxLength: 40, length: 1 }
]

/**
 * The three passes in the order generation runs them, read back after each. The scores buffer starts as noise:
 * entries past `length` must survive the scores pass and be zeroed by the softmax; the weighted sum also runs on
 * random probabilities with noise past `length`, which it must not read.
 */
const decodeCase = (shape: DecodeShape, variant: RowVariant): KernelCase => {
  const { heads, kvHeads, headDim, maxLength, length } = shape
  const scale = 1 / Math.sqrt(headDim)
  return kernelCase({
    kernel: "decode attention (scores, masked softmax, weighted sum)",
    case: `${heads} heads over ${kvHeads} KV heads of ${headDim}, ${length} of ${maxLength} cached`,
    variant,
    inputs: (next) => ({
      q: randomArray(next, heads * headDim),
      keys: randomArray(next, maxLength * kvHeads * headDim),
      values: randomArray(next, maxLength * kvHeads * headDim),
      noise: randomArray(next, heads * maxLength, -3, 3),
      probs: randomArray(next, heads * maxLength, 0, 1)
    }),
    gpu: (gpu, { q, keys, values, noise, probs }) =>
      Effect.gen(function*() {
        const [Q, K, V, LEN] = [yield* gpu.upload(q), yield* gpu.upload(keys), yield* gpu.upload(values), yield* gpu.upload(Uint32Array.of(length))]
        const S = yield* gpu.upload(noise)
        const [OUT, P, OUT2] = [yield* gpu.buffer(heads * headDim * 4), yield* gpu.upload(probs), yield* gpu.buffer(heads * headDim * 4)]
        yield* gpu.run([decodeScores(gpu, Q, K, LEN, S, heads, kvHeads, headDim, maxLength, scale)])
        const scores = yield* gpu.readF32(S)
        yield* gpu.run([decodeSoftmax(gpu, S, LEN, heads, maxLength, variant)])
        const probabilities = yield* gpu.readF32(S)
        yield* gpu.run([
          decodeWeightedSum(gpu, S, V, LEN, OUT, heads, kvHeads, headDim, maxLength),
          decodeWeightedSum(gpu, P, V, LEN, OUT2, heads, kvHeads, headDim, maxLength)
        ])
        return {
          scores,
          probabilities,
          "attention output": yield* gpu.readF32(OUT),
          "weighted sum of random P": yield* gpu.readF32(OUT2)
        }
      }),
    cpu: ({ q, keys, values, noise, probs }) => {
      const scores = decodeScoresCpu(q, keys, length, noise, heads, kvHeads, headDim, maxLength, scale)
      const probabilities = decodeSoftmaxCpu(scores, length, heads, maxLength)
      return {
        scores,
        probabilities,
        "attention output": decodeWeightedSumCpu(probabilities, values, length, heads, kvHeads, headDim, maxLength),
        "weighted sum of random P": decodeWeightedSumCpu(probs, values, length, heads, kvHeads, headDim, maxLength)
      }
    }
  })
}

export const decodeAttentionCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) => shapes.map((shape) => decodeCase(shape, variant)))

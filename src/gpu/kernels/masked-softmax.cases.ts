import { Effect } from "effect"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { maskedSoftmax } from "./masked-softmax.ts"
import { maskedSoftmaxCpu } from "./masked-softmax.cpu.ts"
import { rowVariants } from "./reduce.cases.ts"

// [lengths of the batch, padded seq, heads, first sequence of the chunk, sequences in the chunk]: lengths from 1 (a
// lone [CLS]) to the full row, rows shorter and longer than the unroll, and a chunk starting past sequence 0.
const shapes: ReadonlyArray<readonly [ReadonlyArray<number>, number, number, number, number]> = [
  [[1, 7, 33], 33, 5, 0, 3],
  [[16, 3], 16, 2, 0, 2],
  [[1], 1, 1, 0, 1],
  [[5, 9, 2, 11], 11, 3, 2, 2]
]

export const maskedSoftmaxCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) =>
  shapes.map(([lengths, seq, heads, first, count]) =>
    kernelCase({
      kernel: "attention softmax masking padded keys",
      case: `lengths [${lengths}] padded to ${seq}, ${heads} heads, sequences ${first}..${first + count - 1}`,
      variant,
      inputs: (next) => randomArray(next, count * heads * seq * seq, -8, 8),
      gpu: (gpu, s) =>
        Effect.gen(function*() {
          const S = yield* gpu.upload(s)
          const L = yield* gpu.upload(Uint32Array.from(lengths))
          yield* gpu.run([maskedSoftmax(gpu, S, L, count * heads * seq, seq, heads * seq, 0.37, first, variant)])
          return { probabilities: yield* gpu.readF32(S) }
        }),
      cpu: (s) => ({ probabilities: maskedSoftmaxCpu(s, lengths, count * heads * seq, seq, heads * seq, 0.37, first) })
    })
  )
)

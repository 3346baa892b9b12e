import { Effect, type Scope } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import type { GpuShape } from "../gpu/Gpu.ts"
import { nextTokenBatch } from "./batch.ts"
import type { HfModel } from "./checkpoint.ts"
import { makeLlamaGpu } from "./llama.gpu.ts"

/**
 * log p(ids[i+1] | ids[..i]) for whole sequences, from the GPU forward pass: perplexity for users and the
 * parity probe against transformers. Sequences are padded to the model's length; a causal model's log-probs
 * at a position do not depend on what follows it, so the padding changes nothing that is returned.
 */
export interface Scorer {
  readonly maxLength: number
  readonly score: (sequences: ReadonlyArray<ReadonlyArray<number>>) => Effect.Effect<Array<Float32Array>, GpuError>
}

export const makeScorer = (
  gpu: GpuShape,
  model: HfModel,
  maxLength: number,
  batch: number
): Effect.Effect<Scorer, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    const seq = Math.max(1, maxLength - 1)
    const llama = yield* makeLlamaGpu(gpu, model.config, batch, seq)
    yield* llama.setWeights(model.weights)
    const score = (sequences: ReadonlyArray<ReadonlyArray<number>>) =>
      Effect.gen(function*() {
        const out: Array<Float32Array> = []
        for (let start = 0; start < sequences.length; start += batch) {
          const group = sequences.slice(start, start + batch)
          const tooLong = group.find((ids) => ids.length > maxLength)
          if (tooLong !== undefined) throw new RangeError(`a sequence of ${tooLong.length} tokens is longer than ${maxLength}`)
          const { inputs, targets } = nextTokenBatch(group, batch, seq)
          yield* llama.setTokens(inputs, targets)
          yield* gpu.run(llama.steps({ backward: false, gradScale: 1 }))
          const losses = yield* gpu.readF32(llama.losses)
          group.forEach((ids, b) => {
            const n = Math.max(0, ids.length - 1)
            out.push(Float32Array.from(losses.subarray(b * seq, b * seq + n), (l) => -l))
          })
        }
        return out
      })
    return { maxLength, score }
  })

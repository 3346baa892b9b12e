import { Effect, type FileSystem, Schema, type Scope, Stream } from "effect"
import { IdsLine, type JsonlError, readJsonl } from "../data/io/jsonl.ts"
import type { GpuError } from "../gpu/errors.ts"
import type { GpuShape } from "../gpu/Gpu.ts"
import { nextTokenBatch } from "./batch.ts"
import type { HfModel } from "./checkpoint.ts"
import type { LlamaConfig } from "./config.ts"
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

/** A sequence the model cannot score: "PATH:LINE: problem", so the printed error alone says where to look. */
export class ScoreInputError extends Schema.TaggedError<ScoreInputError>()("ScoreInputError", {
  path: Schema.String,
  line: Schema.Number,
  message: Schema.String
}) {}

/** Why `config`'s model cannot score `ids`, or undefined when it can. */
export const sequenceProblem = (ids: ReadonlyArray<number>, config: LlamaConfig): string | undefined => {
  const bad = ids.find((t) => t >= config.vocabSize)
  if (bad !== undefined) return `token id ${bad} is outside the vocabulary of ${config.vocabSize}`
  if (ids.length > config.maxPositionEmbeddings) {
    return `${ids.length} tokens exceed max_position_embeddings ${config.maxPositionEmbeddings}`
  }
  return undefined
}

/**
 * The sequences of an ids JSONL file (`{"ids": [...]}` per line, blank lines skipped), each checked against the
 * model before any is scored: one bad line would otherwise fail a run hours in, or shift every output line after it.
 */
export const readScoreInput = (
  path: string,
  config: LlamaConfig
): Effect.Effect<Array<ReadonlyArray<number>>, JsonlError | ScoreInputError, FileSystem.FileSystem> =>
  readJsonl(path, IdsLine, { blankLines: "skip" }).pipe(
    Stream.mapEffect(({ line, value }) => {
      const problem = sequenceProblem(value.ids, config)
      return problem === undefined
        ? Effect.succeed(value.ids)
        : Effect.fail(new ScoreInputError({ path, line, message: `${path}:${line}: ${problem}` }))
    }),
    Stream.runCollect
  )

/** exp of the mean negative log-probability over every scored token (1 when nothing was scored). */
export const perplexity = (logprobs: ReadonlyArray<ArrayLike<number>>): { readonly tokens: number; readonly perplexity: number } => {
  let tokens = 0
  let nll = 0
  for (const lp of logprobs) {
    let sum = 0
    for (let i = 0; i < lp.length; i++) sum += lp[i]!
    tokens += lp.length
    nll -= sum
  }
  return { tokens, perplexity: Math.exp(nll / Math.max(1, tokens)) }
}

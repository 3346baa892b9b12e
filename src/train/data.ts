import { Effect, FileSystem, Schema, Stream } from "effect"
import { readJsonl, IdsLine } from "../data/io/jsonl.ts"
import type { MixturePosition } from "../data/mixture/Mixture.ts"

/**
 * Training input as an ids JSONL file: each line `{"ids": [...]}` is one pre-packed sequence of exactly
 * seq_len + 1 tokens, consumed in file order (batch i = lines i·B … i·B+B−1). The simplest input, and the one
 * that lets two trainers be compared step by step.
 */
export class TrainingDataError extends Schema.TaggedError<TrainingDataError>()("TrainingDataError", {
  message: Schema.String
}) {}

export interface TokenBatch {
  /** [batch, seq] flattened. */
  readonly inputs: Int32Array
  readonly targets: Int32Array
  /** Where the data stands after this batch (lines consumed, or the sampler's position): what a checkpoint stores. */
  readonly position: number | MixturePosition
}

export const idsJsonlBatches = (
  path: string,
  seqLen: number,
  batchSize: number,
  vocabSize: number,
  startLine: number
): Stream.Stream<TokenBatch, TrainingDataError, FileSystem.FileSystem> =>
  readJsonl(path, IdsLine, { blankLines: "skip" }).pipe(
      Stream.mapError((e) => new TrainingDataError({ message: e.line > 0 ? `${e.message} (expected a {"ids": [...]} line)` : e.message })),
      Stream.drop(startLine),
      Stream.mapEffect(({ line, value: { ids } }) => {
        if (ids.length !== seqLen + 1) {
          return Effect.fail(new TrainingDataError({ message: `${path}:${line}: ${ids.length} ids, expected seq_len + 1 = ${seqLen + 1}` }))
        }
        const bad = ids.find((t) => t >= vocabSize)
        if (bad !== undefined) {
          return Effect.fail(new TrainingDataError({ message: `${path}:${line}: token id ${bad} is outside the vocabulary of ${vocabSize}` }))
        }
        return Effect.succeed(ids)
      }),
      Stream.grouped(batchSize),
      Stream.filter((lines) => lines.length === batchSize),
      Stream.zipWithIndex,
      Stream.map(([lines, i]): TokenBatch => {
        const inputs = new Int32Array(batchSize * seqLen)
        const targets = new Int32Array(batchSize * seqLen)
        lines.forEach((ids, b) => {
          for (let t = 0; t < seqLen; t++) {
            inputs[b * seqLen + t] = ids[t]!
            targets[b * seqLen + t] = ids[t + 1]!
          }
        })
        return { inputs, targets, position: startLine + (i + 1) * batchSize }
      })
    )

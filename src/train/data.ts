import { dirname } from "node:path"
import { Effect, FileSystem, Schema, type Scope, Stream } from "effect"
import { readJsonl } from "../data/io/jsonl.ts"
import { makeMixture, type MixtureError, MixturePosition } from "../data/mixture/Mixture.ts"
import type { ShardError } from "../data/shards/format.ts"
import { nextTokenBatch } from "../model/batch.ts"
import { type PackedBatch, packedRowProblem, PackedRowLine, packedTokenBatch } from "./packed-rows.ts"

export { nextTokenBatch } from "../model/batch.ts"

/**
 * Where the tokens come from: an ids JSONL file of pre-packed sequences (in file order), or the stage's
 * mixture over token shards (sampled by token share, packed across documents, deterministic from the seed).
 * A Schema, since the trainer state stores it and a resumed run reads it back.
 */
export const TrainingData = Schema.Union([
  Schema.TaggedStruct("IdsJsonl", { path: Schema.String }),
  Schema.TaggedStruct("Mixture", {
    seed: Schema.Number,
    sources: Schema.Array(Schema.Struct({ name: Schema.String, weight: Schema.Number, shards: Schema.Array(Schema.String) }))
  })
])
export type TrainingData = typeof TrainingData.Type

/** Where the data stands: lines consumed (ids JSONL) or the mixture sampler's position. */
export const DataPosition = Schema.Union([Schema.Number, MixturePosition])
export type DataPosition = typeof DataPosition.Type

export class TrainingDataError extends Schema.TaggedError<TrainingDataError>()("TrainingDataError", {
  message: Schema.String
}) {}

/** [batch, seq] inputs and targets (flattened), with target weights and positions for packed SFT rows. */
export type TokenBatch = PackedBatch & {
  /** Where the data stands after this batch: what a checkpoint stores. */
  readonly position: DataPosition
}

/**
 * Training input as an ids JSONL file: each line `{"ids": [...]}` is one pre-packed sequence of exactly
 * seq_len + 1 tokens, consumed in file order (batch i = lines i·B … i·B+B−1). The simplest input, and the one
 * that lets two trainers be compared step by step. SFT rows add `"mask"` and `"position_ids"` (packed-rows.ts).
 */
export const idsJsonlBatches = (
  path: string,
  seqLen: number,
  batchSize: number,
  vocabSize: number,
  startLine: number
): Stream.Stream<TokenBatch, TrainingDataError, FileSystem.FileSystem> =>
  readJsonl(path, PackedRowLine, { blankLines: "skip" }).pipe(
    Stream.mapError((e) =>
      new TrainingDataError({ message: e.line > 0 ? `${e.message} (expected a {"ids": [...]} line, optionally with "mask" and "position_ids")` : e.message })
    ),
    Stream.drop(startLine),
    Stream.mapEffect(({ line, value }) => {
      const problem = packedRowProblem(value, seqLen, vocabSize)
      return problem === undefined ? Effect.succeed(value) : Effect.fail(new TrainingDataError({ message: `${path}:${line}: ${problem}` }))
    }),
    Stream.grouped(batchSize),
    Stream.filter((lines) => lines.length === batchSize),
    Stream.zipWithIndex,
    Stream.map(([lines, i]): TokenBatch => ({ ...packedTokenBatch(lines, batchSize, seqLen), position: startLine + (i + 1) * batchSize }))
  )

/** Training input as the stage's mixture over token shards, continuing from `from` when resuming. */
export const mixtureBatches = (
  data: Extract<TrainingData, { _tag: "Mixture" }>,
  seqLen: number,
  batchSize: number,
  vocabSize: number,
  from: MixturePosition | undefined
): Effect.Effect<Stream.Stream<TokenBatch, TrainingDataError | ShardError>, MixtureError | ShardError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.map(
    makeMixture({ seed: data.seed, seqLen, batchSize, sources: data.sources }, from),
    (sampler) =>
      sampler.stream.pipe(
        Stream.mapEffect((batch): Effect.Effect<TokenBatch, TrainingDataError> => {
          const at = batch.tokens.findIndex((id) => id >= vocabSize)
          if (at >= 0) {
            const name = batch.sources[Math.floor(at / batch.width)]!
            const folders = [...new Set(data.sources.find((s) => s.name === name)?.shards.map((f) => dirname(f)) ?? [])]
            return Effect.fail(new TrainingDataError({
              message: `token id ${batch.tokens[at]} in source ${name} (shards in ${folders.join(", ")}) is outside the model's vocabulary of ${vocabSize}: were they made with the model's tokenizer?`
            }))
          }
          const rows = Array.from({ length: batch.rows }, (_, r) => batch.tokens.subarray(r * batch.width, (r + 1) * batch.width))
          return Effect.succeed({ ...nextTokenBatch(rows, batchSize, seqLen), position: batch.position })
        })
      )
  )

/** The batches of `data` from `position` on (0 or undefined: from the start). */
export const trainingBatches = (
  data: TrainingData,
  seqLen: number,
  batchSize: number,
  vocabSize: number,
  position: DataPosition | undefined
): Effect.Effect<
  Stream.Stream<TokenBatch, TrainingDataError | ShardError, FileSystem.FileSystem>,
  MixtureError | ShardError,
  FileSystem.FileSystem | Scope.Scope
> =>
  data._tag === "IdsJsonl"
    ? Effect.succeed(idsJsonlBatches(data.path, seqLen, batchSize, vocabSize, typeof position === "number" ? position : 0))
    : mixtureBatches(data, seqLen, batchSize, vocabSize, typeof position === "object" ? position : undefined)

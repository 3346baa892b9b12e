/**
 * `--data` as a user writes it: an ids JSONL file (`ids.jsonl`), one folder of token shards (`shards/web`), or a
 * mixture of named folders with token shares (`web=0.9:shards/web,code=0.1:shards/code`).
 */
import { Effect, FileSystem, Schema } from "effect"
import type { ShardError } from "../data/shards/format.ts"
import { listTokenShards } from "../data/shards/reader.ts"
import type { TrainingData } from "./data.ts"

export class DataSpecError extends Schema.TaggedError<DataSpecError>()("DataSpecError", {
  spec: Schema.String,
  message: Schema.String
}) {}

/** One source of a mixture: a folder of token shards, its name and its relative share of the tokens. */
export interface MixtureSpecSource {
  readonly name: string
  readonly weight: number
  readonly dir: string
}

/** The name a lone folder gets, so that a one-source mixture has a position like any other. */
const loneSourceName = "data"

/** Parses the shard part of `--data` (not a .jsonl file): one folder, or `name=weight:folder` parts joined by commas. */
export const parseMixtureSpec = (spec: string): Effect.Effect<ReadonlyArray<MixtureSpecSource>, DataSpecError> =>
  Effect.gen(function*() {
    const fail = (problem: string) => Effect.fail(new DataSpecError({ spec, message: `--data ${spec}: ${problem}` }))
    const parts = spec.split(",")
    const sources: Array<MixtureSpecSource> = []
    for (const part of parts) {
      if (part.trim() === "") return yield* fail("an empty part (a mixture is name=weight:folder,name=weight:folder)")
      const m = /^([^=:,]+)=([^:]*):(.+)$/.exec(part)
      if (m === null) {
        if (parts.length > 1) return yield* fail(`"${part}" is not name=weight:folder, as each part of a mixture must be`)
        sources.push({ name: loneSourceName, weight: 1, dir: part })
        continue
      }
      const weight = Number(m[2])
      if (m[2]!.trim() === "" || !Number.isFinite(weight) || weight <= 0) return yield* fail(`the weight of ${m[1]} is "${m[2]}", not a number > 0`)
      if (sources.some((s) => s.name === m[1])) return yield* fail(`the name ${m[1]} appears twice`)
      sources.push({ name: m[1]!, weight, dir: m[3]! })
    }
    return sources
  })

/** Resolves `--data` to training data: an ids JSONL file as is, shard folders to their `.ds` files. */
export const resolveTrainingData = (
  spec: string,
  seed: number
): Effect.Effect<TrainingData, DataSpecError | ShardError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (spec.endsWith(".jsonl")) return { _tag: "IdsJsonl", path: spec } as const
    const sources = []
    for (const { name, weight, dir } of yield* parseMixtureSpec(spec)) {
      const shards = yield* listTokenShards(dir)
      if (shards.length === 0) return yield* new DataSpecError({ spec, message: `--data: no .ds token shards in ${dir}` })
      sources.push({ name, weight, shards })
    }
    return { _tag: "Mixture", seed, sources } as const
  })

/**
 * The per-stage data mixture: fixed-length training sequences drawn from named, weighted sources of token shards.
 *
 * - Which source fills sequence k is decided as in Megatron's blended datasets: the source whose share so far lags
 *   its weight the most (ties to the first listed). Every sequence has `seqLen + 1` tokens, so weights are token
 *   shares, met exactly at every prefix rather than only in expectation.
 * - Within a source, documents are read in a seeded permutation per epoch and packed back to back across document
 *   boundaries (the shards carry an EOS after each document), in non-overlapping windows of `seqLen + 1` tokens as
 *   datatrove's `DatatroveFileDataset` cuts them. A source that runs out starts its next epoch with a new
 *   permutation, and a warning says it is being repeated.
 * - The position is a small JSON value (per source: sequences drawn, epoch, document rank, offset). Restoring it
 *   rebuilds the permutations from the seed, so the next batch is exactly the one an uninterrupted run would give.
 */
import { Effect, FileSystem, Schema, type Scope, Stream } from "effect"
import { type ShardError } from "../shards/format.ts"
import { permutation, seededRandom } from "../shards/random.ts"
import { openTokenShard, type TokenShard } from "../shards/reader.ts"

export class MixtureError extends Schema.TaggedError<MixtureError>()("MixtureError", {
  message: Schema.String
}) {}

export interface MixtureSource {
  readonly name: string
  /** Relative share of tokens; normalized over the sources. */
  readonly weight: number
  /** `.ds` files (with their `.index`). */
  readonly shards: ReadonlyArray<string>
}

export interface MixtureConfig {
  readonly seed: number
  readonly seqLen: number
  readonly batchSize: number
  readonly sources: ReadonlyArray<MixtureSource>
}

const SourcePosition = Schema.Struct({
  sequences: Schema.Number,
  epoch: Schema.Number,
  doc: Schema.Number,
  offset: Schema.Number
})

/** Where a sampler stands; JSON-safe, store it in the checkpoint. */
export const MixturePosition = Schema.Struct({
  version: Schema.Literal(1),
  seed: Schema.Number,
  seqLen: Schema.Number,
  batches: Schema.Number,
  sources: Schema.Record(Schema.String, SourcePosition)
})
export type MixturePosition = typeof MixturePosition.Type

export interface Batch {
  /** Index of this batch from the start of the stage. */
  readonly step: number
  /** `rows × (seqLen + 1)` token ids, row-major; inputs are [:-1] of a row, targets [1:]. */
  readonly tokens: Uint32Array
  readonly rows: number
  readonly width: number
  /** The source each row came from. */
  readonly sources: ReadonlyArray<string>
  /** The position after this batch: restoring it continues with the next one. */
  readonly position: MixturePosition
}

export interface SourceAccount {
  readonly name: string
  readonly weight: number
  /** Tokens in the source's shards (one epoch). */
  readonly tokens: number
  readonly tokensDrawn: number
  /** tokensDrawn / tokens: above 1 the source is being repeated. */
  readonly epochs: number
}

export interface MixtureSampler {
  readonly next: Effect.Effect<Batch, ShardError>
  readonly stream: Stream.Stream<Batch, ShardError>
  readonly position: Effect.Effect<MixturePosition>
  readonly accounts: Effect.Effect<ReadonlyArray<SourceAccount>>
}

/** FNV-1a of the name: a source's shuffles depend on its name, not on where it is listed. */
const nameKey = (name: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h >>> 0
}

interface SourceState {
  readonly spec: MixtureSource
  readonly share: number
  readonly shards: ReadonlyArray<TokenShard>
  /** First global document index of each shard. */
  readonly firstDoc: ReadonlyArray<number>
  readonly documents: number
  readonly tokens: number
  sequences: number
  epoch: number
  doc: number
  offset: number
  order: Uint32Array
}

export const makeMixture = (
  config: MixtureConfig,
  from?: MixturePosition
): Effect.Effect<MixtureSampler, ShardError | MixtureError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(new MixtureError({ message }))
    if (config.sources.length === 0) return yield* fail("a mixture needs at least one source")
    if (!(Number.isInteger(config.seqLen) && config.seqLen > 0 && Number.isInteger(config.batchSize) && config.batchSize > 0)) {
      return yield* fail(`seqLen and batchSize must be positive integers (got ${config.seqLen}, ${config.batchSize})`)
    }
    const names = new Set(config.sources.map((s) => s.name))
    if (names.size !== config.sources.length) return yield* fail("source names must be distinct")
    const bad = config.sources.find((s) => !(s.weight > 0) || s.shards.length === 0)
    if (bad !== undefined) return yield* fail(`source ${bad.name}: needs a positive weight and at least one shard`)
    if (from !== undefined) {
      if (from.seed !== config.seed || from.seqLen !== config.seqLen) {
        return yield* fail(`position was saved with seed ${from.seed} and seqLen ${from.seqLen}, not ${config.seed} and ${config.seqLen}`)
      }
      const saved = Object.keys(from.sources).sort().join(",")
      if (saved !== [...names].sort().join(",")) return yield* fail(`position has sources [${saved}], the mixture has [${[...names].sort().join(",")}]`)
    }
    const totalWeight = config.sources.reduce((w, s) => w + s.weight, 0)
    const width = config.seqLen + 1

    const orderFor = (spec: MixtureSource, documents: number, epoch: number) => permutation(documents, seededRandom(config.seed, nameKey(spec.name), epoch))

    const states: SourceState[] = []
    for (const spec of config.sources) {
      const shards = yield* Effect.forEach(spec.shards, (p) => openTokenShard(p))
      const firstDoc: number[] = []
      let documents = 0
      let tokens = 0
      for (const s of shards) {
        firstDoc.push(documents)
        documents += s.documents
        tokens += s.docEnds.length === 0 ? 0 : s.docEnds[s.docEnds.length - 1]!
      }
      if (tokens === 0) return yield* fail(`source ${spec.name}: its shards hold no tokens`)
      const saved = from?.sources[spec.name]
      const epoch = saved?.epoch ?? 0
      states.push({
        spec,
        share: spec.weight / totalWeight,
        shards,
        firstDoc,
        documents,
        tokens,
        sequences: saved?.sequences ?? 0,
        epoch,
        doc: saved?.doc ?? 0,
        offset: saved?.offset ?? 0,
        order: orderFor(spec, documents, epoch)
      })
    }
    let batches = from?.batches ?? 0
    let drawn = states.reduce((n, s) => n + s.sequences, 0)

    const locate = (state: SourceState, global: number): readonly [TokenShard, number] => {
      let lo = 0
      let hi = state.firstDoc.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (state.firstDoc[mid]! <= global) lo = mid
        else hi = mid - 1
      }
      return [state.shards[lo]!, global - state.firstDoc[lo]!]
    }

    /** The next `width` tokens of a source, written into `out` at `at`. */
    const fill = (state: SourceState, out: Uint32Array, at: number) =>
      Effect.gen(function*() {
        let need = width
        while (need > 0) {
          const [shard, local] = locate(state, state.order[state.doc]!)
          const [start, end] = shard.documentRange(local)
          const take = Math.min(need, end - start - state.offset)
          if (take > 0) {
            out.set(yield* shard.readTokens(start + state.offset, start + state.offset + take), at + width - need)
            need -= take
            state.offset += take
          }
          if (start + state.offset >= end) {
            state.offset = 0
            state.doc++
            if (state.doc === state.documents) {
              state.doc = 0
              state.epoch++
              state.order = orderFor(state.spec, state.documents, state.epoch)
              yield* Effect.logWarning(
                `mixture source ${state.spec.name} starts epoch ${state.epoch + 1}: upsampled past one pass over its ${state.tokens} tokens`
              )
            }
          }
        }
      })

    /** Megatron's `build_blending_indices`: the source furthest below its share of the sequences so far. */
    const choose = (): SourceState => {
      let best = states[0]!
      let bestError = -Infinity
      for (const s of states) {
        const error = s.share * (drawn + 1) - s.sequences
        if (error > bestError) {
          best = s
          bestError = error
        }
      }
      return best
    }

    const snapshot = (): MixturePosition => ({
      version: 1,
      seed: config.seed,
      seqLen: config.seqLen,
      batches,
      sources: Object.fromEntries(states.map((s) => [s.spec.name, { sequences: s.sequences, epoch: s.epoch, doc: s.doc, offset: s.offset }]))
    })

    const next: Effect.Effect<Batch, ShardError> = Effect.gen(function*() {
      const tokens = new Uint32Array(config.batchSize * width)
      const sources: string[] = []
      for (let row = 0; row < config.batchSize; row++) {
        const state = choose()
        yield* fill(state, tokens, row * width)
        state.sequences++
        drawn++
        sources.push(state.spec.name)
      }
      const step = batches++
      return { step, tokens, rows: config.batchSize, width, sources, position: snapshot() }
    })

    return {
      next,
      stream: Stream.fromEffectRepeat(next),
      position: Effect.sync(snapshot),
      accounts: Effect.sync(() =>
        states.map((s) => ({
          name: s.spec.name,
          weight: s.share,
          tokens: s.tokens,
          tokensDrawn: s.sequences * width,
          epochs: (s.sequences * width) / s.tokens
        }))
      )
    }
  })

/** Reads a saved position (e.g. from a checkpoint's trainer state). */
export const decodeMixturePosition = Schema.decodeUnknownEffect(MixturePosition)

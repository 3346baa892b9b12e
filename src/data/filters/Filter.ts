import { Effect, Stream } from "effect"
import type { Document } from "../Document.ts"
import type { WriteError } from "../errors.ts"
import type { StatsCollector } from "../stats.ts"

/**
 * datatrove's `BaseFilter` contract (pipeline/filters/base_filter.py): keep the document, possibly with new text
 * (C4QualityFilter rewrites what it keeps), or drop it with a reason. datatrove's RegexFilter, LambdaFilter and
 * SamplerFilter give no reason; here they fall back to the filter's id so every dropped document still says who
 * dropped it (datatrove would leave `filter_reason` unset and count only `dropped`).
 */
export type FilterResult =
  | { readonly _tag: "Keep"; readonly doc: Document }
  | { readonly _tag: "Drop"; readonly reason: string | undefined }

export const keep = (doc: Document): FilterResult => ({ _tag: "Keep", doc })
export const drop = (reason?: string): FilterResult => ({ _tag: "Drop", reason })

export interface DocFilter {
  /** Short id: stats block name and the `dropped/<id>/` folder. */
  readonly id: string
  readonly filter: (doc: Document) => FilterResult
}

/** Where dropped documents go; chunk-sized writes keep the per-document cost low. */
export interface DocSink {
  readonly write: (docs: ReadonlyArray<Document>) => Effect.Effect<void, WriteError>
}

export interface ApplyOptions {
  readonly stats: StatsCollector
  readonly exclusion?: DocSink | undefined
}

/** Run `doc` through `f`, updating the counters as datatrove's BaseFilter.run does. */
export const judge = (f: DocFilter, doc: Document, stats: StatsCollector): FilterResult => {
  stats.add(f.id, "total")
  const r = f.filter(doc)
  if (r._tag === "Keep") stats.add(f.id, "forwarded")
  else {
    stats.add(f.id, "dropped")
    stats.add(f.id, `dropped_${r.reason ?? f.id}`)
  }
  return r
}

export const withReason = (doc: Document, reason: string): Document => ({
  ...doc,
  metadata: { ...doc.metadata, filter_reason: reason }
})

/**
 * A filter as a Stream transformer: kept documents flow on (with any rewritten text), dropped ones go to
 * `exclusion` with `metadata.filter_reason`, and nothing else leaves the stream.
 */
export const applyFilter = (f: DocFilter, options: ApplyOptions) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | WriteError, R> =>
  self.pipe(
    Stream.chunks,
    Stream.mapEffect((chunk) => {
      const kept: Array<Document> = []
      const dropped: Array<Document> = []
      for (const doc of chunk) {
        const r = judge(f, doc, options.stats)
        if (r._tag === "Keep") kept.push(r.doc)
        else dropped.push(withReason(doc, r.reason ?? f.id))
      }
      return dropped.length > 0 && options.exclusion !== undefined
        ? Effect.as(options.exclusion.write(dropped), kept)
        : Effect.succeed(kept)
    }),
    Stream.flattenIterable
  )

/** Documents per chunk when a chain runs: one Effect step per chunk, not per document and filter. */
const CHAIN_CHUNK = 256

/**
 * A chain of filters, each with its own exclusion sink; the order is the order given (it matters: C4 rewrites).
 * Each document goes through the whole chain before the next one starts, as in datatrove's pipeline when a
 * task's steps are generators: the filters after the first find its words already tokenized (the memo in
 * datatrove-text.ts), whatever the stream's chunk sizes. A dropped document is written to the exclusion of the
 * filter that dropped it, with the text that filter saw.
 */
export const applyFilters = (
  filters: ReadonlyArray<{ readonly filter: DocFilter; readonly exclusion?: DocSink | undefined }>,
  stats: StatsCollector
) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | WriteError, R> =>
  filters.length === 0 ? self : self.pipe(
    Stream.rechunk(CHAIN_CHUNK),
    Stream.chunks,
    Stream.mapEffect((chunk) => {
      const kept: Array<Document> = []
      const dropped: Array<Array<Document>> = filters.map(() => [])
      for (const doc of chunk) {
        let d = doc
        let survived = true
        for (let k = 0; k < filters.length; k++) {
          const f = filters[k]!.filter
          const r = judge(f, d, stats)
          if (r._tag === "Drop") {
            dropped[k]!.push(withReason(d, r.reason ?? f.id))
            survived = false
            break
          }
          d = r.doc
        }
        if (survived) kept.push(d)
      }
      const writes: Array<Effect.Effect<void, WriteError>> = []
      filters.forEach(({ exclusion }, k) => {
        if (exclusion !== undefined && dropped[k]!.length > 0) writes.push(exclusion.write(dropped[k]!))
      })
      return writes.length === 0 ? Effect.succeed(kept) : Effect.as(Effect.all(writes, { discard: true }), kept)
    }),
    Stream.flattenIterable
  )

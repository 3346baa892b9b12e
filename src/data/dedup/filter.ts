import { Effect, Stream } from "effect"
import type { Document } from "../Document.ts"
import type { WriteError } from "../errors.ts"
import type { DocSink } from "../filters/Filter.ts"
import type { StatsCollector } from "../stats.ts"
import { readRemovals } from "./files.ts"

export interface DedupFilterOptions {
  /** The folder the cluster (MinHash) or find (exact) stage wrote `<rank>.remove` files to. */
  readonly folder: string
  readonly rank: number
  /** Stats block and exclusion folder name: "minhash" or "exact". */
  readonly id: string
  /** `metadata.filter_reason` of removed documents. */
  readonly reason: string
  readonly stats: StatsCollector
  readonly exclusion?: DocSink | undefined
}

/**
 * The last dedup stage (datatrove MinhashDedupFilter / ExactDedupFilter): the task reads exactly the documents its
 * signature stage read, in the same order, so the n-th document is index n of the `.remove` list. A task without
 * a `.remove` file has no duplicates (datatrove warns and forwards everything). Removed documents carry
 * `duplicate_of`, the id of the kept document they duplicate.
 */
export const dedupFilter = (o: DedupFilterOptions) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | WriteError, R> =>
  Stream.unwrap(Effect.sync(() => {
    const removals = readRemovals(o.folder, o.rank)
    let index = 0
    return self.pipe(
      Stream.chunks,
      Stream.mapEffect((chunk) => {
        const kept: Array<Document> = []
        const dropped: Array<Document> = []
        for (const doc of chunk) {
          o.stats.add(o.id, "total")
          const of = removals?.get(index++)
          if (of === undefined) {
            o.stats.add(o.id, "forwarded")
            kept.push(doc)
          } else {
            o.stats.add(o.id, "dropped")
            o.stats.add(o.id, `dropped_${o.reason}`)
            dropped.push({ ...doc, metadata: { ...doc.metadata, filter_reason: o.reason, duplicate_of: of } })
          }
        }
        return dropped.length > 0 && o.exclusion !== undefined
          ? Effect.as(o.exclusion.write(dropped), kept)
          : Effect.succeed(kept)
      }),
      Stream.flattenIterable
    )
  }))

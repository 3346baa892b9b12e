/**
 * The classify stage: every document gets `metadata.score` (the classifier's raw output, FineWeb-Edu's `score`)
 * and `metadata.int_score` (`round(clamp(score, 0, 5))`, half to even, its `int_score`), scored in batches.
 * Nothing is dropped here; the threshold stage decides (score once, threshold many times, as Dolma's taggers
 * and mixer do).
 */
import { Effect, Stream } from "effect"
import type { Document } from "../data/Document.ts"
import type { StatsCollector } from "../data/stats.ts"
import { intScore } from "./metrics.ts"
import type { ClassifierPredictError, QualityClassifier } from "./QualityClassifier.ts"

/** Documents per classifier call; FineWeb-Edu's inference script uses batches of 512 on a GPU. */
export const DEFAULT_CLASSIFY_BATCH = 256

/** The stats block of the stage: `documents`, and `int_score_<k>` per rounded score. */
export const CLASSIFY_STATS = "classify"

export const withScore = (doc: Document, score: number): Document => ({
  ...doc,
  metadata: { ...doc.metadata, score, int_score: intScore(score) }
})

export interface ClassifyOptions {
  readonly batchSize?: number
  readonly stats?: StatsCollector
}

export const classifyDocuments = (classifier: QualityClassifier, options: ClassifyOptions = {}) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | ClassifierPredictError, R> =>
  self.pipe(
    Stream.rechunk(Math.max(1, options.batchSize ?? DEFAULT_CLASSIFY_BATCH)),
    Stream.chunks,
    Stream.mapEffect((batch) =>
      classifier.predict(batch.map((d) => d.text)).pipe(
        Effect.map((scores) => {
          const scored = batch.map((d, i) => withScore(d, scores[i]!))
          if (options.stats !== undefined) {
            options.stats.add(CLASSIFY_STATS, "documents", scored.length)
            for (const d of scored) options.stats.add(CLASSIFY_STATS, `int_score_${d.metadata["int_score"]}`)
          }
          return scored
        })
      )
    ),
    Stream.flattenIterable
  )

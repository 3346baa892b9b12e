/**
 * The default world's stand-in for the LLM annotator: an `Annotator` layer that answers each document's true
 * quality score, the one the generator gave it (labels.jsonl), recognised by the SHA-256 of the text, which is all
 * the annotation stage sends. The reply is written in the prompt's own reply format ("Educational score: N" for
 * FineWeb-Edu and Stack-Edu, "Final score: N" for FineMath), so the stage parses it exactly as an endpoint's;
 * scores are rescaled to the prompt's scale (FineMath's first pass grades 0–3). A text the world did not
 * generate gets a reply without a score, which the stage records as `no_score` — never a guess.
 */
import { Effect, Layer, Stream } from "effect"
import * as path from "node:path"
import type { AnnotationPrompt } from "../../classify/annotate/AnnotationPrompt.ts"
import { Annotator, type RequestCounts } from "../../classify/annotate/Annotator.ts"
import { AnnotationFailed } from "../../classify/annotate/errors.ts"
import { readJsonl } from "../../data/io/jsonl.ts"
import { textSha256, WorldLabel } from "./labels.ts"

export const WORLD_ANNOTATOR_MODEL = "default-world-labels"
export const LABELS_FILE = "labels.jsonl"

/** The world's 0–5 score on the prompt's scale. */
const onScale = (score: number, maxScore: number): number => (maxScore === 5 ? score : Math.round((score * maxScore) / 5))

/** The reply an annotator LLM would give, in the first format the prompt's parser accepts. */
const replyFor = (prompt: AnnotationPrompt, score: number): string | undefined => {
  const reasons = score >= 3 ? "The extract is coherent and teaches its topic clearly." : "The extract has little educational value."
  const candidates = [`${reasons}\nEducational score: ${score}`, `${reasons}\nFinal score: ${score}`]
  return candidates.find((c) => prompt.parseScore(c) === score)
}

/** The annotator over a table of labels (text SHA-256 → 0–5 score). */
export const worldAnnotator = (scores: ReadonlyMap<string, number>): Layer.Layer<Annotator> =>
  Layer.sync(Annotator, () => {
    const counts: RequestCounts = { requests: 0, retries: 0, outcomes: {}, prompt_tokens: 0, completion_tokens: 0 }
    const count = (outcome: string) => (counts.outcomes[outcome] = (counts.outcomes[outcome] ?? 0) + 1)
    return Annotator.of({
      model: WORLD_ANNOTATOR_MODEL,
      counts: () => ({ ...counts, outcomes: { ...counts.outcomes } }),
      annotate: (prompt, text) =>
        Effect.suspend(() => {
          counts.requests++
          const usage = { prompt_tokens: 0, completion_tokens: 0 }
          const known = scores.get(textSha256(text))
          const score = known === undefined ? undefined : onScale(known, prompt.maxScore)
          const completion = score === undefined ? undefined : replyFor(prompt, score)
          if (completion === undefined) {
            count("no_score")
            const reply = "This text is not one of the default world's documents, so it has no known score."
            return Effect.fail(new AnnotationFailed({ reason: "no_score", attempts: 1, lastError: known === undefined ? "not a document of the default world" : `prompt ${prompt.name} parses neither "Educational score: N" nor "Final score: N"`, completion: reply, usage }))
          }
          count("ok")
          return Effect.succeed({ score: score!, completion, usage, attempts: 1 })
        })
    })
  })

/** The annotator over the labels of the world written in `worldDir` (its `labels.jsonl`). */
export const worldAnnotatorFromDir = (worldDir: string) =>
  Layer.unwrap(
    readJsonl(path.join(worldDir, LABELS_FILE), WorldLabel).pipe(
      Stream.runFold(() => new Map<string, number>(), (m, { value }) => m.set(value.sha256, value.score)),
      Effect.map(worldAnnotator)
    )
  )

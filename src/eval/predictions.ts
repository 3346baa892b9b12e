import { Effect, Layer } from "effect"
import * as path from "node:path"
import { dataError, type EvalDataError, LanguageModelError, withPlace } from "./errors.ts"
import { type GenerationRequest, LanguageModel, type LanguageModelShape, type LogLikelihoodRequest } from "./LanguageModel.ts"
import { readJsonl } from "./loaders.ts"

/**
 * A `LanguageModel` answered from a file, so any model's outputs (lighteval details, another harness, an API)
 * can be scored with these exact prompts and metrics. The file is JSONL, one line per request, in either form:
 *
 *   {"context": "Question: …\nAnswer:", "continuation": " Paris", "logprob": -1.25, "is_greedy": true}
 *   {"prompt": "Question: …\nAnswer:", "completions": ["Natalia sold … #### 72"]}   ("completion": "…" for one)
 *   {"text": "A whole document …", "logprob": -812.5, "tokens": 301}   (rolling log-likelihood, perplexity)
 *
 * `logprob` is the natural-log sum over the continuation's tokens; `is_greedy` is optional. Requests are matched
 * by their exact text; `--dump-requests` writes the requests a run needs in the same shape, without the answers.
 */
export interface Predictions {
  readonly logLikelihoods: ReadonlyMap<string, { readonly logProb: number; readonly isGreedy: boolean }>
  readonly generations: ReadonlyMap<string, ReadonlyArray<string>>
  readonly rolling: ReadonlyMap<string, { readonly logProb: number; readonly tokens: number }>
}

const pairKey = (context: string, continuation: string) => JSON.stringify([context, continuation])

export const loadPredictions = (file: string): Effect.Effect<Predictions, EvalDataError> =>
  Effect.flatMap(readJsonl(file), (records) =>
    Effect.try({
      try: () => {
        const logLikelihoods = new Map<string, { logProb: number; isGreedy: boolean }>()
        const generations = new Map<string, Array<string>>()
        const rolling = new Map<string, { logProb: number; tokens: number }>()
        for (const { value: r, location } of records) {
          if (typeof r.context === "string" && typeof r.continuation === "string") {
            if (typeof r.logprob !== "number") throw dataError(file, location, `"logprob" must be a number`)
            logLikelihoods.set(pairKey(r.context, r.continuation), { logProb: r.logprob, isGreedy: r.is_greedy === true })
          } else if (typeof r.prompt === "string") {
            const completions = typeof r.completion === "string" ? [r.completion] : r.completions
            if (!Array.isArray(completions) || !completions.every((c) => typeof c === "string")) {
              throw dataError(file, location, `a "prompt" line needs "completion" (string) or "completions" (array of strings)`)
            }
            generations.set(r.prompt, [...(generations.get(r.prompt) ?? []), ...completions])
          } else if (typeof r.text === "string") {
            if (typeof r.logprob !== "number") throw dataError(file, location, `"logprob" must be a number`)
            if (typeof r.tokens !== "number" || !Number.isInteger(r.tokens) || r.tokens < 0) {
              throw dataError(file, location, `"tokens" must be a non-negative integer`)
            }
            rolling.set(r.text, { logProb: r.logprob, tokens: r.tokens })
          } else {
            throw dataError(file, location, `expected {"context", "continuation", "logprob"}, {"prompt", "completions"} or {"text", "logprob", "tokens"}`)
          }
        }
        return { logLikelihoods, generations, rolling }
      },
      catch: (e) => e as EvalDataError
    }))

const preview = (s: string) => JSON.stringify(s.length > 120 ? `…${s.slice(-120)}` : s)

export const predictionsModel = (name: string, p: Predictions): LanguageModelShape => ({
  name,
  logLikelihood: (requests) =>
    Effect.forEach(requests, (r) => {
      const found = p.logLikelihoods.get(pairKey(r.context, r.continuation))
      return found !== undefined
        ? Effect.succeed(found)
        : Effect.fail(new LanguageModelError({
          reason: "MissingPrediction",
          message: `no log-likelihood for context ${preview(r.context)} + continuation ${JSON.stringify(r.continuation)}`
        }))
    }),
  logLikelihoodRolling: (texts) =>
    Effect.forEach(texts, (text) => {
      const found = p.rolling.get(text)
      return found !== undefined
        ? Effect.succeed(found)
        : Effect.fail(new LanguageModelError({ reason: "MissingPrediction", message: `no rolling log-likelihood for text ${preview(text)}` }))
    }),
  generate: (requests) =>
    Effect.forEach(requests, (r) => {
      const found = p.generations.get(r.prompt)
      const n = r.samples ?? 1
      return found !== undefined && found.length >= n
        ? Effect.succeed(found.slice(0, n))
        : Effect.fail(new LanguageModelError({
          reason: "MissingPrediction",
          message: `${found?.length ?? 0} of ${n} completions for prompt ${preview(r.prompt)}`
        }))
    })
})

/** The `LanguageModel` answered from the predictions file `file`, named after it in reports. */
export const predictionsLayer = (file: string): Layer.Layer<LanguageModel, EvalDataError> =>
  Layer.effect(
    LanguageModel,
    loadPredictions(file).pipe(
      Effect.map((p) => LanguageModel.of(predictionsModel(path.basename(file), p))),
      Effect.mapError(withPlace("the --predictions file"))
    )
  )

/** The lines `--dump-requests` writes: the predictions format without the answers, tagged with the task. */
export const requestLines = (
  task: string,
  requests: {
    readonly logLikelihood?: ReadonlyArray<LogLikelihoodRequest>
    readonly generation?: ReadonlyArray<GenerationRequest>
    readonly rolling?: ReadonlyArray<string>
  }
): Array<string> => [
  ...(requests.rolling ?? []).map((text) => JSON.stringify({ task, text })),
  ...(requests.logLikelihood ?? []).map((r) => JSON.stringify({ task, context: r.context, continuation: r.continuation })),
  ...(requests.generation ?? []).map((r) =>
    JSON.stringify({ task, prompt: r.prompt, max_tokens: r.maxTokens, stop: r.stop, samples: r.samples ?? 1 }))
]

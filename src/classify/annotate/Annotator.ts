/**
 * The `Annotator` service: score one text with one prompt. The live layer talks to any OpenAI-compatible
 * chat-completions endpoint and owns the retry policy and the request-rate limit; the test double answers canned
 * scores. Concurrency is the caller's (the annotation stage runs `--concurrency` documents at once).
 */
import { Effect, Layer, Context, Random, type Redacted } from "effect"
import { HttpClient } from "effect/http"
import type { AnnotationPrompt } from "./AnnotationPrompt.ts"
import { backoffDelayMs, type BackoffPolicy, defaultBackoff, parseRetryAfterMs } from "./backoff.ts"
import { postChatCompletion, scrubKey, type TokenUsage } from "./chat-completion.ts"
import { AnnotationConfigError, AnnotationFailed, type AnnotationFailureReason } from "./errors.ts"
import { makeRequestRateLimiter } from "./request-rate-limiter.ts"

export interface Annotation {
  readonly score: number
  readonly completion: string
  readonly usage: TokenUsage
  readonly attempts: number
}

/** What the endpoint was asked and answered, for the run summary. */
export interface RequestCounts {
  requests: number
  /** Attempts after the first, per document. */
  retries: number
  /** Attempts by outcome: `ok`, or a failure reason. */
  outcomes: Record<string, number>
  prompt_tokens: number
  completion_tokens: number
}

export interface AnnotatorShape {
  readonly model: string
  readonly annotate: (prompt: AnnotationPrompt, text: string) => Effect.Effect<Annotation, AnnotationFailed | AnnotationConfigError>
  /** A snapshot of the counts so far. */
  readonly counts: () => RequestCounts
}

export interface ChatAnnotatorOptions {
  /** Base URL ending in `/v1`; requests go to `ENDPOINT/chat/completions`. */
  readonly endpoint: string
  readonly model: string
  /** Sent as `Authorization: Bearer …`; never logged, cached, written or put in an error. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Per attempt, until the whole body has arrived. */
  readonly timeoutMs?: number
  /** Attempts per document, the first included. */
  readonly maxAttempts?: number
  readonly backoff?: BackoffPolicy
  readonly maxRequestsPerSecond?: number | undefined
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
}

const emptyCounts = (): RequestCounts => ({ requests: 0, retries: 0, outcomes: {}, prompt_tokens: 0, completion_tokens: 0 })

const snapshot = (c: RequestCounts): RequestCounts => ({ ...c, outcomes: { ...c.outcomes } })

export class Annotator extends Context.Service<Annotator, AnnotatorShape>()("smol-pipeline/classify/Annotator") {
  /** Over an OpenAI-compatible endpoint, through the `HttpClient` in context. */
  static readonly layer = (options: ChatAnnotatorOptions): Layer.Layer<Annotator, never, HttpClient.HttpClient> =>
    Layer.effect(Annotator, makeChatAnnotator(options))

  /**
   * The test double: `scoreOf(text)` is the score, `undefined` a reply without one. The completion reads like a
   * real one ("…Educational score: N"), so the stage's parse runs as in production.
   */
  static readonly canned = (scoreOf: (text: string) => number | undefined, model = "canned"): Layer.Layer<Annotator> =>
    Layer.sync(Annotator, () => {
      const counts = emptyCounts()
      return Annotator.of({
        model,
        counts: () => snapshot(counts),
        annotate: (prompt, text) =>
          Effect.suspend(() => {
            counts.requests++
            const score = scoreOf(text)
            const completion = score === undefined ? "I cannot tell." : `Canned justification.\nEducational score: ${score}\nFinal score: ${score}`
            const parsed = prompt.parseScore(completion)
            const usage = { prompt_tokens: 0, completion_tokens: 0 }
            if (typeof parsed !== "number") {
              counts.outcomes["no_score"] = (counts.outcomes["no_score"] ?? 0) + 1
              return Effect.fail(new AnnotationFailed({ reason: "no_score", attempts: 1, lastError: parsed.problem, completion, usage }))
            }
            counts.outcomes["ok"] = (counts.outcomes["ok"] ?? 0) + 1
            return Effect.succeed({ score: parsed, completion, usage, attempts: 1 })
          })
      })
    })
}

const makeChatAnnotator = (options: ChatAnnotatorOptions) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const limiter = makeRequestRateLimiter(options.maxRequestsPerSecond)
    const maxAttempts = Math.max(1, options.maxAttempts ?? 6)
    const backoff = options.backoff ?? defaultBackoff
    const request = {
      endpoint: options.endpoint,
      model: options.model,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 120_000,
      temperature: options.temperature,
      maxTokens: options.maxTokens
    }
    const counts = emptyCounts()
    const count = (outcome: string) => (counts.outcomes[outcome] = (counts.outcomes[outcome] ?? 0) + 1)

    const annotate = (prompt: AnnotationPrompt, text: string): Effect.Effect<Annotation, AnnotationFailed | AnnotationConfigError> =>
      Effect.gen(function*() {
        const content = prompt.render(text)
        let last: { reason: AnnotationFailureReason; message: string } = { reason: "connection", message: "not attempted" }
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          if (attempt > 1) counts.retries++
          yield* limiter.acquire
          counts.requests++
          const outcome = yield* postChatCompletion(client, request, content)
          switch (outcome._tag) {
            case "Reply": {
              counts.prompt_tokens += outcome.usage.prompt_tokens
              counts.completion_tokens += outcome.usage.completion_tokens
              const parsed = prompt.parseScore(outcome.completion)
              if (typeof parsed !== "number") {
                count("no_score")
                return yield* new AnnotationFailed({
                  reason: "no_score",
                  attempts: attempt,
                  lastError: `reply has no score (${parsed.problem})`,
                  completion: outcome.completion,
                  usage: outcome.usage
                })
              }
              count("ok")
              return { score: parsed, completion: outcome.completion, usage: outcome.usage, attempts: attempt }
            }
            case "Fatal":
              count("fatal")
              return yield* new AnnotationConfigError({ message: scrubKey(`${options.endpoint}: ${outcome.message}`, options.apiKey) })
            case "Rejected":
              count("rejected")
              return yield* new AnnotationFailed({ reason: "rejected", attempts: attempt, lastError: scrubKey(outcome.message, options.apiKey) })
            case "Retry": {
              count(outcome.reason)
              last = { reason: outcome.reason, message: scrubKey(outcome.message, options.apiKey) }
              if (attempt === maxAttempts) break
              const now = Date.now()
              const retryAfterMs = parseRetryAfterMs(outcome.retryAfter, now)
              if (retryAfterMs !== undefined) limiter.pauseUntil(now + Math.min(retryAfterMs, backoff.maxRetryAfterMs))
              const u = yield* Random.next
              yield* Effect.sleep(backoffDelayMs(backoff, attempt, () => u, retryAfterMs))
            }
          }
        }
        return yield* new AnnotationFailed({ reason: last.reason, attempts: maxAttempts, lastError: last.message })
      })

    return Annotator.of({ model: options.model, annotate, counts: () => snapshot(counts) })
  })

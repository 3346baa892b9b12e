import { Schema } from "effect"

/**
 * Why a document ended in `failed/` rather than `annotated/`. Each is the outcome of the document's *last* attempt:
 * a reply without a parseable score is final (`no_score`, never retried and never guessed); the others are
 * transient and were retried up to `--max-attempts` before giving up.
 */
export const AnnotationFailureReason = Schema.Literals([
  "no_score",
  "rate_limited",
  "server_error",
  "connection",
  "timeout",
  "malformed_response",
  "rejected"
])
export type AnnotationFailureReason = typeof AnnotationFailureReason.Type

/**
 * One document could not be scored. `lastError` is written into the failed document, so it is built from the
 * status code, our own words and an excerpt of the reply body, never from the request (which carries the key).
 */
export class AnnotationFailed extends Schema.TaggedError<AnnotationFailed>()("AnnotationFailed", {
  reason: AnnotationFailureReason,
  attempts: Schema.Number,
  lastError: Schema.String,
  /** The reply of a `no_score` failure: it was paid for, so it is kept (and cached). */
  completion: Schema.optional(Schema.String),
  usage: Schema.optional(Schema.Struct({ prompt_tokens: Schema.Number, completion_tokens: Schema.Number }))
}) {}

/**
 * The run cannot go on for any document: a rejected key (401/403), an unknown model or a wrong URL (404), a bad
 * prompt file or flag. Scoring every document into `failed/` would only hide the mistake, so the run stops.
 */
export class AnnotationConfigError extends Schema.TaggedError<AnnotationConfigError>()("AnnotationConfigError", {
  message: Schema.String
}) {}

/**
 * A rank of a sharded run ended with documents that failed for a retryable reason (server errors, rate limits,
 * timeouts, dropped connections): the rank fails rather than complete, so that the rerun asks for those documents
 * again, and only for them (every answer received is in the rank's cache).
 */
export class AnnotationsIncomplete extends Schema.TaggedError<AnnotationsIncomplete>()("AnnotationsIncomplete", {
  message: Schema.String
}) {}

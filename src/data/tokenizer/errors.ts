import { Schema } from "effect"

/**
 * Why a tokenizer could not be built or used. One tagged error with a reason keeps signatures short while callers
 * can still branch: a config we do not implement (`Unsupported`) is a different problem from a broken file.
 */
export const TokenizerErrorReason = Schema.Literals([
  "Read", // the tokenizer file could not be read
  "Parse", // not JSON, or JSON that is not a tokenizer.json
  "Unsupported", // a valid tokenizer.json using a component this implementation does not have
  "Worker", // a worker thread failed or exited while encoding a batch
  "Train" // training could not produce a vocabulary (too small, no data)
])
export type TokenizerErrorReason = typeof TokenizerErrorReason.Type

export class TokenizerError extends Schema.TaggedError<TokenizerError>()("TokenizerError", {
  reason: TokenizerErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const tokenizerError = (reason: TokenizerErrorReason, message: string, cause?: unknown): TokenizerError =>
  cause === undefined ? new TokenizerError({ reason, message }) : new TokenizerError({ reason, message, cause })

/**
 * Thrown (not returned) by the synchronous core, which also runs inside worker threads where there is no Effect
 * runtime; the Effect-facing functions catch it and turn it into a `TokenizerError`.
 */
export class TokenizerConfigError extends Error {
  readonly reason: "Parse" | "Unsupported" | "Train"
  constructor(reason: "Parse" | "Unsupported" | "Train", message: string) {
    super(message)
    this.reason = reason
    this.name = "TokenizerConfigError"
  }
}

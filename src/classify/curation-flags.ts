/**
 * Command-line flags shared by the curation programs (programs/stack-edu.ts, programs/finemath.ts): where the
 * annotations come from, how the classifier is trained, and how the apply runs are sharded. Each help line
 * carries its default.
 */
import { Effect, Option, Redacted } from "effect"
import { Flag } from "effect/cli"
import { atLeast, defaulting } from "../cli/program.ts"
import { AnnotationConfigError } from "./annotate/errors.ts"
import type { AnnotatorChoice } from "./curate.ts"
import { NGRAM_DEFAULTS } from "./ngram/train.ts"
import type { TrainClassifierOptions } from "./train-classifier.ts"

export const annotatorFlags = {
  annotator: Flag.Literals("annotator", ["chat", "canned"]).pipe(
    defaulting("chat" as const, "chat: an OpenAI-compatible endpoint (--endpoint, --model); canned: a deterministic stand-in for demos and tests, not real scores")
  ),
  endpoint: Flag.String("endpoint").pipe(Flag.withDescription("Base URL of an OpenAI-compatible API, ending in /v1 (required with --annotator chat)"), Flag.optional),
  model: Flag.String("model").pipe(Flag.withDescription("Model name sent in each request (required with --annotator chat)"), Flag.optional),
  apiKeyEnv: Flag.String("api-key-env").pipe(defaulting("OPENAI_API_KEY", "Environment variable holding the API key (none sent if unset)")),
  concurrency: Flag.Int("concurrency").pipe(atLeast(1), defaulting(16, "Annotation requests in flight at once")),
  seed: Flag.Int("seed").pipe(defaulting(42, "Seeds the annotation sample, the split and the classifier"))
}

export const trainFlags = {
  mode: Flag.Literals("mode", ["regression", "softmax"]).pipe(defaulting("regression" as const, "N-gram head: regression (MSE) or six classes")),
  epochs: Flag.Int("epochs").pipe(atLeast(1), defaulting(NGRAM_DEFAULTS.epochs, "Training passes")),
  buckets: Flag.Int("buckets").pipe(atLeast(1), defaulting(NGRAM_DEFAULTS.buckets, "Hash buckets of the n-gram embedding")),
  dim: Flag.Int("dim").pipe(atLeast(1), defaulting(NGRAM_DEFAULTS.dim, "Embedding width"))
}

export const runFlags = {
  tasks: Flag.Int("tasks").pipe(atLeast(1), defaulting(1, "Shards of each apply run; each input file goes to one task")),
  workers: Flag.Int("workers").pipe(atLeast(1), defaulting(1, "Tasks run at the same time, each in its own process"))
}

export const annotatorChoiceOf = (a: {
  readonly annotator: "chat" | "canned"
  readonly endpoint: Option.Option<string>
  readonly model: Option.Option<string>
  readonly apiKeyEnv: string
}): Effect.Effect<AnnotatorChoice, AnnotationConfigError> => {
  if (a.annotator === "canned") return Effect.succeed({ _tag: "canned" })
  if (Option.isNone(a.endpoint) || Option.isNone(a.model)) {
    return Effect.fail(new AnnotationConfigError({ message: "--annotator chat needs --endpoint URL and --model NAME (or use --annotator canned for a demo)" }))
  }
  const key = process.env[a.apiKeyEnv]
  return Effect.succeed({
    _tag: "chat",
    options: { endpoint: a.endpoint.value, model: a.model.value, apiKey: key === undefined || key === "" ? undefined : Redacted.make(key) }
  })
}

export const trainOptionsOf = (a: {
  readonly mode: "regression" | "softmax"
  readonly epochs: number
  readonly buckets: number
  readonly dim: number
  readonly seed: number
}, threshold: number): TrainClassifierOptions => ({ kind: "ngram", mode: a.mode, epochs: a.epochs, buckets: a.buckets, dim: a.dim, seed: a.seed, threshold })

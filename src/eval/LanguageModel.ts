import { Context, Effect, Stream } from "effect"
import { LanguageModelError } from "./errors.ts"

/**
 * What the tasks ask of a model, in text. Tasks never tokenize: a backend decides how (see `fromTokenModel` for
 * lighteval's rules), which keeps the task and metric code testable with fixed log-probs and lets a predictions
 * file computed by any other harness stand in for a model.
 */
export interface LogLikelihoodRequest {
  readonly context: string
  readonly continuation: string
}

export interface LogLikelihood {
  /** Sum of log p(continuation token | everything before it), natural log. */
  readonly logProb: number
  /** Every continuation token was the model's argmax (lighteval's `bool_score`, harness `is_greedy`). */
  readonly isGreedy: boolean
}

export interface GenerationRequest {
  readonly prompt: string
  /** Most new tokens; generation also ends at the end-of-text token. */
  readonly maxTokens: number
  /** Generation ends at the first of these; the returned text stops before it (vLLM's default). */
  readonly stop: ReadonlyArray<string>
  /** Completions wanted (n > 1 for pass@k); 1 by default. */
  readonly samples?: number
  /** 0 (default) is greedy. */
  readonly temperature?: number
}

export interface LanguageModelShape {
  /** Shown in reports. */
  readonly name: string
  readonly logLikelihood: (
    requests: ReadonlyArray<LogLikelihoodRequest>
  ) => Effect.Effect<ReadonlyArray<LogLikelihood>, LanguageModelError>
  /** One array of `samples` completions per request, in request order. */
  readonly generate: (
    requests: ReadonlyArray<GenerationRequest>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, LanguageModelError>
  /**
   * Tokens in a text and the model's context length, for lighteval's few-shot truncation (`truncate_few_shots`).
   * Absent for a predictions file: the few-shot prompts are then never truncated.
   */
  readonly tokenBudget?: {
    readonly maxLength: number
    readonly count: (text: string) => Effect.Effect<number, LanguageModelError>
  }
}

export class LanguageModel extends Context.Service<LanguageModel, LanguageModelShape>()("smol-pipeline/eval/LanguageModel") {}

/** Text ↔ token ids: the slice of a tokenizer the evaluation needs (the SmolLM2 tokenizer adds no BOS). */
export interface TextCodec {
  readonly encode: (text: string) => ReadonlyArray<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** `<|endoftext|>` (id 0) for SmolLM2. */
  readonly eosId: number
}

export interface ScoreRequest {
  readonly tokens: ReadonlyArray<number>
  /** Score positions `scoreFrom..tokens.length-1`, each given the tokens before it; `scoreFrom >= 1`. */
  readonly scoreFrom: number
}

export interface TokenScores {
  /** log p(tokens[i] | tokens[<i]) for each scored position, natural log. */
  readonly logProbs: ReadonlyArray<number>
  /** tokens[i] was the argmax at that position. */
  readonly greedy: ReadonlyArray<boolean>
}

/**
 * The token-level model a GPU backend implements. `scoreTokens` is batched (requests sharing a context can share
 * a forward pass); `generateTokens` yields one new token per pull and stops computing when the stream is
 * interrupted, which is how stop sequences end generation.
 */
export interface TokenModel {
  readonly name: string
  /** Context length in tokens (SmolLM2 was evaluated with max_model_length=2048). */
  readonly maxLength: number
  readonly scoreTokens: (
    requests: ReadonlyArray<ScoreRequest>
  ) => Effect.Effect<ReadonlyArray<TokenScores>, LanguageModelError>
  readonly generateTokens: (
    prompt: ReadonlyArray<number>,
    options: { readonly temperature: number; readonly seed: number }
  ) => Stream.Stream<number, LanguageModelError>
}

// Python's str.isspace set, which lighteval's `context.rstrip()` uses (JS's \s differs at \x1c-\x1f, \x85, \ufeff).
const pyTrailingSpace = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u

/**
 * lighteval's `tok_encode_pair` (models/abstract_model.py at ea46419, the commit SmolLM2 pinned): trailing
 * whitespace of the context moves to the continuation; context + continuation is encoded whole and split at the
 * context's token count, so a merge across the boundary is scored as continuation. An empty context becomes the
 * end-of-text token (vllm_model.py `loglikelihood`).
 */
export const encodePair = (
  codec: TextCodec,
  context: string,
  continuation: string
): { readonly context: ReadonlyArray<number>; readonly continuation: ReadonlyArray<number> } => {
  if (context === "") return { context: [codec.eosId], continuation: codec.encode(continuation) }
  const spaces = pyTrailingSpace.exec(context)?.[0] ?? ""
  const ctx = context.slice(0, context.length - spaces.length)
  const cont = spaces + continuation
  const whole = codec.encode(ctx + cont)
  let contextLength = codec.encode(ctx).length
  if (contextLength === whole.length) contextLength -= 1
  return { context: whole.slice(0, contextLength), continuation: whole.slice(contextLength) }
}

const firstStop = (text: string, stops: ReadonlyArray<string>): number => {
  let at = -1
  for (const s of stops) {
    if (s === "") continue
    const i = text.indexOf(s)
    if (i !== -1 && (at === -1 || i < at)) at = i
  }
  return at
}

/**
 * A text-level `LanguageModel` over a token-level one, with lighteval's vLLM-backend rules: pairs encoded by
 * `encodePair`, inputs left-truncated to `maxLength`; generation prompts left-truncated to leave room for
 * `maxTokens`, stopped at end-of-text or the first stop string, the stop string excluded from the text.
 */
export const fromTokenModel = (codec: TextCodec, model: TokenModel): LanguageModelShape => ({
  name: model.name,
  logLikelihood: (requests) =>
    Effect.gen(function*() {
      const scored = requests.map((r) => {
        const pair = encodePair(codec, r.context, r.continuation)
        const tokens = [...pair.context, ...pair.continuation].slice(-model.maxLength)
        return { tokens, scoreFrom: Math.max(1, tokens.length - pair.continuation.length) }
      })
      for (const [i, s] of scored.entries()) {
        if (s.scoreFrom >= s.tokens.length) {
          return yield* Effect.fail(
            new LanguageModelError({
              reason: "InvalidRequest",
              message: `request ${i}: continuation ${JSON.stringify(requests[i]!.continuation)} encodes to no tokens`
            })
          )
        }
      }
      const out = yield* model.scoreTokens(scored)
      return out.map((o) => ({ logProb: o.logProbs.reduce((a, b) => a + b, 0), isGreedy: o.greedy.every((g) => g) }))
    }),
  generate: (requests) =>
    Effect.forEach(requests, (r, index) => {
      const ids = codec.encode(r.prompt)
      const room = Math.max(1, model.maxLength - r.maxTokens)
      const prompt = ids.length > room ? ids.slice(-room) : ids
      const one = (sample: number) =>
        Effect.gen(function*() {
          const generated: Array<number> = []
          let text = ""
          let stopAt = -1
          yield* model.generateTokens(prompt, { temperature: r.temperature ?? 0, seed: index * 1000 + sample }).pipe(
            Stream.takeWhile((t) => t !== codec.eosId && generated.length < r.maxTokens),
            Stream.takeUntil((t) => {
              generated.push(t)
              text = codec.decode(generated)
              stopAt = firstStop(text, r.stop)
              return stopAt !== -1 || generated.length >= r.maxTokens
            }),
            Stream.runDrain
          )
          return stopAt === -1 ? text : text.slice(0, stopAt)
        })
      return Effect.forEach(Array.from({ length: r.samples ?? 1 }, (_, s) => s), one)
    }),
  tokenBudget: {
    maxLength: model.maxLength,
    count: (text) => Effect.sync(() => codec.encode(text).length)
  }
})

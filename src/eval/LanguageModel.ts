import { Context, Effect, Layer, Stream } from "effect"
import { LanguageModelError } from "./errors.ts"
import type { SamplingOptions } from "./sampler.ts"

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

/** lighteval's `loglikelihood_rolling` result for one text (perplexity metrics). */
export interface RollingLogLikelihood {
  /** Sum over every token of the text of log p(token | what precedes it in its window), natural log. */
  readonly logProb: number
  /** Tokens scored: the text's token count. */
  readonly tokens: number
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
  /**
   * Log-likelihood of whole texts (lighteval `loglikelihood_rolling`): every token scored, the first given only
   * the end-of-text token, texts longer than the context split into windows (see `rollingWindows`).
   */
  readonly logLikelihoodRolling: (
    texts: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<RollingLogLikelihood>, LanguageModelError>
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

export class LanguageModel extends Context.Service<LanguageModel, LanguageModelShape>()("smol-pipeline/eval/LanguageModel") {
  /** A model that answers nothing, for runs that need none (code tasks scored from given samples). */
  static readonly layerNone = (why: string): Layer.Layer<LanguageModel> => {
    const fail = () => Effect.fail(new LanguageModelError({ reason: "Backend", message: `no model: ${why}` }))
    return Layer.succeed(LanguageModel, LanguageModel.of({ name: "none", logLikelihood: fail, logLikelihoodRolling: fail, generate: fail }))
  }
}

/** Text ↔ token ids: the slice of a tokenizer the evaluation needs (the SmolLM2 tokenizer adds no BOS). */
export interface TextCodec {
  readonly encode: (text: string) => ReadonlyArray<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** `<|endoftext|>` (id 0) for SmolLM2. */
  readonly eosId: number
}

export interface ScoreRequest {
  /**
   * At most `maxLength + 1` tokens: the last one is only predicted, never fed, so the model sees `maxLength`
   * positions at most (rolling windows use all of them, as the harness's HF backend does).
   */
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
  readonly generateTokens: (prompt: ReadonlyArray<number>, options: GenerateTokensOptions) => Stream.Stream<number, LanguageModelError>
}

/** How `generateTokens` picks tokens (see src/eval/sampler.ts) and whether it may start from the last generation. */
export interface GenerateTokensOptions extends SamplingOptions {
  readonly seed: number
  /**
   * Reuse the KV cache of the previous generation for the longest prefix this prompt shares with it (what a
   * chat's next turn does), when the part left to run is short enough to step through; otherwise, and by
   * default, the whole prompt runs through the batched forward pass.
   */
  readonly reuseCache?: boolean
  /** Told how the prompt was run: positions taken from the cache, and positions computed. */
  readonly onPrompt?: (run: { readonly cached: number; readonly computed: number }) => void
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

/**
 * lm-evaluation-harness `get_rolling_token_windows` (lm_eval/utils.py), which its HF backend's
 * `loglikelihood_rolling` maps through `make_disjoint_window` with `context_len=1`. The first window predicts
 * up to `maxSeqLen` tokens after `prefixToken`; each later one predicts the next (at most
 * `maxSeqLen − contextLen + 1`) tokens with the tokens before them as context, `maxSeqLen` positions in all.
 * Disjoint: the context is only what precedes the predicted tokens. An empty list gives no windows.
 */
export const rollingWindows = (
  tokens: ReadonlyArray<number>,
  prefixToken: number,
  maxSeqLen: number,
  contextLen = 1
): Array<{ readonly context: ReadonlyArray<number>; readonly continuation: ReadonlyArray<number> }> => {
  if (!(1 <= contextLen && contextLen <= maxSeqLen)) throw new RangeError(`need 1 <= context_len (${contextLen}) <= max_seq_len (${maxSeqLen})`)
  const windows: Array<[Array<number>, Array<number>]> = []
  if (tokens.length === 0) return []
  const predLen = maxSeqLen - contextLen + 1
  const firstSeqLen = Math.min(maxSeqLen, tokens.length)
  windows.push([[prefixToken, ...tokens.slice(0, firstSeqLen - 1)], tokens.slice(0, firstSeqLen)])
  let predicted = firstSeqLen
  while (predicted < tokens.length) {
    const windowPredLen = Math.min(tokens.length - predicted, predLen)
    const windowEnd = predicted + windowPredLen
    // window_end − max_seq_len − 1 >= 0 here (window_end > max_seq_len), so Python's slice is a plain one.
    windows.push([tokens.slice(windowEnd - maxSeqLen - 1, windowEnd - 1), tokens.slice(windowEnd - windowPredLen, windowEnd)])
    predicted += windowPredLen
  }
  // make_disjoint_window: a[: len(a) − (len(b) − 1)].
  return windows.map(([a, b]) => ({ context: a.slice(0, a.length - (b.length - 1)), continuation: b }))
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
  logLikelihoodRolling: (texts) =>
    Effect.gen(function*() {
      // Texts within the context are one window, [eos] + tokens, exactly lighteval's HF `loglikelihood_rolling`
      // (its vLLM backend has none); longer texts are windowed as the harness does, instead of overflowing.
      const perText = texts.map((t) => rollingWindows(codec.encode(t), codec.eosId, model.maxLength))
      const scored = yield* model.scoreTokens(perText.flat().map((w) => ({ tokens: [...w.context, ...w.continuation], scoreFrom: w.context.length })))
      let at = 0
      return perText.map((windows) => {
        let logProb = 0
        let tokens = 0
        for (const _ of windows) {
          const s = scored[at++]!
          for (const lp of s.logProbs) logProb += lp
          tokens += s.logProbs.length
        }
        return { logProb, tokens }
      })
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

/**
 * A conversation with a model: the history rendered through the chat template with the generation prompt,
 * encoded, and continued by the evaluation's one generation loop (`TokenModel.generateTokens`: the batched prompt
 * pass, then the KV-cache decoder, tokens picked by src/eval/sampler.ts). Text is handed out as it is generated,
 * through the tokenizer's streaming decoder, so a character split across tokens is never printed half.
 *
 * Between turns the KV cache is reused: the next prompt begins with the previous prompt and reply (the reply's
 * re-encoding may differ at its end, so the longest shared token prefix is kept), and only the rest — the closing
 * `<|im_end|>`, the new user turn and the assistant header — is stepped through the decoder; when that rest is long
 * (over 256 tokens) the whole prompt is recomputed in one batched pass instead.
 */
import { Effect, Stream } from "effect"
import type { ChatMessage, ChatTemplate } from "../data/tokenizer/chat-template.ts"
import { LanguageModelError } from "./errors.ts"
import type { TokenModel } from "./LanguageModel.ts"
import type { SamplingOptions } from "./sampler.ts"

/** The slice of a tokenizer a chat needs (`BpeTokenizer` has it). */
export interface ChatTokenizer {
  readonly encode: (text: string, options: { readonly addSpecialTokens: boolean }) => ArrayLike<number>
  readonly streamingDecoder: () => { readonly push: (ids: ArrayLike<number>) => string; readonly end: () => string }
}

export interface ChatSessionOptions {
  readonly template: ChatTemplate
  readonly tokenizer: ChatTokenizer
  readonly model: TokenModel
  /** A system turn opening every conversation; absent, the template's default (SmolLM2's names SmolLM). */
  readonly system?: string
  /** Turn k (from 0) samples with seed `seed + k`, so a session replays exactly. */
  readonly sampling: SamplingOptions & { readonly seed: number }
  readonly maxNewTokens: number
  /** Ids that end a reply (`<|im_end|>`, the tokenizer's EOS); never part of the reply. */
  readonly stopIds: ReadonlySet<number>
}

export interface ChatReply {
  readonly text: string
  readonly tokens: number
  /** "stop": a stop id; "limit": max new tokens; "context": the model's context is full. */
  readonly stoppedBy: "stop" | "limit" | "context"
  readonly seconds: number
  /** Prompt positions taken from the previous turn's KV cache, and positions computed for this turn. */
  readonly cachedPositions: number
  readonly computedPositions: number
  /** Oldest exchanges left out of the prompt to fit the context. */
  readonly droppedTurns: number
}

export interface ChatSession {
  /** Answers `message`, calling `onText` with each piece of the reply as it is decoded; the exchange joins the history. */
  readonly reply: <E>(message: string, onText: (text: string) => Effect.Effect<void, E>) => Effect.Effect<ChatReply, LanguageModelError | E>
  /** Forgets the conversation (the system turn stays). */
  readonly reset: () => void
  readonly history: () => ReadonlyArray<ChatMessage>
}

export const makeChatSession = (options: ChatSessionOptions): ChatSession => {
  let history: Array<ChatMessage> = []
  let turn = 0
  const opening: Array<ChatMessage> = options.system === undefined ? [] : [{ role: "system", content: options.system }]
  const { model, tokenizer } = options
  // Room kept for the reply when old turns must go; at most half the context, so some history always fits.
  const reserve = Math.min(options.maxNewTokens, Math.floor(model.maxLength / 2))

  const promptIds = (messages: ReadonlyArray<ChatMessage>) =>
    options.template.render([...opening, ...messages], { addGenerationPrompt: true }).pipe(
      Effect.map((text) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }))),
      Effect.mapError((e) => new LanguageModelError({ reason: "InvalidRequest", message: `chat template ${options.template.name}: ${e.message}`, cause: e }))
    )

  const reply = <E>(message: string, onText: (text: string) => Effect.Effect<void, E>) =>
    Effect.gen(function*() {
      const started = performance.now()
      // Leave out the oldest user/assistant exchanges until the prompt and the reply's room fit the context.
      let kept = [...history, { role: "user", content: message }]
      let ids = yield* promptIds(kept)
      let droppedTurns = 0
      while (ids.length + reserve > model.maxLength && kept.length > 1) {
        kept = kept.slice(2)
        droppedTurns++
        ids = yield* promptIds(kept)
      }
      if (ids.length >= model.maxLength) {
        return yield* new LanguageModelError({
          reason: "InvalidRequest",
          message: `the message takes ${ids.length} tokens with the template, more than the model's context of ${model.maxLength}`
        })
      }
      const decoder = tokenizer.streamingDecoder()
      let text = ""
      let tokens = 0
      let sawStop = false
      let run = { cached: 0, computed: ids.length }
      const emit = (piece: string) => {
        text += piece
        return piece === "" ? Effect.void : onText(piece)
      }
      const seed = options.sampling.seed + turn
      turn++
      yield* model.generateTokens(ids, { ...options.sampling, seed, reuseCache: true, onPrompt: (r) => (run = r) }).pipe(
        Stream.takeWhile((t) => !(sawStop ||= options.stopIds.has(t))),
        Stream.tap((t) => {
          tokens++
          return emit(decoder.push([t]))
        }),
        Stream.takeUntil(() => tokens >= options.maxNewTokens),
        Stream.runDrain
      )
      yield* emit(decoder.end())
      history = [...kept, { role: "assistant", content: text }]
      return {
        text,
        tokens,
        stoppedBy: sawStop ? "stop" : tokens >= options.maxNewTokens ? "limit" : "context",
        seconds: (performance.now() - started) / 1000,
        cachedPositions: run.cached,
        computedPositions: run.computed,
        droppedTurns
      } satisfies ChatReply
    })

  return {
    reply,
    reset: () => {
      history = []
    },
    history: () => [...opening, ...history]
  }
}

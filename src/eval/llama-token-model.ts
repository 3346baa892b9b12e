import { Effect, Scope, Stream } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape } from "../gpu/Gpu.ts"
import { nextTokenBatch } from "../model/batch.ts"
import type { HfModel } from "../model/checkpoint.ts"
import { type LlamaDecoder, makeLlamaDecoder } from "../model/llama.decode.ts"
import { type LlamaGpu, makeLlamaGpu } from "../model/llama.gpu.ts"
import { LanguageModelError } from "./errors.ts"
import type { GenerateTokensOptions, ScoreRequest, TokenModel, TokenScores } from "./LanguageModel.ts"
import { makeTokenSampler } from "./sampler.ts"

/**
 * The evaluation's `TokenModel` backed by the Llama model on the GPU. Sequences are padded up to a power-of-two
 * length bucket (a causal model's outputs at a position ignore what follows), and one model instance per bucket
 * is built on first use and kept for the run, all sharing one copy of the weights. Generation runs the prompt
 * through the batched forward pass and continues with a KV-cache decoder (src/model/llama.decode.ts).
 */
export interface LlamaTokenModelOptions {
  readonly name: string
  /** Longest sequence scored or generated (SmolLM2 was evaluated at 2048); capped by max_position_embeddings. */
  readonly maxLength: number
  /** Sequences scored together in one forward pass. */
  readonly batchSize: number
}

/**
 * Log-sum-exp of a logits row (f64) and its argmax as `np.argmax` picks it: the first of equal maxima, or the
 * first NaN if there is one.
 */
export const rowStats = (row: ArrayLike<number>): { readonly logSumExp: number; readonly argmax: number } => {
  let argmax = 0
  let nan = -1
  for (let v = 0; v < row.length; v++) {
    const x = row[v]!
    if (Number.isNaN(x)) {
      nan = v
      break
    }
    if (x > row[argmax]!) argmax = v
  }
  if (nan !== -1) return { logSumExp: Number.NaN, argmax: nan }
  const max = row[argmax]!
  if (max === -Infinity) return { logSumExp: -Infinity, argmax }
  let sum = 0
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v]! - max)
  return { logSumExp: max + Math.log(sum), argmax }
}

/** Most prompt tokens stepped through the decoder when continuing from the cache (see `generateTokens`). */
const REUSE_MAX_NEW = 256

const backend = (what: string) => (e: GpuError) => new LanguageModelError({ reason: "Backend", message: `${what}: ${e.message}`, cause: e })

export const makeLlamaTokenModel = (
  gpu: GpuShape,
  model: HfModel,
  options: LlamaTokenModelOptions
): Effect.Effect<TokenModel, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const maxLength = Math.min(options.maxLength, model.config.maxPositionEmbeddings)
    const V = model.config.vocabSize
    const instances = new Map<string, LlamaGpu>()
    let sharedParams: ReadonlyMap<string, GpuBuffer> | undefined
    let decoder: LlamaDecoder | undefined
    /** A model for `batch` sequences of up to `length` tokens (`length − 1` input positions), built once. */
    const instance = (batch: number, length: number) =>
      Effect.gen(function*() {
        let seq = 16
        while (seq < length - 1) seq *= 2
        seq = Math.min(seq, maxLength)
        const key = `${batch}×${seq}`
        const existing = instances.get(key)
        if (existing !== undefined) return existing
        // Inference instances share one copy of the weights (the first one uploads them).
        const built = yield* makeLlamaGpu(gpu, model.config, batch, seq, {
          training: false,
          ...(sharedParams === undefined ? {} : { params: sharedParams })
        }).pipe(Scope.provide(scope))
        if (sharedParams === undefined) {
          yield* built.setWeights(model.weights)
          sharedParams = built.params
        }
        instances.set(key, built)
        return built
      }).pipe(Effect.mapError(backend(`building the model for ${batch} sequences of ${length} tokens`)))

    /** `limit`: scored sequences may hold `maxLength + 1` tokens (the last is only predicted, never fed). */
    const checkTokens = (tokens: ReadonlyArray<number>, where: string, limit = maxLength) => {
      if (tokens.length > limit) {
        const what = limit > maxLength ? " positions plus the predicted token" : ""
        return Effect.fail(new LanguageModelError({ reason: "InvalidRequest", message: `${where}: ${tokens.length} tokens exceed the model's ${maxLength}${what}` }))
      }
      const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= V)
      return bad === undefined ? Effect.void : Effect.fail(new LanguageModelError({ reason: "InvalidRequest", message: `${where}: token id ${bad} is outside the vocabulary of ${V}` }))
    }

    /** Requests in `indices` on the batched path: one row per request, every position's loss and greedy flag. */
    const scoreBatched = (requests: ReadonlyArray<ScoreRequest>, indices: ReadonlyArray<number>, out: Array<TokenScores>) =>
      Effect.gen(function*() {
        // Longest first, so each batch's bucket fits its longest member and similar lengths share a pass.
        const order = [...indices].sort((a, b) => requests[b]!.tokens.length - requests[a]!.tokens.length)
        for (let start = 0; start < order.length; start += options.batchSize) {
          const group = order.slice(start, start + options.batchSize)
          const llama = yield* instance(options.batchSize, requests[group[0]!]!.tokens.length)
          const seq = llama.seq
          const { inputs, targets } = nextTokenBatch(group.map((i) => requests[i]!.tokens), llama.batch, seq)
          yield* llama.setTokens(inputs, targets).pipe(Effect.mapError(backend("uploading tokens")))
          yield* gpu.run(llama.steps({ backward: false, gradScale: 1 })).pipe(Effect.mapError(backend("forward pass")))
          const losses = yield* gpu.readF32(llama.losses).pipe(Effect.mapError(backend("reading log-probabilities")))
          const greedy = yield* gpu.readF32(llama.greedy).pipe(Effect.mapError(backend("reading greedy flags")))
          group.forEach((i, b) => {
            const { tokens, scoreFrom } = requests[i]!
            const logProbs: Array<number> = []
            const isGreedy: Array<boolean> = []
            // Position t − 1 predicts token t.
            for (let t = scoreFrom; t < tokens.length; t++) {
              logProbs.push(-losses[b * seq + t - 1]!)
              isGreedy.push(greedy[b * seq + t - 1] === 1)
            }
            out[i] = { logProbs, greedy: isGreedy }
          })
        }
      })

    /**
     * Single-token continuations of one shared context (MMLU's " A".." D"): the context runs once, its last
     * position's logits row is read back, and every request's log-prob and greedy flag come from it on the CPU.
     * Contexts are packed so that all their last positions fall in one row chunk of the head: one forward each
     * batch (a chunk boundary inside a batch costs another forward, never a wrong row).
     */
    const scoreSharedContexts = (
      requests: ReadonlyArray<ScoreRequest>,
      groups: ReadonlyArray<ReadonlyArray<number>>,
      out: Array<TokenScores>
    ) =>
      Effect.gen(function*() {
        const contexts = groups
          .map((members) => ({ prefix: requests[members[0]!]!.tokens.slice(0, -1), members }))
          .sort((a, b) => b.prefix.length - a.prefix.length)
        const headRowsMax = Math.max(1, Math.floor(gpu.limits.maxStorageBufferBindingSize / (V * 4)))
        for (let start = 0; start < contexts.length;) {
          const longest = contexts[start]!.prefix.length
          let seq = 16
          while (seq < longest) seq *= 2
          seq = Math.min(seq, maxLength)
          const batch = Math.max(1, Math.min(options.batchSize, Math.floor(headRowsMax / seq)))
          const part = contexts.slice(start, start + batch)
          start += part.length
          const llama = yield* instance(batch, longest + 1)
          const S = llama.seq
          const inputs = new Int32Array(llama.batch * S)
          part.forEach((c, b) => inputs.set(c.prefix, b * S))
          yield* llama.setTokens(inputs, new Int32Array(llama.batch * S)).pipe(Effect.mapError(backend("uploading tokens")))
          const headRows = llama.logits.bytes / (4 * V)
          let pending = part.map((c, b) => ({ c, position: b * S + c.prefix.length - 1 }))
          while (pending.length > 0) {
            const { steps, offset } = llama.logitsAt(pending[0]!.position)
            yield* gpu.run(steps).pipe(Effect.mapError(backend("forward pass")))
            const r0 = pending[0]!.position - offset / V
            const here = pending.filter((p) => p.position >= r0 && p.position < r0 + headRows)
            pending = pending.filter((p) => p.position < r0 || p.position >= r0 + headRows)
            for (const p of here) {
              const row = yield* gpu.readF32(bufferView(llama.logits, (p.position - r0) * V * 4, V * 4)).pipe(
                Effect.mapError(backend("reading logits"))
              )
              const { logSumExp, argmax } = rowStats(row)
              for (const i of p.c.members) {
                const token = requests[i]!.tokens.at(-1)!
                out[i] = { logProbs: [row[token]! - logSumExp], greedy: [argmax === token] }
              }
            }
          }
        }
      })

    const scoreTokens = (requests: ReadonlyArray<ScoreRequest>) =>
      Effect.gen(function*() {
        for (const [i, r] of requests.entries()) yield* checkTokens(r.tokens, `request ${i}`, maxLength + 1)
        const out = new Array<TokenScores>(requests.length)
        // Requests scoring only their last token, grouped by the tokens before it; a group of two or more shares
        // one forward pass. Everything else takes the batched path.
        const byContext = new Map<string, Array<number>>()
        requests.forEach((r, i) => {
          if (r.scoreFrom !== r.tokens.length - 1) return
          const key = r.tokens.slice(0, -1).join(",")
          const members = byContext.get(key)
          if (members === undefined) byContext.set(key, [i])
          else members.push(i)
        })
        const shared = [...byContext.values()].filter((members) => members.length > 1)
        const sharedSet = new Set(shared.flat())
        if (shared.length > 0) yield* scoreSharedContexts(requests, shared, out)
        yield* scoreBatched(requests, requests.map((_, i) => i).filter((i) => !sharedSet.has(i)), out)
        return out
      })

    /** The tokens whose keys and values the decoder's cache holds, position by position. */
    let cachedTokens: Array<number> = []

    /**
     * The prompt goes through the batched forward pass once; its keys and values seed the KV cache, and every new
     * token is one decoder step. With `reuseCache`, a prompt sharing a prefix with what is cached (a chat's next
     * turn: the last prompt and reply, then the new message) keeps that prefix and steps only through the rest, when
     * the rest is at most `REUSE_MAX_NEW` tokens; a longer rest is cheaper as one batched pass. Generations run one at
     * a time (the decoder's cache is shared).
     */
    const generateTokens = (prompt: ReadonlyArray<number>, o: GenerateTokensOptions) =>
      Stream.unwrap(Effect.gen(function*() {
        yield* checkTokens(prompt, "prompt")
        if (prompt.length === 0) return yield* new LanguageModelError({ reason: "InvalidRequest", message: "an empty prompt has nothing to continue" })
        const sampler = yield* Effect.try({
          try: () => makeTokenSampler(o),
          catch: (e) => new LanguageModelError({ reason: "InvalidRequest", message: e instanceof Error ? e.message : String(e) })
        })
        // Keep at least the last prompt token to feed: its step gives the logits of the first new token.
        let shared = 0
        const limit = Math.min(cachedTokens.length, prompt.length - 1)
        while (shared < limit && cachedTokens[shared] === prompt[shared]) shared++
        let first: Float32Array
        if (o.reuseCache === true && decoder !== undefined && shared > 0 && prompt.length - shared <= REUSE_MAX_NEW) {
          const dec = decoder
          cachedTokens = cachedTokens.slice(0, shared)
          yield* dec.rewind(shared).pipe(Effect.mapError(backend("rewinding the KV cache")))
          first = yield* dec.feed(prompt.slice(shared)).pipe(Effect.mapError(backend("feeding the prompt")))
          o.onPrompt?.({ cached: shared, computed: prompt.length - shared })
        } else {
          cachedTokens = []
          const llama = yield* instance(1, prompt.length + 1)
          const inputs = new Int32Array(llama.seq)
          inputs.set(prompt)
          yield* llama.setTokens(inputs, new Int32Array(llama.seq)).pipe(Effect.mapError(backend("uploading the prompt")))
          const { steps, offset } = llama.logitsAt(prompt.length - 1)
          yield* gpu.run(steps).pipe(Effect.mapError(backend("prompt forward pass")))
          first = yield* gpu.readF32(bufferView(llama.logits, offset * 4, V * 4)).pipe(Effect.mapError(backend("reading logits")))
          decoder ??= yield* makeLlamaDecoder(gpu, model.config, sharedParams!, maxLength).pipe(
            Scope.provide(scope),
            Effect.mapError(backend("building the KV-cache decoder"))
          )
          yield* decoder.loadPrefix(llama, prompt.length).pipe(Effect.mapError(backend("filling the KV cache")))
          o.onPrompt?.({ cached: 0, computed: prompt.length })
        }
        cachedTokens = [...prompt]
        const dec = decoder!
        let last: number | undefined
        const next = Effect.gen(function*() {
          if (last === undefined) return (last = sampler.next(first))
          if (dec.length() >= maxLength) return undefined
          const logits = yield* dec.step(last).pipe(Effect.mapError(backend("decoding")))
          cachedTokens.push(last)
          return (last = sampler.next(logits))
        })
        return Stream.fromEffectRepeat(next).pipe(Stream.takeWhile((t): t is number => t !== undefined))
      }))

    return { name: options.name, maxLength, scoreTokens, generateTokens } satisfies TokenModel
  })

import { Effect, Scope, Stream } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuShape } from "../gpu/Gpu.ts"
import type { HfModel } from "../model/checkpoint.ts"
import { type LlamaGpu, makeLlamaGpu } from "../model/llama.gpu.ts"
import { normalGenerator } from "../model/parameters.ts"
import { LanguageModelError } from "./errors.ts"
import type { ScoreRequest, TokenModel, TokenScores } from "./LanguageModel.ts"

/**
 * The evaluation's `TokenModel` backed by the Llama model on the GPU. Sequences are padded up to a power-of-two
 * length bucket (a causal model's outputs at a position ignore what follows), and one model instance per bucket
 * is built on first use and kept for the run. Generation recomputes the whole sequence for each new token
 * (no KV cache yet): right, and fast enough for small models, but quadratic in the output length.
 */
export interface LlamaTokenModelOptions {
  readonly name: string
  /** Longest sequence scored or generated (SmolLM2 was evaluated at 2048); capped by max_position_embeddings. */
  readonly maxLength: number
  /** Sequences scored together in one forward pass. */
  readonly batchSize: number
}

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
    /** A model for `batch` sequences of up to `length` tokens (`length − 1` input positions), built once. */
    const instance = (batch: number, length: number) =>
      Effect.gen(function*() {
        let seq = 16
        while (seq < length - 1) seq *= 2
        seq = Math.min(seq, maxLength)
        const key = `${batch}×${seq}`
        const existing = instances.get(key)
        if (existing !== undefined) return existing
        const built = yield* makeLlamaGpu(gpu, model.config, batch, seq).pipe(Scope.provide(scope))
        yield* built.setWeights(model.weights)
        instances.set(key, built)
        return built
      }).pipe(Effect.mapError(backend(`building the model for ${batch} sequences of ${length} tokens`)))

    const checkTokens = (tokens: ReadonlyArray<number>, where: string) => {
      if (tokens.length > maxLength) {
        return Effect.fail(new LanguageModelError({ reason: "InvalidRequest", message: `${where}: ${tokens.length} tokens exceed the model's ${maxLength}` }))
      }
      const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= V)
      return bad === undefined ? Effect.void : Effect.fail(new LanguageModelError({ reason: "InvalidRequest", message: `${where}: token id ${bad} is outside the vocabulary of ${V}` }))
    }

    const scoreTokens = (requests: ReadonlyArray<ScoreRequest>) =>
      Effect.gen(function*() {
        const out = new Array<TokenScores>(requests.length)
        // Longest first, so each batch's bucket fits its longest member and similar lengths share a pass.
        const order = requests.map((_, i) => i).sort((a, b) => requests[b]!.tokens.length - requests[a]!.tokens.length)
        for (let start = 0; start < order.length; start += options.batchSize) {
          const group = order.slice(start, start + options.batchSize)
          for (const i of group) yield* checkTokens(requests[i]!.tokens, `request ${i}`)
          const llama = yield* instance(options.batchSize, requests[group[0]!]!.tokens.length)
          const seq = llama.seq
          const inputs = new Int32Array(llama.batch * seq)
          const targets = new Int32Array(llama.batch * seq)
          group.forEach((i, b) => {
            const tokens = requests[i]!.tokens
            for (let t = 0; t + 1 < tokens.length; t++) {
              inputs[b * seq + t] = tokens[t]!
              targets[b * seq + t] = tokens[t + 1]!
            }
          })
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
        return out
      })

    const generateTokens = (prompt: ReadonlyArray<number>, o: { readonly temperature: number; readonly seed: number }) =>
      Stream.unwrap(Effect.gen(function*() {
        yield* checkTokens(prompt, "prompt")
        if (prompt.length === 0) return yield* new LanguageModelError({ reason: "InvalidRequest", message: "an empty prompt has nothing to continue" })
        const tokens = [...prompt]
        const normal = normalGenerator(o.seed)
        const uniform = () => 0.5 + 0.5 * Math.tanh(normal()) // any seeded value in (0, 1) will do for sampling
        const next = Effect.gen(function*() {
          if (tokens.length >= maxLength) return undefined
          const llama = yield* instance(1, tokens.length + 1)
          const inputs = new Int32Array(llama.seq)
          inputs.set(tokens.slice(0, llama.seq))
          yield* llama.setTokens(inputs, new Int32Array(llama.seq)).pipe(Effect.mapError(backend("uploading tokens")))
          const { steps, offset } = llama.logitsAt(tokens.length - 1)
          yield* gpu.run(steps).pipe(Effect.mapError(backend("forward pass")))
          const logits = yield* gpu.readF32(bufferView(llama.logits, offset * 4, V * 4)).pipe(Effect.mapError(backend("reading logits")))
          let choice = 0
          if (o.temperature <= 0) {
            for (let v = 1; v < V; v++) if (logits[v]! > logits[choice]!) choice = v
          } else {
            let max = -Infinity
            for (const l of logits) max = Math.max(max, l)
            const weights = Array.from(logits, (l) => Math.exp((l - max) / o.temperature))
            let r = uniform() * weights.reduce((a, b) => a + b, 0)
            choice = weights.findIndex((w) => (r -= w) <= 0)
            if (choice < 0) choice = V - 1
          }
          tokens.push(choice)
          return choice
        })
        return Stream.fromEffectRepeat(next).pipe(Stream.takeWhile((t): t is number => t !== undefined))
      }))

    return { name: options.name, maxLength, scoreTokens, generateTokens } satisfies TokenModel
  })

import { Effect, Scope, Stream } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape } from "../gpu/Gpu.ts"
import type { HfModel } from "../model/checkpoint.ts"
import { type LlamaDecoder, makeLlamaDecoder } from "../model/llama.decode.ts"
import { type LlamaGpu, makeLlamaGpu } from "../model/llama.gpu.ts"
import { normalGenerator } from "../model/parameters.ts"
import { LanguageModelError } from "./errors.ts"
import type { ScoreRequest, TokenModel, TokenScores } from "./LanguageModel.ts"

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

    const pick = (logits: Float32Array, temperature: number, uniform: () => number): number => {
      let choice = 0
      if (temperature <= 0) {
        for (let v = 1; v < V; v++) if (logits[v]! > logits[choice]!) choice = v
        return choice
      }
      let max = -Infinity
      for (const l of logits) max = Math.max(max, l)
      const weights = Array.from(logits, (l) => Math.exp((l - max) / temperature))
      let r = uniform() * weights.reduce((a, b) => a + b, 0)
      choice = weights.findIndex((w) => (r -= w) <= 0)
      return choice < 0 ? V - 1 : choice
    }

    /**
     * The prompt goes through the batched forward pass once; its keys and values seed the KV cache, and every new
     * token is one decoder step. Generations run one at a time (the decoder's cache is shared).
     */
    const generateTokens = (prompt: ReadonlyArray<number>, o: { readonly temperature: number; readonly seed: number }) =>
      Stream.unwrap(Effect.gen(function*() {
        yield* checkTokens(prompt, "prompt")
        if (prompt.length === 0) return yield* new LanguageModelError({ reason: "InvalidRequest", message: "an empty prompt has nothing to continue" })
        const normal = normalGenerator(o.seed)
        const uniform = () => 0.5 + 0.5 * Math.tanh(normal()) // any seeded value in (0, 1) will do for sampling
        const llama = yield* instance(1, prompt.length + 1)
        const inputs = new Int32Array(llama.seq)
        inputs.set(prompt)
        yield* llama.setTokens(inputs, new Int32Array(llama.seq)).pipe(Effect.mapError(backend("uploading the prompt")))
        const { steps, offset } = llama.logitsAt(prompt.length - 1)
        yield* gpu.run(steps).pipe(Effect.mapError(backend("prompt forward pass")))
        const first = yield* gpu.readF32(bufferView(llama.logits, offset * 4, V * 4)).pipe(Effect.mapError(backend("reading logits")))
        decoder ??= yield* makeLlamaDecoder(gpu, model.config, sharedParams!, maxLength).pipe(
          Scope.provide(scope),
          Effect.mapError(backend("building the KV-cache decoder"))
        )
        const dec = decoder
        yield* dec.loadPrefix(llama, prompt.length).pipe(Effect.mapError(backend("filling the KV cache")))
        let last: number | undefined
        const next = Effect.gen(function*() {
          if (last === undefined) return (last = pick(first, o.temperature, uniform))
          if (dec.length() >= maxLength) return undefined
          const logits = yield* dec.step(last).pipe(Effect.mapError(backend("decoding")))
          return (last = pick(logits, o.temperature, uniform))
        })
        return Stream.fromEffectRepeat(next).pipe(Stream.takeWhile((t): t is number => t !== undefined))
      }))

    return { name: options.name, maxLength, scoreTokens, generateTokens } satisfies TokenModel
  })

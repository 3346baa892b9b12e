import { type Config, Effect, FileSystem, Layer, type Path } from "effect"
import * as path from "node:path"
import { BpeTokenizer } from "../data/tokenizer/core.ts"
import type { GpuError } from "../gpu/errors.ts"
import { Gpu } from "../gpu/Gpu.ts"
import { type CheckpointError, loadHfModel } from "../model/checkpoint.ts"
import { EvalConfigError } from "./errors.ts"
import { fromTokenModel, LanguageModel, type TextCodec } from "./LanguageModel.ts"
import { makeLlamaTokenModel } from "./llama-token-model.ts"

export interface GpuLanguageModelOptions {
  /** A Hugging Face model folder (config.json + model.safetensors). */
  readonly model: string
  /** Its tokenizer.json. */
  readonly tokenizer: string
  /** Context length in tokens (SmolLM2 was evaluated at 2048); capped by the model's max_position_embeddings. */
  readonly maxLength: number
  /** Sequences scored together in one forward pass. */
  readonly batchSize: number
}

/** The model folder or tokenizer is unreadable or they do not fit together, or the GPU failed. */
export type GpuLanguageModelError = EvalConfigError | CheckpointError | GpuError

/** The tokenizer as lighteval encodes for SmolLM2: no special tokens added, `<|endoftext|>` as end of text. */
const readCodec = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new EvalConfigError({ message: `--tokenizer ${file}: ${e.message}` }))
    )
    const tokenizer = yield* Effect.try({
      try: () => BpeTokenizer.fromJson(text),
      catch: (e) => new EvalConfigError({ message: `--tokenizer ${file}: not a tokenizer.json: ${String(e)}` })
    })
    const codec: TextCodec = {
      encode: (t) => Array.from(tokenizer.encode(t, { addSpecialTokens: false })),
      decode: (ids) => tokenizer.decode(ids),
      eosId: tokenizer.tokenToId("<|endoftext|>") ?? 0
    }
    return { codec, vocabSize: tokenizer.vocabSize }
  })

/**
 * The `LanguageModel` of the model folder `options.model` on the `Gpu`: log-likelihoods and generation from the
 * Llama forward pass (src/eval/llama-token-model.ts) with lighteval's tokenization rules (`fromTokenModel`). The
 * GPU buffers live as long as the layer.
 */
export const gpuLanguageModelLayer = (
  options: GpuLanguageModelOptions
): Layer.Layer<LanguageModel, GpuLanguageModelError, Gpu | FileSystem.FileSystem | Path.Path> =>
  Layer.effect(
    LanguageModel,
    Effect.gen(function*() {
      const { codec, vocabSize } = yield* readCodec(options.tokenizer)
      const model = yield* loadHfModel(options.model)
      if (vocabSize > model.config.vocabSize) {
        return yield* new EvalConfigError({
          message: `--tokenizer ${options.tokenizer} has ${vocabSize} tokens, more than the vocabulary of ${model.config.vocabSize} of --model ${options.model}`
        })
      }
      const gpu = yield* Gpu
      const tokenModel = yield* makeLlamaTokenModel(gpu, model, {
        name: path.basename(path.resolve(options.model)),
        maxLength: options.maxLength,
        batchSize: options.batchSize
      })
      return LanguageModel.of(fromTokenModel(codec, tokenModel))
    })
  )

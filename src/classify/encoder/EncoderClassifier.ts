/**
 * The paper's quality classifier behind `QualityClassifier`: WordPiece (or BPE) tokens truncated to the model's
 * length → the BERT encoder, pooler and regression head on the `Gpu` → the raw score (FineWeb-Edu's `score`).
 *
 * The device is acquired on the first `predict`, not when the classifier is made: loading a folder (to check it,
 * or to save it again) needs no GPU. It is held until `close` — or until the process ends, for callers of the
 * plain `QualityClassifier` face (the apply workers), which have no lifetime to tie it to.
 */
import { Effect, Exit, Scope } from "effect"
import type { GpuError } from "../../gpu/errors.ts"
import { type GpuShape, gpuOptionsConfig, makeGpu } from "../../gpu/Gpu.ts"
import { makeTokenizer, type TokenizerShape } from "../../data/tokenizer/Tokenizer.ts"
import type { TokenizerError } from "../../data/tokenizer/errors.ts"
import { type BertGpu, makeBertGpu } from "../../model/bert.gpu.ts"
import { ClassifierPredictError, type QualityClassifier } from "../QualityClassifier.ts"
import { type EncoderClassifierModel, saveEncoderClassifierModel } from "./folder.ts"

export interface EncoderClassifier extends QualityClassifier {
  readonly kind: "encoder"
  readonly model: EncoderClassifierModel
  readonly tokenizer: TokenizerShape
  /** Releases the encoder's device buffers (and the device, when the classifier acquired it); predict acquires again. */
  readonly close: Effect.Effect<void>
}

/** Where the device comes from: by default the `Gpu` the environment chooses (SMOL_GPU_*), made on first use. */
export type EncoderDevice = Effect.Effect<GpuShape, unknown, Scope.Scope>

export const defaultEncoderDevice: EncoderDevice = Effect.gen(function*() {
  return yield* makeGpu(yield* gpuOptionsConfig)
})

export interface EncoderRunOptions {
  readonly device?: EncoderDevice
  /** Most sequences per forward (default: as many as fit one binding at the model's length, at most 16). */
  readonly maxBatch?: number
}

/** Sequences per forward: the [batch·seq, intermediate] activations must fit one storage binding. */
export const encoderBatchFor = (gpu: GpuShape, model: Pick<EncoderClassifierModel, "config" | "maxLength">, cap = 16): number => {
  const widest = Math.max(model.config.intermediateSize, model.config.hiddenSize)
  return Math.max(1, Math.min(cap, Math.floor(gpu.limits.maxStorageBufferBindingSize / (model.maxLength * widest * 4))))
}

/**
 * Builds the encoder on a device, in a scope of its own, the first time it is needed. `lazyBertGpu` is what the
 * training cache pass uses too, so the states it caches come from the same code that scores.
 */
export const lazyBertGpu = (model: Pick<EncoderClassifierModel, "config" | "weights" | "maxLength">, options: EncoderRunOptions = {}) => {
  let held: { readonly scope: Scope.Closeable; readonly bert: BertGpu } | undefined
  const acquire: Effect.Effect<BertGpu, GpuError | { readonly _tag: string; readonly message: string }> = Effect.suspend(() => {
    if (held !== undefined) return Effect.succeed(held.bert)
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bert = yield* Effect.gen(function*() {
        const gpu = yield* (options.device ?? defaultEncoderDevice).pipe(
          Effect.mapError((e) => ({ _tag: "EncoderDeviceError", message: `no device for the encoder: ${messageOf(e)}` }))
        )
        return yield* makeBertGpu(gpu, model.config, model.weights, {
          maxBatch: options.maxBatch ?? encoderBatchFor(gpu, model),
          maxSeq: model.maxLength
        })
      }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      held = { scope, bert }
      return bert
    })
  })
  const release = Effect.suspend(() => {
    const h = held
    held = undefined
    return h === undefined ? Effect.void : Scope.close(h.scope, Exit.void)
  })
  return { acquire, release }
}

const messageOf = (e: unknown): string =>
  e !== null && typeof e === "object" && "message" in e ? `${"_tag" in e ? `${String(e._tag)}: ` : ""}${String(e.message)}` : String(e)

/** Raw scores of `ids` (token sequences), batched longest first; the regression head's output per sequence. */
export const scoreSequences = (bert: BertGpu, ids: ReadonlyArray<Uint32Array>) =>
  Effect.gen(function*() {
    const scores = new Float32Array(ids.length)
    const order = Array.from({ length: ids.length }, (_, i) => i).sort((a, b) => ids[b]!.length - ids[a]!.length || a - b)
    for (let b = 0; b < order.length; b += bert.maxBatch) {
      const rows = order.slice(b, b + bert.maxBatch)
      const out = yield* bert.forward(rows.map((r) => ids[r]!))
      rows.forEach((r, j) => (scores[r] = out.logits![j]!))
    }
    return scores
  })

export const makeEncoderClassifier = (
  model: EncoderClassifierModel,
  options: EncoderRunOptions = {}
): Effect.Effect<EncoderClassifier, TokenizerError> =>
  Effect.gen(function*() {
    // One thread: the encoder, not the tokenizer, is what a batch waits on; so the tokenizer holds no workers.
    const tokenizer = yield* Effect.scoped(makeTokenizer(model.tokenizerFiles.get("tokenizer.json") ?? "", { name: "tokenizer.json", threads: 1 }))
    const bert = lazyBertGpu(model, options)
    const failed = (e: { readonly _tag: string; readonly message: string }) => new ClassifierPredictError({ message: `encoder classifier: ${e._tag}: ${e.message}` })
    return {
      kind: "encoder",
      model,
      tokenizer,
      predict: (texts) =>
        texts.length === 0 ? Effect.succeed(new Float32Array(0)) : Effect.gen(function*() {
          const ids = yield* tokenizer.encodeBatch(texts, { maxLength: model.maxLength })
          return yield* scoreSequences(yield* bert.acquire, ids)
        }).pipe(Effect.mapError(failed)),
      save: (dir, extra) => saveEncoderClassifierModel(dir, model, extra),
      close: bert.release
    } satisfies EncoderClassifier
  })

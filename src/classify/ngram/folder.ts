import { Effect, FileSystem, Path, Schema } from "effect"
import type { WriteError } from "../../data/errors.ts"
import { writeFolderAtomic } from "../../data/io/atomic.ts"
import { encodeSafetensors, parseSafetensors } from "../../model/safetensors.ts"
import { type NgramConfig, NgramClassifier, outputsOf } from "./NgramClassifier.ts"

/**
 * An n-gram classifier on disk, a folder shaped like a Hugging Face model folder so that it sits beside the
 * encoder classifiers and a person can read its settings:
 * - `config.json`: `model_type: "ngram-classifier"`, the mode, sizes and the normalization and hash it was trained
 *   with (written for a reader; `buckets`, `dim`, `word_ngrams` and `mode` are what loading uses);
 * - `model.safetensors`: F32 tensors `embedding` [buckets, dim], `output.weight` [outputs, dim], `output.bias`
 *   [outputs] (outputs = 1 in regression mode, 6 in softmax mode).
 */
export class NgramModelError extends Schema.TaggedError<NgramModelError>()("NgramModelError", {
  path: Schema.String,
  message: Schema.String
}) {}

export const NGRAM_MODEL_TYPE = "ngram-classifier"
const FORMAT_VERSION = 1

const ConfigFile = Schema.Struct({
  model_type: Schema.Literal(NGRAM_MODEL_TYPE),
  format_version: Schema.Literal(FORMAT_VERSION),
  mode: Schema.Literals(["regression", "softmax"]),
  buckets: Schema.Number,
  dim: Schema.Number,
  word_ngrams: Schema.Literals([1, 2])
})

/** Writes the model folder atomically (the old folder, if any, is replaced only once the new one is whole). */
export const saveNgramClassifier = (
  dir: string,
  model: NgramClassifier,
  extra: Record<string, unknown> = {}
): Effect.Effect<void, WriteError, FileSystem.FileSystem | Path.Path> => {
  const { mode, buckets, dim, wordNgrams } = model.config
  const outs = outputsOf(mode)
  const config = {
    model_type: NGRAM_MODEL_TYPE,
    format_version: FORMAT_VERSION,
    mode,
    buckets,
    dim,
    word_ngrams: wordNgrams,
    num_labels: outs,
    normalization: "lowercase; words are maximal runs of Unicode letters, digits and marks (L, N, M)",
    hash: "fnv1a32 over UTF-16 code units; bigram imul(h1, 116049371) + h2; murmur3 fmix32; mod buckets",
    score: mode === "regression" ? "raw output" : "sum_k p_k * k over classes 0..5",
    ...extra
  }
  const weights = encodeSafetensors(
    [
      { name: "embedding", shape: [buckets, dim], data: model.weights.embedding },
      { name: "output.weight", shape: [outs, dim], data: model.weights.outputWeight },
      { name: "output.bias", shape: [outs], data: model.weights.outputBias }
    ],
    "F32",
    { format: NGRAM_MODEL_TYPE }
  )
  return writeFolderAtomic(dir, [["config.json", JSON.stringify(config, null, 2) + "\n"], ["model.safetensors", weights]])
}

export const loadNgramClassifier = (dir: string): Effect.Effect<NgramClassifier, NgramModelError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const configPath = path.join(dir, "config.json")
    const weightsPath = path.join(dir, "model.safetensors")
    const fail = (file: string) => (e: unknown) =>
      new NgramModelError({ path: file, message: e instanceof Error ? e.message : String(e) })
    const text = yield* fs.readFileString(configPath).pipe(Effect.mapError(fail(configPath)))
    const json = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: fail(configPath) })
    const file = yield* Schema.decodeUnknownEffect(ConfigFile)(json).pipe(
      Effect.mapError((e) => new NgramModelError({ path: configPath, message: `not an n-gram classifier config: ${e.message}` }))
    )
    const config: NgramConfig = { mode: file.mode, buckets: file.buckets, dim: file.dim, wordNgrams: file.word_ngrams }
    const bytes = yield* fs.readFile(weightsPath).pipe(Effect.mapError(fail(weightsPath)))
    const { tensors } = yield* Effect.try({ try: () => parseSafetensors(bytes, weightsPath), catch: fail(weightsPath) })
    const outs = outputsOf(config.mode)
    const tensor = (name: string, shape: ReadonlyArray<number>) => {
      const t = tensors.get(name)
      if (t === undefined) return Effect.fail(new NgramModelError({ path: weightsPath, message: `missing tensor "${name}"` }))
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        return Effect.fail(new NgramModelError({ path: weightsPath, message: `tensor "${name}" has shape [${t.shape}], config.json implies [${shape}]` }))
      }
      return Effect.succeed(t.data)
    }
    const embedding = yield* tensor("embedding", [config.buckets, config.dim])
    const outputWeight = yield* tensor("output.weight", [outs, config.dim])
    const outputBias = yield* tensor("output.bias", [outs])
    return new NgramClassifier(config, { embedding, outputWeight, outputBias })
  })

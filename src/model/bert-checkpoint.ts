import { Effect, FileSystem, Path, type PlatformError, Schema } from "effect"
import type { WriteError } from "../data/errors.ts"
import { writeFolderAtomic } from "../data/io/atomic.ts"
import { type BertConfig, BertConfigError, bertConfigFromHf, bertConfigToHf } from "./bert-config.ts"
import { bertParameterSpecs, type BertParts, classifierWeight, poolerWeight } from "./bert-parameters.ts"
import type { Weights } from "./parameters.ts"
import { readConfigJson, readSafetensorsFolder } from "./checkpoint.ts"
import { encodeSafetensors, SafetensorsError, type StTensor } from "./safetensors.ts"

/**
 * A BERT Hugging Face folder: `config.json` plus `model.safetensors` (or shards listed in
 * `model.safetensors.index.json`). Reads `BertModel` folders (arctic-embed-m: names without a prefix) and
 * `BertForSequenceClassification` / `BertForMaskedLM` ones (`bert.` in front, the MLM head ignored); writes the
 * recipe's classifier as a `BertForSequenceClassification` folder that transformers'
 * `AutoModelForSequenceClassification` loads. Weights are kept under `BertModel`'s names (see bert-parameters.ts).
 */
export interface BertModelFiles {
  readonly config: BertConfig
  readonly weights: Weights
  /** Whether the folder had the pooler and a classifier head (the encoder is always there). */
  readonly parts: BertParts
}

/** A tensor the config needs is missing or has another shape, or one the encoder does not know is present. */
export class BertWeightsError extends Schema.TaggedError<BertWeightsError>()("BertWeightsError", {
  dir: Schema.String,
  tensor: Schema.String,
  message: Schema.String
}) {}

export type BertCheckpointError = BertConfigError | BertWeightsError | SafetensorsError | PlatformError.PlatformError | WriteError


/** The `BertModel` name of a stored tensor: without `bert.`, and old TF-converted LayerNorm `gamma`/`beta` renamed. */
const canonicalName = (stored: string): string =>
  stored.replace(/^bert\./, "").replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias")

/** Stored tensors that are not part of the encoder or the sequence-classification head, and are skipped. */
const ignored = (name: string): boolean =>
  name.startsWith("cls.") || // BertForPreTraining / BertForMaskedLM heads
  // Buffers older transformers saved (int64; safetensors.ts reads float tensors only, so such a file still fails there).
  name.endsWith("embeddings.position_ids") || name.endsWith("embeddings.token_type_ids")

const readTensors = (dir: string) =>
  Effect.map(readSafetensorsFolder(dir), (tensors) => {
    const found = new Map<string, { readonly stored: string; readonly tensor: StTensor }>()
    for (const [stored, tensor] of tensors) if (!ignored(stored)) found.set(canonicalName(stored), { stored, tensor })
    return found
  })

export const loadBertModel = (dir: string): Effect.Effect<BertModelFiles, BertCheckpointError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const { json } = yield* readConfigJson(dir, (message) => new BertConfigError({ message }))
    const config = yield* bertConfigFromHf(json)
    const found = yield* readTensors(dir)
    const parts: BertParts = { pooler: found.has(poolerWeight), classifier: found.has(classifierWeight) }
    const fail = (tensor: string, message: string) => Effect.fail(new BertWeightsError({ dir, tensor, message: `${dir}: ${message}` }))
    if (parts.classifier && !parts.pooler) {
      return yield* fail(poolerWeight, `a classifier head without "bert.${poolerWeight}" under it; the recipe's head reads the pooled [CLS]`)
    }
    const weights = new Map<string, Float32Array>()
    for (const spec of bertParameterSpecs(config, parts)) {
      const t = found.get(spec.name)
      if (t === undefined) return yield* fail(spec.name, `tensor "${spec.name}" is missing`)
      if (t.tensor.shape.length !== spec.shape.length || t.tensor.shape.some((d, i) => d !== spec.shape[i])) {
        return yield* fail(spec.name, `tensor "${t.stored}" has shape [${t.tensor.shape}], expected [${spec.shape}] from config.json`)
      }
      weights.set(spec.name, t.tensor.data)
      found.delete(spec.name)
    }
    const [unknown] = found.values()
    if (unknown !== undefined) {
      return yield* fail(unknown.stored, `unexpected tensor "${unknown.stored}": not part of a BERT encoder with absolute positions`)
    }
    return { config, weights, parts }
  })

export interface SaveBertOptions {
  /** Extra files placed in the folder in the same atomic step (tokenizer files, a training report). */
  readonly extraFiles?: ReadonlyMap<string, Uint8Array | string>
}

/** The files of a `BertForSequenceClassification` folder: `config.json` and an F32 `model.safetensors`. */
export const bertClassifierFiles = (config: BertConfig, weights: Weights, options: SaveBertOptions = {}): Map<string, Uint8Array | string> => {
  const tensors = bertParameterSpecs(config, { pooler: true, classifier: true }).map((s) => {
    const data = weights.get(s.name)
    if (data === undefined) throw new RangeError(`cannot save a classifier without "${s.name}"`)
    return { name: s.name.startsWith("classifier.") ? s.name : `bert.${s.name}`, shape: s.shape, data }
  })
  const files = new Map<string, Uint8Array | string>([
    ["config.json", JSON.stringify(bertConfigToHf(config), null, 2) + "\n"],
    ["model.safetensors", encodeSafetensors(tensors, "F32")]
  ])
  for (const [name, content] of options.extraFiles ?? []) files.set(name, content)
  return files
}

/** Written beside its destination and renamed into place: a reader sees the old folder or the whole new one. */
export const saveBertClassifier = (dir: string, config: BertConfig, weights: Weights, options: SaveBertOptions = {}) =>
  Effect.suspend(() => writeFolderAtomic(dir, bertClassifierFiles(config, weights, options)))

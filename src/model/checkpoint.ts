import { Effect, FileSystem, Path, type PlatformError, Schema } from "effect"
import type { WriteError } from "../data/errors.ts"
import { writeFolderAtomic } from "../data/io/atomic.ts"
import { configFromHf, configToHf, type LlamaConfig, ModelConfigError } from "./config.ts"
import { elementCount, parameterSpecs, type Weights } from "./parameters.ts"
import { encodeSafetensors, parseSafetensors, SafetensorsError, type StTensor } from "./safetensors.ts"
import { generationConfigJson } from "./tokenizer-files.ts"

/**
 * A Hugging Face model folder: `config.json` plus `model.safetensors`, or shards listed in
 * `model.safetensors.index.json`. Loads released SmolLM2 checkpoints; writes folders `transformers` loads, with a
 * `generation_config.json` (tokenizer files, when wanted, come in through `extraFiles`: see `tokenizer-files.ts`).
 */
export interface HfModel {
  readonly config: LlamaConfig
  readonly weights: Weights
}

export type CheckpointError = ModelConfigError | SafetensorsError | PlatformError.PlatformError | WriteError

const IndexJson = Schema.Struct({ weight_map: Schema.Record(Schema.String, Schema.String) })

const safe = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => e instanceof SafetensorsError ? e : new SafetensorsError({ message: String(e) }) })

/**
 * Every tensor of a Hugging Face folder's `model.safetensors`, or of the shards its `model.safetensors.index.json`
 * lists, by stored name (what both the Llama and the BERT loaders read).
 */
export const readSafetensorsFolder = (
  dir: string
): Effect.Effect<Map<string, StTensor>, SafetensorsError | PlatformError.PlatformError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const single = path.join(dir, "model.safetensors")
    const indexPath = path.join(dir, "model.safetensors.index.json")
    let files: Array<string>
    if (yield* fs.exists(single)) files = [single]
    else if (yield* fs.exists(indexPath)) {
      const index = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(IndexJson))(yield* fs.readFileString(indexPath)).pipe(
        Effect.mapError((e) => new SafetensorsError({ message: `${indexPath}: ${e.message}` }))
      )
      files = [...new Set(Object.values(index.weight_map))].map((f) => path.join(dir, f))
    } else {
      const pickle = (yield* fs.exists(path.join(dir, "pytorch_model.bin"))) ? " (pytorch_model.bin is a pickle, which is not read: convert it)" : ""
      return yield* new SafetensorsError({ message: `${dir} has neither model.safetensors nor model.safetensors.index.json${pickle}` })
    }
    const found = new Map<string, StTensor>()
    for (const file of files) {
      const bytes = yield* fs.readFile(file)
      const { tensors } = yield* safe(() => parseSafetensors(bytes, file))
      for (const [name, t] of tensors) found.set(name, t)
    }
    return found
  })

/**
 * `DIR/config.json`, parsed (the Llama and BERT loaders); a file that cannot be read or is not JSON fails with
 * `bad(message)`, the message naming the file.
 */
export const readConfigJson = <E>(dir: string, bad: (message: string) => E) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const configPath = path.join(dir, "config.json")
    const text = yield* fs.readFileString(configPath).pipe(
      Effect.mapError((e) => bad(`${configPath}: cannot read it (is ${dir} a Hugging Face model folder?): ${e.message}`))
    )
    const json = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => bad(`${configPath} is not JSON: ${String(e)}`) })
    return { configPath, json }
  })

/** The model config of a Hugging Face folder, without reading its weights. */
export const loadHfConfig = (dir: string) =>
  Effect.gen(function*() {
    const { configPath, json } = yield* readConfigJson(dir, (message) => new ModelConfigError({ message }))
    return yield* configFromHf(json).pipe(
      Effect.mapError((e) => new ModelConfigError({ message: e.message.startsWith("config.json") ? `${configPath}${e.message.slice("config.json".length)}` : `${configPath}: ${e.message}` }))
    )
  })

export const loadHfModel = (dir: string): Effect.Effect<HfModel, CheckpointError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const config = yield* loadHfConfig(dir)

    const found = new Map<string, Float32Array>()
    for (const [name, t] of yield* readSafetensorsFolder(dir)) found.set(name, t.data)

    const weights = new Map<string, Float32Array>()
    for (const spec of parameterSpecs(config)) {
      const data = found.get(spec.name)
      if (data === undefined) return yield* new SafetensorsError({ message: `${dir}: tensor "${spec.name}" is missing` })
      if (data.length !== elementCount(spec.shape)) {
        return yield* new SafetensorsError({
          message: `${dir}: tensor "${spec.name}" has ${data.length} values, expected shape [${spec.shape}] from config.json`
        })
      }
      weights.set(spec.name, data)
      found.delete(spec.name)
    }
    // Buffers transformers may store that are not parameters; a tied head saved anyway must equal the embedding.
    for (const name of found.keys()) {
      if (name.endsWith("rotary_emb.inv_freq")) continue
      if (name === "lm_head.weight" && config.tieWordEmbeddings) continue
      return yield* new SafetensorsError({ message: `${dir}: unexpected tensor "${name}" for this config` })
    }
    return { config, weights }
  })

export interface SaveOptions {
  readonly dtype?: "float32" | "bfloat16"
  /** Split into shards of at most this many bytes (transformers' default is 5 GB). */
  readonly maxShardBytes?: number
  /** Extra files to place in the folder (e.g. trainer_state.json, tokenizer files), written in the same atomic step. */
  readonly extraFiles?: ReadonlyMap<string, Uint8Array | string>
}

export const hfModelFiles = (model: HfModel, options: SaveOptions = {}): Map<string, Uint8Array | string> => {
  const dtype = options.dtype ?? "float32"
  const st = dtype === "float32" ? "F32" : "BF16"
  const bytesPer = st === "F32" ? 4 : 2
  const maxShard = options.maxShardBytes ?? 5_000_000_000
  const tensors = parameterSpecs(model.config).map((s) => ({ name: s.name, shape: s.shape, data: model.weights.get(s.name)! }))
  const shards: Array<typeof tensors> = [[]]
  let size = 0
  for (const t of tensors) {
    const bytes = t.data.length * bytesPer
    if (size > 0 && size + bytes > maxShard) {
      shards.push([])
      size = 0
    }
    shards[shards.length - 1]!.push(t)
    size += bytes
  }
  const files = new Map<string, Uint8Array | string>()
  files.set("config.json", JSON.stringify(configToHf(model.config, dtype), null, 2) + "\n")
  files.set("generation_config.json", generationConfigJson(model.config))
  if (shards.length === 1) files.set("model.safetensors", encodeSafetensors(shards[0]!, st))
  else {
    const weightMap: Record<string, string> = {}
    let total = 0
    shards.forEach((shard, i) => {
      const name = `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`
      files.set(name, encodeSafetensors(shard, st))
      for (const t of shard) {
        weightMap[t.name] = name
        total += t.data.length * bytesPer
      }
    })
    files.set("model.safetensors.index.json", JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + "\n")
  }
  for (const [name, content] of options.extraFiles ?? []) files.set(name, content)
  return files
}

/** The folder is written beside its destination and renamed into place: a reader sees the old one or the whole new one. */
export const saveHfModel = (dir: string, model: HfModel, options: SaveOptions = {}) =>
  writeFolderAtomic(dir, hfModelFiles(model, options))

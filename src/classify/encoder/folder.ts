/**
 * The encoder classifier's folder: a Hugging Face `BertForSequenceClassification` folder (config.json with a
 * one-label regression head, model.safetensors) plus its tokenizer files, so that transformers'
 * `AutoModelForSequenceClassification` and `AutoTokenizer` load it as they load HuggingFaceFW/fineweb-edu-classifier.
 *
 * The truncation length travels in `tokenizer_config.json`'s `model_max_length`, where transformers reads it when a
 * pipeline truncates (the FineWeb-Edu inference script truncates at the tokenizer's 512); we read it back from there.
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import type { WriteError } from "../../data/errors.ts"
import { writeFolderAtomic } from "../../data/io/atomic.ts"
import { bertClassifierFiles, loadBertModel } from "../../model/bert-checkpoint.ts"
import type { BertConfig } from "../../model/bert-config.ts"
import type { Weights } from "../../model/parameters.ts"

/** What a trained encoder classifier is: its encoder + pooler + head, the tokenizer files, and the truncation. */
export interface EncoderClassifierModel {
  /** A one-label regression head (`numLabels` 1). */
  readonly config: BertConfig
  /** Encoder, pooler and classifier head, under BertModel's names (see model/bert-parameters.ts). */
  readonly weights: Weights
  /** tokenizer.json and its companions (tokenizer_config.json, special_tokens_map.json, vocab.txt), saved as they are. */
  readonly tokenizerFiles: ReadonlyMap<string, string>
  /** Tokens per document, specials included. */
  readonly maxLength: number
}

/** An encoder folder cannot be used: `unsupported` when it is an encoder we do not run, `invalid` when it is damaged. */
export class EncoderFolderError extends Schema.TaggedError<EncoderFolderError>()("EncoderFolderError", {
  path: Schema.String,
  reason: Schema.Literals(["unsupported", "invalid"]),
  message: Schema.String
}) {}

/** The files beside tokenizer.json that transformers' AutoTokenizer reads when present. */
const TOKENIZER_COMPANIONS = ["tokenizer_config.json", "special_tokens_map.json", "vocab.txt"] as const

/** The default truncation of the recipe: min(max_position_embeddings, 512) tokens including specials. */
export const defaultMaxLength = (config: BertConfig): number => Math.min(config.maxPositionEmbeddings, 512)

const asObject = (u: unknown): Record<string, unknown> | undefined =>
  u !== null && typeof u === "object" && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined

/**
 * The tokenizer files of `dir` (tokenizer.json required), with `model_max_length` in tokenizer_config.json set to
 * `maxLength(the value stated there, if any)` — the file written fresh (BertTokenizer, the normalizer's
 * lowercasing) when the folder has none, since without it transformers would not truncate at all.
 */
export const readTokenizerFiles = (dir: string, maxLength: (stated: unknown) => number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const tokenizerPath = path.join(dir, "tokenizer.json")
    const invalid = (file: string, message: string) => new EncoderFolderError({ path: file, reason: "invalid", message: `${file}: ${message}` })
    const tokenizerJson = yield* fs.readFileString(tokenizerPath).pipe(
      Effect.mapError(() => invalid(tokenizerPath, "cannot read it; an encoder folder needs its tokenizer.json (WordPiece or byte-level BPE)"))
    )
    const files = new Map<string, string>([["tokenizer.json", tokenizerJson]])
    for (const name of TOKENIZER_COMPANIONS) {
      const file = path.join(dir, name)
      if (yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))) {
        files.set(name, yield* fs.readFileString(file).pipe(Effect.mapError((e) => invalid(file, e.message))))
      }
    }
    const parse = (file: string, text: string) =>
      Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => invalid(file, `not JSON: ${(e as Error).message}`) })
    const existing = files.get("tokenizer_config.json")
    let tokenizerConfig: Record<string, unknown>
    if (existing === undefined) {
      const normalizer = asObject(asObject(yield* parse(tokenizerPath, tokenizerJson))?.["normalizer"])
      tokenizerConfig = {
        tokenizer_class: "BertTokenizer",
        ...(normalizer?.["type"] === "BertNormalizer" ? { do_lower_case: normalizer["lowercase"] !== false } : {})
      }
    } else {
      const parsed = asObject(yield* parse(path.join(dir, "tokenizer_config.json"), existing))
      if (parsed === undefined) return yield* invalid(path.join(dir, "tokenizer_config.json"), "not a JSON object")
      tokenizerConfig = parsed
    }
    const length = maxLength(tokenizerConfig["model_max_length"])
    files.set("tokenizer_config.json", JSON.stringify({ ...tokenizerConfig, model_max_length: length }, null, 2) + "\n")
    return { tokenizerJson, files, maxLength: length }
  })

/** Reads a classifier folder that `saveEncoderClassifier` (or transformers) wrote. */
export const loadEncoderClassifierModel = (
  dir: string
): Effect.Effect<EncoderClassifierModel, EncoderFolderError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const configPath = path.join(dir, "config.json")
    const files = yield* loadBertModel(dir).pipe(Effect.mapError((e) =>
      new EncoderFolderError({
        path: "dir" in e ? e.dir : configPath,
        // A config we do not compute (another architecture, activation or position scheme) is a kind this build
        // cannot run; missing or misshapen tensors are a damaged folder.
        reason: e._tag === "BertConfigError" ? "unsupported" : "invalid",
        message: e._tag === "BertConfigError" ? `${configPath}: ${e.message}` : e.message
      })
    ))
    if (!files.parts.classifier) {
      return yield* new EncoderFolderError({
        path: configPath,
        reason: "invalid",
        message: `${dir} is an encoder without a classifier head (a base model?); train one with ` +
          "programs/classifier.ts train --kind encoder --base DIR"
      })
    }
    if (files.config.numLabels !== 1) {
      return yield* new EncoderFolderError({
        path: configPath,
        reason: "unsupported",
        message: `${configPath}: a head of ${files.config.numLabels} labels; only one-label regression heads (the recipe's educational score) are run`
      })
    }
    // transformers writes a huge model_max_length when a tokenizer has none; that one means the recipe's default.
    const tokenizer = yield* readTokenizerFiles(dir, (stated) =>
      typeof stated === "number" && Number.isInteger(stated) && stated >= 2 && stated <= files.config.maxPositionEmbeddings
        ? stated
        : defaultMaxLength(files.config))
    return { config: files.config, weights: files.weights, tokenizerFiles: tokenizer.files, maxLength: tokenizer.maxLength }
  })

/** Writes the folder atomically; `extra` goes into config.json beside transformers' keys, for a person to read. */
export const saveEncoderClassifierModel = (
  dir: string,
  model: EncoderClassifierModel,
  extra: Record<string, unknown> = {}
): Effect.Effect<void, WriteError, FileSystem.FileSystem | Path.Path> =>
  Effect.suspend(() => {
    const files = bertClassifierFiles(model.config, model.weights, { extraFiles: model.tokenizerFiles })
    const config = JSON.parse(files.get("config.json") as string) as Record<string, unknown>
    files.set("config.json", JSON.stringify({ ...config, classifier_kind: "encoder", ...extra }, null, 2) + "\n")
    return writeFolderAtomic(dir, files)
  })

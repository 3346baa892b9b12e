/**
 * Loading a classifier folder of either kind. The folder's `config.json` says what it holds: `model_type:
 * "ngram-classifier"` is the n-gram classifier (ngram/folder.ts); a Hugging Face sequence-classification folder
 * (`model_type` of the BERT family, or an `architectures` entry ending in `ForSequenceClassification`) is an
 * encoder classifier (encoder/folder.ts), run on the Gpu; one this build cannot compute (RoBERTa, ModernBERT, a
 * multi-label head, a config that is not a BERT one) is refused with `ClassifierUnavailableError`.
 *
 * A new kind plugs in by giving `loaders` its entry; nothing else in the stages or programs changes.
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import { makeEncoderClassifier } from "./encoder/EncoderClassifier.ts"
import { loadEncoderClassifierModel } from "./encoder/folder.ts"
import { loadNgramClassifier, NGRAM_MODEL_TYPE } from "./ngram/folder.ts"
import { type ClassifierKind, ngramQualityClassifier, type QualityClassifier } from "./QualityClassifier.ts"

/** The folder is missing, unreadable, or not a classifier this toolkit knows; `path` is the file at fault. */
export class ClassifierLoadError extends Schema.TaggedError<ClassifierLoadError>()("ClassifierLoadError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The folder is a classifier of a kind this build cannot run yet (the BERT-family encoder). */
export class ClassifierUnavailableError extends Schema.TaggedError<ClassifierUnavailableError>()("ClassifierUnavailableError", {
  kind: Schema.String,
  path: Schema.String,
  message: Schema.String
}) {}

/** `model_type`s of the encoders the recipe uses (arctic-embed-m, StarEncoder and multilingual-e5-small are "bert"). */
const ENCODER_MODEL_TYPES: ReadonlyArray<string> = ["bert", "roberta", "xlm-roberta", "distilbert", "modernbert"]

/** The kind a config.json describes, or why it describes none. */
export const classifierKindOf = (config: unknown): ClassifierKind | { readonly problem: string } => {
  if (config === null || typeof config !== "object" || Array.isArray(config)) return { problem: "config.json is not a JSON object" }
  const c = config as Record<string, unknown>
  if (c["model_type"] === NGRAM_MODEL_TYPE) return "ngram"
  const architectures = Array.isArray(c["architectures"]) ? c["architectures"].map(String) : []
  if ((typeof c["model_type"] === "string" && ENCODER_MODEL_TYPES.includes(c["model_type"])) ||
    architectures.some((a) => a.endsWith("ForSequenceClassification"))) return "encoder"
  return {
    problem: `model_type ${JSON.stringify(c["model_type"])} is not a classifier this toolkit knows ` +
      `("${NGRAM_MODEL_TYPE}", or a BERT-family *ForSequenceClassification folder)`
  }
}

/** The refusal of an encoder folder this build cannot run, with the reason. */
export const encoderUnavailable = (where: string, why: string): ClassifierUnavailableError =>
  new ClassifierUnavailableError({
    kind: "encoder",
    path: where,
    message: `${why} — this build runs BERT encoders (model_type "bert", absolute positions, GELU) with a one-label ` +
      "regression head; or use an n-gram classifier (programs/classifier.ts train --kind ngram)"
  })

type Loader = (dir: string, configPath: string) => Effect.Effect<QualityClassifier, ClassifierLoadError | ClassifierUnavailableError, FileSystem.FileSystem | Path.Path>

const loaders: Record<ClassifierKind, Loader> = {
  ngram: (dir) =>
    loadNgramClassifier(dir).pipe(
      Effect.map(ngramQualityClassifier),
      Effect.mapError((e) => new ClassifierLoadError({ path: e.path, message: `${e.path}: ${e.message}` }))
    ),
  encoder: (dir) =>
    loadEncoderClassifierModel(dir).pipe(
      Effect.mapError((e) =>
        e.reason === "unsupported" ? encoderUnavailable(e.path, e.message) : new ClassifierLoadError({ path: e.path, message: e.message })
      ),
      Effect.flatMap((model) =>
        makeEncoderClassifier(model).pipe(
          Effect.mapError((e) => new ClassifierLoadError({ path: dir, message: `${dir}/tokenizer.json: ${e.message}` }))
        )
      )
    )
}

/** The classifier saved in `dir`, of whichever kind its config.json names. */
export const loadQualityClassifier = (
  dir: string
): Effect.Effect<QualityClassifier, ClassifierLoadError | ClassifierUnavailableError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const configPath = path.join(dir, "config.json")
    const text = yield* fs.readFileString(configPath).pipe(
      Effect.mapError(() => new ClassifierLoadError({ path: configPath, message: `${configPath}: cannot read it (is ${dir} a classifier folder?)` }))
    )
    const config = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new ClassifierLoadError({ path: configPath, message: `${configPath}: not JSON: ${(e as Error).message}` })
    })
    const kind = classifierKindOf(config)
    if (typeof kind !== "string") return yield* new ClassifierLoadError({ path: configPath, message: `${configPath}: ${kind.problem}` })
    return yield* loaders[kind](dir, configPath)
  })

/**
 * Training the paper's classifier (FineWeb-Edu's `train_edu_bert.py`, recipe notes §4 and §11) from a base encoder
 * folder (Snowflake arctic-embed-m for FineWeb-Edu): the embeddings and encoder stay frozen, so their `[CLS]`
 * states are computed once on the Gpu and cached on disk (cls-cache.ts); the pooler (from the checkpoint when it
 * has one) and a new one-label regression head then train on the CPU (train-head.ts), and the best epoch by
 * validation macro F1 is kept. The result is a `BertForSequenceClassification` folder with the base's encoder
 * weights unchanged and its tokenizer files.
 */
import { createHash } from "node:crypto"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Effect, FileSystem, Option, Path, Schema } from "effect"
import { makeTokenizer } from "../../data/tokenizer/Tokenizer.ts"
import { loadBertModel } from "../../model/bert-checkpoint.ts"
import type { BertConfig } from "../../model/bert-config.ts"
import { classifierBias, classifierWeight } from "../../model/bert-parameters.ts"
import { cachedClsStates } from "./cls-cache.ts"
import { type EncoderClassifier, makeEncoderClassifier, type EncoderRunOptions, lazyBertGpu } from "./EncoderClassifier.ts"
import { defaultMaxLength, type EncoderClassifierModel, readTokenizerFiles } from "./folder.ts"
import { headTensors, initHead } from "./head.ts"
import { ENCODER_HEAD_DEFAULTS, type EpochRecord, type HeadTrainingResult, trainHead } from "./train-head.ts"

/** The base folder, the data or the settings cannot produce a classifier; the message says which and where. */
export class EncoderTrainError extends Schema.TaggedError<EncoderTrainError>()("EncoderTrainError", {
  message: Schema.String
}) {}

export interface LabelledText {
  readonly text: string
  /** The annotated score, 0–5. */
  readonly label: number
}

export interface EncoderTrainOptions extends EncoderRunOptions {
  /** The base encoder: a BERT Hugging Face folder with tokenizer.json (e.g. Snowflake/snowflake-arctic-embed-m). */
  readonly base: string
  /** Tokens per document including specials (default min(max_position_embeddings, 512), as the script truncates). */
  readonly maxLength?: number
  /** Where the [CLS] states are cached (default `defaultEncoderCacheDir()`). */
  readonly cacheDir?: string
  /** Documents per cache file (default 4096). */
  readonly chunkDocuments?: number
  readonly epochs?: number
  readonly batchSize?: number
  readonly learningRate?: number
  /** Seeds the head's initialisation and the shuffle. */
  readonly seed: number
  /** A progress line while the encoder runs (default false). */
  readonly progress?: boolean
  readonly onEpoch?: (p: EpochRecord) => void
}

export interface EncoderTrainResult {
  readonly classifier: EncoderClassifier
  readonly training: HeadTrainingResult
  /** The best epoch's scores of the validation texts, in their order. */
  readonly validationScores: Float32Array
  /** Documents the encoder ran on in this call (0 when every state was cached). */
  readonly encoded: number
  /** The cache folder of these states. */
  readonly cache: string
  /** The settings used, for config.json and the report. */
  readonly settings: Record<string, unknown>
}

/** `$XDG_CACHE_HOME/smol-pipeline/encoder-states`, or `~/.cache/…` (beside Hugging Face's own cache). */
export const defaultEncoderCacheDir = (): string =>
  nodePath.join(process.env["XDG_CACHE_HOME"] ?? nodePath.join(os.homedir(), ".cache"), "smol-pipeline", "encoder-states")

/** What the cached states depend on: the folder, its config and weight files (by size and time), the tokenizer. */
const modelKeyOf = (dir: string, tokenizerJson: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = yield* fs.realPath(dir)
    const names = (yield* fs.readDirectory(root)).filter((n) => n.endsWith(".safetensors") || n === "config.json").sort()
    const files: Array<readonly [string, string, number | undefined]> = []
    for (const name of names) {
      const info = yield* fs.stat(path.join(root, name))
      files.push([name, String(info.size), Option.getOrUndefined(info.mtime)?.getTime()])
    }
    return JSON.stringify({ folder: root, files, tokenizer: createHash("sha256").update(tokenizerJson).digest("hex") })
  })

const describe = (e: unknown): string =>
  e !== null && typeof e === "object" && "message" in e ? `${"_tag" in e ? `${String(e._tag)}: ` : ""}${String(e.message)}` : String(e)

export const trainEncoderClassifier = (
  train: ReadonlyArray<LabelledText>,
  validation: ReadonlyArray<LabelledText>,
  options: EncoderTrainOptions
): Effect.Effect<EncoderTrainResult, EncoderTrainError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(new EncoderTrainError({ message }))
    if (train.length === 0) return yield* fail("no training documents")
    const base = yield* loadBertModel(options.base).pipe(Effect.mapError((e) => new EncoderTrainError({ message: `--base ${options.base}: ${describe(e)}` })))
    const maxLength = options.maxLength ?? defaultMaxLength(base.config)
    if (!(Number.isInteger(maxLength) && maxLength >= 3 && maxLength <= base.config.maxPositionEmbeddings)) {
      return yield* fail(`max length ${maxLength}: the base encoder takes 3..${base.config.maxPositionEmbeddings} tokens (specials included)`)
    }
    const tokenizerFiles = yield* readTokenizerFiles(options.base, () => maxLength).pipe(Effect.mapError((e) => new EncoderTrainError({ message: e.message })))
    const tokenizer = yield* Effect.scoped(makeTokenizer(tokenizerFiles.tokenizerJson, { name: nodePath.join(options.base, "tokenizer.json"), threads: 1 })).pipe(
      Effect.mapError((e) => new EncoderTrainError({ message: e.message }))
    )
    if (tokenizer.vocabSize > base.config.vocabSize) {
      return yield* fail(`${options.base}: the tokenizer has ids up to ${tokenizer.vocabSize - 1}, past the encoder's vocabulary of ${base.config.vocabSize}`)
    }
    // A base that is itself a classifier brings a head of its own; the recipe puts a new one-label head on top.
    const encoderWeights = new Map([...base.weights].filter(([name]) => name !== classifierWeight && name !== classifierBias))
    const H = base.config.hiddenSize
    const cacheDir = options.cacheDir ?? defaultEncoderCacheDir()
    const modelKey = yield* modelKeyOf(options.base, tokenizerFiles.tokenizerJson).pipe(
      Effect.mapError((e) => new EncoderTrainError({ message: `--base ${options.base}: ${describe(e)}` }))
    )
    const encoder = lazyBertGpu({ config: { ...base.config, numLabels: 1 }, weights: encoderWeights, maxLength }, options)
    const texts = [...train, ...validation].map((d) => d.text)
    const cached = yield* cachedClsStates(encoder.acquire, tokenizer, texts, H, {
      cacheDir,
      modelKey,
      maxLength,
      ...(options.chunkDocuments === undefined ? {} : { chunkDocuments: options.chunkDocuments }),
      ...(options.progress === undefined ? {} : { progress: options.progress })
    }).pipe(
      Effect.ensuring(encoder.release),
      Effect.mapError((e) => new EncoderTrainError({ message: `computing the [CLS] states: ${describe(e)}` }))
    )
    const labels = (docs: ReadonlyArray<LabelledText>) => Float64Array.from(docs, (d) => d.label)
    const settings = {
      base: nodePath.resolve(options.base),
      max_length: maxLength,
      epochs: options.epochs ?? ENCODER_HEAD_DEFAULTS.epochs,
      batch_size: options.batchSize ?? ENCODER_HEAD_DEFAULTS.batchSize,
      learning_rate: options.learningRate ?? ENCODER_HEAD_DEFAULTS.learningRate,
      schedule: "linear decay to 0, no warmup",
      optimizer: `AdamW (${ENCODER_HEAD_DEFAULTS.beta1}, ${ENCODER_HEAD_DEFAULTS.beta2}), eps ${ENCODER_HEAD_DEFAULTS.eps}, weight decay ${ENCODER_HEAD_DEFAULTS.weightDecay}`,
      max_grad_norm: ENCODER_HEAD_DEFAULTS.maxGradNorm,
      trained: "pooler + regression head (embeddings and encoder frozen)",
      pooler_init: base.parts.pooler ? "from the base checkpoint" : "new (N(0, initializer_range²))",
      seed: options.seed
    }
    const training = yield* Effect.try({
      try: () =>
        trainHead(
          { states: cached.states.subarray(0, train.length * H), labels: labels(train) },
          { states: cached.states.subarray(train.length * H), labels: labels(validation) },
          H,
          initHead(H, base.config.initializerRange, options.seed, base.weights),
          {
            seed: options.seed,
            epochs: settings.epochs,
            batchSize: settings.batch_size,
            learningRate: settings.learning_rate,
            ...(options.onEpoch === undefined ? {} : { onEpoch: options.onEpoch })
          }
        ),
      catch: (e) => new EncoderTrainError({ message: `training the head: ${describe(e)}` })
    })
    const lastLoss = training.history.at(-1)!.loss
    if (!Number.isFinite(lastLoss)) return yield* fail(`training diverged (loss ${lastLoss}); lower --learning-rate`)
    const weights = new Map(encoderWeights)
    for (const [name, tensor] of headTensors(training.head)) weights.set(name, tensor)
    const config: BertConfig = { ...base.config, numLabels: 1, id2label: { "0": "LABEL_0" }, problemType: "regression" }
    const model: EncoderClassifierModel = { config, weights, tokenizerFiles: tokenizerFiles.files, maxLength }
    const classifier = yield* makeEncoderClassifier(model, options).pipe(Effect.mapError((e) => new EncoderTrainError({ message: e.message })))
    return {
      classifier,
      training,
      validationScores: Float32Array.from(training.validationScores),
      encoded: cached.encoded,
      cache: cached.dir,
      settings: { ...settings, best_epoch: training.bestEpoch }
    } satisfies EncoderTrainResult
  })

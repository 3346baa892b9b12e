/**
 * Training and judging a quality classifier the way FineWeb-Edu's script does (`train_edu_bert.py`, recipe notes
 * §4 and §11): labels clipped to 0–5, a 90/10 split stratified by label (seed 42), the model trained on the 90%,
 * and the 10% scored with the same metrics — MSE, 6-class accuracy, macro precision / recall / F1, the confusion
 * matrix, binary F1 at a threshold (3). The saved folder holds the model, `report.md` (for a person) and
 * `metrics.json` (for a program).
 */
import { Effect, type FileSystem, type Path, Schema } from "effect"
import * as nodePath from "node:path"
import type { WriteError } from "../data/errors.ts"
import { writeFileAtomic } from "../data/io/atomic.ts"
import { trainEncoderClassifier } from "./encoder/train-encoder.ts"
import type { LabelledDocument } from "./labelled-documents.ts"
import { type ClassifierMetrics, evaluateByGroup, evaluateScores, formatGroupReport, formatMetricsReport } from "./metrics.ts"
import { type NgramMode } from "./ngram/NgramClassifier.ts"
import { NGRAM_DEFAULTS, trainNgramClassifier } from "./ngram/train.ts"
import { type ClassifierKind, type ClassifierPredictError, ngramQualityClassifier, type QualityClassifier } from "./QualityClassifier.ts"
import { stratifiedSplit } from "./split.ts"

/** The data or settings cannot produce a model (no examples, a diverging run, a bad size). */
export class ClassifierTrainError extends Schema.TaggedError<ClassifierTrainError>()("ClassifierTrainError", {
  message: Schema.String
}) {}

export interface TrainClassifierOptions {
  readonly kind: ClassifierKind
  readonly mode: NgramMode
  readonly epochs?: number
  readonly learningRate?: number
  readonly buckets?: number
  readonly dim?: number
  readonly wordNgrams?: 1 | 2
  /** Seeds the split and the model's initialization (default 42, the script's split seed). */
  readonly seed?: number
  /** Held out for validation (default 0.1). */
  readonly testFraction?: number
  /** Binary threshold of the report (default 3). */
  readonly threshold?: number
  /** Per-group binary thresholds in the report (`{ java: 2 }`). */
  readonly thresholds?: Readonly<Record<string, number>>
  /** After each epoch; an encoder also reports epoch 0 (before training, loss NaN) and the validation macro F1. */
  readonly onEpoch?: (p: { readonly epoch: number; readonly loss: number; readonly validationMacroF1?: number }) => void
  /** Encoder only: the base encoder folder (BERT, with tokenizer.json), e.g. Snowflake arctic-embed-m. */
  readonly base?: string
  /** Encoder only: tokens per document, specials included (default min(max_position_embeddings, 512)). */
  readonly maxLength?: number
  /** Encoder only: documents per head-training batch (default 256). */
  readonly batchSize?: number
  /** Encoder only: where the frozen encoder's [CLS] states are cached (default ~/.cache/smol-pipeline/encoder-states). */
  readonly cacheDir?: string
  /** Encoder only: a progress line while the encoder runs. */
  readonly progress?: boolean
}

export interface Evaluation {
  readonly overall: ClassifierMetrics
  /** Per group, when the documents carry groups. */
  readonly groups: ReadonlyMap<string, ClassifierMetrics> | undefined
}

export interface TrainedClassifier {
  readonly classifier: QualityClassifier
  readonly trainCount: number
  readonly validation: Evaluation
  /** The settings actually used (defaults filled in), for config.json and the report. */
  readonly settings: Record<string, unknown>
}

/** Raw scores of many texts, a classifier call per batch (an encoder holds one batch on the device). */
export const predictAll = (classifier: QualityClassifier, texts: ReadonlyArray<string>, batchSize = 256): Effect.Effect<Float32Array, ClassifierPredictError> =>
  Effect.gen(function*() {
    const scores = new Float32Array(texts.length)
    for (let i = 0; i < texts.length; i += batchSize) scores.set(yield* classifier.predict(texts.slice(i, i + batchSize)), i)
    return scores
  })

/** Scores `docs` with `classifier` and judges them against their labels, per group when they have groups. */
export const evaluateClassifier = (
  classifier: QualityClassifier,
  docs: ReadonlyArray<LabelledDocument>,
  options: { readonly threshold?: number; readonly thresholds?: Readonly<Record<string, number>> } = {}
): Effect.Effect<Evaluation, ClassifierPredictError> =>
  Effect.map(predictAll(classifier, docs.map((d) => d.doc.text)), (scores) => evaluateGivenScores(docs, scores, options))

/** Judges `scores` (one per document, in order) against the documents' labels, per group when they have groups. */
const evaluateGivenScores = (
  docs: ReadonlyArray<LabelledDocument>,
  scores: ArrayLike<number>,
  options: { readonly threshold?: number; readonly thresholds?: Readonly<Record<string, number>> }
): Evaluation => {
  const labels = docs.map((d) => d.label)
  const threshold = options.threshold ?? 3
  if (docs.length === 0 || docs[0]!.group === undefined) return { overall: evaluateScores(labels, scores, { threshold }), groups: undefined }
  const lower: Record<string, number> = {}
  for (const [k, v] of Object.entries(options.thresholds ?? {})) lower[k.toLowerCase()] = v
  // Overrides are matched case-insensitively, as the threshold stage matches languages.
  const groups = docs.map((d) => d.group!)
  const thresholds: Record<string, number> = {}
  for (const g of new Set(groups)) if (lower[g.toLowerCase()] !== undefined) thresholds[g] = lower[g.toLowerCase()]!
  const r = evaluateByGroup(labels, scores, groups, { threshold, thresholds })
  return { overall: r.overall, groups: r.groups }
}

export const trainClassifier = (
  docs: ReadonlyArray<LabelledDocument>,
  options: TrainClassifierOptions
): Effect.Effect<TrainedClassifier, ClassifierTrainError | ClassifierPredictError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    if (docs.length < 2) return yield* new ClassifierTrainError({ message: `${docs.length} labelled documents: too few to split and train` })
    const seed = options.seed ?? 42
    const testFraction = options.testFraction ?? 0.1
    const { train, test } = stratifiedSplit(docs, (d) => d.label, { testFraction, seed })
    const judged = { ...(options.threshold === undefined ? {} : { threshold: options.threshold }), ...(options.thresholds === undefined ? {} : { thresholds: options.thresholds }) }
    if (options.kind === "encoder") {
      if (options.base === undefined) return yield* new ClassifierTrainError({ message: "--kind encoder needs --base DIR, the base encoder folder (e.g. Snowflake/snowflake-arctic-embed-m)" })
      const asText = (d: LabelledDocument) => ({ text: d.doc.text, label: d.label })
      const trained = yield* trainEncoderClassifier(train.map(asText), test.map(asText), {
        base: options.base,
        seed,
        progress: options.progress ?? false,
        ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
        ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
        ...(options.epochs === undefined ? {} : { epochs: options.epochs }),
        ...(options.learningRate === undefined ? {} : { learningRate: options.learningRate }),
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        ...(options.onEpoch === undefined ? {} : { onEpoch: options.onEpoch })
      }).pipe(Effect.mapError((e) => new ClassifierTrainError({ message: e.message })))
      // Validation from the cached states through the CPU head: the same scores the Gpu gives, without a second encoder pass.
      return {
        classifier: trained.classifier,
        trainCount: train.length,
        validation: evaluateGivenScores(test, trained.validationScores, judged),
        settings: {
          kind: options.kind,
          mode: "regression",
          ...trained.settings,
          test_fraction: testFraction,
          split: "stratified by label",
          labels: "clipped to integers 0-5"
        }
      } satisfies TrainedClassifier
    }
    const settings = {
      kind: options.kind,
      mode: options.mode,
      epochs: options.epochs ?? NGRAM_DEFAULTS.epochs,
      learning_rate: options.learningRate ?? NGRAM_DEFAULTS.learningRate,
      buckets: options.buckets ?? NGRAM_DEFAULTS.buckets,
      dim: options.dim ?? NGRAM_DEFAULTS.dim,
      word_ngrams: options.wordNgrams ?? NGRAM_DEFAULTS.wordNgrams,
      seed,
      test_fraction: testFraction,
      split: "stratified by label",
      labels: "clipped to integers 0-5"
    }
    const model = yield* Effect.try({
      try: () =>
        trainNgramClassifier(train.map((d) => ({ text: d.doc.text, label: d.label })), {
          mode: options.mode,
          epochs: settings.epochs,
          learningRate: settings.learning_rate,
          buckets: settings.buckets,
          dim: settings.dim,
          wordNgrams: settings.word_ngrams,
          seed,
          ...(options.onEpoch === undefined ? {} : { onEpoch: options.onEpoch })
        }),
      catch: (e) => new ClassifierTrainError({ message: e instanceof Error ? e.message : String(e) })
    })
    const classifier = ngramQualityClassifier(model)
    const validation = yield* evaluateClassifier(classifier, test, judged)
    return { classifier, trainCount: train.length, validation, settings }
  })

/** The Markdown report of an evaluation, per group when there are groups. */
export const evaluationReport = (e: Evaluation, title: string): string =>
  e.groups === undefined ? formatMetricsReport(e.overall, title) : formatGroupReport({ overall: e.overall, groups: e.groups }, title)

/** metrics.json's shape: the overall figures, and per group. */
export const evaluationJson = (e: Evaluation): Record<string, unknown> => ({
  ...e.overall,
  ...(e.groups === undefined ? {} : { groups: Object.fromEntries(e.groups) })
})

/** Writes `report.md` and `metrics.json` into `dir`. */
export const writeEvaluation = (
  dir: string,
  report: string,
  metrics: Record<string, unknown>
): Effect.Effect<void, WriteError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    yield* writeFileAtomic(nodePath.join(dir, "metrics.json"), JSON.stringify(metrics, null, 2) + "\n")
    yield* writeFileAtomic(nodePath.join(dir, "report.md"), report)
  })

/** Saves a trained classifier: the model folder, then its validation report and metrics inside it. */
export const saveTrainedClassifier = (
  dir: string,
  trained: TrainedClassifier,
  sources: ReadonlyArray<string>
): Effect.Effect<string, WriteError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const v = trained.validation.overall
    yield* trained.classifier.save(dir, {
      training: { ...trained.settings, sources, train_documents: trained.trainCount, validation_documents: v.count },
      validation: { mse: v.mse, accuracy: v.accuracy, macro_f1: v.macroF1, binary_f1: v.binary.f1, binary_threshold: v.binary.threshold }
    })
    const header = [
      `# Quality classifier (${trained.settings["kind"]}, ${trained.settings["mode"]})`,
      "",
      `Trained on ${trained.trainCount} documents, validated on ${v.count} held out (${Number(trained.settings["test_fraction"]) * 100}%, ` +
        `stratified by label, seed ${trained.settings["seed"]}); sources: ${sources.join(", ")}.`,
      `Settings: ${Object.entries(trained.settings).map(([k, val]) => `${k} ${val}`).join(", ")}.`,
      ""
    ].join("\n")
    const report = header + "\n" + evaluationReport(trained.validation, "Validation")
    yield* writeEvaluation(dir, report, {
      settings: trained.settings,
      sources,
      train_documents: trained.trainCount,
      validation: evaluationJson(trained.validation)
    })
    return report
  })

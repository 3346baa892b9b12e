/**
 * What the classify stage needs of a quality classifier, whatever its kind: raw 0–5 scores for a batch of texts,
 * and a way to save itself as a folder that `loadQualityClassifier` (classifier-folder.ts) reads back.
 *
 * Two kinds fit behind it: the fastText-style n-gram classifier (CPU, `ngram/`), and the paper's BERT-family
 * encoder with a regression head (`model/`, on the `Gpu` service) once that exists. Scores are raw outputs
 * (FineWeb-Edu's `score`); `intScore` in metrics.ts turns them into `int_score`.
 */
import { Effect, type FileSystem, type Path, Schema } from "effect"
import type { WriteError } from "../data/errors.ts"
import type { NgramClassifier } from "./ngram/NgramClassifier.ts"
import { saveNgramClassifier } from "./ngram/folder.ts"

/** The kinds of classifier the toolkit knows; each names its folder layout. */
export const CLASSIFIER_KINDS = ["ngram", "encoder"] as const
export type ClassifierKind = typeof CLASSIFIER_KINDS[number]

/** Scoring a batch failed (an encoder's device was lost, a text could not be tokenized). */
export class ClassifierPredictError extends Schema.TaggedError<ClassifierPredictError>()("ClassifierPredictError", {
  message: Schema.String
}) {}

export interface QualityClassifier {
  readonly kind: ClassifierKind
  /** One raw score per text, in order (the regression output, or the softmax expectation Σ p_k·k). */
  readonly predict: (texts: ReadonlyArray<string>) => Effect.Effect<Float32Array, ClassifierPredictError>
  /**
   * Writes the model folder atomically; `extra` goes into its config.json for a person to read (the training
   * settings, the validation figures).
   */
  readonly save: (dir: string, extra?: Record<string, unknown>) => Effect.Effect<void, WriteError, FileSystem.FileSystem | Path.Path>
}

/** The n-gram classifier behind the common face. */
export const ngramQualityClassifier = (model: NgramClassifier): QualityClassifier => ({
  kind: "ngram",
  // Synchronous CPU work: a batch is a few hundred documents at millions of words per second.
  predict: (texts) => Effect.sync(() => Float32Array.from(model.predict(texts))),
  save: (dir, extra) => saveNgramClassifier(dir, model, { classifier_kind: "ngram", ...extra })
})

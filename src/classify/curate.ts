/**
 * The pieces the curation programs (programs/stack-edu.ts, programs/finemath.ts) are assembled from:
 * annotate a sample with a prompt → train a classifier on it → apply it to every document → threshold. Each is
 * a stage of its own (annotate-files.ts, train-classifier.ts, apply-run.ts); this file only wires one into the
 * next with the folder layout below, so a rerun resumes each (the annotation cache, deterministic training, the
 * executor's completion markers).
 *
 *   DIR/annotation/   annotated/, failed/, cache/, summary.json   (annotate-files.ts)
 *   DIR/classifier/   config.json, model.safetensors, report.md, metrics.json
 *   DIR/scored/       every document with metadata.score and metadata.int_score
 *   KEPT, DROPPED     per threshold (DROPPED/threshold/ holds metadata.filter_reason)
 */
import { Effect, Layer } from "effect"
import type { HttpClient } from "effect/http"
import * as path from "node:path"
import type { AnnotationPrompt } from "./annotate/AnnotationPrompt.ts"
import { annotateFiles, type AnnotateSummary } from "./annotate/annotate-files.ts"
import { Annotator, type ChatAnnotatorOptions } from "./annotate/Annotator.ts"
import { type ApplyRunConfig, planApplyJobs, runApplyJobs, writeApplyConfig } from "./apply-run.ts"
import { cannedScore } from "./canned-scores.ts"
import { DEFAULT_CLASSIFY_BATCH } from "./classify-stage.ts"
import { readLabelledDocuments } from "./labelled-documents.ts"
import { saveTrainedClassifier, type TrainClassifierOptions, trainClassifier, type TrainedClassifier } from "./train-classifier.ts"

/** Where annotations come from: an OpenAI-compatible endpoint, or the deterministic stand-in (canned-scores.ts). */
export type AnnotatorChoice =
  | { readonly _tag: "chat"; readonly options: ChatAnnotatorOptions }
  | { readonly _tag: "canned" }

/** The `Annotator` for one prompt (the stand-in caps its scores at the prompt's scale). */
export const annotatorLayer = (choice: AnnotatorChoice, prompt: AnnotationPrompt): Layer.Layer<Annotator, never, HttpClient.HttpClient> =>
  choice._tag === "canned" ? Annotator.canned((text) => cannedScore(text, prompt.maxScore)) : Annotator.layer(choice.options)

export interface AnnotateAndTrainOptions {
  readonly inputs: ReadonlyArray<string>
  readonly dir: string
  readonly prompt: AnnotationPrompt
  readonly annotator: AnnotatorChoice
  /** Documents annotated (a seeded uniform sample of the inputs). */
  readonly sample: number
  readonly seed: number
  readonly concurrency: number
  readonly train: TrainClassifierOptions
}

export interface AnnotatedAndTrained {
  readonly annotation: AnnotateSummary
  readonly trained: TrainedClassifier
  readonly model: string
  readonly report: string
}

export const annotateAndTrain = (o: AnnotateAndTrainOptions) =>
  Effect.gen(function*() {
    const annotationDir = path.join(o.dir, "annotation")
    const annotation = yield* annotateFiles({
      inputs: o.inputs,
      output: annotationDir,
      prompt: o.prompt,
      concurrency: o.concurrency,
      sample: { size: o.sample, seed: o.seed }
    }).pipe(Effect.provide(annotatorLayer(o.annotator, o.prompt)))
    const labelled = yield* readLabelledDocuments([annotationDir])
    const trained = yield* trainClassifier(labelled, o.train)
    const model = path.join(o.dir, "classifier")
    const report = yield* saveTrainedClassifier(model, trained, [path.join(annotationDir, "annotated")])
    return { annotation, trained, model, report } satisfies AnnotatedAndTrained
  })

export interface ThresholdOutput {
  readonly name: string
  readonly threshold: number
  readonly overrides?: Readonly<Record<string, number>>
  readonly kept: string
  readonly dropped: string
}

export interface ApplyAndThresholdOptions {
  readonly inputs: ReadonlyArray<string>
  readonly model: string
  /** DIR/scored/ and DIR/logs/. */
  readonly dir: string
  readonly thresholds: ReadonlyArray<ThresholdOutput>
  readonly tasks: number
  readonly workers: number
  /** The program whose `task` subcommand runs a rank (programs/classifier.ts). */
  readonly script: string
  readonly batchSize?: number
  readonly languageKey?: string
  readonly progress?: boolean
}

/** Scores every input document once, then applies each threshold to the scores; returns the run and its stats. */
export const applyAndThreshold = (o: ApplyAndThresholdOptions) =>
  Effect.gen(function*() {
    const scored = path.join(o.dir, "scored")
    const run: ApplyRunConfig = {
      logs: path.join(o.dir, "logs"),
      workers: o.workers,
      jobs: [
        {
          stage: "classify",
          name: "classify",
          tasks: o.tasks,
          inputs: o.inputs.map((i) => path.resolve(i)),
          textKey: "text",
          idKey: "id",
          model: path.resolve(o.model),
          batchSize: o.batchSize ?? DEFAULT_CLASSIFY_BATCH,
          scored: path.resolve(scored)
        },
        ...o.thresholds.map((t) => ({
          stage: "threshold" as const,
          name: t.name,
          tasks: o.tasks,
          source: { kind: "ranks" as const, folder: path.resolve(scored) },
          threshold: t.threshold,
          overrides: { ...t.overrides },
          languageKey: o.languageKey ?? "metadata.language",
          scoreKey: "metadata.int_score",
          kept: path.resolve(t.kept),
          dropped: path.resolve(t.dropped)
        }))
      ]
    }
    const configFile = yield* writeApplyConfig(run)
    const stats = yield* runApplyJobs(planApplyJobs(run, configFile, o.script), { progress: o.progress ?? true })
    return { run, stats }
  })

/**
 * One curriculum stage: train on the stage's mixture from the step the previous stage ended at to the stage's
 * last step, under the one learning-rate schedule of the whole run (warmup in the first stage, decay only in the
 * last, as SmolLM2 trained), then evaluate the stage's suite on its last checkpoint.
 *
 * Continuity across stages: each stage has its own trainer run folder. A stage after the first starts from a
 * copy of the previous stage's last checkpoint — weights, AdamW moments, step and tokens seen — with the data
 * position reset to the start of the new mixture; the trainer then "resumes" from it, so the optimizer state and
 * the schedule carry over exactly, and a stage killed midway resumes from its own newest checkpoint as any
 * training run does.
 */
import { Effect, FileSystem, Schema, Stream } from "effect"
import * as path from "node:path"
import { CodeRunner } from "../../eval/CodeRunner.ts"
import { gpuLanguageModelLayer } from "../../eval/gpu-language-model.ts"
import type { EvaluateOptions } from "../../eval/evaluate.ts"
import { loadJobs, runEvaluation } from "../../eval/jobs.ts"
import { type LlamaConfig, presets } from "../../model/config.ts"
import { readTrainerCheckpoint, writeTrainerCheckpoint } from "../../train/checkpoint.ts"
import type { TrainingData } from "../../train/data.ts"
import { smollm2AdamW } from "../../train/optimizer.ts"
import { checkpointName } from "../../train/run-folder.ts"
import { type StepMetrics, train, type TrainOptions } from "../../train/trainer.ts"
import type { RunConfig, StageConfig } from "../config.ts"
import { LossPoint, TaskEvaluation } from "../report/schema.ts"
import type { StageSpan } from "../stage-steps.ts"
import { FullRunError, type RunPaths } from "./layout.ts"
import { lossCurve } from "./loss-curve.ts"

/** What a stage's training leaves: its last checkpoint and the figures the report shows. */
export const StageTraining = Schema.Struct({
  checkpoint: Schema.String,
  mixture: Schema.Record(Schema.String, Schema.Number),
  steps: Schema.Number,
  tokens: Schema.Number,
  seconds: Schema.Number,
  loss: Schema.Array(LossPoint)
})
export type StageTraining = typeof StageTraining.Type

export const StageEvaluationResult = Schema.Struct({
  evaluation: Schema.Array(TaskEvaluation),
  seconds: Schema.Number
})
export type StageEvaluationResult = typeof StageEvaluationResult.Type

/** The model shape of the run: the preset with its overrides; the vocabulary grows to the tokenizer's if needed. */
export const modelConfigOf = (config: RunConfig, tokenizerVocab: number): LlamaConfig | undefined => {
  const preset = config.model.preset
  if (preset === undefined) return undefined
  const base: LlamaConfig = presets[preset]
  const o = config.model.overrides
  const hiddenSize = o.hiddenSize ?? base.hiddenSize
  const numAttentionHeads = o.numAttentionHeads ?? base.numAttentionHeads
  return {
    ...base,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    headDim: hiddenSize / numAttentionHeads,
    vocabSize: o.vocabSize ?? Math.max(base.vocabSize, tokenizerVocab)
  }
}

export interface TrainStageOptions {
  readonly config: RunConfig
  readonly paths: RunPaths
  readonly index: number
  readonly stage: StageConfig
  readonly span: StageSpan
  readonly totalSteps: number
  readonly mixture: Readonly<Record<string, number>>
  readonly shards: Readonly<Record<string, ReadonlyArray<string>>>
  readonly tokenizer: string
  readonly tokenizerVocab: number
  /** The previous stage's last checkpoint (absent for the first stage). */
  readonly previous: string | undefined
  readonly onStep: (m: StepMetrics) => Effect.Effect<void>
}

/** Trains one stage (see the file's comment); returns its training record. */
export const trainStage = (o: TrainStageOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { config, stage, span } = o
    const t = config.training
    const out = o.paths.stageTrain(stage.name)
    const checkpoints = path.join(out, "checkpoints")
    const data: TrainingData = {
      _tag: "Mixture",
      // Each stage draws its own order, so a source shared by two stages is not read again from the same start.
      seed: config.seed + o.index,
      sources: Object.entries(o.mixture).filter(([, w]) => w > 0).map(([name, weight]) => ({ name, weight, shards: o.shards[name] ?? [] }))
    }
    const missing = data.sources.filter((s) => s.shards.length === 0).map((s) => s.name)
    if (missing.length > 0) return yield* new FullRunError({ message: `stage ${stage.name}: no token shards for ${missing.join(", ")}` })
    if (o.previous !== undefined) {
      const seed = path.join(checkpoints, checkpointName(span.startStep))
      if (!(yield* fs.exists(seed))) {
        const prev = yield* readTrainerCheckpoint(o.previous)
        yield* writeTrainerCheckpoint(seed, { ...prev, state: { ...prev.state, data, data_position: 0 } }, { dtype: t.saveDtype, extraFiles: new Map() })
      }
    }
    const model = modelConfigOf(config, o.tokenizerVocab)
    const init: TrainOptions["init"] = o.previous !== undefined
      ? { _tag: "HfFolder", dir: o.previous }
      : config.model.init !== undefined
      ? { _tag: "HfFolder", dir: config.model.init }
      : { _tag: "Config", config: model!, seed: config.seed }
    const options: TrainOptions = {
      out, init, data, seqLen: t.seqLen, batchSize: t.batchSize, gradAccum: t.gradAccum, steps: span.endStep,
      schedule: { kind: t.schedule, peak: t.lr, warmup: t.warmup, totalSteps: o.totalSteps, decayFraction: t.decayFraction, minRatio: t.minLrRatio },
      optimizer: { ...smollm2AdamW, beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weightDecay, clip: t.clip },
      saveEvery: t.saveEvery, saveDtype: t.saveDtype, resume: true, tokenizer: o.tokenizer
    }
    const started = performance.now()
    yield* train(options).pipe(Stream.runForEach(o.onStep))
    const seconds = (performance.now() - started) / 1000
    const saved = (yield* fs.readDirectory(checkpoints)).filter((n) => /^step-\d{8}$/.test(n)).sort()
    const last = saved.at(-1)
    if (last === undefined || Number(last.slice(5)) <= span.startStep) {
      return yield* new FullRunError({ message: `stage ${stage.name}: training wrote no checkpoint past step ${span.startStep} (did the data run out?)` })
    }
    const endStep = Number(last.slice(5))
    const tokensPerStep = t.seqLen * t.batchSize * t.gradAccum
    return {
      checkpoint: path.join(checkpoints, last),
      mixture: o.mixture,
      steps: endStep - span.startStep,
      tokens: (endStep - span.startStep) * tokensPerStep,
      seconds,
      loss: yield* lossCurve(out, config.report.logEvery, { from: span.startStep })
    } satisfies StageTraining
  })

/** Runs the stage's evaluation suite on `checkpoint`, a task at a time (each with its own example limit). */
export const evaluateStage = (
  config: RunConfig,
  stage: StageConfig,
  checkpoint: string,
  tokenizer: string,
  onTask: (r: TaskEvaluation) => void,
  options: Pick<EvaluateOptions, "correctProb" | "onProgress" | "chatTemplate"> = {}
) =>
  Effect.gen(function*() {
    const started = performance.now()
    const results: Array<TaskEvaluation> = []
    for (const task of stage.eval.tasks) {
      const jobs = yield* loadJobs({ tasks: [task], dataDir: config.evaluation.dataDir, ...(stage.eval.numFewshot === undefined ? {} : { numFewshot: stage.eval.numFewshot }) })
      const limit = stage.eval.limits[task] ?? stage.eval.limit
      const done = yield* runEvaluation(jobs, { batchSize: config.evaluation.batchSize, ...options, ...(limit === undefined ? {} : { limit }) }).pipe(Stream.runCollect)
      for (const r of done) {
        const result: TaskEvaluation = {
          task: r.task,
          samples: r.samples,
          metrics: r.metrics.map((m) => ({ name: m.name, value: m.value, ...(m.stderr !== undefined && Number.isFinite(m.stderr) ? { stderr: m.stderr } : {}) })),
          seconds: r.seconds
        }
        results.push(result)
        onTask(result)
      }
    }
    return { evaluation: results, seconds: (performance.now() - started) / 1000 } satisfies StageEvaluationResult
  }).pipe(
    Effect.provide(gpuLanguageModelLayer({ model: checkpoint, tokenizer, maxLength: config.training.seqLen, batchSize: config.evaluation.batchSize })),
    Effect.provide(CodeRunner.layer())
  )

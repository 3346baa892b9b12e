/**
 * The classifier ablation inside a run (config `ablation`): does the source's quality classifier make better
 * training data? FineWeb-Edu answered it by training the same small model at equal tokens on FineWeb and on its
 * classifier-filtered part and comparing benchmarks ([P] §3.2); this does the same on the run's own data. Two arms,
 * each a fresh model of the run's shape and seed trained for `ablation.tokens` under its own short schedule of the
 * run's kind (warmup capped at a tenth of the arm's steps):
 *
 *  - `classified`: the source's curated documents (the shards the stages train on);
 *  - `unclassified`: the documents the classifier read, i.e. after the heuristic filters and dedup only.
 *
 * Each arm is its own phases (`ablation shards`, `ablation train <arm>`, `ablation eval <arm>`), so a resumed run
 * skips what finished and a killed arm continues from its newest checkpoint.
 */
import { Effect, FileSystem, Schema, Stream } from "effect"
import * as path from "node:path"
import { readDocuments } from "../../data/io/readers.ts"
import { Gpu } from "../../gpu/Gpu.ts"
import { loadHfModel } from "../../model/checkpoint.ts"
import { makeScorer } from "../../model/scorer.ts"
import { listTokenShards } from "../../data/shards/reader.ts"
import { tokenizeToShards } from "../../data/shards/writer.ts"
import { loadTokenizer } from "../../data/tokenizer/Tokenizer.ts"
import type { StepMetrics } from "../../train/trainer.ts"
import type { AblationConfig, RunConfig, StageConfig } from "../config.ts"
import { type AblationArm, type AblationReport, HeldOutLoss, TaskEvaluation } from "../report/schema.ts"
import { tokensPerStep } from "../stage-steps.ts"
import type { CuratedSource } from "./curate.ts"
import { FullRunError, type PhaseResult, type RunPaths, runPhase } from "./layout.ts"
import { evaluateStage, StageEvaluationResult, StageTraining, trainStage } from "./stage.ts"
import type { Tokenized } from "./tokenize.ts"

export const ARMS = ["classified", "unclassified"] as const
export type ArmName = typeof ARMS[number]

const ArmEvaluation = Schema.Struct({ evaluation: StageEvaluationResult, heldOut: Schema.optionalKey(HeldOutLoss) })

const ArmData = Schema.Struct({ documents: Schema.Number, tokens: Schema.Number, shards: Schema.Array(Schema.String) })
type ArmData = typeof ArmData.Type

export interface AblationOptions {
  readonly config: RunConfig
  readonly ablation: AblationConfig
  readonly paths: RunPaths
  readonly curated: CuratedSource
  readonly tokenized: Tokenized
  readonly log: (line: string) => void
  /** An arm's phase begins (`stepsBefore`: the ablation's steps of the arms before it). */
  readonly onPhase: (arm: ArmName, what: string, stepsBefore: number) => void
  /** After every training step of an arm. */
  readonly onStep: (arm: ArmName, m: StepMetrics, stepsBefore: number) => Effect.Effect<void>
}

/** Optimizer steps each arm trains. */
export const ablationSteps = (config: RunConfig, a: AblationConfig): number => Math.max(1, Math.round(a.tokens / tokensPerStep(config.training)))

/** The arm's training folder and the name its phases carry. */
const armDir = (paths: RunPaths, arm: ArmName) => path.join(paths.out, "ablation", arm)

/** The unclassified documents as token shards, with the run's tokenizer and seed. */
const unclassifiedShards = (o: AblationOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const from = o.curated.unclassified
    if (from === undefined) {
      return yield* new FullRunError({ message: `ablation.source: ${o.curated.name} was curated without a classifier or threshold, so there is nothing to ablate` })
    }
    const dir = path.join(o.paths.out, "ablation", "shards", "unclassified")
    yield* fs.remove(dir, { recursive: true, force: true })
    const tokenizer = yield* loadTokenizer(o.tokenized.report.path)
    const texts = readDocuments(from.inputs, { textKey: from.textKey }).pipe(Stream.map((d) => d.text))
    const summary = yield* tokenizeToShards(texts, tokenizer, { outputDir: dir, shuffleSeed: o.config.seed })
    return { documents: summary.documents, tokens: summary.tokens, shards: [...(yield* listTokenShards(dir))] } satisfies ArmData
  }))

/**
 * The metric an ablation decides on: `prob_correct` where the task has it (smooth, so two small models' difference
 * is not lost in accuracy's steps of 1/N), else the task's main metric.
 */
export const decidingMetric = (e: TaskEvaluation) => e.metrics.find((m) => m.name === "prob_correct") ?? e.metrics[0]

/**
 * `checkpoint`'s loss on `paths`' documents, each cut to `maxTokens` tokens: nats per predicted token, and bits
 * per byte of the text those tokens spell (the first token of a document is context, not predicted).
 */
export const heldOutLoss = (checkpoint: string, tokenizerFile: string, paths: ReadonlyArray<string>, maxTokens: number) =>
  Effect.scoped(Effect.gen(function*() {
    const tokenizer = yield* loadTokenizer(tokenizerFile)
    const texts = yield* readDocuments(paths, {}).pipe(Stream.map((d) => d.text), Stream.runCollect)
    const encoded = (yield* tokenizer.encodeBatch([...texts])).map((ids) => Array.from(ids.subarray(0, maxTokens))).filter((ids) => ids.length >= 2)
    if (encoded.length === 0) return yield* new FullRunError({ message: `ablation.heldOut: no document of two tokens or more in ${paths.join(", ")}` })
    let bytes = 0
    for (const ids of encoded) bytes += Buffer.byteLength(yield* tokenizer.decode(ids.slice(1)))
    const model = yield* loadHfModel(checkpoint)
    const scorer = yield* makeScorer(yield* Gpu, model, maxTokens, Math.min(8, encoded.length))
    const logProbs = yield* scorer.score(encoded)
    let nats = 0
    let tokens = 0
    for (const lp of logProbs) for (const x of lp) (nats -= x, tokens++)
    return { documents: encoded.length, tokens, bytes, lossPerToken: nats / tokens, bitsPerByte: nats / Math.LN2 / bytes } satisfies typeof HeldOutLoss.Type
  }))

/** "within noise" when two scores differ by less than their standard errors combined. */
const noiseNote = (a: { readonly value: number; readonly stderr?: number | undefined }, b: { readonly value: number; readonly stderr?: number | undefined }) =>
  a.stderr !== undefined && b.stderr !== undefined && Math.abs(a.value - b.value) < Math.hypot(a.stderr, b.stderr) ? ", within noise" : ""

/**
 * Comparison of the arms in a sentence: first the held-out loss when it was measured (the ablation's deciding
 * figure: a small model shows what its data taught it there long before benchmark accuracy moves), then each
 * task's deciding metric, marked "within noise" when the difference is below one combined standard error.
 */
export const ablationVerdict = (source: string, arms: ReadonlyArray<AblationArm>): string => {
  const [classified, unclassified] = arms
  if (classified === undefined || unclassified === undefined) return "The ablation did not finish."
  const tasks: Array<string> = []
  for (const e of classified.evaluation) {
    const metric = decidingMetric(e)
    const otherMetric = unclassified.evaluation.find((u) => u.task === e.task)?.metrics.find((m) => m.name === metric?.name)
    if (metric === undefined || otherMetric === undefined) continue
    tasks.push(`${e.task} ${metric.name} ${metric.value.toFixed(3)} vs ${otherMetric.value.toFixed(3)}${noiseNote(metric, otherMetric)}`)
  }
  const at = `At ${classified.tokens.toLocaleString("en-US")} tokens each`
  const onTasks = tasks.length === 0 ? "" : `with the classifier vs without: ${tasks.join("; ")}.`
  if (classified.heldOut === undefined || unclassified.heldOut === undefined) return `${at}, ${onTasks === "" ? "nothing was compared." : onTasks}`
  const a = classified.heldOut.bitsPerByte
  const b = unclassified.heldOut.bitsPerByte
  const outcome = a < b
    ? `the model trained on classifier-filtered ${source} predicts the held-out text better: ${a.toFixed(3)} vs ${b.toFixed(3)} bits per byte (${(100 * (1 - a / b)).toFixed(0)}% less)`
    : a > b
    ? `the model trained on classifier-filtered ${source} predicts the held-out text worse: ${a.toFixed(3)} vs ${b.toFixed(3)} bits per byte`
    : `the two predict the held-out text equally well (${a.toFixed(3)} bits per byte)`
  return `${at}, ${outcome}.${onTasks === "" ? "" : ` On the tasks, ${onTasks}`}`
}

/** Trains and evaluates both arms; see the file's comment. */
export const runAblation = (o: AblationOptions) =>
  Effect.gen(function*() {
    const { config, ablation, paths } = o
    const shards = o.tokenized.shards[ablation.source]
    const classifiedReport = o.tokenized.report.sources.find((s) => s.source === ablation.source)
    if (shards === undefined || classifiedReport === undefined) {
      return yield* new FullRunError({ message: `ablation.source: no token shards for ${ablation.source}` })
    }
    const unclassified = yield* runPhase(paths, "ablation shards", ArmData, unclassifiedShards(o))
    if (unclassified.value.tokens === 0) return yield* new FullRunError({ message: `ablation: ${ablation.source} has no documents before its classifier` })
    const data: Record<ArmName, ArmData> = {
      classified: { documents: classifiedReport.documents, tokens: classifiedReport.tokens, shards },
      unclassified: unclassified.value
    }
    const steps = ablationSteps(config, ablation)
    // A schedule of the run's kind over the arm's steps; the run's warmup (2,000 steps at scale) would not fit.
    const armConfig: RunConfig = { ...config, training: { ...config.training, warmup: Math.min(config.training.warmup, Math.floor(steps / 10)) } }
    const arms: Array<AblationArm> = []
    let seconds = unclassified.seconds
    for (const [i, arm] of ARMS.entries()) {
      const stepsBefore = i * steps
      o.onPhase(arm, "training", stepsBefore)
      const stage: StageConfig = {
        name: `ablation-${arm}`,
        untilTokens: ablation.tokens,
        mixture: { [ablation.source]: 1 },
        eval: { tasks: ablation.tasks, limits: ablation.limits }
      }
      const training: PhaseResult<StageTraining> = yield* runPhase(paths, `ablation train ${arm}`, StageTraining, trainStage({
        config: armConfig, paths: { ...paths, stageTrain: () => armDir(paths, arm) }, index: 0, stage,
        span: { name: stage.name, startStep: 0, endStep: steps }, totalSteps: steps,
        mixture: { [ablation.source]: 1 }, shards: { [ablation.source]: data[arm].shards },
        tokenizer: o.tokenized.report.path, tokenizerVocab: o.tokenized.report.vocabSize, previous: undefined,
        onStep: (m) => o.onStep(arm, m, stepsBefore)
      }))
      o.onPhase(arm, "evaluating", stepsBefore + steps)
      const heldOut = ablation.heldOut
      const evaluation = yield* runPhase(paths, `ablation eval ${arm}`, ArmEvaluation, Effect.gen(function*() {
        const score = heldOut === undefined ? undefined : yield* heldOutLoss(training.value.checkpoint, o.tokenized.report.path, heldOut, config.training.seqLen)
        if (score !== undefined) o.log(`  ablation ${arm} · held-out: ${score.bitsPerByte.toFixed(4)} bits per byte (${score.documents} documents)`)
        const onTask = (r: TaskEvaluation) =>
          o.log(`  ablation ${arm} · ${r.task}: ${r.metrics.map((m) => `${m.name} ${m.value.toFixed(3)}`).join(", ")} (${r.samples} examples)`)
        const tasks = yield* evaluateStage(armConfig, stage, training.value.checkpoint, o.tokenized.report.path, onTask, {
          correctProb: true,
          onProgress: (task, done, all) => Effect.sync(() => o.onPhase(arm, `evaluating ${task} ${done}/${all}`, stepsBefore + steps))
        })
        return { evaluation: tasks, ...(score === undefined ? {} : { heldOut: score }) }
      }))
      seconds += training.seconds + evaluation.seconds
      arms.push({
        arm, documents: data[arm].documents, dataTokens: data[arm].tokens, tokens: training.value.tokens, steps: training.value.steps,
        seconds: training.value.seconds, loss: training.value.loss, evaluation: evaluation.value.evaluation.evaluation,
        ...(evaluation.value.heldOut === undefined ? {} : { heldOut: evaluation.value.heldOut })
      })
    }
    const report: AblationReport = { source: ablation.source, tokens: arms[0]!.tokens, arms, verdict: ablationVerdict(ablation.source, arms) }
    o.log(`ablation: ${report.verdict}`)
    return { report, seconds }
  })

/**
 * The full run, assembled from its phases: curation of each source → the tokenizer and token shards → for each
 * stage: train (one schedule across stages) → evaluate → the policy picks the next stage's mixture → … → the
 * final model as a Hugging Face folder, report.json and report.html.
 *
 * Every phase ends with a completion marker (layout.ts), so `resume` skips what an earlier session finished and a
 * stage killed mid-training continues from its newest checkpoint; the final weights are those of an uninterrupted
 * run. The `manual` policy stops after a stage, leaving the next stage's mixture in a file to edit; a resumed run
 * reads it back.
 */
import { Effect, FileSystem, Schema } from "effect"
import * as path from "node:path"
import { writeFileAtomic, writeFolderAtomic } from "../../data/io/atomic.ts"
import { makeProgress, type Progress } from "../../data/progress/Progress.ts"
import { describeAdapter } from "../../gpu/adapter.ts"
import { Gpu } from "../../gpu/Gpu.ts"
import { stepFields } from "../../train/step-log.ts"
import type { StepMetrics } from "../../train/trainer.ts"
import { RunConfig } from "../config.ts"
import { PolicyDecision, type RunReport, TaskEvaluation } from "../report/schema.ts"
import { writeRunReport } from "../report/write.ts"
import { stageSpans, totalSteps } from "../stage-steps.ts"
import { CuratedSource, curateSource, type WorldAnnotatorLayer } from "./curate.ts"
import { FullRunError, hasMarkers, type PhaseResult, runPaths, runPhase } from "./layout.ts"
import { decideNextMixture, normalizeMixture } from "./policy.ts"
import { assembleReport, type FinishedStage } from "./report.ts"
import { evaluateStage, StageEvaluationResult, StageTraining, trainStage } from "./stage.ts"
import { Tokenized, tokenizeSources } from "./tokenize.ts"

export interface FullRunOptions {
  readonly config: RunConfig
  /** The run folder (default: the config's `out`). */
  readonly out?: string
  /** Continue the run in `out`, skipping finished phases. Without it, a folder holding a run is refused. */
  readonly resume: boolean
  /** The annotator of classifier training when the config names no endpoint (the default world's stand-in). */
  readonly annotator?: WorldAnnotatorLayer
  /** The command line, for the report. */
  readonly command?: string
  /** The report's title when the config has none. */
  readonly title?: string
  /** Where progress goes (default: per config `report.progress`). */
  readonly progress?: Progress
  /** Called after every training step (a test stops a run here). */
  readonly onStep?: (stage: string, m: StepMetrics) => Effect.Effect<void, FullRunError>
}

export type FullRunOutcome =
  | { readonly _tag: "Finished"; readonly report: RunReport; readonly out: string }
  | { readonly _tag: "WaitingForMixture"; readonly stage: string; readonly file: string }

const PolicyOutcomeSchema = Schema.Struct({ mixture: Schema.Record(Schema.String, Schema.Number), decision: PolicyDecision })
const FinalModel = Schema.Struct({ dir: Schema.String, from: Schema.String })
const RunStart = Schema.Struct({ startedAt: Schema.String, config: Schema.Unknown })

/** The file a person edits under the `manual` policy. */
const ManualMixtureFile = Schema.Struct({
  mixture: Schema.Record(Schema.String, Schema.Number),
  note: Schema.optionalKey(Schema.String),
  evaluation: Schema.optionalKey(Schema.Array(TaskEvaluation))
})

const progressFor = (config: RunConfig): Progress =>
  config.report.progress === "none"
    ? makeProgress({ sink: { write: () => undefined } })
    : config.report.progress === "lines"
    ? makeProgress({ sink: { write: (t) => process.stderr.write(t), isTTY: false } })
    : makeProgress()

export const fullRun = (o: FullRunOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { config } = o
    const paths = runPaths(path.resolve(o.out ?? config.out))
    const progress = o.progress ?? progressFor(config)
    const log = (line: string) => progress.log(line)

    // A run folder belongs to one config: resuming with another would mix two runs' outputs.
    const startFile = path.join(paths.out, "run.json")
    const encodedConfig = Schema.encodeSync(RunConfig)(config)
    if (yield* hasMarkers(paths)) {
      if (!o.resume) return yield* new FullRunError({ message: `${paths.out} already holds a run; pass --resume to continue it, or give another --out` })
    }
    let startedAt = new Date().toISOString()
    if (yield* fs.exists(startFile)) {
      const earlier = Schema.decodeUnknownSync(Schema.fromJsonString(RunStart))(yield* fs.readFileString(startFile))
      if (JSON.stringify(earlier.config) !== JSON.stringify(encodedConfig) && (yield* hasMarkers(paths))) {
        return yield* new FullRunError({ message: `${paths.out} holds a run started with another config (${startFile}); give another --out to start a new run` })
      }
      startedAt = earlier.startedAt
    }
    yield* writeFileAtomic(startFile, JSON.stringify({ startedAt, config: encodedConfig }, null, 2) + "\n")

    // ── curation ──
    const curation: Array<PhaseResult<CuratedSource>> = []
    for (const [name, source] of Object.entries(config.sources)) {
      const done = yield* runPhase(paths, `curate ${name}`, CuratedSource, curateSource({
        name, source, dir: paths.curation(name), seed: config.seed, annotator: o.annotator, tasks: config.curation.tasks, log
      }))
      if (done.resumed) log(`curation of ${name}: done in an earlier session`)
      curation.push(done)
    }

    // ── tokenizer and shards ──
    const tokenize = yield* runPhase(paths, "tokenize", Tokenized, tokenizeSources(config, curation.map((c) => c.value), paths, log))
    const tokenizer = tokenize.value.report.path

    // ── stages ──
    const spans = stageSpans(config)
    const total = totalSteps(config)
    const bar = progress.task("train", { unit: "steps", rateUnit: null })
    const evaluations: Array<ReadonlyArray<TaskEvaluation>> = []
    const finished: Array<FinishedStage> = []
    let mixture = normalizeMixture(config.stages[0]!.mixture)
    let previous: string | undefined
    for (const [index, stage] of config.stages.entries()) {
      const span = spans[index]!
      const training = yield* runPhase(paths, `train ${stage.name}`, StageTraining, trainStage({
        config, paths, index, stage, span, totalSteps: total, mixture, shards: tokenize.value.shards, tokenizer,
        tokenizerVocab: tokenize.value.report.vocabSize, previous,
        onStep: (m) =>
          Effect.gen(function*() {
            const report = { done: m.step, total, fields: [`stage ${stage.name}`, ...stepFields(m)] }
            if (m.step >= total) bar.finish(report)
            else bar.update(report)
            if (o.onStep !== undefined) yield* o.onStep(stage.name, m).pipe(Effect.orDie)
          })
      }))
      log(`stage ${stage.name}: ${training.value.steps} steps, ${training.value.tokens} tokens${training.resumed ? " (done in an earlier session)" : ""} → ${training.value.checkpoint}`)
      const evaluation = yield* runPhase(paths, `eval ${stage.name}`, StageEvaluationResult, evaluateStage(config, stage, training.value.checkpoint, tokenizer, (r) =>
        log(`  ${stage.name} · ${r.task}: ${r.metrics.map((m) => `${m.name} ${m.value.toFixed(3)}`).join(", ")} (${r.samples} examples)`)))
      evaluations.push(evaluation.value.evaluation)
      previous = training.value.checkpoint
      const next = config.stages[index + 1]
      let decision: PolicyDecision | undefined
      if (next !== undefined) {
        const manualFile = paths.manualMixture(next.name)
        let edited: Record<string, number> | undefined
        if (config.policy.kind === "manual") {
          if (!(yield* fs.exists(manualFile))) {
            const waiting = { mixture: normalizeMixture(next.mixture), note: `Edit the mixture of stage ${next.name} (weights over sources: ${Object.keys(config.sources).join(", ")}), then rerun with --resume.`, evaluation: evaluation.value.evaluation }
            yield* writeFileAtomic(manualFile, JSON.stringify(waiting, null, 2) + "\n")
            bar.finish({ done: span.endStep, total })
            log(`The manual policy stops here: edit ${manualFile} and rerun with --resume.`)
            return { _tag: "WaitingForMixture", stage: next.name, file: manualFile } satisfies FullRunOutcome
          }
          const text = yield* fs.readFileString(manualFile)
          const read = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(ManualMixtureFile))(text).pipe(
            Effect.mapError((e) => new FullRunError({ message: `${manualFile}: ${e.message}` }))
          )
          const unknown = Object.keys(read.mixture).filter((k) => !(k in config.sources))
          if (unknown.length > 0) return yield* new FullRunError({ message: `${manualFile}: mixture.${unknown[0]}: not a source (sources: ${Object.keys(config.sources).join(", ")})` })
          edited = read.mixture
        }
        const policy = yield* runPhase(paths, `policy ${next.name}`, PolicyOutcomeSchema, Effect.suspend(() => {
          const outcome = decideNextMixture({ policy: config.policy, stage, next, evaluations, ...(edited === undefined ? {} : { edited }) })
          return "problem" in outcome ? Effect.fail(new FullRunError({ message: outcome.problem })) : Effect.succeed(outcome)
        }))
        mixture = policy.value.mixture
        decision = policy.value.decision
        log(`policy → ${next.name}: ${decision.reason}`)
      }
      finished.push({ name: stage.name, training, evaluation, ...(decision === undefined ? {} : { decision }) })
    }
    bar.finish({ done: total, total })

    // ── the final model: the last checkpoint's Hugging Face files, without the trainer state ──
    const final = yield* runPhase(paths, "final", FinalModel, Effect.gen(function*() {
      const from = previous!
      const names = (yield* fs.readDirectory(from)).filter((n) => !n.startsWith("trainer_state"))
      const files: Array<readonly [string, Uint8Array]> = []
      for (const n of names) files.push([n, yield* fs.readFile(path.join(from, n))])
      yield* writeFolderAtomic(paths.final, files)
      return { dir: paths.final, from }
    }))

    const gpu = yield* Gpu
    const report = assembleReport({
      config, title: config.report.title ?? o.title ?? "Full run", ...(o.command === undefined ? {} : { command: o.command }),
      startedAt, adapter: describeAdapter(gpu.adapter), curation, tokenize, stages: finished, finalModel: final.value.dir
    })
    yield* writeRunReport(paths.out, report, { html: config.report.html })
    log(`Done: the final model is in ${final.value.dir}; the report in ${path.join(paths.out, config.report.html ? "report.html" : "report.json")}`)
    return { _tag: "Finished", report, out: paths.out } satisfies FullRunOutcome
  })

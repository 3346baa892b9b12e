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
import { writeFileAtomic } from "../../data/io/atomic.ts"
import { makeProgress, type Progress } from "../../data/progress/Progress.ts"
import { describeAdapter } from "../../gpu/adapter.ts"
import { Gpu } from "../../gpu/Gpu.ts"
import { stepFields } from "../../train/step-log.ts"
import type { StepMetrics } from "../../train/trainer.ts"
import { RunConfig } from "../config.ts"
import { type AblationReport, PolicyDecision, type RunReport, TaskEvaluation } from "../report/schema.ts"
import { writeRunReport } from "../report/write.ts"
import { stageSpans, totalSteps } from "../stage-steps.ts"
import { ablationSteps, runAblation } from "./ablation.ts"
import { exportModelFolder } from "./model-folder.ts"
import { makeRunLine } from "./run-line.ts"
import { runPostTraining } from "./post-train.ts"
import { CuratedSource, curateSource, type WorldAnnotatorLayer } from "./curate.ts"
import { FullRunError, hasMarkers, type PhaseResult, runPaths, runPhase } from "./layout.ts"
import { decideNextMixture, type MixturePolicy, normalizeMixture } from "./policy.ts"
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
  /**
   * A policy of the program's own, used instead of the config's `policy.kind` (its decisions should say
   * `policy: "custom"`); the config's `policy` section is still passed to it.
   */
  readonly policy?: MixturePolicy
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

/** The mixture a person wrote in the manual policy's file, or what is wrong with it. */
export const readManualMixture = (file: string, text: string, sources: ReadonlyArray<string>): { readonly mixture: Record<string, number> } | { readonly problem: string } => {
  const decoded = Schema.decodeUnknownExit(Schema.fromJsonString(ManualMixtureFile))(text)
  if (decoded._tag === "Failure") {
    const failure = decoded.cause.reasons.find((r) => r._tag === "Fail")
    return { problem: `${file}: ${failure?._tag === "Fail" ? failure.error.message : "cannot be read"}` }
  }
  const unknown = Object.keys(decoded.value.mixture).filter((k) => !sources.includes(k))
  if (unknown.length > 0) return { problem: `${file}: mixture.${unknown[0]}: not a source (sources: ${sources.join(", ")})` }
  return { mixture: { ...decoded.value.mixture } }
}

/**
 * The manual policy's `wait: watch`: polls `file` until its text is no longer what the run wrote and reads as a
 * mixture. A save that does not read (a half-finished edit) is reported once and waited past.
 */
export const waitForEditedMixture = (file: string, written: string, sources: ReadonlyArray<string>, log: (line: string) => void, pollMs = 1000) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    let reported = written
    while (true) {
      yield* Effect.sleep(pollMs)
      const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => written))
      if (text === written || text === reported) continue
      const read = readManualMixture(file, text, sources)
      if ("mixture" in read) return read.mixture
      reported = text
      log(`${read.problem}; still waiting for a mixture that reads`)
    }
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

    // One line for the whole run: training steps of the curriculum and the ablation, the current phase beside them.
    // Its rate counts from the first report, so the ETA includes the time curation and evaluation take.
    const total = totalSteps(config)
    const ablationTotal = config.ablation === undefined ? 0 : 2 * ablationSteps(config, config.ablation)
    const overall = makeRunLine(progress, total + ablationTotal)

    // ── curation ──
    const curation: Array<PhaseResult<CuratedSource>> = []
    for (const [name, source] of Object.entries(config.sources)) {
      overall.phase(`curating ${name}`)
      const done = yield* runPhase(paths, `curate ${name}`, CuratedSource, curateSource({
        name, source, dir: paths.curation(name), seed: config.seed, annotator: o.annotator, ...config.curation, log
      }))
      if (done.resumed) log(`curation of ${name}: done in an earlier session`)
      curation.push(done)
    }

    // ── tokenizer and shards ──
    overall.phase("tokenizing")
    const tokenize = yield* runPhase(paths, "tokenize", Tokenized, tokenizeSources(config, curation.map((c) => c.value), paths, log))
    const tokenizer = tokenize.value.report.path

    // ── stages ──
    const spans = stageSpans(config)
    const evaluations: Array<ReadonlyArray<TaskEvaluation>> = []
    const finished: Array<FinishedStage> = []
    let mixture = normalizeMixture(config.stages[0]!.mixture)
    let previous: string | undefined
    for (const [index, stage] of config.stages.entries()) {
      const span = spans[index]!
      overall.phase(`training ${stage.name}`, span.startStep)
      const training = yield* runPhase(paths, `train ${stage.name}`, StageTraining, trainStage({
        config, paths, index, stage, span, totalSteps: total, mixture, shards: tokenize.value.shards, tokenizer,
        tokenizerVocab: tokenize.value.report.vocabSize, previous,
        onStep: (m) =>
          Effect.gen(function*() {
            overall.step(m.step, [`stage ${stage.name}`, ...stepFields(m)])
            if (o.onStep !== undefined) yield* o.onStep(stage.name, m).pipe(Effect.orDie)
          })
      }))
      log(`stage ${stage.name}: ${training.value.steps} steps, ${training.value.tokens} tokens${training.resumed ? " (done in an earlier session)" : ""} → ${training.value.checkpoint}`)
      overall.phase(`evaluating ${stage.name}`, span.endStep)
      const evaluation = yield* runPhase(paths, `eval ${stage.name}`, StageEvaluationResult, evaluateStage(config, stage, training.value.checkpoint, tokenizer, (r) =>
        log(`  ${stage.name} · ${r.task}: ${r.metrics.map((m) => `${m.name} ${m.value.toFixed(3)}`).join(", ")} (${r.samples} examples)`), {
        onProgress: (task, done, all) => Effect.sync(() => overall.phase(`evaluating ${stage.name}: ${task} ${done}/${all}`))
      }))
      evaluations.push(evaluation.value.evaluation)
      previous = training.value.checkpoint
      const next = config.stages[index + 1]
      let decision: PolicyDecision | undefined
      if (next !== undefined) {
        const manualFile = paths.manualMixture(next.name)
        let edited: Record<string, number> | undefined
        if (config.policy.kind === "manual" && o.policy === undefined) {
          const sources = Object.keys(config.sources)
          if (!(yield* fs.exists(manualFile))) {
            const waiting = { mixture: normalizeMixture(next.mixture), note: `Edit the mixture of stage ${next.name} (weights over sources: ${sources.join(", ")}), then rerun with --resume.`, evaluation: evaluation.value.evaluation }
            const written = JSON.stringify(waiting, null, 2) + "\n"
            yield* writeFileAtomic(manualFile, written)
            if (config.policy.wait === "exit") {
              overall.finish(span.endStep)
              log(`The manual policy stops here: edit ${manualFile} and rerun with --resume.`)
              return { _tag: "WaitingForMixture", stage: next.name, file: manualFile } satisfies FullRunOutcome
            }
            overall.phase(`waiting for ${manualFile}`)
            log(`The manual policy waits: edit and save ${manualFile}; the run continues when it changes.`)
            edited = yield* waitForEditedMixture(manualFile, written, sources, log)
          } else {
            const read = readManualMixture(manualFile, yield* fs.readFileString(manualFile), sources)
            if ("problem" in read) return yield* new FullRunError({ message: read.problem })
            edited = read.mixture
          }
        }
        const policy = yield* runPhase(paths, `policy ${next.name}`, PolicyOutcomeSchema, Effect.suspend(() => {
          const outcome = (o.policy ?? decideNextMixture)({ policy: config.policy, stage, next, evaluations, ...(edited === undefined ? {} : { edited }) })
          return "problem" in outcome ? Effect.fail(new FullRunError({ message: outcome.problem })) : Effect.succeed(outcome)
        }))
        mixture = policy.value.mixture
        decision = policy.value.decision
        log(`policy → ${next.name}: ${decision.reason}`)
      }
      finished.push({ name: stage.name, training, evaluation, ...(decision === undefined ? {} : { decision }) })
    }

    // ── the final model: the last checkpoint's Hugging Face files, without the trainer state ──
    const final = yield* runPhase(paths, "final", FinalModel, exportModelFolder(previous!, paths.final))

    // ── post-training: SFT (then DPO) of the final model into a chat model, OUT/final-instruct ──
    const postTraining = yield* runPostTraining({ config, paths, base: final.value.dir, log, onProgress: (what) => overall.phase(what, total) })

    // ── the classifier ablation: with and without the source's classifier, at equal tokens ──
    let ablation: { readonly report: AblationReport; readonly seconds: number } | undefined
    if (config.ablation !== undefined) {
      const a = config.ablation
      const curated = curation.find((c) => c.value.name === a.source)!.value
      ablation = yield* runAblation({
        config, ablation: a, paths, curated, tokenized: tokenize.value, log,
        onPhase: (arm, what, stepsBefore) => overall.phase(`ablation ${arm}: ${what}`, total + stepsBefore),
        onStep: (arm, m, stepsBefore) => Effect.sync(() => overall.step(total + stepsBefore + m.step, [`ablation ${arm}`, ...stepFields(m)]))
      })
    }
    overall.finish(total + ablationTotal)

    const gpu = yield* Gpu
    const report = assembleReport({
      config, title: config.report.title ?? o.title ?? "Full run", ...(o.command === undefined ? {} : { command: o.command }),
      startedAt, adapter: describeAdapter(gpu.adapter), curation, tokenize, stages: finished, finalModel: final.value.dir,
      ...(ablation === undefined ? {} : { ablation }),
      ...(postTraining === undefined ? {} : { postTraining })
    })
    yield* writeRunReport(paths.out, report, { html: config.report.html })
    log(`Done: the final model is in ${final.value.dir}${postTraining === undefined ? "" : `, the chat model in ${postTraining.model}`}; the report in ${path.join(paths.out, config.report.html ? "report.html" : "report.json")}`)
    return { _tag: "Finished", report, out: paths.out } satisfies FullRunOutcome
  })

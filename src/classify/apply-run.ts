/**
 * Classify and threshold as sharded executor jobs, the way programs/filter.ts runs its stages: each job has
 * `tasks` ranks run by worker processes (`programs/classifier.ts task --config FILE --job NAME`), a rank's
 * outputs are written atomically under its zero-padded number, and its completion marker is written last, so a
 * rerun of a killed run redoes exactly the unfinished ranks and ends with the same files as an uninterrupted run.
 *
 * Layout (Dolma's "score once, threshold many times"): a classify job writes every document with
 * `metadata.score` / `metadata.int_score` to SCORED/<rank>.jsonl; a threshold job reads SCORED/<rank>.jsonl (or
 * any files) and writes KEPT/<rank>.jsonl and DROPPED/threshold/<rank>.jsonl (`metadata.filter_reason`). Every
 * document read ends in exactly one of kept or dropped. Logs, markers and stats: LOGS/<job>/.
 *
 * The jobs run wherever the person chose (data/executor/run-job.ts): worker processes here, or one Slurm job
 * array per job, each after the one before it.
 */
import { Effect, Schema, Stream } from "effect"
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import type { Document } from "../data/Document.ts"
import { DataConfigError, type WriteError } from "../data/errors.ts"
import type { Job } from "../data/executor/local.ts"
import { pad5 } from "../data/executor/rank-files.ts"
import { runJobChain } from "../data/executor/run-chain.ts"
import type { Executor, JobOutcome } from "../data/executor/run-job.ts"
import { incompleteRanks, type TaskContext } from "../data/executor/task.ts"
import { applyFilter } from "../data/filters/Filter.ts"
import { tryWrite, writeFileAtomicSync } from "../data/io/atomic.ts"
import { readDocuments } from "../data/io/readers.ts"
import { makeWriter } from "../data/io/writers.ts"
import { mergeStats, type Stats } from "../data/stats.ts"
import { loadQualityClassifier } from "./classifier-folder.ts"
import { CLASSIFY_STATS, classifyDocuments } from "./classify-stage.ts"
import type { QualityClassifier } from "./QualityClassifier.ts"
import { THRESHOLD_ID, thresholdFilter } from "./threshold-stage.ts"

const ReaderFields = {
  inputs: Schema.Array(Schema.String),
  glob: Schema.optional(Schema.String),
  textKey: Schema.String,
  idKey: Schema.String
}

export const ClassifyJobConfig = Schema.Struct({
  stage: Schema.Literal("classify"),
  name: Schema.String,
  tasks: Schema.Number,
  ...ReaderFields,
  /** The classifier folder. */
  model: Schema.String,
  batchSize: Schema.Number,
  /** Where the scored documents go, `<rank>.jsonl`. */
  scored: Schema.String
})
export type ClassifyJobConfig = typeof ClassifyJobConfig.Type

export const ThresholdJobConfig = Schema.Struct({
  stage: Schema.Literal("threshold"),
  name: Schema.String,
  tasks: Schema.Number,
  /** `ranks`: rank r reads FOLDER/<r>.jsonl (a classify job's output); `files`: its share of the input files. */
  source: Schema.Union([
    Schema.Struct({ kind: Schema.Literal("ranks"), folder: Schema.String }),
    Schema.Struct({ kind: Schema.Literal("files"), ...ReaderFields })
  ]),
  threshold: Schema.Number,
  overrides: Schema.Record(Schema.String, Schema.Number),
  languageKey: Schema.String,
  scoreKey: Schema.String,
  /** Below-threshold documents kept anyway, a fraction per integer score (see threshold-stage.ts). */
  downsample: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)),
  seed: Schema.optionalKey(Schema.Number),
  kept: Schema.String,
  /** Dropped documents go to DROPPED/threshold/. */
  dropped: Schema.String
})
export type ThresholdJobConfig = typeof ThresholdJobConfig.Type

export const ApplyJobConfig = Schema.Union([ClassifyJobConfig, ThresholdJobConfig])
export type ApplyJobConfig = typeof ApplyJobConfig.Type

export const ApplyRunConfig = Schema.Struct({
  /** LOGS/<job>/ holds each job's markers, stats and task logs. */
  logs: Schema.String,
  workers: Schema.Number,
  /** Run in this order, each after the one before it. */
  jobs: Schema.Array(ApplyJobConfig)
})
export type ApplyRunConfig = typeof ApplyRunConfig.Type

export const jobLogDir = (run: ApplyRunConfig, job: ApplyJobConfig) => path.join(run.logs, job.name)
export const rankFile = (folder: string, rank: number) => path.join(folder, `${pad5(rank)}.jsonl`)

/** The executor's jobs, chained in order; the last is the one to run. */
export const planApplyJobs = (run: ApplyRunConfig, configFile: string, script: string): Array<Job> => {
  const chained: Array<Job> = []
  for (const j of run.jobs) {
    const outputs = j.stage === "classify" ? [j.scored] : [j.kept, path.join(j.dropped, THRESHOLD_ID)]
    chained.push({
      name: j.name,
      loggingDir: jobLogDir(run, j),
      tasks: j.tasks,
      workers: run.workers,
      script,
      args: ["task", "--config", configFile, "--job", j.name],
      outputs,
      ...(chained.length === 0 ? {} : { depends: chained.at(-1)! })
    })
  }
  return chained
}

/**
 * Writes LOGS/config.json. A run that already has finished ranks under another configuration (a different
 * model, threshold or input) is refused: its skipped ranks would keep outputs of the old one.
 */
export const writeApplyConfig = (run: ApplyRunConfig): Effect.Effect<string, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const file = path.join(run.logs, "config.json")
    // Workers change how fast, not what is written.
    const meaningful = (c: ApplyRunConfig) => JSON.stringify(c.jobs)
    if (existsSync(file)) {
      const old = yield* loadApplyConfig(file)
      const started = old.jobs.some((j) => incompleteRanks(jobLogDir(old, j), j.tasks).length < j.tasks)
      if (started && meaningful(old) !== meaningful(run)) {
        return yield* new DataConfigError({
          message: `${file}: this output was started with another configuration (model, inputs, threshold or tasks differ); ` +
            "use a new --output, or remove the old one to start over"
        })
      }
    }
    yield* tryWrite(file, () => writeFileAtomicSync(file, JSON.stringify(run, null, 2) + "\n"))
    return file
  })

export const loadApplyConfig = (file: string): Effect.Effect<ApplyRunConfig, DataConfigError> =>
  Effect.try({
    try: () => Schema.decodeUnknownSync(ApplyRunConfig)(JSON.parse(readFileSync(file, "utf8"))),
    catch: (e) => new DataConfigError({ message: `${file}: not an apply run's config: ${(e as Error).message}` })
  })

/** One task of job `name`; `classifier` loads the model (once per process, by the caller). */
export const runApplyTask = <E, R>(
  run: ApplyRunConfig,
  name: string,
  ctx: TaskContext,
  classifier: (model: string) => Effect.Effect<QualityClassifier, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const job = run.jobs.find((j) => j.name === name)
    if (job === undefined) return yield* new DataConfigError({ message: `no job "${name}" in the run's config (${run.jobs.map((j) => j.name).join(", ")})` })
    const { rank, stats } = ctx
    let docs = 0
    let bytes = 0
    const counted = <E2, R2>(s: Stream.Stream<Document, E2, R2>) =>
      s.pipe(Stream.rechunk(256), Stream.mapArray((chunk) => {
        docs += chunk.length
        for (const d of chunk) bytes += Buffer.byteLength(d.text)
        ctx.progress(docs, bytes)
        return chunk
      }))
    const writeAll = <E2, R2>(s: Stream.Stream<Document, E2, R2>, folder: string) =>
      Effect.gen(function*() {
        const w = yield* makeWriter({ folder, rank })
        yield* s.pipe(Stream.chunks, Stream.runForEach((chunk) => w.write(chunk)))
      })
    const readShare = (r: { inputs: ReadonlyArray<string>; glob?: string | undefined; textKey: string; idKey: string }) =>
      readDocuments(r.inputs, { rank, worldSize: ctx.worldSize, textKey: r.textKey, idKey: r.idKey, ...(r.glob === undefined ? {} : { glob: r.glob }) })
    if (job.stage === "classify") {
      const model = yield* classifier(job.model)
      return yield* writeAll(readShare(job).pipe(counted, classifyDocuments(model, { batchSize: job.batchSize, stats })), job.scored)
    }
    const input = job.source.kind === "files"
      ? readShare(job.source)
      : existsSync(rankFile(job.source.folder, rank)) ? readDocuments([rankFile(job.source.folder, rank)]) : Stream.empty
    const exclusion = yield* makeWriter({ folder: path.join(job.dropped, THRESHOLD_ID), rank })
    const rule = {
      threshold: job.threshold, overrides: job.overrides, languageKey: job.languageKey, scoreKey: job.scoreKey,
      ...(job.downsample === undefined ? {} : { downsample: job.downsample }), ...(job.seed === undefined ? {} : { seed: job.seed })
    }
    return yield* writeAll(input.pipe(counted, applyFilter(thresholdFilter(rule), { stats, exclusion })), job.kept)
  }))

/** Loads each model folder once per process: a worker runs several ranks, and a model may be large. */
export const memoizedClassifierLoader = () => {
  const loaded = new Map<string, QualityClassifier>()
  return (model: string) =>
    Effect.suspend(() => {
      const hit = loaded.get(model)
      return hit !== undefined
        ? Effect.succeed(hit)
        : loadQualityClassifier(model).pipe(Effect.tap((c) => Effect.sync(() => loaded.set(model, c))))
    })
}

export type ApplyOutcome =
  /** Every rank of every job is complete: each job's merged stats. */
  | { readonly _tag: "Complete"; readonly stats: ReadonlyMap<string, Stats> }
  /** Submitted to Slurm and not waited for. */
  | Extract<JobOutcome, { readonly _tag: "Submitted" }>

/**
 * Runs the jobs on `executor` with one progress line each (stderr); once complete, returns every job's merged
 * stats (also written to LOGS/<job>/stats.json by whichever task completed the job's last rank).
 */
export const runApplyJobsOn = (jobs: ReadonlyArray<Job>, executor: Executor, options: { readonly progress?: boolean } = {}) =>
  runJobChain(jobs, executor, options)

/** Runs the jobs here, in worker processes, and returns every job's merged stats. */
export const runApplyJobs = (jobs: ReadonlyArray<Job>, options: { readonly progress?: boolean } = {}) =>
  runApplyJobsOn(jobs, { _tag: "local" }, options).pipe(
    // The local executor always waits, so it never ends with a submission.
    Effect.map((outcome): ReadonlyMap<string, Stats> => (outcome._tag === "Complete" ? outcome.stats : new Map<string, Stats>()))
  )

/** A plain-text summary of one run: the int_score histogram of each classify job, kept / dropped per threshold job. */
export const applySummary = (run: ApplyRunConfig, stats: ReadonlyMap<string, Stats>): string => {
  const lines: Array<string> = []
  for (const j of run.jobs) {
    const s = mergeStats([stats.get(j.name) ?? {}])
    if (j.stage === "classify") {
      const c = s[CLASSIFY_STATS] ?? {}
      const histogram = [0, 1, 2, 3, 4, 5].map((k) => `${k}: ${c[`int_score_${k}`] ?? 0}`).join(", ")
      lines.push(`${j.name}: ${c["documents"] ?? 0} documents scored → ${j.scored}  (int_score ${histogram})`)
    } else {
      const t = s[THRESHOLD_ID] ?? {}
      const reasons = Object.entries(t).filter(([k]) => k.startsWith("dropped_")).map(([k, v]) => `${k.slice(8)} ${v}`)
      const overrides = Object.entries(j.overrides).map(([l, v]) => `${l} ${v}`)
      lines.push(
        `${j.name}: threshold ${j.threshold}${overrides.length > 0 ? ` (${overrides.join(", ")})` : ""}: ` +
          `kept ${t["forwarded"] ?? 0} of ${t["total"] ?? 0} → ${j.kept}; dropped ${t["dropped"] ?? 0}` +
          `${reasons.length > 0 ? ` (${reasons.join(", ")})` : ""} → ${path.join(j.dropped, THRESHOLD_ID)}`
      )
    }
  }
  return lines.join("\n")
}


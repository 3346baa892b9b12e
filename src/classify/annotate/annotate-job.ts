/**
 * Annotation as sharded executor jobs, the way programs/filter.ts and `classifier.ts apply` run: worker processes
 * here or Slurm job arrays (data/executor/run-job.ts), each rank's outputs written atomically and its completion
 * marker last, so a rerun of the same command redoes exactly the unfinished ranks. Three jobs, each after the one
 * before it, so that a Slurm run nobody waits for still ends with the merged output:
 *
 * - `select` (1 task): reads the inputs once and draws the documents to annotate (selection.ts: the seeded sample of
 *   a single-process run, the same documents for any --tasks) → OUT/selection.json.
 * - `annotate` (--tasks ranks): rank r annotates its contiguous slice of the selection, with its own answer cache
 *   OUT/cache/<r>.jsonl (appended as each reply arrives, so a killed rank pays for no answer twice) →
 *   OUT/ranks/<r>/annotated/NAME.jsonl, OUT/ranks/<r>/failed/NAME.jsonl, OUT/ranks/<r>/summary.json. A rank whose
 *   documents failed for a retryable reason (server errors, rate limits, timeouts) fails, so the rerun asks again.
 * - `merge` (1 task): concatenates the ranks' parts of each input file in rank order → OUT/annotated/NAME.jsonl,
 *   OUT/failed/NAME.jsonl and OUT/summary.json: the bytes a single-process run writes (both are in input order).
 *
 * Logs, markers and stats: OUT/logs/<job>/; the run's settings: OUT/logs/config.json. Concurrency and the request
 * rate limit are per task: N tasks keep N × --concurrency requests in flight.
 */
import { Effect, type FileSystem, Redacted, Schema } from "effect"
import type { HttpClient } from "effect/http"
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs"
import * as path from "node:path"
import { DataConfigError, ReadError, type WriteError } from "../../data/errors.ts"
import type { Job } from "../../data/executor/local.ts"
import { pad5 } from "../../data/executor/rank-files.ts"
import { jobReport, runJobChain } from "../../data/executor/run-chain.ts"
import type { Executor } from "../../data/executor/run-job.ts"
import type { StageSubmission } from "../../data/executor/slurm.ts"
import { incompleteRanks, type TaskContext } from "../../data/executor/task.ts"
import { AtomicFileSync, tryWrite, writeFileAtomicSync } from "../../data/io/atomic.ts"
import { resolveInputs } from "../../data/io/readers.ts"
import { annotateItems, type AnnotateSummary, isRetryableFailure, outputStems, type RetryableFailure } from "./annotate-files.ts"
import { Annotator, type ChatAnnotatorOptions } from "./Annotator.ts"
import { type AnnotationConfigError, AnnotationsIncomplete } from "./errors.ts"
import { promptOfSpec, PromptSpec } from "./prompt-spec.ts"
import { rankSlice, Selection, selectDocuments, selectionSize, sliceItems } from "./selection.ts"

export const AnnotateRunConfig = Schema.Struct({
  /** OUT, absolute. */
  output: Schema.String,
  /** The --input paths as given (absolute). */
  inputs: Schema.Array(Schema.String),
  /** The data files they name, in reading order. */
  files: Schema.Array(Schema.String),
  prompt: PromptSpec,
  /** The prompt's content-addressed version: a worker whose toolkit builds another one refuses to run. */
  promptVersion: Schema.String,
  endpoint: Schema.String,
  model: Schema.String,
  /** The name of the variable holding the key; the key itself is read by each task and written nowhere. */
  apiKeyEnv: Schema.String,
  timeoutSeconds: Schema.Number,
  maxAttempts: Schema.Number,
  backoffBaseMs: Schema.Number,
  backoffMaxMs: Schema.Number,
  maxRequestsPerSecond: Schema.optional(Schema.Number),
  temperature: Schema.optional(Schema.Number),
  maxTokens: Schema.optional(Schema.Number),
  /** Per task. */
  concurrency: Schema.Number,
  limit: Schema.optional(Schema.Number),
  sample: Schema.optional(Schema.Struct({ size: Schema.Number, seed: Schema.Number })),
  textKey: Schema.String,
  idKey: Schema.String,
  tasks: Schema.Number,
  workers: Schema.Number
})
export type AnnotateRunConfig = typeof AnnotateRunConfig.Type

export const JOB_NAMES = ["select", "annotate", "merge"] as const
export type AnnotateJobName = typeof JOB_NAMES[number]

export const annotateConfigPath = (output: string) => path.join(output, "logs", "config.json")
const jobLogDir = (output: string, job: AnnotateJobName) => path.join(output, "logs", job)
const selectionPath = (output: string) => path.join(output, "selection.json")
const rankFolder = (output: string, rank: number) => path.join(output, "ranks", pad5(rank))
const rankCacheFile = (output: string, rank: number) => path.join(output, "cache", `${pad5(rank)}.jsonl`)
const tasksOf = (config: AnnotateRunConfig, job: AnnotateJobName) => (job === "annotate" ? config.tasks : 1)

/** The settings that decide what a run writes; the others (endpoint, retries, concurrency, workers) may change on a rerun. */
const DECIDING = ["files", "promptVersion", "model", "limit", "sample", "textKey", "idKey", "tasks"] as const

/** What the endpoint is asked with, the key read from the environment now. */
export const chatAnnotatorOptions = (
  config: Pick<AnnotateRunConfig, "endpoint" | "model" | "apiKeyEnv" | "timeoutSeconds" | "maxAttempts" | "backoffBaseMs" | "backoffMaxMs" | "maxRequestsPerSecond" | "temperature" | "maxTokens">,
  env: NodeJS.ProcessEnv = process.env): ChatAnnotatorOptions => {
  const key = env[config.apiKeyEnv]
  return {
    endpoint: config.endpoint,
    model: config.model,
    apiKey: key === undefined || key.length === 0 ? undefined : Redacted.make(key),
    timeoutMs: config.timeoutSeconds * 1000,
    maxAttempts: config.maxAttempts,
    backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, maxRetryAfterMs: 300_000 },
    maxRequestsPerSecond: config.maxRequestsPerSecond,
    temperature: config.temperature,
    maxTokens: config.maxTokens
  }
}

/** The data files the run reads, listed before anything is written, so that a wrong --input leaves no output folder. */
export const listAnnotateInputs = (inputs: ReadonlyArray<string>): Effect.Effect<Array<string>, DataConfigError> =>
  Effect.tryPromise({
    try: () => resolveInputs(inputs),
    catch: (e) => new DataConfigError({ message: `--input: cannot list ${inputs.join(", ")}: ${e instanceof Error ? e.message : String(e)}` })
  })

export const loadAnnotateConfig = (file: string): Effect.Effect<AnnotateRunConfig, DataConfigError> =>
  Effect.try({
    try: () => Schema.decodeUnknownSync(AnnotateRunConfig)(JSON.parse(readFileSync(file, "utf8"))),
    catch: (e) => new DataConfigError({ message: `${file}: not an annotation run's config: ${(e as Error).message}` })
  })

/**
 * Writes OUT/logs/config.json. An output whose jobs have finished ranks under other deciding settings (inputs,
 * prompt, model, sample, tasks …) is refused: its skipped ranks would keep the old run's documents.
 */
export const writeAnnotateConfig = (config: AnnotateRunConfig): Effect.Effect<string, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const file = annotateConfigPath(config.output)
    if (existsSync(file)) {
      const old = yield* loadAnnotateConfig(file)
      const started = JOB_NAMES.some((j) => incompleteRanks(jobLogDir(old.output, j), tasksOf(old, j)).length < tasksOf(old, j))
      const differ = DECIDING.filter((k) => JSON.stringify(old[k]) !== JSON.stringify(config[k]))
      if (started && differ.length > 0) {
        const shown = (k: typeof DECIDING[number], c: AnnotateRunConfig) => JSON.stringify(c[k]) ?? "none"
        return yield* new DataConfigError({
          message: `${config.output} holds an annotation run started with other settings (${differ.map((k) => `${k}: ${shown(k, old)} then, ${shown(k, config)} now`).join("; ")}); ` +
            "rerun with the same settings to resume it, or give another --output"
        })
      }
    }
    yield* tryWrite(file, () => writeFileAtomicSync(file, JSON.stringify(config, null, 2) + "\n"))
    return file
  })

/** select → annotate → merge, each depending on the one before; the last is the one to run. */
export const planAnnotateJobs = (config: AnnotateRunConfig, configFile: string, script: string): Array<Job> => {
  const job = (name: AnnotateJobName, outputs: ReadonlyArray<string>, depends?: Job): Job => ({
    name,
    loggingDir: jobLogDir(config.output, name),
    tasks: tasksOf(config, name),
    workers: name === "annotate" ? config.workers : 1,
    script,
    args: ["task", "--config", configFile, "--job", name],
    outputs,
    ...(depends === undefined ? {} : { depends })
  })
  const select = job("select", [])
  const annotate = job("annotate", [path.join(config.output, "ranks")], select)
  return [select, annotate, job("merge", [path.join(config.output, "annotated"), path.join(config.output, "failed")], annotate)]
}

const loadSelection = (config: AnnotateRunConfig): Effect.Effect<Selection, ReadError> =>
  Effect.try({
    try: () => Schema.decodeUnknownSync(Selection)(JSON.parse(readFileSync(selectionPath(config.output), "utf8"))),
    catch: (e) => new ReadError({ file: selectionPath(config.output), location: "file", message: `not the selection of this run (${(e as Error).message})`, cause: e })
  })

const selectTask = (config: AnnotateRunConfig, ctx: TaskContext) =>
  Effect.gen(function*() {
    const reader = { textKey: config.textKey, idKey: config.idKey }
    const selection = yield* selectDocuments(config.files, reader, config.limit, config.sample, (read) => ctx.progress(read, 0))
    const file = selectionPath(config.output)
    yield* tryWrite(file, () => writeFileAtomicSync(file, JSON.stringify(selection) + "\n"))
    const read = selection.counts.reduce((a, b) => a + b, 0)
    ctx.stats.add("select", "read", read)
    ctx.stats.add("select", "selected", selectionSize(selection))
    ctx.log(`read ${read} documents from ${selection.opened.length} of ${selection.files.length} files; ${selectionSize(selection)} to annotate → ${file}`)
  })

/** Why a rank did not complete, for the executor's error message: how many, why, and a few of them. */
const incompleteMessage = (summary: AnnotateSummary, retryable: number, examples: ReadonlyArray<RetryableFailure>) => {
  const reasons = Object.entries(summary.failed_by_reason).filter(([r]) => isRetryableFailure(r)).map(([r, n]) => `${r} ${n}`).join(", ")
  const shown = examples.map((e) => `${e.id}: ${e.reason} after ${e.attempts} attempt${e.attempts === 1 ? "" : "s"} (${e.lastError})`).join("; ")
  return `${retryable} of ${summary.documents} documents could not be annotated (${reasons}), e.g. ${shown}. ` +
    "The answers received are cached: a rerun asks only for the documents without one"
}

const annotateTask = (config: AnnotateRunConfig, ctx: TaskContext) =>
  Effect.gen(function*() {
    const selection = yield* loadSelection(config)
    const prompt = yield* promptOfSpec(config.prompt)
    if (prompt.version !== config.promptVersion) {
      return yield* new DataConfigError({
        message: `the prompt is now ${prompt.version}, but this run started with ${config.promptVersion} (was the toolkit updated?); finish it with the toolkit that started it, or start another --output`
      })
    }
    const total = selectionSize(selection)
    const { from, to } = rankSlice(total, ctx.rank, ctx.worldSize)
    const folder = rankFolder(config.output, ctx.rank)
    const stems = outputStems(selection.files)
    ctx.log(`documents ${from}–${to - 1} of the ${total} selected (${to - from}); ${config.concurrency} requests in flight at most`)
    let logged = performance.now()
    const run = yield* annotateItems({
      items: sliceItems(selection, { textKey: config.textKey, idKey: config.idKey }, from, to),
      targets: selection.files.map((input, i) => ({
        input,
        annotatedPath: path.join(folder, "annotated", `${stems[i]}.jsonl`),
        failedPath: path.join(folder, "failed", `${stems[i]}.jsonl`)
      })),
      cacheFile: rankCacheFile(config.output, ctx.rank),
      summaryFile: path.join(folder, "summary.json"),
      prompt,
      concurrency: config.concurrency,
      total: () => to - from,
      progressIntervalMs: 1000,
      onProgress: (p) => {
        ctx.progress(p.done, 0)
        // A line a minute in the rank's log: what a person tailing a Slurm task wants to see.
        if (performance.now() - logged < 60_000) return
        logged = performance.now()
        ctx.log(`${p.done}/${to - from} documents, ${p.failed} failed, ${p.fromCache} cached, ${p.counts.requests} requests, ${p.counts.retries} retries`)
      }
    }).pipe(Effect.provide(Annotator.layer(chatAnnotatorOptions(config))))
    const s = run.summary
    for (const [key, value] of Object.entries({ documents: s.documents, annotated: s.annotated, failed: s.failed, from_cache: s.from_cache, requests: s.requests })) {
      ctx.stats.add("annotate", key, value)
    }
    ctx.log(`${s.annotated} annotated, ${s.failed} failed (${JSON.stringify(s.failed_by_reason)}), ${s.from_cache} from the cache, ${s.requests} requests`)
    if (run.retryable > 0) return yield* new AnnotationsIncomplete({ message: incompleteMessage(s, run.retryable, run.retryableExamples) })
  })

/** Appends `parts` (those that exist), in order, to a new `target`, renamed into place at the end. */
const concatenate = (parts: ReadonlyArray<string>, target: string) =>
  tryWrite(target, () => {
    const out = new AtomicFileSync(target)
    try {
      const buffer = Buffer.alloc(1 << 20)
      for (const part of parts.filter((p) => existsSync(p))) {
        const fd = openSync(part, "r")
        try {
          for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) out.write(buffer.subarray(0, n))
        } finally {
          closeSync(fd)
        }
      }
      out.commit()
    } catch (e) {
      out.abort()
      throw e
    }
  })

const sumInto = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
  return into
}

/** One summary for the run: the ranks' counts summed; `seconds` is the longest rank's. */
const mergeSummaries = (config: AnnotateRunConfig, ranks: ReadonlyArray<AnnotateSummary>, files: AnnotateSummary["files"]): AnnotateSummary & { readonly tasks: number } => {
  const sum = (f: (s: AnnotateSummary) => number) => ranks.reduce((a, s) => a + f(s), 0)
  const documents = sum((s) => s.documents)
  const requests = sum((s) => s.requests)
  const seconds = Math.max(0, ...ranks.map((s) => s.seconds))
  return {
    prompt: config.promptVersion,
    model: config.model,
    tasks: config.tasks,
    documents,
    annotated: sum((s) => s.annotated),
    failed: sum((s) => s.failed),
    failed_by_reason: ranks.reduce((a, s) => sumInto(a, s.failed_by_reason), {}),
    from_cache: sum((s) => s.from_cache),
    scores: ranks.reduce((a, s) => sumInto(a, s.scores), {}),
    requests,
    retries: sum((s) => s.retries),
    outcomes: ranks.reduce((a, s) => sumInto(a, s.outcomes), {}),
    prompt_tokens: sum((s) => s.prompt_tokens),
    completion_tokens: sum((s) => s.completion_tokens),
    seconds,
    documents_per_second: seconds > 0 ? documents / seconds : 0,
    requests_per_second: seconds > 0 ? requests / seconds : 0,
    files,
    cache: {
      file: path.join(config.output, "cache"),
      entries_at_start: sum((s) => s.cache.entries_at_start),
      torn_bytes_dropped: sum((s) => s.cache.torn_bytes_dropped)
    }
  }
}

const mergeTask = (config: AnnotateRunConfig, ctx: TaskContext) =>
  Effect.gen(function*() {
    const selection = yield* loadSelection(config)
    const stems = outputStems(selection.files)
    const ranks = Array.from({ length: config.tasks }, (_, r) => r)
    const summaries = yield* Effect.forEach(ranks, (r) => {
      const file = path.join(rankFolder(config.output, r), "summary.json")
      return Effect.try({
        try: () => JSON.parse(readFileSync(file, "utf8")) as AnnotateSummary,
        catch: (e) => new ReadError({ file, location: "file", message: `rank ${r}'s summary: ${(e as Error).message}`, cause: e })
      })
    })
    const files: Array<AnnotateSummary["files"][number]> = []
    for (const f of selection.opened) {
      const input = selection.files[f]!
      const target = (kind: "annotated" | "failed") => path.join(config.output, kind, `${stems[f]}.jsonl`)
      const parts = (kind: "annotated" | "failed") => ranks.map((r) => path.join(rankFolder(config.output, r), kind, `${stems[f]}.jsonl`))
      yield* concatenate(parts("annotated"), target("annotated"))
      yield* concatenate(parts("failed"), target("failed"))
      const documents = summaries.reduce((a, s) => a + s.files.filter((x) => x.input === input).reduce((b, x) => b + x.documents, 0), 0)
      files.push({ input, annotated: target("annotated"), failed: target("failed"), documents })
    }
    const summary = mergeSummaries(config, summaries, files)
    const summaryFile = path.join(config.output, "summary.json")
    yield* tryWrite(summaryFile, () => writeFileAtomicSync(summaryFile, JSON.stringify(summary, null, 2) + "\n"))
    ctx.stats.add("merge", "documents", summary.documents)
    ctx.progress(summary.documents, 0)
    ctx.log(`${summary.documents} documents of ${config.tasks} ranks → ${path.join(config.output, "annotated")}, ${path.join(config.output, "failed")}`)
  })

/** One rank of job `job` (what `programs/annotate.ts task` runs). */
export const runAnnotateTask = (
  config: AnnotateRunConfig,
  job: AnnotateJobName,
  ctx: TaskContext
): Effect.Effect<void, ReadError | WriteError | DataConfigError | AnnotationConfigError | AnnotationsIncomplete, FileSystem.FileSystem | HttpClient.HttpClient> => {
  switch (job) {
    case "select":
      return selectTask(config, ctx)
    case "annotate":
      return annotateTask(config, ctx)
    case "merge":
      return mergeTask(config, ctx)
  }
}

export type AnnotateJobOutcome =
  | { readonly _tag: "Complete"; readonly summary: AnnotateSummary }
  | { readonly _tag: "Submitted"; readonly stages: ReadonlyArray<StageSubmission>; readonly following: boolean }

/**
 * Writes the run's config, runs its jobs on `executor` (with a progress line per job on stderr) and, once they
 * are complete, returns the merged summary (OUT/summary.json).
 */
export const runAnnotateJobs = (config: AnnotateRunConfig, executor: Executor, script: string) =>
  Effect.gen(function*() {
    const configFile = yield* writeAnnotateConfig(config)
    const jobs = planAnnotateJobs(config, configFile, script)
    // Its tasks count documents, not text bytes.
    const outcome = yield* runJobChain(jobs, executor, { report: (p) => ({ ...jobReport(p), counters: { docs: p.docs } }) })
    if (outcome._tag === "Submitted") return { _tag: "Submitted", stages: outcome.stages, following: outcome.following } as const satisfies AnnotateJobOutcome
    const file = path.join(config.output, "summary.json")
    const summary = yield* Effect.try({
      try: () => JSON.parse(readFileSync(file, "utf8")) as AnnotateSummary,
      catch: (e) => new ReadError({ file, location: "file", message: `the merged summary: ${(e as Error).message}`, cause: e })
    })
    return { _tag: "Complete", summary } as const satisfies AnnotateJobOutcome
  })


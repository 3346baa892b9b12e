import { Effect, Stream } from "effect"
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import type { CodeRunner } from "./CodeRunner.ts"
import type { CodeProblem } from "./code.ts"
import { generateAndScore, scoreCompletions, type CodeSample } from "./code.ts"
import { type CodeRunnerError, type EvalDataError, type LanguageModelError, ReportWriteError } from "./errors.ts"
import { evaluateTask, type EvaluateOptions, groupAverages, type TaskResult } from "./evaluate.ts"
import type { LanguageModel } from "./LanguageModel.ts"
import type { LoadedTask } from "./tasks.ts"

/** A unit of work for `runEvaluation`: a lighteval-style task or a code benchmark. */
export type EvalJob =
  | { readonly _tag: "Task"; readonly task: LoadedTask }
  | { readonly _tag: "Code"; readonly name: string; readonly problems: ReadonlyArray<CodeProblem>; readonly completions?: ReadonlyArray<CodeSample>; readonly samples?: number }

/** Results as they finish, one per job, in job order. */
export const runEvaluation = (
  jobs: ReadonlyArray<EvalJob>,
  options: EvaluateOptions = {}
): Stream.Stream<TaskResult, LanguageModelError | CodeRunnerError | EvalDataError, LanguageModel | CodeRunner> =>
  Stream.fromIterable(jobs).pipe(
    Stream.mapEffect((job): Effect.Effect<TaskResult, LanguageModelError | CodeRunnerError | EvalDataError, LanguageModel | CodeRunner> => {
      if (job._tag === "Task") return evaluateTask(job.task, options)
      const problems = options.limit === undefined ? job.problems : job.problems.slice(0, options.limit)
      if (job.completions !== undefined) {
        const wanted = new Set(problems.map((p) => p.taskId))
        return Effect.map(
          scoreCompletions(job.name, problems, job.completions.filter((c) => wanted.has(c.taskId)), options),
          ({ outcomes: _, ...r }) => r
        )
      }
      return generateAndScore(job.name, problems, { ...options, ...(job.samples === undefined ? {} : { samples: job.samples }) })
    })
  )

const fmt = (x: number) => x.toFixed(4)

/** All rows of a run: each task, its subtasks (MMLU subjects), then lighteval's `:_average` groups. */
export const allRows = (results: ReadonlyArray<TaskResult>): Array<TaskResult> => {
  const rows = results.flatMap((r) => [r, ...(r.subtasks ?? [])])
  return [...rows, ...groupAverages(rows.filter((r) => !r.task.endsWith(":_average")))]
}

/** lighteval's results table: one line per task and metric. */
export const markdownTable = (results: ReadonlyArray<TaskResult>): string => {
  const lines = ["| Task | Samples | Metric | Value | Stderr |", "|---|---:|---|---:|---:|"]
  for (const r of allRows(results)) {
    for (const m of r.metrics) {
      lines.push(`| ${r.task} | ${r.samples} | ${m.name} | ${fmt(m.value)} | ${m.stderr === undefined ? "" : `± ${fmt(m.stderr)}`} |`)
    }
  }
  return lines.join("\n") + "\n"
}

/** `{"results": {"<task>": {"acc": …, "acc_stderr": …}}, "config": {...}}`, lighteval's key spelling. */
export const resultsJson = (results: ReadonlyArray<TaskResult>, config: Record<string, unknown>): string => {
  const out: Record<string, Record<string, number>> = {}
  for (const r of allRows(results)) {
    const entry: Record<string, number> = {}
    for (const m of r.metrics) {
      entry[m.name] = m.value
      if (m.stderr !== undefined) entry[`${m.name}_stderr`] = m.stderr
    }
    out[r.task] = entry
  }
  const samples = Object.fromEntries(allRows(results).map((r) => [r.task, r.samples]))
  return JSON.stringify({ results: out, samples, config }, null, 2) + "\n"
}

/** Written under a temporary name and renamed, so a killed run never leaves a half report that looks whole. */
export const writeAtomic = (file: string, content: string): Effect.Effect<void, ReportWriteError> =>
  Effect.try({
    try: () => {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
      const temp = `${file}.tmp-${process.pid}`
      try {
        writeFileSync(temp, content)
        renameSync(temp, file)
      } catch (e) {
        rmSync(temp, { force: true })
        throw e
      }
    },
    catch: (e) => new ReportWriteError({ file, message: (e as Error).message, cause: e })
  })

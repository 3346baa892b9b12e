/**
 * A chain of jobs run the way the programs run theirs (filter, classifier apply, tokenizer, annotate): the chain's
 * last job on the executor the person chose (each job runs after the one it depends on), a progress line per job
 * on stderr, and once every rank is complete, each job's merged stats. A Slurm run not waited for ends with what
 * was submitted instead.
 */
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { makeProgress, type Progress, type ProgressTask, type Report } from "../progress/Progress.ts"
import type { Stats } from "../stats.ts"
import type { Job, Progress as ExecutorProgress } from "./local.ts"
import { type Executor, type JobOutcome, runJob } from "./run-job.ts"
import type { ExecutorError } from "./task.ts"

export type ChainOutcome =
  /** Every rank of every job is complete: each job's merged stats, by job name. */
  | { readonly _tag: "Complete"; readonly stats: ReadonlyMap<string, Stats> }
  /** Submitted to Slurm and not waited for. */
  | Extract<JobOutcome, { readonly _tag: "Submitted" }>

export interface JobChainOptions {
  /** The job lines: on stderr (the default, or true), none (false; notes then go to stderr as plain lines), or on this Progress. */
  readonly progress?: boolean | Progress
  /** What a job's line shows for one report of the executor (default `jobReport`). */
  readonly report?: (p: ExecutorProgress) => Report
}

/** Tasks done of the job's tasks, documents and MB of text read, on the executor's clock (its workers start before their first report). */
export const jobReport = (p: ExecutorProgress): Report => ({
  done: p.completed,
  total: p.tasks,
  counters: { docs: p.docs, MB: p.bytes / 1e6 },
  elapsed: p.seconds
})

/** How far through its input a job is, when the input's size bounds the text it reads (plain JSONL). */
export const fractionOfBytes = (p: ExecutorProgress, inputBytes: number | undefined): number | undefined =>
  inputBytes !== undefined && inputBytes > 0 ? Math.min(1, p.bytes / inputBytes) : undefined

/** Each job's LOGS/<job>/stats.json, written by whichever task completed the job's last rank (or the local executor). */
const readChainStats = (jobs: ReadonlyArray<Job>): ReadonlyMap<string, Stats> => {
  const byJob = new Map<string, Stats>()
  for (const j of jobs) {
    const f = path.join(j.loggingDir, "stats.json")
    byJob.set(j.name, existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as Stats) : {})
  }
  return byJob
}

/** Runs `jobs`, chained by `depends` with the last one last, on `executor`. */
export const runJobChain = (
  jobs: ReadonlyArray<Job>,
  executor: Executor,
  options: JobChainOptions = {}
): Effect.Effect<ChainOutcome, ExecutorError> =>
  Effect.gen(function*() {
    const progress = options.progress === false
      ? undefined
      : options.progress === true || options.progress === undefined
      ? makeProgress()
      : options.progress
    const report = options.report ?? jobReport
    // A line per job; the executor's last report of a job, after its tasks ended, is the one that finishes it.
    let current: { readonly name: string; readonly line: ProgressTask; report: Report } | undefined
    const finish = () => current?.line.finish(current.report)
    const onProgress = (p: ExecutorProgress) => {
      if (progress === undefined) return
      if (current?.name !== p.job) {
        finish()
        current = { name: p.job, line: progress.task(p.job, { unit: "tasks", rateUnit: null }), report: { done: 0 } }
      }
      current.report = report(p)
      current.line.update(current.report)
    }
    const log = (line: string) => (progress === undefined ? console.error(line) : progress.log(line))
    const outcome = yield* runJob(jobs.at(-1)!, executor, { onProgress, log }).pipe(Effect.ensuring(Effect.sync(finish)))
    if (outcome._tag === "Submitted") return outcome
    return { _tag: "Complete", stats: readChainStats(jobs) } as const
  })

/**
 * Where a full run's curation jobs run, from the config's `curation` section: the filter and dedup stages
 * (src/data/fineweb.ts `planJobs`) and the classify and threshold jobs (src/classify/apply-run.ts `planApplyJobs`)
 * are the jobs `programs/filter.ts` and `programs/classifier.ts apply` run, and they run the same ways —
 * `workers` local processes at a time, or Slurm job arrays chained by `afterok` that the run waits for (the
 * executor's `--wait`), each process running curation-task.ts. With one local worker they run in the run's own
 * process instead, one rank after another: a worker's start-up (about 2 s on 2 busy cores) outweighs a small rank's
 * work — the default world's web source took 3–4 s in-process and 18 s through one worker process per job.
 *
 * Either way each rank goes through `runTask`, so completion markers, per-rank stats and logs are the executor's:
 * a resumed run skips finished ranks whichever way they ran, and the funnel is summed from the same stats files.
 */
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { type Job, type Progress, removeStaleTemps } from "../../data/executor/local.ts"
import { type Executor, runJob } from "../../data/executor/run-job.ts"
import type { SlurmSettings } from "../../data/executor/slurm.ts"
import { ExecutorError, mergeStatsFiles, runTask, type TaskContext } from "../../data/executor/task.ts"
import type { Stats } from "../../data/stats.ts"
import type { CurationConfig } from "../config.ts"

/** The script every curation worker process runs. */
export const CURATION_TASK_SCRIPT = fileURLToPath(new URL("./curation-task.ts", import.meta.url))

/** How the curation section asks jobs to run. */
export type CurationExecution = Partial<Omit<typeof CurationConfig.Type, "tasks">>

export type CurationRunner =
  /** Every rank in this process, one after another. */
  | { readonly _tag: "in-process" }
  | { readonly _tag: "executor"; readonly executor: Executor; readonly workers: number }

const slurmSettings = (s: NonNullable<CurationExecution["slurm"]>): SlurmSettings => ({
  cpusPerTask: s.cpusPerTask,
  ...(s.partition === undefined ? {} : { partition: s.partition }),
  ...(s.time === undefined ? {} : { time: s.time }),
  ...(s.memPerCpu === undefined ? {} : { memPerCpu: s.memPerCpu }),
  ...(s.qos === undefined ? {} : { qos: s.qos }),
  ...(s.account === undefined ? {} : { account: s.account }),
  ...(s.envCommand === undefined ? {} : { envCommand: s.envCommand }),
  ...(Object.keys(s.sbatchArgs).length === 0 ? {} : { sbatchArgs: s.sbatchArgs })
})

/** The runner the section asks for; `tasks` is every job's rank count (a Slurm array without `workers` runs them all at once). */
export const curationRunner = (c: CurationExecution, tasks: number): CurationRunner => {
  if (c.executor === "slurm") {
    return { _tag: "executor", executor: { _tag: "slurm", settings: c.slurm === undefined ? {} : slurmSettings(c.slurm), wait: true }, workers: c.workers ?? tasks }
  }
  const workers = c.workers ?? 1
  return workers === 1 ? { _tag: "in-process" } : { _tag: "executor", executor: { _tag: "local" }, workers }
}

/** The worker count a job plan is made with (`planJobs` groups MinHash's bucket ranks by it). */
export const plannedWorkers = (runner: CurationRunner): number => (runner._tag === "in-process" ? 1 : runner.workers)

/** Runs each rank of `job` here, skipping ranks whose completion marker exists. */
const runInProcess = <E, R>(job: Job, body: (ctx: TaskContext) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    for (const folder of job.outputs ?? []) removeStaleTemps(folder)
    for (let rank = 0; rank < job.tasks; rank++) yield* runTask(job.loggingDir, rank, job.tasks, body)
  })

export interface CurationJobsOptions<J extends Job, E, R> {
  /** Each job depending on the one before it (as `planJobs` and `planApplyJobs` chain them). */
  readonly jobs: ReadonlyArray<J>
  readonly runner: CurationRunner
  /** What one rank of `job` does, for the in-process runner (the worker processes run curation-task.ts). */
  readonly rank: (job: J) => (ctx: TaskContext) => Effect.Effect<void, E, R>
  /** Names the jobs in log lines (the source). */
  readonly label: string
  readonly log: (line: string) => void
}

/** Runs the chain on the runner; every job's merged stats, in order, once all its ranks are complete. */
export const runCurationJobs = <J extends Job, E, R>(o: CurationJobsOptions<J, E, R>): Effect.Effect<Array<Stats>, E | ExecutorError, R> =>
  Effect.gen(function*() {
    const { jobs, runner } = o
    if (jobs.length === 0) return []
    if (runner._tag === "in-process") {
      for (const job of jobs) yield* runInProcess(job, o.rank(job))
    } else {
      // One line per job as it completes: under Slurm the wait may be long, and the queue's notes come between.
      const done = new Set<string>()
      const where = runner.executor._tag === "slurm" ? "Slurm" : `${runner.workers} local ${runner.workers === 1 ? "worker" : "workers"}`
      const onProgress = (p: Progress) => {
        if (p.completed < p.tasks || done.has(p.job)) return
        done.add(p.job)
        o.log(`${o.label}: ${p.job}: ${p.tasks} ${p.tasks === 1 ? "task" : "tasks"} done on ${where} (${p.docs} documents, ${p.seconds.toFixed(1)} s)`)
      }
      const outcome = yield* runJob(jobs.at(-1)!, runner.executor, { onProgress, log: (line) => o.log(`${o.label}: ${line}`) })
      // The run waits for Slurm (wait: true), so it never ends at a submission.
      if (outcome._tag === "Submitted") return yield* new ExecutorError({ message: `${o.label}: curation jobs were submitted but not waited for` })
    }
    return jobs.map((job) => mergeStatsFiles(job.loggingDir, job.tasks))
  })

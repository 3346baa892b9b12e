/**
 * Local executor (datatrove executor/local.py): runs a job's `tasks` ranks with at most `workers` processes at a
 * time, skips ranks whose completion marker exists, runs the job it depends on first, and merges every rank's
 * stats into `stats.json`. Each worker is a Node process running the job's script (started directly with
 * `node --import tsx`, so killing it kills the work) with its ranks in SMOL_RANKS; what a rank does is the
 * script's business (see task.ts). Ranks are handed out one at a time as workers finish, as datatrove's pool does.
 */
import { Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../io/atomic.ts"
import type { Stats } from "../stats.ts"
import { ExecutorError, incompleteRanks, isRankCompleted, mergeStatsFiles, progressPath, TASK_ENV, taskLogPath } from "./task.ts"

export interface Job {
  /** Shown in logs and progress. */
  readonly name: string
  /** completions/, stats/, logs/, progress/, stats.json. */
  readonly loggingDir: string
  readonly tasks: number
  /** Parallel processes (default: tasks). */
  readonly workers?: number
  /** The TypeScript (or JavaScript) program every task process runs. */
  readonly script: string
  readonly args?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  /** A job whose every rank must be complete before this one starts (dedup stage 2 waits for stage 1). */
  readonly depends?: Job
  /** Folders where a killed task may have left temporary files (`*.tmp-<pid>`), removed before a rerun. */
  readonly outputs?: ReadonlyArray<string>
  /**
   * Ranks run one after another by one process (default 1), like datatrove's `tasks_per_job`: a process start
   * costs more than a small rank (the 14 bucket ranks of a small dedup run).
   */
  readonly ranksPerProcess?: number
}

export interface Progress {
  readonly job: string
  readonly tasks: number
  readonly completed: number
  readonly docs: number
  readonly bytes: number
  readonly seconds: number
}

export interface LocalOptions {
  readonly onProgress?: (p: Progress) => void
  /** Milliseconds between progress reports (default 1000). */
  readonly progressEvery?: number
}

const tsxLoader = import.meta.resolve("tsx")

/** The command line a task process is started with. */
export const taskCommand = (script: string, args: ReadonlyArray<string> = []): Array<string> =>
  /\.[cm]?js$/.test(script) ? [script, ...args] : ["--import", tsxLoader, script, ...args]

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
  // A killed worker whose parent died too can stay a zombie where nothing reaps orphans (containers whose PID 1
  // is not an init): it answers kill(0) but will never finish its file.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

/** Temporary files of processes that no longer exist: what a SIGKILL leaves behind. */
export const removeStaleTemps = (folder: string): number => {
  if (!existsSync(folder)) return 0
  let removed = 0
  for (const e of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    const m = /\.tmp-(\d+)$/.exec(e.name)
    if (m !== null && e.isFile() && !alive(Number(m[1]))) {
      rmSync(path.join(e.parentPath, e.name), { force: true })
      removed++
    }
  }
  return removed
}

const readProgress = (job: Job) => {
  let docs = 0
  let bytes = 0
  for (let r = 0; r < job.tasks; r++) {
    try {
      const p = JSON.parse(readFileSync(progressPath(job.loggingDir, r), "utf8")) as { docs: number; bytes: number }
      docs += p.docs
      bytes += p.bytes
    } catch {
      // not started yet, or being rewritten
    }
  }
  return { docs, bytes }
}

/** Some ranks in one process; resolves with the exit code, kills the process if the fiber is interrupted. */
const runRanks = (job: Job, ranks: ReadonlyArray<number>) =>
  Effect.callback<{ code: number | null; signal: string | null }, ExecutorError>((resume) => {
    const rank = ranks[0]!
    // The process's own output (stack traces included) goes to its first rank's log; runTask logs every rank.
    const log = taskLogPath(job.loggingDir, rank)
    mkdirSync(path.dirname(log), { recursive: true })
    const fd = openSync(log, "a")
    const child = spawn(process.execPath, taskCommand(job.script, job.args), {
      stdio: ["ignore", fd, fd],
      env: {
        ...process.env,
        ...job.env,
        [TASK_ENV.loggingDir]: job.loggingDir,
        [TASK_ENV.worldSize]: String(job.tasks),
        [TASK_ENV.ranks]: ranks.join(",")
      }
    })
    closeSync(fd)
    child.on("error", (e) => resume(Effect.fail(new ExecutorError({ message: `cannot start task ${rank}: ${e.message}`, ranks: [...ranks] }))))
    child.on("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
    return Effect.sync(() => {
      child.kill("SIGTERM")
    })
  })

/** Run `job` (after its dependency) and return the merged stats of all its ranks. */
export const runLocal = (job: Job, options: LocalOptions = {}): Effect.Effect<Stats, ExecutorError> =>
  Effect.gen(function*() {
    if (job.depends !== undefined) yield* runLocal(job.depends, options)
    if (!Number.isInteger(job.tasks) || job.tasks < 1) return yield* new ExecutorError({ message: `${job.name}: tasks must be ≥ 1` })
    const todo = incompleteRanks(job.loggingDir, job.tasks)
    if (todo.length > 0) {
      for (const folder of job.outputs ?? []) removeStaleTemps(folder)
      removeStaleTemps(job.loggingDir)
      writeFileAtomicSync(
        path.join(job.loggingDir, "executor.json"),
        JSON.stringify({ name: job.name, tasks: job.tasks, workers: job.workers, script: job.script, args: job.args, depends: job.depends?.name }, null, 2)
      )
      const started = performance.now()
      const report = () => {
        if (options.onProgress === undefined) return
        const { bytes, docs } = readProgress(job)
        options.onProgress({
          job: job.name,
          tasks: job.tasks,
          completed: job.tasks - incompleteRanks(job.loggingDir, job.tasks).length,
          docs,
          bytes,
          seconds: (performance.now() - started) / 1000
        })
      }
      const ticker = options.onProgress === undefined
        ? undefined
        : setInterval(report, options.progressEvery ?? 1000)
      const per = Math.max(1, job.ranksPerProcess ?? 1)
      const groups: Array<Array<number>> = []
      for (let i = 0; i < todo.length; i += per) groups.push(todo.slice(i, i + per))
      const exits = yield* Effect.forEach(groups, (ranks) => Effect.exit(runRanks(job, ranks)), {
        concurrency: Math.max(1, Math.min(job.workers ?? job.tasks, groups.length))
      }).pipe(Effect.ensuring(Effect.sync(() => ticker !== undefined && clearInterval(ticker))))
      report()
      // A rank failed if its marker is missing, whatever its process's exit status says.
      const failed = todo.filter((rank) => !isRankCompleted(job.loggingDir, rank))
      const how = exits.flatMap((exit, i) =>
        Exit.isFailure(exit) ? [`ranks ${groups[i]!.join(",")}: ${String(exit.cause)}`] :
        exit.value.code !== 0 ? [`ranks ${groups[i]!.join(",")}: exit ${exit.value.code ?? exit.value.signal}`] : []
      )
      if (failed.length > 0) {
        return yield* new ExecutorError({
          message: `${job.name}: ${failed.length} of ${job.tasks} tasks failed (ranks ${failed.join(", ")}; ${how.join("; ")}); see ${
            failed.slice(0, 3).map((r) => taskLogPath(job.loggingDir, r)).join(", ")
          }. Rerun to retry only these.`,
          ranks: failed
        })
      }
    }
    return mergeStatsFiles(job.loggingDir, job.tasks)
  })


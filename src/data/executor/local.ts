/**
 * Local executor (datatrove executor/local.py): runs a job's `tasks` ranks with at most `workers` processes at a
 * time, skips ranks whose completion marker exists, runs the job it depends on first, and merges every rank's
 * stats into `stats.json`. Each worker is a Node process running the job's script (started directly with
 * `node --import tsx`, so killing it kills the work) with its ranks in SMOL_RANKS; what a rank does is the
 * script's business (see task.ts). Ranks are handed out one at a time as workers finish, as datatrove's pool does.
 *
 * Workers die with the executor: each gets an IPC channel and the executor's pid, and stops when either is gone
 * (task.ts `executorGone`), so a SIGKILLed run leaves no worker behind; and a rank still held by a live process
 * (rank-lock.ts) is not started a second time. A failed run's error names each failed rank and what failed it,
 * read from the error file the task wrote (or the end of its log when the process died before it could).
 */
import { Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { staleTempPid, writeFileAtomicSync } from "../io/atomic.ts"
import type { Stats } from "../stats.ts"
import { progressPath, taskLogPath } from "./rank-files.ts"
import { isProcessAlive, liveRankHolder, type RankLock } from "./rank-lock.ts"
import { ExecutorError, incompleteRanks, isRankCompleted, mergeStatsFiles, readRankError, TASK_ENV } from "./task.ts"

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
  /**
   * How long to wait for a rank still held by a live process of an earlier run (one that is stopping since its
   * executor died) before failing (default 5000 ms).
   */
  readonly heldRankWait?: number
}

const tsxLoader = import.meta.resolve("tsx")

/** The command line a task process is started with. */
export const taskCommand = (script: string, args: ReadonlyArray<string> = []): Array<string> =>
  /\.[cm]?js$/.test(script) ? [script, ...args] : ["--import", tsxLoader, script, ...args]

/** Temporary files of processes that no longer exist: what a SIGKILL leaves behind. */
export const removeStaleTemps = (folder: string): number => {
  if (!existsSync(folder)) return 0
  let removed = 0
  for (const e of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    const pid = staleTempPid(e.name)
    if (pid !== undefined && e.isFile() && !isProcessAlive(pid)) {
      rmSync(path.join(e.parentPath, e.name), { force: true })
      removed++
    }
  }
  return removed
}

export const readProgress = (job: Job) => {
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
      // The IPC channel is how a worker learns that this process is gone, even by SIGKILL (it closes with us).
      stdio: ["ignore", fd, fd, "ipc"],
      env: {
        ...process.env,
        ...job.env,
        [TASK_ENV.loggingDir]: job.loggingDir,
        [TASK_ENV.worldSize]: String(job.tasks),
        [TASK_ENV.ranks]: ranks.join(","),
        [TASK_ENV.executorPid]: String(process.pid)
      }
    })
    closeSync(fd)
    child.on("error", (e) => resume(Effect.fail(new ExecutorError({ message: `cannot start task ${rank}: ${e.message}`, ranks: [...ranks] }))))
    child.on("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
    return Effect.sync(() => {
      child.kill("SIGTERM")
    })
  })

/** Ranks of `todo` held by live processes, after waiting up to `waitMs` for them to let go. */
const waitForHeldRanks = (job: Job, todo: ReadonlyArray<number>, waitMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + waitMs
    for (;;) {
      const held = todo.flatMap((rank) => {
        const holder = liveRankHolder(job.loggingDir, rank)
        return holder === undefined ? [] : [[rank, holder] as const]
      })
      if (held.length === 0 || Date.now() >= deadline) return held
      await new Promise((r) => setTimeout(r, 100))
    }
  })

const heldRanksError = (job: Job, held: ReadonlyArray<readonly [number, RankLock]>) =>
  new ExecutorError({
    message: `${job.name}: not starting a second worker on ranks that processes of an earlier run are still running: ${
      held.map(([rank, h]) => `rank ${rank} by process ${h.pid} (since ${h.since})`).join(", ")
    }. Wait for them to finish, or stop them (kill ${[...new Set(held.map(([, h]) => h.pid))].join(" ")}), then rerun.`,
    ranks: held.map(([rank]) => rank)
  })

/** The last `n` non-empty lines of a file, for a failure that left no error file. */
const lastLines = (file: string, n: number): Array<string> => {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").slice(-n)
  } catch {
    return []
  }
}

/** One failed rank for a person: what failed it and where its log is. */
const describeFailure = (job: Job, rank: number, exit: string | undefined): string => {
  const log = taskLogPath(job.loggingDir, rank)
  const error = readRankError(job.loggingDir, rank)
  if (error !== undefined) return `rank ${rank}: ${error}\n    log: ${log}`
  // A later rank of a process whose earlier rank failed never started.
  if (!existsSync(log)) return `rank ${rank}: not started (its process ended first: ${exit ?? "unknown exit"})`
  // The process died before its task could say why (killed, out of memory, a crash at start-up): its log's end.
  const tail = lastLines(log, 6).map((l) => `      ${l}`)
  return `rank ${rank}: ${exit ?? "did not finish"}; the end of its log ${log}:\n${tail.join("\n")}`
}

/** Run `job` (after its dependency) and return the merged stats of all its ranks. */
export const runLocal = (job: Job, options: LocalOptions = {}): Effect.Effect<Stats, ExecutorError> =>
  Effect.gen(function*() {
    if (job.depends !== undefined) yield* runLocal(job.depends, options)
    if (!Number.isInteger(job.tasks) || job.tasks < 1) return yield* new ExecutorError({ message: `${job.name}: tasks must be ≥ 1` })
    const todo = incompleteRanks(job.loggingDir, job.tasks)
    if (todo.length > 0) {
      const held = yield* waitForHeldRanks(job, todo, options.heldRankWait ?? 5000)
      if (held.length > 0) return yield* heldRanksError(job, held)
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
      if (failed.length > 0) {
        const exitOf = (rank: number): string | undefined => {
          const i = groups.findIndex((g) => g.includes(rank))
          const exit = exits[i]
          if (exit === undefined) return undefined
          if (Exit.isFailure(exit)) return String(exit.cause)
          return exit.value.signal !== null ? `killed by ${exit.value.signal}` : `exit code ${exit.value.code}`
        }
        // Ranks whose task said what failed it first: that is what a person needs to read.
        const explained = [...failed].sort((a, b) => Number(readRankError(job.loggingDir, b) !== undefined) - Number(readRankError(job.loggingDir, a) !== undefined))
        const shown = explained.slice(0, 3).map((rank) => `  ${describeFailure(job, rank, exitOf(rank))}`)
        const more = failed.length > shown.length ? [`  … and ${failed.length - shown.length} more (${path.join(job.loggingDir, "errors")})`] : []
        return yield* new ExecutorError({
          message: [
            `${job.name}: ${failed.length} of ${job.tasks} tasks failed (${failed.length === 1 ? "rank" : "ranks"} ${failed.join(", ")}):`,
            ...shown,
            ...more,
            "Rerun the same command to retry only the failed tasks."
          ].join("\n"),
          ranks: failed
        })
      }
    }
    return mergeStatsFiles(job.loggingDir, job.tasks)
  })


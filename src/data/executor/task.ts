/**
 * The task side of an executor: what one process does for one rank, the same under the local executor and under
 * Slurm (datatrove executor/base.py `_run_for_rank`): skip the rank if its completion marker exists, run it, save
 * its stats to `stats/<rank:05d>.json`, then write `completions/<rank:05d>`. The marker is written last, so a task
 * killed at any point before it reruns from the start, and its outputs (written atomically, deterministically
 * named) are replaced by identical ones. While it runs, `locks/<rank>.json` names its process (no second process
 * starts on a rank a live one holds); if it fails, `errors/<rank>.json` says why, for the executor's message.
 */
import { Cause, Effect, Schema } from "effect"
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describeCause } from "../errors.ts"
import { writeFileAtomicSync } from "../io/atomic.ts"
import { mergeStats, type Stats, StatsCollector } from "../stats.ts"
import { completionPath, errorPath, progressPath, statsPath, taskLogPath } from "./rank-files.ts"
import { liveRankHolder, releaseRankLock, writeRankLock } from "./rank-lock.ts"

export class ExecutorError extends Schema.TaggedError<ExecutorError>()("ExecutorError", {
  message: Schema.String,
  ranks: Schema.optional(Schema.Array(Schema.Number))
}) {}

export const isRankCompleted = (dir: string, rank: number) => existsSync(completionPath(dir, rank))
export const incompleteRanks = (dir: string, tasks: number): Array<number> =>
  Array.from({ length: tasks }, (_, r) => r).filter((r) => !isRankCompleted(dir, r))

/** Sum of every rank's stats file; `stats.json` is rewritten from all of them, so a rerun's totals are whole. */
export const mergeStatsFiles = (dir: string, tasks: number): Stats => {
  const all: Array<Stats> = []
  for (let r = 0; r < tasks; r++) {
    const f = statsPath(dir, r)
    if (existsSync(f)) all.push(JSON.parse(readFileSync(f, "utf8")) as Stats)
  }
  const merged = mergeStats(all)
  writeFileAtomicSync(path.join(dir, "stats.json"), JSON.stringify(merged, null, 2) + "\n")
  return merged
}

export interface TaskContext {
  readonly rank: number
  readonly worldSize: number
  readonly loggingDir: string
  readonly stats: StatsCollector
  readonly log: (message: string) => void
  /** Documents and text bytes processed so far; the parent reads them for its progress line. */
  readonly progress: (docs: number, bytes: number) => void
}

/** A failure as a person reads it: each error's name and message, without stack traces. */

/** What failed `rank` in its last run (written by the task as it fails), or undefined. */
export const readRankError = (dir: string, rank: number): string | undefined => {
  try {
    return (JSON.parse(readFileSync(errorPath(dir, rank), "utf8")) as { error: string }).error
  } catch {
    return undefined
  }
}

export const runTask = <E, R>(
  loggingDir: string,
  rank: number,
  worldSize: number,
  body: (ctx: TaskContext) => Effect.Effect<void, E, R>
): Effect.Effect<void, E | ExecutorError, R> =>
  Effect.suspend((): Effect.Effect<void, E | ExecutorError, R> => {
    const logFile = taskLogPath(loggingDir, rank)
    mkdirSync(path.dirname(logFile), { recursive: true })
    const log = (message: string) => appendFileSync(logFile, `${new Date().toISOString()} [rank ${rank}] ${message}\n`)
    if (isRankCompleted(loggingDir, rank)) {
      log("already completed, skipping")
      return Effect.void
    }
    // A worker of an earlier run may still be at it (its executor was killed): a second one would write the same
    // files under the same names.
    const holder = liveRankHolder(loggingDir, rank)
    if (holder !== undefined) {
      const message = `rank ${rank} is already being run by process ${holder.pid} (since ${holder.since}); not starting a second one`
      log(message)
      return Effect.fail(new ExecutorError({ message, ranks: [rank] }))
    }
    writeRankLock(loggingDir, rank)
    rmSync(errorPath(loggingDir, rank), { force: true })
    const stats = new StatsCollector()
    let last = 0
    let latest: { docs: number; bytes: number } | undefined
    const writeProgress = () => latest !== undefined && writeFileAtomicSync(progressPath(loggingDir, rank), JSON.stringify(latest))
    const progress = (docs: number, bytes: number) => {
      latest = { docs, bytes }
      const now = Date.now()
      if (now - last < 500) return
      last = now
      writeProgress()
    }
    log(`starting (world size ${worldSize}, pid ${process.pid})`)
    const started = performance.now()
    return body({ rank, worldSize, loggingDir, stats, log, progress }).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          // Unthrottled, before the marker: the executor's last progress line must count every document.
          writeProgress()
          writeFileAtomicSync(statsPath(loggingDir, rank), JSON.stringify(stats.toJSON(), null, 2) + "\n")
          writeFileAtomicSync(completionPath(loggingDir, rank), "")
          log(`done in ${((performance.now() - started) / 1000).toFixed(2)} s: ${JSON.stringify(stats.toJSON())}`)
          // Whoever completes the last rank writes the merged stats.json (under Slurm nobody else would).
          if (incompleteRanks(loggingDir, worldSize).length === 0) mergeStatsFiles(loggingDir, worldSize)
        })
      ),
      Effect.onError((cause) =>
        Effect.sync(() => {
          if (Cause.hasInterruptsOnly(cause)) return log("stopped: interrupted")
          const error = describeCause(cause)
          log(`failed: ${error}`)
          // For the executor's summary, which a person reads before any log.
          writeFileAtomicSync(errorPath(loggingDir, rank), JSON.stringify({ rank, error }) + "\n")
        })
      ),
      Effect.ensuring(Effect.sync(() => releaseRankLock(loggingDir, rank)))
    )
  })

/** The environment protocol between an executor and its task processes. */
export const TASK_ENV = {
  loggingDir: "SMOL_LOGGING_DIR",
  worldSize: "SMOL_WORLD_SIZE",
  ranks: "SMOL_RANKS",
  /** Set by the local executor: its pid; the task stops when that process is gone (see `executorGone`). */
  executorPid: "SMOL_EXECUTOR_PID"
} as const

export interface TaskEnvironment {
  readonly loggingDir: string
  readonly worldSize: number
  readonly ranks: ReadonlyArray<number>
  /** The local executor's pid; undefined under Slurm, whose own job control stops tasks. */
  readonly executorPid?: number
}

/** Reads the ranks this process must run, or undefined when it was not started by an executor. */
export const taskEnvironment = (env: NodeJS.ProcessEnv = process.env): TaskEnvironment | undefined => {
  const loggingDir = env[TASK_ENV.loggingDir]
  const world = env[TASK_ENV.worldSize]
  const ranks = env[TASK_ENV.ranks]
  const executor = env[TASK_ENV.executorPid]
  if (loggingDir === undefined || world === undefined || ranks === undefined) return undefined
  return {
    loggingDir,
    worldSize: Number(world),
    ranks: ranks.split(",").filter((s) => s.length > 0).map(Number),
    ...(executor === undefined || executor === "" ? {} : { executorPid: Number(executor) })
  }
}

/**
 * Succeeds when the local executor that started this process is gone, so that its workers die with it, as a
 * multiprocessing pool's workers do when the pool's pipe closes. A SIGKILLed executor cannot stop them itself,
 * and a rerun would then start a second worker on the same rank. Two signs, whichever comes first: the IPC
 * channel the executor opened closes (at once), or this process is re-parented (checked every second; covers a
 * task started without the channel). Never succeeds for a task no local executor watches (Slurm).
 */
export const executorGone = (executorPid: number | undefined): Effect.Effect<void> =>
  executorPid === undefined ? Effect.never : Effect.callback<void>((resume) => {
    // Neither the channel nor the timer may keep a finished task alive.
    process.channel?.unref()
    const gone = () => resume(Effect.void)
    if (process.ppid !== executorPid || (process.channel !== undefined && !process.connected)) {
      gone()
      return
    }
    process.once("disconnect", gone)
    const timer = setInterval(() => process.ppid !== executorPid && gone(), 1000)
    timer.unref()
    return Effect.sync(() => {
      process.off("disconnect", gone)
      clearInterval(timer)
    })
  })

/**
 * Run every rank this process was given, one after another; stop (interrupting the rank, so its temporary files
 * and lock are cleaned up) if the executor that started this process is gone.
 */
export const runAssignedTasks = <E, R>(
  env: TaskEnvironment,
  body: (ctx: TaskContext) => Effect.Effect<void, E, R>
): Effect.Effect<void, E | ExecutorError, R> => {
  const work = Effect.forEach(env.ranks, (rank) => runTask(env.loggingDir, rank, env.worldSize, body), { discard: true })
  const orphaned = executorGone(env.executorPid).pipe(
    Effect.andThen(Effect.sync(() => {
      // Should an interruption not finish (a step that cannot be interrupted), do not linger as an orphan.
      setTimeout(() => process.exit(1), 5000).unref()
    })),
    Effect.andThen(Effect.fail(new ExecutorError({ message: `the executor (pid ${env.executorPid}) is gone; stopping`, ranks: [...env.ranks] })))
  )
  return Effect.raceFirst(work, orphaned)
}

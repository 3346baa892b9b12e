/**
 * The task side of an executor: what one process does for one rank, the same under the local executor and under
 * Slurm (datatrove executor/base.py `_run_for_rank`): skip the rank if its completion marker exists, run it, save
 * its stats to `stats/<rank:05d>.json`, then write `completions/<rank:05d>`. The marker is written last, so a task
 * killed at any point before it reruns from the start, and its outputs (written atomically, deterministically
 * named) are replaced by identical ones.
 */
import { Effect, Schema } from "effect"
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../io/atomic.ts"
import { mergeStats, type Stats, StatsCollector } from "../stats.ts"

export class ExecutorError extends Schema.TaggedError<ExecutorError>()("ExecutorError", {
  message: Schema.String,
  ranks: Schema.optional(Schema.Array(Schema.Number))
}) {}

export const pad5 = (rank: number) => String(rank).padStart(5, "0")
export const completionPath = (dir: string, rank: number) => path.join(dir, "completions", pad5(rank))
export const statsPath = (dir: string, rank: number) => path.join(dir, "stats", `${pad5(rank)}.json`)
export const taskLogPath = (dir: string, rank: number) => path.join(dir, "logs", `task_${pad5(rank)}.log`)
export const progressPath = (dir: string, rank: number) => path.join(dir, "progress", `${pad5(rank)}.json`)

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

export const runTask = <E, R>(
  loggingDir: string,
  rank: number,
  worldSize: number,
  body: (ctx: TaskContext) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> =>
  Effect.suspend(() => {
    const logFile = taskLogPath(loggingDir, rank)
    mkdirSync(path.dirname(logFile), { recursive: true })
    const log = (message: string) => appendFileSync(logFile, `${new Date().toISOString()} [rank ${rank}] ${message}\n`)
    if (isRankCompleted(loggingDir, rank)) {
      log("already completed, skipping")
      return Effect.void
    }
    const stats = new StatsCollector()
    let last = 0
    const progress = (docs: number, bytes: number) => {
      const now = Date.now()
      if (now - last < 500) return
      last = now
      mkdirSync(path.dirname(progressPath(loggingDir, rank)), { recursive: true })
      writeFileSync(progressPath(loggingDir, rank), JSON.stringify({ docs, bytes }))
    }
    log(`starting (world size ${worldSize}, pid ${process.pid})`)
    const started = performance.now()
    return body({ rank, worldSize, loggingDir, stats, log, progress }).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          writeFileAtomicSync(statsPath(loggingDir, rank), JSON.stringify(stats.toJSON(), null, 2) + "\n")
          writeFileAtomicSync(completionPath(loggingDir, rank), "")
          log(`done in ${((performance.now() - started) / 1000).toFixed(2)} s: ${JSON.stringify(stats.toJSON())}`)
          // Whoever completes the last rank writes the merged stats.json (under Slurm nobody else would).
          if (incompleteRanks(loggingDir, worldSize).length === 0) mergeStatsFiles(loggingDir, worldSize)
        })
      ),
      Effect.tapCause((cause) => Effect.sync(() => log(`failed: ${String(cause)}`)))
    )
  })

/** The environment protocol between an executor and its task processes. */
export const TASK_ENV = {
  loggingDir: "SMOL_LOGGING_DIR",
  worldSize: "SMOL_WORLD_SIZE",
  ranks: "SMOL_RANKS"
} as const

export interface TaskEnvironment {
  readonly loggingDir: string
  readonly worldSize: number
  readonly ranks: ReadonlyArray<number>
}

/** Reads the ranks this process must run, or undefined when it was not started by an executor. */
export const taskEnvironment = (env: NodeJS.ProcessEnv = process.env): TaskEnvironment | undefined => {
  const loggingDir = env[TASK_ENV.loggingDir]
  const world = env[TASK_ENV.worldSize]
  const ranks = env[TASK_ENV.ranks]
  if (loggingDir === undefined || world === undefined || ranks === undefined) return undefined
  return { loggingDir, worldSize: Number(world), ranks: ranks.split(",").filter((s) => s.length > 0).map(Number) }
}

/** Run every rank this process was given, one after another. */
export const runAssignedTasks = <E, R>(
  env: TaskEnvironment,
  body: (ctx: TaskContext) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> => Effect.forEach(env.ranks, (rank) => runTask(env.loggingDir, rank, env.worldSize, body), { discard: true })

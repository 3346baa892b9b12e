/**
 * A training run's folder: `checkpoints/step-NNNNNNNN` (see checkpoint.ts) and `metrics.jsonl`, one line per step.
 * A folder that already holds a run is continued (`resume`), cleared (`overwrite`), or refused: writing a new run
 * over an old one would silently mix their checkpoints and metrics.
 */
import { Effect, FileSystem, Path, type PlatformError, Schema } from "effect"
import type { WriteError } from "../data/errors.ts"
import { writeFileAtomic } from "../data/io/atomic.ts"

export class RunFolderInUseError extends Schema.TaggedError<RunFolderInUseError>()("RunFolderInUseError", {
  out: Schema.String,
  message: Schema.String
}) {}

export interface RunFolder {
  readonly checkpoints: string
  readonly metrics: string
  /** The newest complete checkpoint to resume from; undefined when not resuming or there is none. */
  readonly resumeFrom: string | undefined
}

export interface RunFolderOptions {
  /** Continue from the newest checkpoint. */
  readonly resume: boolean
  /** Delete the folder's checkpoints and metrics first. */
  readonly overwrite?: boolean
}

export const checkpointName = (step: number): string => `step-${String(step).padStart(8, "0")}`
const isCheckpoint = (name: string) => /^step-\d{8}$/.test(name)
/** A save killed midway leaves its temporary or displaced folder (writeFolderAtomic's `.tmp-`/`.old-`); never a checkpoint. */
const isUnfinishedSave = (name: string) => /^step-\d{8}\.(tmp|old)-/.test(name)

const layout = (out: string) =>
  Effect.map(Path.Path, (path) => ({ checkpoints: path.join(out, "checkpoints"), metrics: path.join(out, "metrics.jsonl") }))

/** The complete checkpoints in `dir`, oldest first (names sort by step). */
const checkpointsIn = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(dir))) return []
    return (yield* fs.readDirectory(dir)).filter(isCheckpoint).sort()
  })

/** Fails if `out` holds an earlier run and neither `resume` nor `overwrite` says what to do with it. Reads only. */
export const checkRunFolder = (
  out: string,
  options: RunFolderOptions
): Effect.Effect<void, RunFolderInUseError | PlatformError.PlatformError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    if (options.resume || options.overwrite === true) return
    const fs = yield* FileSystem.FileSystem
    const { checkpoints, metrics } = yield* layout(out)
    const found = yield* checkpointsIn(checkpoints)
    const hasMetrics = yield* fs.exists(metrics)
    if (found.length === 0 && !hasMetrics) return
    const what = [
      ...(found.length === 0 ? [] : [`checkpoints ${found[0]}${found.length > 1 ? ` … ${found[found.length - 1]}` : ""}`]),
      ...(hasMetrics ? ["metrics.jsonl"] : [])
    ].join(" and ")
    return yield* new RunFolderInUseError({
      out,
      message: `${out} already holds a training run (${what}); pass --resume to continue it, or --overwrite to delete its checkpoints and metrics and start again`
    })
  })

/**
 * Prepares `out` for a run: refuses or clears an earlier run (see `checkRunFolder`), removes what a killed save
 * left behind, and finds the checkpoint to resume from.
 */
export const openRunFolder = (
  out: string,
  options: RunFolderOptions
): Effect.Effect<RunFolder, RunFolderInUseError | PlatformError.PlatformError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* checkRunFolder(out, options)
    const { checkpoints, metrics } = yield* layout(out)
    if (options.overwrite === true) {
      yield* fs.remove(checkpoints, { recursive: true, force: true })
      yield* fs.remove(metrics, { force: true })
    }
    yield* fs.makeDirectory(checkpoints, { recursive: true })
    for (const stale of (yield* fs.readDirectory(checkpoints)).filter(isUnfinishedSave)) {
      yield* fs.remove(path.join(checkpoints, stale), { recursive: true })
    }
    const found = yield* checkpointsIn(checkpoints)
    const resumeFrom = options.resume && found.length > 0 ? path.join(checkpoints, found[found.length - 1]!) : undefined
    return { checkpoints, metrics, resumeFrom }
  })

/**
 * Keeps the metrics of steps up to `step` (the checkpoint a run resumes from): the later ones are about to be
 * computed again, and each step should appear once. A line torn by a kill is dropped too.
 */
export const keepMetricsThrough = (
  file: string,
  step: number
): Effect.Effect<void, WriteError | PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(file))) return
    const kept = (yield* fs.readFileString(file)).split("\n").filter((line) => {
      if (line.trim() === "") return false
      try {
        return (JSON.parse(line) as { step: number }).step <= step
      } catch {
        return false
      }
    })
    yield* writeFileAtomic(file, kept.map((l) => `${l}\n`).join(""))
  })

/** Appends one step's metrics: a log, so appended (a torn last line is dropped on resume by keepMetricsThrough). */
export const appendMetrics = (file: string, metrics: object): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(file, JSON.stringify(metrics) + "\n", { flag: "a" }))

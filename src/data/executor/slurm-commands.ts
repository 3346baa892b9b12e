/**
 * The Slurm commands the executor uses, and how their output reads: `sbatch` to submit, `squeue` to follow (with
 * `--states=all`, which also lists tasks that ended while the controller still holds them, MinJobAge: no
 * accounting database needed), `scancel`, and `scontrol show config` for the site's MaxArraySize.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { accessSync, constants } from "node:fs"
import * as path from "node:path"
import { ExecutorError } from "./task.ts"

export interface SlurmCommands {
  readonly sbatch: string
  readonly squeue: string
  readonly scontrol: string
  readonly scancel: string
}

export const defaultSlurmCommands: SlurmCommands = { sbatch: "sbatch", squeue: "squeue", scontrol: "scontrol", scancel: "scancel" }

/** Whether `bin` can be run: an absolute path that is executable, or a name found on PATH. */
export const commandExists = (bin: string): boolean => {
  const candidates = path.isAbsolute(bin) ? [bin] : (process.env["PATH"] ?? "").split(path.delimiter).map((dir) => path.join(dir, bin))
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (bin: string, args: ReadonlyArray<string>): Effect.Effect<Ran, ExecutorError> =>
  Effect.callback<Ran, ExecutorError>((resume) => {
    execFile(bin, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        resume(Effect.fail(new ExecutorError({ message: `cannot run ${bin}: ${error.message}` })))
      } else resume(Effect.succeed({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
    })
  })

const failed = (bin: string, args: ReadonlyArray<string>, r: Ran) =>
  new ExecutorError({ message: `${[bin, ...args].join(" ")} failed (exit code ${r.code}): ${(r.stderr || r.stdout).trim()}` })

/** Submit a script; the new job's id ("Submitted batch job 123", or `--parsable`'s "123;cluster"). */
export const sbatch = (commands: SlurmCommands, args: ReadonlyArray<string>): Effect.Effect<string, ExecutorError> =>
  Effect.gen(function*() {
    const r = yield* run(commands.sbatch, args)
    if (r.code !== 0) return yield* failed(commands.sbatch, args, r)
    const id = r.stdout.trim().split(/\s+/).at(-1)?.split(";")[0] ?? ""
    if (!/^\d+$/.test(id)) return yield* new ExecutorError({ message: `${commands.sbatch} printed no job id: ${JSON.stringify(r.stdout.trim())}` })
    return id
  })

/** One array task as `squeue` lists it. */
export interface QueuedTask {
  /** The array's job id (what sbatch printed). */
  readonly jobId: string
  readonly index: number
  /** PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, … */
  readonly state: string
  /** Why it is pending or how it ended ("None", "Resources", "DependencyNeverSatisfied", "NonZeroExitCode", …). */
  readonly reason: string
}

/** Ended for good: nothing more will happen to a task in one of these states. */
const FINAL_STATES = new Set([
  "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"
])
export const isFinal = (t: QueuedTask) => FINAL_STATES.has(t.state)
/** Waiting on a job that failed: it never runs (unless the site sets kill_invalid_depend), so it is cancelled. */
export const isStuck = (t: QueuedTask) => t.state === "PENDING" && t.reason === "DependencyNeverSatisfied"

/** Every task of these arrays the controller still knows, one per line (`-r`), whatever its state. */
export const queuedTasks = (commands: SlurmCommands, jobIds: ReadonlyArray<string>): Effect.Effect<Array<QueuedTask>, ExecutorError> =>
  Effect.gen(function*() {
    if (jobIds.length === 0) return []
    const args = ["--noheader", "--array", "--states=all", `--jobs=${jobIds.join(",")}`, "--format=%F|%K|%T|%r"]
    const r = yield* run(commands.squeue, args)
    // Every id forgotten by the controller (ended longer ago than MinJobAge): nothing to list.
    if (r.code !== 0 && /Invalid job id/i.test(r.stderr)) return []
    if (r.code !== 0) return yield* failed(commands.squeue, args, r)
    return r.stdout.split("\n").filter((l) => l.trim() !== "").map((line) => {
      const [jobId = "", index = "", state = "", reason = ""] = line.trim().split("|")
      return { jobId, index: index === "N/A" ? 0 : Number(index), state: state.replace(/\+$/, ""), reason }
    })
  })

export const scancel = (commands: SlurmCommands, ids: ReadonlyArray<string>): Effect.Effect<void, ExecutorError> =>
  Effect.gen(function*() {
    if (ids.length === 0) return
    const r = yield* run(commands.scancel, ids)
    if (r.code !== 0) return yield* failed(commands.scancel, ids, r)
  })

/** The site's MaxArraySize (array indices must stay below it); Slurm's default 1001 when it cannot be read. */
export const maxArraySize = (commands: SlurmCommands): Effect.Effect<number> =>
  run(commands.scontrol, ["show", "config"]).pipe(
    Effect.map((r) => Number(/^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout)?.[1] ?? 1001)),
    Effect.orElseSucceed(() => 1001)
  )

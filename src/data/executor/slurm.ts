/**
 * Slurm executor (datatrove executor/slurm.py): each job of a chain (the filter, then dedup's stages) becomes an
 * sbatch array over its ranks not yet completed, waiting on the arrays before it (`--dependency=afterok:…`).
 * Completion markers, per-rank logs, stats and error files are the task side's (task.ts), identical to local runs,
 * so a rerun of the same command submits only the ranks without a marker, and nothing when all are done.
 *
 * What was submitted is kept in `<loggingDir>/slurm_jobs.json` (array ids, which ranks each index runs): a rerun
 * while those arrays are still queued or running follows them instead of submitting the same ranks twice, and a
 * failed task is reported with its Slurm log `slurm_logs/<job>_<index>.out`. Waiting polls `squeue` (no
 * accounting database); arrays left waiting on a failed one (DependencyNeverSatisfied) are cancelled, as they
 * would otherwise stay in the queue for ever.
 */
import { Effect } from "effect"
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../io/atomic.ts"
import type { Stats } from "../stats.ts"
import { type Job, type Progress, readProgress, removeStaleTemps } from "./local.ts"
import {
  commandExists,
  defaultSlurmCommands,
  isFinal,
  isStuck,
  maxArraySize,
  type QueuedTask,
  queuedTasks,
  sbatch,
  scancel,
  type SlurmCommands
} from "./slurm-commands.ts"
import { arrayChunks, processGroups, type SlurmJob, slurmLogPath, slurmScript, type SlurmSettings } from "./slurm-script.ts"
import { ExecutorError, incompleteRanks, mergeStatsFiles, readRankError } from "./task.ts"

export { slurmScript, type SlurmJob, type SlurmSettings } from "./slurm-script.ts"

/** One submitted array: index i runs `groups[i]`. */
export interface SubmittedArray {
  readonly jobId: string
  readonly script: string
  readonly groups: ReadonlyArray<ReadonlyArray<number>>
}

/** One job's submission: its arrays (several past MaxArraySize) and the arrays they wait for. */
export interface StageSubmission {
  readonly name: string
  readonly loggingDir: string
  readonly tasks: number
  readonly arrays: ReadonlyArray<SubmittedArray>
  readonly after: ReadonlyArray<string>
}

export interface Submitted {
  /** The first array's script (`launch_script.slurm`). */
  readonly script: string
  /** The first array's id; undefined when nothing was left to run or sbatch is not available (the script is still written). */
  readonly jobId: string | undefined
  readonly ranks: ReadonlyArray<number>
  readonly arrays: ReadonlyArray<SubmittedArray>
}

const jobsRecordPath = (loggingDir: string) => path.join(loggingDir, "slurm_jobs.json")

interface JobsRecord {
  readonly submissions: ReadonlyArray<{ readonly at: string; readonly after: ReadonlyArray<string>; readonly arrays: ReadonlyArray<SubmittedArray> }>
}

const readJobsRecord = (loggingDir: string): JobsRecord => {
  try {
    return JSON.parse(readFileSync(jobsRecordPath(loggingDir), "utf8")) as JobsRecord
  } catch {
    return { submissions: [] }
  }
}

/** The latest submission of a job, if it was ever submitted. */
const latestSubmission = (job: SlurmJob): StageSubmission | undefined => {
  const last = readJobsRecord(job.loggingDir).submissions.at(-1)
  return last === undefined ? undefined : { name: job.name, loggingDir: job.loggingDir, tasks: job.tasks, arrays: last.arrays, after: last.after }
}

const scriptPath = (loggingDir: string, chunk: number) => path.join(loggingDir, chunk === 0 ? "launch_script.slurm" : `launch_script_${chunk}.slurm`)

/**
 * Write the scripts of `job`'s incomplete ranks (one per array of at most `maxArray` processes) and submit them
 * after `after`; with no runnable `sbatch`, only the scripts are written.
 */
const submitJob = (job: SlurmJob, after: ReadonlyArray<string>, commands: SlurmCommands, maxArray: number) =>
  Effect.gen(function*() {
    const ranks = incompleteRanks(job.loggingDir, job.tasks)
    const chunks = arrayChunks(ranks, job.ranksPerProcess ?? 1, maxArray)
    const arrays: Array<SubmittedArray> = []
    let jobId: string | undefined
    for (const [k, chunk] of chunks.entries()) {
      const script = scriptPath(job.loggingDir, k)
      yield* Effect.try({
        try: () => {
          // Slurm does not create the folder of --output: a task whose log cannot be opened fails to launch.
          mkdirSync(path.dirname(slurmLogPath(job.loggingDir, "0", 0)), { recursive: true })
          writeFileAtomicSync(script, slurmScript(job, chunk))
        },
        catch: (e) => new ExecutorError({ message: `cannot write ${script}: ${(e as Error).message}` })
      })
      if (!commandExists(commands.sbatch)) continue
      const id = yield* sbatch(commands, after.length > 0 ? [`--dependency=afterok:${after.join(":")}`, script] : [script])
      jobId ??= id
      arrays.push({ jobId: id, script, groups: processGroups(chunk, job.ranksPerProcess) })
    }
    if (arrays.length > 0) {
      const record = readJobsRecord(job.loggingDir)
      writeFileAtomicSync(
        jobsRecordPath(job.loggingDir),
        JSON.stringify({ submissions: [...record.submissions, { at: new Date().toISOString(), after, arrays }] }, null, 2) + "\n"
      )
    }
    const submitted: Submitted = { script: scriptPath(job.loggingDir, 0), jobId, ranks, arrays }
    return submitted
  })

/** The jobs of a chain, the first dependency first. */
const chainOf = <J extends { readonly depends?: J | undefined }>(job: J): Array<J> =>
  job.depends === undefined ? [job] : [...chainOf(job.depends), job]

/** Submit every job of the chain that has ranks left, each after the arrays submitted before it. */
const submitChain = (chain: ReadonlyArray<SlurmJob>, commands: SlurmCommands, maxArray: number) =>
  Effect.gen(function*() {
    const submitted: Array<{ job: SlurmJob; submitted: Submitted; after: Array<string> }> = []
    let after: Array<string> = []
    for (const job of chain) {
      const s = yield* submitJob(job, after, commands, maxArray)
      submitted.push({ job, submitted: s, after })
      after = [...after, ...s.arrays.map((a) => a.jobId)]
    }
    return submitted
  })

/**
 * Write `<loggingDir>/launch_script.slurm` (and `launch_script_<k>.slurm` past MaxArraySize) for the ranks still
 * to run and submit them, after submitting the jobs it depends on; the last job's submission.
 */
export const submitSlurm = (
  job: SlurmJob,
  commands: string | Partial<SlurmCommands> = {},
  maxArray?: number
): Effect.Effect<Submitted, ExecutorError> =>
  Effect.gen(function*() {
    const cmds = { ...defaultSlurmCommands, ...(typeof commands === "string" ? { sbatch: commands } : commands) }
    const limit = maxArray ?? (yield* maxArraySize(cmds))
    const all = yield* submitChain(chainOf(job), cmds, limit)
    return all.at(-1)!.submitted
  })

export interface SlurmRunOptions {
  /** Block until every array has ended, then check the ranks (default: return once submitted). */
  readonly wait?: boolean
  /** While waiting: the job now running, as the local executor reports it. */
  readonly onProgress?: (p: Progress) => void
  /** Notes for the person (arrays cancelled, tasks held up in the queue and why). */
  readonly log?: (line: string) => void
  readonly commands?: Partial<SlurmCommands>
  /** Default: MaxArraySize from `scontrol show config`. */
  readonly maxArraySize?: number
  /** Longest pause between two `squeue` calls while waiting, in ms (default 10000; polls start at 1 s). */
  readonly pollEvery?: number
}

export type SlurmOutcome =
  /** Every rank of every job is complete (waited for, or done before). */
  | { readonly _tag: "Complete"; readonly stats: Stats; readonly stages: ReadonlyArray<StageSubmission> }
  /** Submitted (or found still queued from an earlier run, `following`) and not waited for. */
  | { readonly _tag: "Submitted"; readonly stages: ReadonlyArray<StageSubmission>; readonly following: boolean }

/** `job` and its dependencies with the same settings. */
const withSettings = (job: Job, settings: SlurmSettings): SlurmJob => {
  const { depends, ...rest } = job
  return { ...rest, ...settings, ...(depends === undefined ? {} : { depends: withSettings(depends, settings) }) }
}

const key = (jobId: string, index: number) => `${jobId}_${index}`

/** Reasons a task waits that say nothing is wrong. */
const ORDINARY_PENDING = new Set(["None", "Priority", "Resources", "Dependency", "JobArrayTaskLimit", "BeginTime"])

/** Poll `squeue` until no task of these stages' arrays is queued or running; the last state seen of each task. */
const waitForArrays = (
  stages: ReadonlyArray<{ job: SlurmJob; submission: StageSubmission }>,
  commands: SlurmCommands,
  options: SlurmRunOptions
) =>
  Effect.gen(function*() {
    const ids = stages.flatMap((s) => s.submission.arrays.map((a) => a.jobId))
    const seen = new Map<string, QueuedTask>()
    const cancelled = new Set<string>()
    const noted = new Set<string>()
    const started = performance.now()
    const stageStart = new Map<string, number>()
    let reported = 0
    const report = (i: number) => {
      const { job } = stages[i]!
      const now = performance.now()
      if (!stageStart.has(job.name)) stageStart.set(job.name, now)
      const { docs, bytes } = readProgress(job)
      options.onProgress?.({
        job: job.name,
        tasks: job.tasks,
        completed: job.tasks - incompleteRanks(job.loggingDir, job.tasks).length,
        docs,
        bytes,
        seconds: (now - stageStart.get(job.name)!) / 1000
      })
    }
    for (;;) {
      const tasks = yield* queuedTasks(commands, ids)
      const listed = new Set(tasks.map((t) => key(t.jobId, t.index)))
      // Gone between two polls while not ended: cancelled while pending, which leaves no record behind.
      for (const [k, t] of seen) if (!isFinal(t) && !listed.has(k)) seen.set(k, { ...t, state: "CANCELLED", reason: "while pending" })
      for (const t of tasks) seen.set(key(t.jobId, t.index), t)
      const stuck = [...new Set(tasks.filter(isStuck).map((t) => t.jobId))].filter((id) => !cancelled.has(id))
      if (stuck.length > 0) {
        yield* scancel(commands, stuck)
        for (const id of stuck) cancelled.add(id)
        options.log?.(`cancelled job${stuck.length > 1 ? "s" : ""} ${stuck.join(", ")}: ${stuck.length > 1 ? "they wait" : "it waits"} for a job that failed`)
      }
      for (const t of tasks.filter((t) => t.state === "PENDING" && !ORDINARY_PENDING.has(t.reason) && !isStuck(t))) {
        if (noted.has(`${t.jobId}:${t.reason}`)) continue
        noted.add(`${t.jobId}:${t.reason}`)
        options.log?.(`job ${t.jobId} is pending: ${t.reason} (squeue -j ${t.jobId} --start; scontrol show job ${t.jobId})`)
      }
      // The stage now running is the first with ranks left; the ones before it get their final report first.
      const current = stages.findIndex((s) => incompleteRanks(s.job.loggingDir, s.job.tasks).length > 0)
      const upTo = current === -1 ? stages.length - 1 : current
      for (; reported < upTo; reported++) report(reported)
      report(upTo)
      if (tasks.every((t) => isFinal(t) || isStuck(t))) break
      const elapsed = performance.now() - started
      yield* Effect.sleep(Math.min(options.pollEvery ?? 10_000, 1000 + elapsed / 10))
    }
    for (; reported < stages.length; reported++) report(reported)
    return seen
  })

/** The last `n` non-empty lines of a file. */
const lastLines = (file: string, n: number): Array<string> => {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").slice(-n)
  } catch {
    return []
  }
}

/** Where a rank ran in a submission: its array, index, and the ranks before it in the same process. */
const placeOf = (submission: StageSubmission | undefined, rank: number) => {
  for (const a of submission?.arrays ?? []) {
    const index = a.groups.findIndex((g) => g.includes(rank))
    if (index !== -1) return { jobId: a.jobId, index, first: a.groups[index]![0] === rank }
  }
  return undefined
}

/** One failed rank for a person: how its task ended, what failed it, and its Slurm log. */
const describeRank = (job: SlurmJob, submission: StageSubmission | undefined, seen: ReadonlyMap<string, QueuedTask>, rank: number) => {
  const place = placeOf(submission, rank)
  const error = readRankError(job.loggingDir, rank)
  if (place === undefined) return `rank ${rank}: ${error ?? "not submitted"}`
  const log = slurmLogPath(job.loggingDir, place.jobId, place.index)
  const task = seen.get(key(place.jobId, place.index))
  const where = `job ${place.jobId}_${place.index}`
  const hasLog = existsSync(log)
  // A task cancelled while pending leaves the controller at once, without a log.
  const ended = task !== undefined
    ? `${task.state}${task.reason === "None" ? "" : ` (${task.reason})`}`
    : hasLog ? "ended (its record has left the controller)" : "never started (cancelled while pending, or Slurm could not launch it: see its node's slurmd log)"
  if (error !== undefined) return `rank ${rank}: ${error}\n    ${where} ${ended}; Slurm log: ${log}`
  if (!place.first && hasLog) return `rank ${rank}: not started (${where} ended first: ${ended}); Slurm log: ${log}`
  const tail = lastLines(log, 6).map((l) => `      ${l}`)
  return `rank ${rank}: ${where} ${ended}; Slurm log: ${log}${tail.length > 0 ? `, ending:\n${tail.join("\n")}` : hasLog ? " (empty)" : " (none written)"}`
}

const failureMessage = (
  job: SlurmJob,
  failed: ReadonlyArray<number>,
  submission: StageSubmission | undefined,
  seen: ReadonlyMap<string, QueuedTask>,
  later: ReadonlyArray<SlurmJob>
) => {
  // Ranks whose task said what failed it first: that is what a person needs to read.
  const explained = [...failed].sort((a, b) => Number(readRankError(job.loggingDir, b) !== undefined) - Number(readRankError(job.loggingDir, a) !== undefined))
  const shown = explained.slice(0, 3).map((rank) => `  ${describeRank(job, submission, seen, rank)}`)
  return [
    `${job.name}: ${failed.length} of ${job.tasks} tasks failed (${failed.length === 1 ? "rank" : "ranks"} ${failed.join(", ")}):`,
    ...shown,
    ...(failed.length > shown.length ? [`  … and ${failed.length - shown.length} more (${path.join(job.loggingDir, "errors")}, ${path.join(job.loggingDir, "slurm_logs")})`] : []),
    ...(later.length > 0 ? [`  (not run, as ${later.length > 1 ? "they depend" : "it depends"} on it: ${later.map((j) => j.name).join(", ")})`] : []),
    "Rerun the same command to submit only the failed tasks."
  ].join("\n")
}

/**
 * Run `job` (after its dependencies) as Slurm arrays. Without `wait`, returns once submitted; with it, polls until
 * they end and returns the merged stats of the last job, or fails naming each failed rank, its error and its
 * Slurm log. Ranks already complete are not submitted; arrays of an earlier run still in the queue are followed.
 */
export const runSlurm = (job: Job, settings: SlurmSettings, options: SlurmRunOptions = {}): Effect.Effect<SlurmOutcome, ExecutorError> =>
  Effect.gen(function*() {
    const commands = { ...defaultSlurmCommands, ...options.commands }
    const missing = [commands.sbatch, commands.squeue].filter((c) => !commandExists(c))
    if (missing.length > 0) {
      return yield* new ExecutorError({
        message: `--executor slurm: ${missing.join(" and ")} not found on PATH; run on a machine that submits Slurm jobs (a login node)`
      })
    }
    const chain = chainOf(withSettings(job, settings))
    const bad = chain.find((j) => !Number.isInteger(j.tasks) || j.tasks < 1)
    if (bad !== undefined) return yield* new ExecutorError({ message: `${bad.name}: tasks must be ≥ 1` })

    // Arrays of an earlier run: follow them while they are in the queue, rather than submit the same ranks again.
    const earlier = chain.flatMap((j) => {
      const s = latestSubmission(j)
      return s === undefined ? [] : [{ job: j, submission: s }]
    })
    const earlierTasks = yield* queuedTasks(commands, earlier.flatMap((e) => e.submission.arrays.map((a) => a.jobId)))
    const stuck = [...new Set(earlierTasks.filter(isStuck).map((t) => t.jobId))]
    if (stuck.length > 0) {
      yield* scancel(commands, stuck)
      options.log?.(`cancelled job${stuck.length > 1 ? "s" : ""} ${stuck.join(", ")} of an earlier run: waiting for a job that failed`)
    }
    const following = earlierTasks.some((t) => !isFinal(t) && !isStuck(t))
    let stages: Array<{ job: SlurmJob; submission: StageSubmission }>
    if (following) {
      stages = earlier
      options.log?.(`jobs of an earlier run are still in the queue (${earlier.flatMap((e) => e.submission.arrays.map((a) => a.jobId)).join(", ")}): following them, submitting nothing`)
    } else {
      // No task of this run is alive: temporary files left in the outputs are from killed tasks.
      for (const j of chain) {
        if (incompleteRanks(j.loggingDir, j.tasks).length === 0) continue
        for (const folder of j.outputs ?? []) removeStaleTemps(folder)
        removeStaleTemps(j.loggingDir)
      }
      const limit = options.maxArraySize ?? (yield* maxArraySize(commands))
      const submitted = yield* submitChain(chain, commands, limit)
      stages = submitted.filter((s) => s.submitted.arrays.length > 0).map((s) => ({
        job: s.job,
        submission: { name: s.job.name, loggingDir: s.job.loggingDir, tasks: s.job.tasks, arrays: s.submitted.arrays, after: s.after }
      }))
    }
    const last = chain.at(-1)!
    const complete = () => ({ _tag: "Complete", stats: mergeStatsFiles(last.loggingDir, last.tasks), stages: stages.map((s) => s.submission) }) as const
    if (stages.length === 0) return complete()
    if (options.wait !== true) return { _tag: "Submitted", stages: stages.map((s) => s.submission), following } as const

    const seen = yield* waitForArrays(stages, commands, options)
    for (const [i, j] of chain.entries()) {
      const failed = incompleteRanks(j.loggingDir, j.tasks)
      if (failed.length === 0) continue
      const submission = stages.find((s) => s.job.name === j.name)?.submission
      return yield* new ExecutorError({ message: failureMessage(j, failed, submission, seen, chain.slice(i + 1)), ranks: failed })
    }
    return complete()
  })

/** Compact rank ranges: 0-3,7,9-10. */
const ranges = (ranks: ReadonlyArray<number>): string => {
  const out: Array<string> = []
  for (let i = 0; i < ranks.length; i++) {
    let j = i
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++
    out.push(i === j ? `${ranks[i]}` : `${ranks[i]}-${ranks[j]}`)
    i = j
  }
  return out.join(",")
}

/** What a person needs after submitting without --wait: the job ids, how to follow them, where the logs are, how to resume. */
export const describeSubmission = (stages: ReadonlyArray<StageSubmission>, following: boolean): string => {
  const ids = stages.flatMap((s) => s.arrays.map((a) => a.jobId))
  const width = Math.max(...stages.map((s) => s.name.length))
  const lines = stages.map((s) => {
    const ranks = s.arrays.flatMap((a) => a.groups.flat())
    const jobs = s.arrays.map((a) => a.jobId).join(", ")
    return `  ${s.name.padEnd(width)}  job ${jobs}  ranks ${ranges(ranks)} of ${s.tasks}${s.after.length > 0 ? `  after ${s.after.join(", ")}` : ""}\n` +
      `  ${" ".repeat(width)}  logs ${path.join(path.resolve(s.loggingDir), "slurm_logs")}/<job>_<index>.out, ${path.join(path.resolve(s.loggingDir), "logs")}/task_<rank>.log`
  })
  return [
    following ? "Still in the Slurm queue from an earlier run (nothing new submitted):" : `Submitted to Slurm (${stages.length} job array${stages.length > 1 ? "s" : ""}):`,
    ...lines,
    "",
    `Follow:  squeue -j ${ids.join(",")}`,
    "Resume:  rerun the same command: it submits only the tasks without a completion marker (none when all are done),",
    "         and prints the summary and report once everything is done; add --wait to wait for it here."
  ].join("\n")
}

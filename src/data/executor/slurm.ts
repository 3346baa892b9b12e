/**
 * Slurm executor (datatrove executor/slurm.py): writes an sbatch array script that runs the job's script once per
 * array index — `--array=0-(n-1)%workers` over the ranks not yet completed, each index mapped to its rank —
 * and submits it with `sbatch` when sbatch exists, chaining `--dependency=afterok:<id>` to the job it depends on.
 * Completion markers, per-rank logs and stats are the task side's (task.ts), identical to local runs; the last
 * rank to finish writes stats.json.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { accessSync, constants } from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../io/atomic.ts"
import type { Job } from "./local.ts"
import { taskCommand } from "./local.ts"
import { ExecutorError, incompleteRanks, TASK_ENV } from "./task.ts"

export interface SlurmJob extends Omit<Job, "depends"> {
  readonly partition: string
  /** sbatch --time, e.g. "10:00:00". */
  readonly time: string
  readonly cpusPerTask?: number
  readonly memPerCpuGb?: number
  readonly qos?: string
  readonly jobName?: string
  /** Shell lines run before the task (module load, venv …). */
  readonly envCommand?: string
  /** More `#SBATCH --key=value` lines. */
  readonly sbatchArgs?: Readonly<Record<string, string | number>>
  readonly depends?: SlurmJob
  /** The node binary on the compute nodes (default: this process's). */
  readonly node?: string
  /** Working directory of the tasks (default: this process's). */
  readonly cwd?: string
}

/** Single-quote for bash. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The sbatch script for `ranks` (array index i runs ranks[i]). */
export const slurmScript = (job: SlurmJob, ranks: ReadonlyArray<number>): string => {
  const name = job.jobName ?? job.name
  const logs = path.join(job.loggingDir, "slurm_logs", "%A_%a.out")
  const directives: Record<string, string | number | undefined> = {
    "job-name": name,
    partition: job.partition,
    time: job.time,
    "cpus-per-task": job.cpusPerTask ?? 1,
    "mem-per-cpu": `${job.memPerCpuGb ?? 2}G`,
    output: logs,
    error: logs,
    array: `0-${ranks.length - 1}${job.workers !== undefined ? `%${job.workers}` : ""}`,
    ...(job.qos !== undefined ? { qos: job.qos } : {}),
    ...job.sbatchArgs
  }
  const command = [job.node ?? process.execPath, ...taskCommand(job.script, job.args)].map(sq).join(" ")
  const env = Object.entries(job.env ?? {}).map(([k, v]) => `export ${k}=${sq(v)}`)
  return [
    "#!/bin/bash",
    ...Object.entries(directives).map(([k, v]) => `#SBATCH --${k}=${v}`),
    "set -euo pipefail",
    `echo "Starting ${name} array task $SLURM_ARRAY_TASK_ID"`,
    ...(job.envCommand !== undefined ? [job.envCommand] : []),
    `cd ${sq(job.cwd ?? process.cwd())}`,
    // The array indexes the ranks still to run, which need not be 0..n-1 on a rerun.
    `RANKS=(${ranks.join(" ")})`,
    `export ${TASK_ENV.ranks}="\${RANKS[$SLURM_ARRAY_TASK_ID]}"`,
    `export ${TASK_ENV.worldSize}=${job.tasks}`,
    `export ${TASK_ENV.loggingDir}=${sq(path.resolve(job.loggingDir))}`,
    ...env,
    `exec ${command}`,
    ""
  ].join("\n")
}

const onPath = (bin: string) =>
  (process.env["PATH"] ?? "").split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, bin), constants.X_OK)
      return true
    } catch {
      return false
    }
  })

export interface Submitted {
  readonly script: string
  /** undefined when nothing was left to run or sbatch is not available (the script is still written). */
  readonly jobId: string | undefined
  readonly ranks: ReadonlyArray<number>
}

/** Write `<loggingDir>/launch_script.slurm` and submit it (after submitting its dependency). */
export const submitSlurm = (job: SlurmJob, sbatch = "sbatch"): Effect.Effect<Submitted, ExecutorError> =>
  Effect.gen(function*() {
    const dep = job.depends === undefined ? undefined : yield* submitSlurm(job.depends, sbatch)
    const ranks = incompleteRanks(job.loggingDir, job.tasks)
    const script = path.join(job.loggingDir, "launch_script.slurm")
    if (ranks.length === 0) return { script, jobId: undefined, ranks }
    yield* Effect.try({
      try: () => writeFileAtomicSync(script, slurmScript(job, ranks)),
      catch: (e) => new ExecutorError({ message: `cannot write ${script}: ${(e as Error).message}` })
    })
    if (!onPath(sbatch) && !path.isAbsolute(sbatch)) return { script, jobId: undefined, ranks }
    const args = dep?.jobId !== undefined ? [`--dependency=afterok:${dep.jobId}`, script] : [script]
    const out = yield* Effect.try({
      try: () => execFileSync(sbatch, args, { encoding: "utf8" }),
      catch: (e) => new ExecutorError({ message: `sbatch failed: ${(e as Error).message}` })
    })
    // "Submitted batch job 123456"
    const jobId = out.trim().split(/\s+/).at(-1)
    return { script, jobId, ranks }
  })

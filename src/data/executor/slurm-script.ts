/**
 * The sbatch array script of a job (datatrove executor/slurm.py's launch script): array index i runs the i-th
 * group of ranks still to run (`ranksPerProcess` ranks per process, as locally), with the rank list in SMOL_RANKS
 * as the local executor passes it, so a task does exactly what it does locally (task.ts). Every path is absolute:
 * the script runs on a compute node, started by slurmd, from no particular directory.
 */
import * as path from "node:path"
import type { Job } from "./local.ts"
import { taskCommand } from "./local.ts"
import { TASK_ENV } from "./task.ts"

/** Where and how a job's tasks run on a cluster; what is not given is left to the site's defaults. */
export interface SlurmSettings {
  readonly partition?: string
  /** sbatch --time, e.g. "10:00:00". */
  readonly time?: string
  /** Default 1. */
  readonly cpusPerTask?: number
  /** sbatch --mem-per-cpu in Slurm's units, e.g. "4G". */
  readonly memPerCpu?: string
  readonly qos?: string
  readonly account?: string
  readonly jobName?: string
  /** Shell lines run before each task (module load, a virtual environment …). */
  readonly envCommand?: string
  /** More `#SBATCH --key=value` lines (`true`: `#SBATCH --key`). */
  readonly sbatchArgs?: Readonly<Record<string, string | number | true>>
  /** The node binary on the compute nodes (default: this process's, the project's Node). */
  readonly node?: string
  /** Working directory of the tasks (default: this process's). */
  readonly cwd?: string
}

export interface SlurmJob extends Omit<Job, "depends">, SlurmSettings {
  readonly depends?: SlurmJob
}

/** The ranks each array task runs, in order. */
export const processGroups = (ranks: ReadonlyArray<number>, perProcess = 1): Array<Array<number>> => {
  const per = Math.max(1, perProcess)
  const groups: Array<Array<number>> = []
  for (let i = 0; i < ranks.length; i += per) groups.push(ranks.slice(i, i + per))
  return groups
}

/**
 * The ranks of each array a job needs: a site refuses array indices of `maxArraySize` or more (MaxArraySize in
 * `scontrol show config`, often 1001), so a job of more processes is submitted as several arrays.
 */
export const arrayChunks = (ranks: ReadonlyArray<number>, perProcess: number, maxArraySize: number): Array<Array<number>> => {
  const per = Math.max(1, perProcess) * Math.max(1, maxArraySize)
  const chunks: Array<Array<number>> = []
  for (let i = 0; i < ranks.length; i += per) chunks.push(ranks.slice(i, i + per))
  return chunks
}

/** `%A_%a.out`: array job id, array index. */
export const slurmLogPath = (loggingDir: string, jobId: string, index: number | string) =>
  path.join(path.resolve(loggingDir), "slurm_logs", `${jobId}_${index}.out`)

/** Single-quote for bash. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The sbatch script for `ranks` (array index i runs the i-th group of `ranksPerProcess` of them). */
export const slurmScript = (job: SlurmJob, ranks: ReadonlyArray<number>): string => {
  const name = job.jobName ?? job.name
  const groups = processGroups(ranks, job.ranksPerProcess)
  const logs = slurmLogPath(job.loggingDir, "%A", "%a")
  const directives: Record<string, string | number | true | undefined> = {
    "job-name": name,
    partition: job.partition,
    time: job.time,
    "cpus-per-task": job.cpusPerTask ?? 1,
    "mem-per-cpu": job.memPerCpu,
    qos: job.qos,
    account: job.account,
    output: logs,
    error: logs,
    array: `0-${groups.length - 1}${job.workers !== undefined ? `%${job.workers}` : ""}`,
    ...job.sbatchArgs
  }
  const command = [job.node ?? process.execPath, ...taskCommand(job.script, job.args)].map(sq).join(" ")
  const env = Object.entries(job.env ?? {}).map(([k, v]) => `export ${k}=${sq(v)}`)
  return [
    "#!/bin/bash",
    ...Object.entries(directives).flatMap(([k, v]) => v === undefined ? [] : [v === true ? `#SBATCH --${k}` : `#SBATCH --${k}=${v}`]),
    "set -euo pipefail",
    `echo "Starting ${name} array task $SLURM_ARRAY_TASK_ID on $(hostname)"`,
    ...(job.envCommand !== undefined ? [job.envCommand] : []),
    `cd ${sq(job.cwd ?? process.cwd())}`,
    // The array indexes the ranks still to run, which need not be 0..n-1 on a rerun; a process may run several.
    `RANKS=(${groups.map((g) => g.join(",")).join(" ")})`,
    `export ${TASK_ENV.ranks}="\${RANKS[$SLURM_ARRAY_TASK_ID]}"`,
    `export ${TASK_ENV.worldSize}=${job.tasks}`,
    `export ${TASK_ENV.loggingDir}=${sq(path.resolve(job.loggingDir))}`,
    ...env,
    `exec ${command}`,
    ""
  ].join("\n")
}

/**
 * One call for a program to run a job chain wherever the person chose: here (local.ts) or as Slurm arrays
 * (slurm.ts). Either way, the outcome is the last job's merged stats once every rank is complete; only a Slurm
 * run not waited for ends with what was submitted instead.
 */
import { Effect } from "effect"
import type { Stats } from "../stats.ts"
import { type Job, type LocalOptions, runLocal } from "./local.ts"
import { runSlurm, type SlurmRunOptions, type SlurmSettings, type StageSubmission } from "./slurm.ts"
import type { ExecutorError } from "./task.ts"

export type Executor =
  | { readonly _tag: "local" }
  | { readonly _tag: "slurm"; readonly settings: SlurmSettings; readonly wait: boolean }

export type JobOutcome =
  | { readonly _tag: "Complete"; readonly stats: Stats }
  | { readonly _tag: "Submitted"; readonly stages: ReadonlyArray<StageSubmission>; readonly following: boolean }

export interface RunJobOptions extends LocalOptions {
  /** Notes for the person while a Slurm run is followed. */
  readonly log?: (line: string) => void
  readonly slurm?: Omit<SlurmRunOptions, "wait" | "onProgress" | "log">
}

export const runJob = (job: Job, executor: Executor, options: RunJobOptions = {}): Effect.Effect<JobOutcome, ExecutorError> => {
  if (executor._tag === "local") return runLocal(job, options).pipe(Effect.map((stats) => ({ _tag: "Complete", stats }) as const))
  return runSlurm(job, executor.settings, {
    ...options.slurm,
    wait: executor.wait,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.log === undefined ? {} : { log: options.log })
  }).pipe(Effect.map((o) => (o._tag === "Complete" ? { _tag: "Complete", stats: o.stats } as const : o)))
}

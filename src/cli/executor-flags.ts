/**
 * The flags every sharded program shares to choose where its tasks run: `--executor local` (processes on this
 * machine) or `--executor slurm` (one job array per stage, datatrove's SlurmPipelineExecutor), with the sbatch
 * settings a cluster asks for. Slurm settings given to a local run are refused rather than ignored.
 */
import { Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { DataConfigError } from "../data/errors.ts"
import type { Executor } from "../data/executor/run-job.ts"
import type { SlurmSettings } from "../data/executor/slurm.ts"
import { atLeast, defaulting } from "./program.ts"

const slurmOnly = (name: string, description: string) => Flag.String(name).pipe(Flag.withDescription(`Slurm: ${description}`), Flag.optional)

/** `KEY=VALUE` (`#SBATCH --KEY=VALUE`) or `KEY` (`#SBATCH --KEY`). */
const SBATCH_ARG = /^([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$/s

export const executorFlags = {
  executor: Flag.Literals("executor", ["local", "slurm"]).pipe(
    defaulting("local" as const, "Where tasks run: processes on this machine, or a Slurm job array per stage")
  ),
  wait: Flag.Boolean("wait").pipe(
    defaulting(false, "Slurm: wait for the jobs, then print the summary and report (without it: print the job ids and return)", "off")
  ),
  partition: slurmOnly("partition", "partition to submit to (default: the cluster's)"),
  time: slurmOnly("time", "time limit of each task, e.g. 4:00:00 (default: the partition's)"),
  cpusPerTask: Flag.Int("cpus-per-task").pipe(atLeast(1), Flag.withDescription("Slurm: CPUs of each task (default: 1)"), Flag.optional),
  memPerCpu: slurmOnly("mem-per-cpu", "memory per CPU, e.g. 4G (default: the cluster's)"),
  qos: slurmOnly("qos", "quality of service (default: the cluster's)"),
  account: slurmOnly("account", "account charged (default: yours)"),
  sbatch: Flag.String("sbatch").pipe(
    Flag.filter((s) => SBATCH_ARG.test(s), () => "KEY=VALUE or KEY, as an sbatch option without its dashes"),
    Flag.withDescription("Slurm: any other sbatch option, KEY=VALUE or KEY, e.g. --sbatch constraint=cpu --sbatch exclusive (repeatable; default: none)"),
    Flag.atLeast(0)
  ),
  envCommand: slurmOnly("env-command", "shell command run before each task, e.g. 'module load nodejs/22' (default: none)")
}

export interface ExecutorFlagValues {
  readonly executor: "local" | "slurm"
  readonly wait: boolean
  readonly partition: Option.Option<string>
  readonly time: Option.Option<string>
  readonly cpusPerTask: Option.Option<number>
  readonly memPerCpu: Option.Option<string>
  readonly qos: Option.Option<string>
  readonly account: Option.Option<string>
  readonly sbatch: ReadonlyArray<string>
  readonly envCommand: Option.Option<string>
}

/** The executor the flags ask for. */
export const executorFromFlags = (a: ExecutorFlagValues): Effect.Effect<Executor, DataConfigError> =>
  Effect.gen(function*() {
    const given = (value: Option.Option<unknown>) => Option.isSome(value)
    const slurmFlags: Array<[string, boolean]> = [
      ["--wait", a.wait],
      ["--partition", given(a.partition)],
      ["--time", given(a.time)],
      ["--cpus-per-task", given(a.cpusPerTask)],
      ["--mem-per-cpu", given(a.memPerCpu)],
      ["--qos", given(a.qos)],
      ["--account", given(a.account)],
      ["--sbatch", a.sbatch.length > 0],
      ["--env-command", given(a.envCommand)]
    ]
    if (a.executor === "local") {
      const misplaced = slurmFlags.filter(([, on]) => on).map(([name]) => name)
      if (misplaced.length > 0) return yield* new DataConfigError({ message: `${misplaced.join(", ")}: only with --executor slurm` })
      return { _tag: "local" } as const
    }
    const sbatchArgs: Record<string, string | true> = {}
    for (const arg of a.sbatch) {
      const [, name = "", value] = SBATCH_ARG.exec(arg) ?? []
      sbatchArgs[name] = value ?? true
    }
    const opt = <K extends string, V>(k: K, v: Option.Option<V>) => (Option.isSome(v) ? { [k]: v.value } as Record<K, V> : {})
    const settings: SlurmSettings = {
      ...opt("partition", a.partition),
      ...opt("time", a.time),
      ...opt("cpusPerTask", a.cpusPerTask),
      ...opt("memPerCpu", a.memPerCpu),
      ...opt("qos", a.qos),
      ...opt("account", a.account),
      ...opt("envCommand", a.envCommand),
      ...(a.sbatch.length > 0 ? { sbatchArgs } : {})
    }
    return { _tag: "slurm", settings, wait: a.wait } as const
  })

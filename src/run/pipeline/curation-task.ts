/**
 * The worker process of a full run's curation (curation-jobs.ts), started by the executor — a local worker or a
 * Slurm array task — with its ranks in SMOL_RANKS (src/data/executor/task.ts):
 *
 *   curation-task.ts task --config FILE --stage STAGE   a stage of the filters and dedup (fineweb.ts `runStage`)
 *   curation-task.ts task --config FILE --job JOB       the classify or threshold job (apply-run.ts `runApplyTask`)
 *
 * These are the arguments `planJobs` and `planApplyJobs` give a job, and the work is that of `programs/filter.ts
 * task` and `programs/classifier.ts task` on the same config files; this script spares a worker their command
 * lines and loads only what its kind of job needs, since every worker pays its start-up.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { DataConfigError } from "../../data/errors.ts"
import { runAssignedTasks, taskEnvironment } from "../../data/executor/task.ts"

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}
const config = flag("--config")
const stageName = flag("--stage")
const jobName = flag("--job")

const work = Effect.gen(function*() {
  const env = taskEnvironment()
  if (env === undefined) return yield* new DataConfigError({ message: "curation-task.ts is run by the executor (SMOL_RANKS etc. are not set)" })
  if (args[0] === "task" && config !== undefined && stageName !== undefined && jobName === undefined) {
    const { loadConfig, runStage, STAGE_NAMES } = yield* Effect.promise(() => import("../../data/fineweb.ts"))
    const stage = STAGE_NAMES.find((s) => s === stageName)
    if (stage === undefined) return yield* new DataConfigError({ message: `unknown stage "${stageName}" (${STAGE_NAMES.join(", ")})` })
    const filterConfig = yield* loadConfig(config)
    return yield* runAssignedTasks(env, (ctx) => runStage(filterConfig, stage, ctx))
  }
  if (args[0] === "task" && config !== undefined && jobName !== undefined && stageName === undefined) {
    const { loadApplyConfig, memoizedClassifierLoader, runApplyTask } = yield* Effect.promise(() => import("../../classify/apply-run.ts"))
    const run = yield* loadApplyConfig(config)
    const load = memoizedClassifierLoader()
    return yield* runAssignedTasks(env, (ctx) => runApplyTask(run, jobName, ctx, load))
  }
  return yield* new DataConfigError({ message: `usage: curation-task.ts task --config FILE (--stage STAGE | --job JOB); got: ${args.join(" ")}` })
})

work.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)

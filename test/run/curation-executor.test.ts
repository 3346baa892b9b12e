/**
 * The full run's curation through the executor (the config's `curation` section): local worker processes and a
 * real Slurm end with the documents and funnel of the in-process run, and a curation stopped midway resumes
 * without redoing finished ranks. As in test/data/slurm.test.ts: without Slurm the Slurm test fails,
 * saying how to start one, so a broken cluster cannot pass unnoticed.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema } from "effect"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { CurationConfig, Source, type SourceConfig } from "../../src/run/config.ts"
import { curateSource, type CurateOptions } from "../../src/run/pipeline/curate.ts"
import { defaultRunConfigInput } from "../../src/run/world/run-config.ts"
import { worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { writeDefaultWorld } from "../../src/run/world/write-world.ts"
import { noSlurm, slurmForTests } from "../support/slurm.ts"

const slurm = slurmForTests()

const root = mkdtempSync(path.join(tmpdir(), "smol-curation-executor-"))
const world = path.join(root, "world")

/** The default world's web source (filters, MinHash, a trained classifier, a threshold), small as the full-run test makes it. */
const webSource = Effect.gen(function*() {
  yield* writeDefaultWorld(world, { scale: 0.04 })
  const web = (defaultRunConfigInput(world).sources as Record<string, { classifier: { train: { annotate: object } } }>)["web"]!
  return yield* Schema.decodeUnknownEffect(Source)({
    ...web,
    classifier: { train: { ...web.classifier.train, annotate: { ...web.classifier.train.annotate, budget: 60 } } },
    // A few dozen labels teach the n-gram model little: a low threshold keeps documents flowing.
    threshold: { minScore: 1 }
  })
}).pipe(Effect.cached, Effect.runSync)

const curate = (source: SourceConfig, dir: string, execution: Partial<CurateOptions> = {}) =>
  curateSource({
    name: "web", source, dir: path.join(root, dir), seed: 42, annotator: worldAnnotatorFromDir(world), tasks: 2,
    log: () => undefined, ...execution
  })

/** Every file the curation wrote that holds documents (kept, dropped, scored), by path under its folder. */
const documentFiles = (dir: string): Map<string, string> => {
  const files = new Map<string, string>()
  const base = path.join(root, dir)
  for (const e of readdirSync(base, { withFileTypes: true, recursive: true })) {
    const file = path.join(e.parentPath, e.name)
    const relative = path.relative(base, file)
    if (!e.isFile() || !relative.endsWith(".jsonl") || /(^|\/)(logs|apply-logs|\.work|classifier)\//.test(relative)) continue
    files.set(relative, readFileSync(file, "utf8"))
  }
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)))
}

/** The funnel without the classifier's folder, the one field naming where the run was. */
const funnelOf = (curated: { readonly funnel: { readonly classifier?: { readonly model: string } } }) =>
  JSON.parse(JSON.stringify(curated.funnel, (k, v: unknown) => (k === "model" ? "MODEL" : v))) as unknown

/** The in-process run every other one is compared with (tasks 2, one worker). */
const inProcess = Effect.gen(function*() {
  const source = yield* webSource
  return { curated: yield* curate(source, "in-process"), files: documentFiles("in-process") }
}).pipe(Effect.provide(NodeServices.layer), Effect.cached, Effect.runSync)

const startsOf = (logFile: string) => readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes(" starting (")).length

describe("curation's config", () => {
  it("takes Slurm settings only with executor: slurm", () => {
    const decode = Schema.decodeUnknownExit(CurationConfig)
    expect(Exit.isSuccess(decode({ executor: "slurm", workers: 4, slurm: { partition: "cpu", time: "1:00:00", sbatchArgs: { constraint: "x", exclusive: true } } }))).toBe(true)
    const refused = decode({ executor: "local", slurm: { partition: "cpu" } })
    expect(Exit.isFailure(refused)).toBe(true)
    expect(String(refused)).toContain("only with `executor: slurm`")
    expect(Exit.isFailure(decode({ executor: "slurm", slurm: { sbatchArgs: { "--constraint": "x" } } }))).toBe(true)
  })
})

describe("the full run's curation through the executor", () => {
  it.live("with 2 local workers and 2 tasks: worker processes write the in-process run's documents and funnel", () =>
    Effect.gen(function*() {
      const reference = yield* inProcess
      // One worker: no executor, the ranks ran in this process.
      expect(existsSync(path.join(root, "in-process", "filtered", "logs", "filter", "executor.json"))).toBe(false)
      expect(reference.files.size).toBeGreaterThan(4)
      expect(reference.curated.funnel.steps.map((s) => s.name)).toEqual(["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "minhash", "threshold"])

      const curated = yield* curate(yield* webSource, "workers", { executor: "local", workers: 2 })
      for (const job of ["filtered/logs/filter", "filtered/logs/minhash_buckets", "filtered/logs/dedup_filter", "apply-logs/classify", "apply-logs/threshold"]) {
        const executor = JSON.parse(readFileSync(path.join(root, "workers", job, "executor.json"), "utf8")) as { workers: number; script: string }
        expect([job, executor.workers, path.basename(executor.script)]).toEqual([job, 2, "curation-task.ts"])
      }
      expect(documentFiles("workers")).toEqual(reference.files)
      expect(funnelOf(curated)).toEqual(funnelOf(reference.curated))
      expect(curated.inputs).toEqual([path.join(root, "workers", "curated")])
    }).pipe(Effect.provide(NodeServices.layer)), 300_000)

  it.live("stopped after the classify job and run again, it skips the finished ranks and ends with the same documents", () =>
    Effect.gen(function*() {
      const reference = yield* inProcess
      const source = yield* webSource
      const dir = path.join(root, "stopped")
      const taskLog = (job: string, rank: number) => path.join(dir, job, "logs", `task_0000${rank}.log`)
      const fiber = yield* Effect.forkChild(curate(source, "stopped", { executor: "local", workers: 2 }))
      // Stopped (its workers with it) once both classify ranks are complete: after the filters, dedup, annotation
      // and the classifier's training, before the threshold job.
      const classified = (rank: number) => existsSync(path.join(dir, "apply-logs", "classify", "completions", `0000${rank}`))
      while (!classified(0) || !classified(1)) yield* Effect.sleep(50)
      yield* Fiber.interrupt(fiber)
      expect(existsSync(path.join(dir, "apply-logs", "threshold", "completions", "00000"))).toBe(false)

      const curated = yield* curate(source, "stopped", { executor: "local", workers: 2 })
      const finished = ["filtered/logs/filter", "filtered/logs/dedup_filter", "apply-logs/classify"]
      expect(finished.map((job) => [job, [0, 1].map((rank) => startsOf(taskLog(job, rank)))])).toEqual(finished.map((job) => [job, [1, 1]]))
      expect(documentFiles("stopped")).toEqual(reference.files)
      expect(funnelOf(curated)).toEqual(funnelOf(reference.curated))
    }).pipe(Effect.provide(NodeServices.layer)), 300_000)

  describe("on a real Slurm", () => {
    it.live("executor: slurm runs each stage as a job array after the one before, and writes the in-process run's documents and funnel", () =>
      Effect.gen(function*() {
        if (!slurm.ok) throw noSlurm(slurm.why)
        const reference = yield* inProcess
        const logged: Array<string> = []
        const curated = yield* curate(yield* webSource, "slurm", {
          executor: "slurm", slurm: { cpusPerTask: 1, time: "0:10:00", sbatchArgs: {} }, log: (line) => void logged.push(line)
        })
        expect(documentFiles("slurm")).toEqual(reference.files)
        expect(funnelOf(curated)).toEqual(funnelOf(reference.curated))
        const submission = (job: string) =>
          (JSON.parse(readFileSync(path.join(root, "slurm", job, "slurm_jobs.json"), "utf8")) as { submissions: Array<{ after: Array<string>; arrays: Array<{ jobId: string }> }> })
            .submissions[0]!
        const filter = submission("filtered/logs/filter")
        expect(filter.after).toEqual([])
        expect(submission("filtered/logs/minhash_buckets").after).toEqual([filter.arrays[0]!.jobId])
        const classify = submission("apply-logs/classify")
        expect(submission("apply-logs/threshold").after).toEqual([classify.arrays[0]!.jobId])
        expect(readFileSync(path.join(root, "slurm", "apply-logs", "threshold", "launch_script.slurm"), "utf8")).toContain("#SBATCH --time=0:10:00")
        expect(logged.some((l) => /^web: threshold: 2 tasks done on Slurm/.test(l))).toBe(true)
      }).pipe(Effect.provide(NodeServices.layer)), 300_000)
  })
})

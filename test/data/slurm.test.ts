/**
 * The Slurm executor against a real Slurm (a single-node cluster: .ci/slurm-up.sh). Without Slurm these tests
 * fail, saying how to start one (test/support/slurm.ts starts it when it can), so a broken cluster cannot pass unnoticed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { noSlurm, slurmForTests, runProgram } from "../support/slurm.ts"
import { runSlurm } from "../../src/data/executor/slurm.ts"
import { prose } from "../support/prose.ts"

const root = path.resolve(import.meta.dirname, "..", "..")
const filterProgram = path.join(root, "programs", "filter.ts")
const copyTask = path.join(import.meta.dirname, "fixtures", "copy-task.ts")

const slurm = slurmForTests()
const needSlurm = () => {
  if (!slurm.ok) throw noSlurm(slurm.why)
}

const page = (seed: number) => prose(seed, { sentences: 8 })

/** Two input files with pages kept, pages dropped by the filters, and near duplicates across files for MinHash. */
const writeInputs = (dir: string) => {
  mkdirSync(dir, { recursive: true })
  const files = [
    [...Array.from({ length: 6 }, (_, i) => ({ id: `a-${i}`, text: page(i) })), { id: "short", text: "Buy now." }],
    [
      ...Array.from({ length: 6 }, (_, i) => ({ id: `b-${i}`, text: page(100 + i) })),
      { id: "near-a-2", text: page(2).replace(/\.$/, "!") },
      { id: "bullets", text: Array.from({ length: 30 }, (_, i) => `• item ${i}`).join("\n") }
    ]
  ]
  files.forEach((docs, i) => writeFileSync(path.join(dir, `${i}.jsonl`), docs.map((d) => JSON.stringify(d)).join("\n") + "\n"))
}

/** Every document under a folder, by its path relative to it (kept/, dropped/<stage>/), sorted by id. */
const documents = (dir: string): Record<string, Array<unknown>> => {
  const out: Record<string, Array<{ id: string }>> = {}
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(".jsonl")) continue
    const folder = path.relative(dir, e.parentPath)
    const docs = readFileSync(path.join(e.parentPath, e.name), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { id: string })
    ;(out[folder] ??= []).push(...docs)
  }
  for (const docs of Object.values(out)) docs.sort((a, b) => a.id.localeCompare(b.id))
  return out
}

const filter = (args: ReadonlyArray<string>) => runProgram(filterProgram, args)


/** The summary table a run prints, without the timing line after it. */
const summary = (stdout: string) => stdout.split("\n\n")[0]

const submissions = (loggingDir: string) =>
  (JSON.parse(readFileSync(path.join(loggingDir, "slurm_jobs.json"), "utf8")) as {
    submissions: Array<{ arrays: Array<{ jobId: string; groups: Array<Array<number>> }> }>
  }).submissions

const startsOf = (loggingDir: string, rank: number) =>
  readFileSync(path.join(loggingDir, "logs", `task_${String(rank).padStart(5, "0")}.log`), "utf8").split("\n").filter((l) => l.includes("] starting")).length

describe("Slurm executor on a real Slurm", () => {
  it("filter + MinHash dedup through Slurm (--wait) keeps and drops exactly the documents a local run does", async () => {
    needSlurm()
    const dir = mkdtempSync(path.join(tmpdir(), "smol-slurm-"))
    writeInputs(path.join(dir, "in"))
    const common = ["--input", path.join(dir, "in"), "--dedup", "minhash", "--tasks", "2", "--workers", "2"]
    const [local, onSlurm] = await Promise.all([
      filter([...common, "--output", path.join(dir, "local")]),
      filter([...common, "--output", path.join(dir, "slurm"), "--executor", "slurm", "--wait", "--time", "0:10:00", "--env-command", "echo env-command ran"])
    ])
    expect(local.status, local.stderr).toBe(0)
    expect(onSlurm.status, onSlurm.stderr).toBe(0)
    expect(documents(path.join(dir, "local", "kept"))[""]?.length).toBeGreaterThan(0)
    expect(documents(path.join(dir, "slurm", "kept"))).toEqual(documents(path.join(dir, "local", "kept")))
    expect(documents(path.join(dir, "slurm", "dropped"))).toEqual(documents(path.join(dir, "local", "dropped")))
    // The near duplicate was found across the two tasks' files, and the filters dropped what they drop locally.
    expect(Object.keys(documents(path.join(dir, "slurm", "dropped"))).sort()).toContain("minhash")
    expect(summary(onSlurm.stdout)).toEqual(summary(local.stdout))
    expect(JSON.parse(readFileSync(path.join(dir, "slurm", "stats.json"), "utf8"))).toEqual(JSON.parse(readFileSync(path.join(dir, "local", "stats.json"), "utf8")))
    expect(existsSync(path.join(dir, "slurm", "report.md"))).toBe(true)
    // Each stage was an array of its own, waiting for the one before it; the env command ran before each task.
    const stages = ["filter", "minhash_buckets", "minhash_cluster", "dedup_filter"]
    const ids = stages.map((s) => submissions(path.join(dir, "slurm", "logs", s))[0]!.arrays[0]!.jobId)
    expect(new Set(ids).size).toBe(4)
    const script = readFileSync(path.join(dir, "slurm", "logs", "minhash_cluster", "launch_script.slurm"), "utf8")
    expect(script).toContain("#SBATCH --time=0:10:00\n")
    expect(script).toContain(`exec '${process.execPath}'`)
    const log = readFileSync(path.join(dir, "slurm", "logs", "filter", "slurm_logs", `${ids[0]}_0.out`), "utf8")
    expect(log).toContain("env-command ran")
  }, 300_000)

  it("a cancelled array task is reported with its Slurm log; the rerun submits and completes exactly that rank", async () => {
    needSlurm()
    const dir = mkdtempSync(path.join(tmpdir(), "smol-slurm-cancel-"))
    writeInputs(path.join(dir, "in"))
    writeFileSync(path.join(dir, "in", "2.jsonl"), JSON.stringify({ id: "c-0", text: page(200) }) + "\n")
    // One task at a time (%1), so the last one is still pending when it is cancelled.
    const args = ["--input", path.join(dir, "in"), "--output", path.join(dir, "out"), "--filters", "gopher_quality", "--tasks", "3", "--workers", "1", "--executor", "slurm"]
    const logs = path.join(dir, "out", "logs", "filter")

    const submitted = await filter(args)
    expect(submitted.status, submitted.stderr).toBe(0)
    const jobId = submissions(logs)[0]!.arrays[0]!.jobId
    expect(submitted.stdout).toContain(`squeue -j ${jobId}`)
    expect(submitted.stdout).toContain("rerun the same command")
    execFileSync("scancel", [`${jobId}_2`])

    // A rerun while the array is in the queue follows it instead of submitting again, and reports the cancelled task.
    const followed = await filter([...args, "--wait"])
    expect(followed.status).toBe(1)
    expect(followed.stderr).toContain("following them, submitting nothing")
    expect(followed.stderr).toMatch(/filter: 1 of 3 tasks failed \(rank 2\)/)
    // Cancelled while pending, the task leaves no record in the controller and no log: it is said never to have started.
    expect(followed.stderr).toMatch(new RegExp(`rank 2: job ${jobId}_2 never started`))
    expect(followed.stderr).toContain(path.join(logs, "slurm_logs", `${jobId}_2.out`))
    expect(submissions(logs).length).toBe(1)

    const resumed = await filter([...args, "--wait"])
    expect(resumed.status, resumed.stderr).toBe(0)
    const all = submissions(logs)
    expect(all.length).toBe(2)
    expect(all[1]!.arrays.map((a) => a.groups)).toEqual([[[2]]])
    expect([0, 1, 2].map((r) => startsOf(logs, r))).toEqual([1, 1, 1])
    expect(documents(path.join(dir, "out", "kept"))[""]!.map((d) => (d as { id: string }).id)).toContain("c-0")

    // Everything is done: nothing is submitted, and the summary is printed again.
    const again = await filter(args)
    expect(again.status, again.stderr).toBe(0)
    expect(submissions(logs).length).toBe(2)
    expect(summary(again.stdout)).toEqual(summary(resumed.stdout))
  }, 300_000)

  it.live("a job of more processes than MaxArraySize allows is submitted as several arrays", () =>
    Effect.gen(function*() {
      needSlurm()
      const dir = mkdtempSync(path.join(tmpdir(), "smol-slurm-split-"))
      mkdirSync(path.join(dir, "in"))
      for (let r = 0; r < 5; r++) writeFileSync(path.join(dir, "in", `${r}.jsonl`), JSON.stringify({ id: `d${r}`, text: `document ${r}` }) + "\n")
      const job = {
        name: "copy",
        loggingDir: path.join(dir, "logs"),
        tasks: 5,
        script: copyTask,
        env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out") },
        ranksPerProcess: 2
      }
      // Two processes per array at most: ranks 0-3 in one array (two processes of two ranks), rank 4 in another.
      const outcome = yield* runSlurm(job, { cwd: root }, { wait: true, maxArraySize: 2 })
      expect(outcome._tag).toBe("Complete")
      expect(outcome.stages[0]!.arrays.map((a) => a.groups)).toEqual([[[0, 1], [2, 3]], [[4]]])
      expect(readdirSync(path.join(dir, "out")).sort()).toEqual(["00000.jsonl", "00001.jsonl", "00002.jsonl", "00003.jsonl", "00004.jsonl"])
      expect(outcome._tag === "Complete" && outcome.stats["copy"]?.["documents"]).toBe(5)
    }), 300_000)
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import * as path from "node:path"
import { type Job, runLocal, taskCommand } from "../../src/data/executor/local.ts"
import { slurmScript, submitSlurm } from "../../src/data/executor/slurm.ts"
import { completionPath, progressPath, rankLockPath, taskLogPath } from "../../src/data/executor/rank-files.ts"
import { isProcessAlive, readRankLock } from "../../src/data/executor/rank-lock.ts"
import { incompleteRanks } from "../../src/data/executor/task.ts"

const fixtures = path.join(import.meta.dirname, "fixtures")
const copyTask = path.join(fixtures, "copy-task.ts")
const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-exec-"))

/** IN/<rank>.jsonl with `perTask` documents each; returns all ids. */
const makeInputs = (dir: string, tasks: number, perTask: number): Array<string> => {
  mkdirSync(dir, { recursive: true })
  const ids: Array<string> = []
  for (let r = 0; r < tasks; r++) {
    const lines = Array.from({ length: perTask }, (_, i) => {
      ids.push(`t${r}-${i}`)
      return JSON.stringify({ id: `t${r}-${i}`, text: `document ${i} of task ${r}` })
    })
    writeFileSync(path.join(dir, `${r}.jsonl`), lines.join("\n") + "\n")
  }
  return ids
}
const outputs = (dir: string) =>
  Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(path.join(dir, f), "utf8")]))
const ids = (files: Record<string, string>) =>
  Object.values(files).flatMap((t) => t.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id)).sort()

describe("local executor", () => {
  it.live("runs tasks in parallel processes, marks them complete, merges stats, and skips them on rerun", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const expected = makeInputs(path.join(dir, "in"), 3, 5)
      const job: Job = {
        name: "copy",
        loggingDir: path.join(dir, "logs"),
        tasks: 3,
        workers: 2,
        script: copyTask,
        env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out") }
      }
      const stats = yield* runLocal(job)
      expect(stats).toEqual({ copy: { documents: 15 } })
      expect(JSON.parse(readFileSync(path.join(dir, "logs", "stats.json"), "utf8"))).toEqual(stats)
      expect(incompleteRanks(job.loggingDir, 3)).toEqual([])
      const out = outputs(path.join(dir, "out"))
      expect(ids(out)).toEqual(expected.sort())
      expect(out["00001.jsonl"]!.split("\n")[0]).toBe(JSON.stringify({ text: "document 0 of task 1", id: "t1-0", metadata: {} }))
      expect(readFileSync(taskLogPath(job.loggingDir, 1), "utf8")).toContain("copied 5")
      // Rerun: nothing starts again (one "starting" line per task log), stats unchanged.
      const again = yield* runLocal(job)
      expect(again).toEqual(stats)
      expect(readFileSync(taskLogPath(job.loggingDir, 2), "utf8").match(/starting/g)?.length).toBe(1)
    }))

  it.live("a job starts only after the job it depends on, and a failed task is a typed error naming it", () =>
    Effect.gen(function*() {
      const dir = tmp()
      makeInputs(path.join(dir, "in"), 1, 2)
      const first: Job = {
        name: "first",
        loggingDir: path.join(dir, "logs1"),
        tasks: 1,
        script: copyTask,
        env: { IN: path.join(dir, "in"), OUT: path.join(dir, "mid") }
      }
      const second: Job = {
        name: "second",
        loggingDir: path.join(dir, "logs2"),
        tasks: 1,
        script: copyTask,
        env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out"), REQUIRE: path.join(dir, "mid", "00000.jsonl") },
        depends: first
      }
      yield* runLocal(second)
      expect(existsSync(completionPath(first.loggingDir, 0))).toBe(true)
      expect(existsSync(path.join(dir, "out", "00000.jsonl"))).toBe(true)
      const broken: Job = { ...second, loggingDir: path.join(dir, "logs3"), env: { ...second.env, REQUIRE: "/nonexistent" }, depends: undefined as never }
      const { depends: _, ...noDeps } = broken
      const e = yield* Effect.flip(runLocal(noDeps))
      expect(e._tag).toBe("ExecutorError")
      expect(e.ranks).toEqual([0])
      expect(readFileSync(taskLogPath(broken.loggingDir, 0), "utf8")).toContain("missing /nonexistent")
      // The error a person sees says what failed the task, not only that it failed and where its log is.
      expect(e.message).toContain("rank 0: Error: missing /nonexistent")
      expect(e.message).toContain(`log: ${taskLogPath(broken.loggingDir, 0)}`)
    }))

  it.live("a worker that dies before its task can say why: the error shows its exit and the end of its log", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const script = path.join(dir, "crash.mjs")
      writeFileSync(script, `console.error("cannot start: the config is gone")\nprocess.exit(3)\n`)
      const e = yield* Effect.flip(runLocal({ name: "crash", loggingDir: path.join(dir, "logs"), tasks: 1, script }))
      expect(e.message).toContain("rank 0: exit code 3; the end of its log")
      expect(e.message).toContain("cannot start: the config is gone")
    }))

  it.live("workers die with the executor: SIGKILL of the executor alone leaves no worker running", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const tasks = 2
      makeInputs(path.join(dir, "in"), tasks, 400)
      const logs = path.join(dir, "logs")
      // Slow tasks (20 s each undisturbed), so that the workers are surely midway when the executor dies.
      const executor = spawn(process.execPath, taskCommand(path.join(fixtures, "run-job.ts"), [logs, String(tasks), "2"]), {
        env: { ...process.env, IN: path.join(dir, "in"), OUT: path.join(dir, "out"), DELAY_MS: "50" },
        stdio: "ignore"
      })
      const exited = new Promise<void>((resolve) => executor.on("exit", () => resolve()))
      const workers = yield* Effect.promise(async () => {
        const deadline = Date.now() + 30_000
        const holders = () => Array.from({ length: tasks }, (_, r) => readRankLock(logs, r)).filter((l) => l !== undefined)
        while (Date.now() < deadline && holders().length < tasks) await new Promise((r) => setTimeout(r, 25))
        return holders().map((l) => l.pid)
      })
      expect(workers.length).toBe(tasks)
      expect(workers).not.toContain(executor.pid)
      const killed = Date.now()
      executor.kill("SIGKILL")
      yield* Effect.promise(() => exited)
      const stillRunning = () => workers.filter(isProcessAlive)
      yield* Effect.promise(async () => {
        while (Date.now() - killed < 10_000 && stillRunning().length > 0) await new Promise((r) => setTimeout(r, 50))
      })
      expect(stillRunning()).toEqual([])
      expect(Date.now() - killed).toBeLessThan(5_000)
      // They stopped cleanly: no lock left behind, their ranks not marked complete.
      expect(Array.from({ length: tasks }, (_, r) => readRankLock(logs, r))).toEqual([undefined, undefined])
      expect(incompleteRanks(logs, tasks)).toEqual([0, 1])
      expect(readFileSync(taskLogPath(logs, 0), "utf8")).toContain("stopped: interrupted")
    }), { timeout: 60_000 })

  it.live("a rerun does not start a second worker on a rank a live process still holds", () =>
    Effect.gen(function*() {
      const dir = tmp()
      makeInputs(path.join(dir, "in"), 1, 2)
      const logs = path.join(dir, "logs")
      // A process of an earlier run still at work on rank 0, as its lock says.
      const earlier = spawn("sleep", ["30"], { stdio: "ignore" })
      mkdirSync(path.dirname(rankLockPath(logs, 0)), { recursive: true })
      writeFileSync(rankLockPath(logs, 0), JSON.stringify({ pid: earlier.pid, host: hostname(), startTicks: null, since: "2026-01-01T00:00:00.000Z" }))
      const job: Job = { name: "copy", loggingDir: logs, tasks: 1, script: copyTask, env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out") } }
      const e = yield* Effect.flip(runLocal(job, { heldRankWait: 200 }))
      expect(e.ranks).toEqual([0])
      expect(e.message).toContain(
        `copy: not starting a second worker on ranks that processes of an earlier run are still running: rank 0 by process ${earlier.pid} (since 2026-01-01T00:00:00.000Z)`
      )
      expect(e.message).toContain(`kill ${earlier.pid}`)
      expect(existsSync(taskLogPath(logs, 0))).toBe(false)
      // Once that process is gone its lock is stale: the rerun runs the rank.
      earlier.kill("SIGKILL")
      yield* Effect.promise(() => new Promise<void>((resolve) => earlier.on("exit", () => resolve())))
      yield* runLocal(job)
      expect(incompleteRanks(logs, 1)).toEqual([])
      expect(readRankLock(logs, 0)).toBeUndefined()
    }), { timeout: 30_000 })

  it.live("a run killed with SIGKILL midway, rerun, gives exactly the output of an uninterrupted run", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const tasks = 4
      const expected = makeInputs(path.join(dir, "in"), tasks, 30)
      const env = (out: string) => ({ ...process.env, IN: path.join(dir, "in"), OUT: out, DELAY_MS: "15" })
      // What an uninterrupted run writes (the first test runs one): each task's documents, in order, in <rank>.jsonl.
      const reference = Object.fromEntries(Array.from({ length: tasks }, (_, r) => [
        `${String(r).padStart(5, "0")}.jsonl`,
        readFileSync(path.join(dir, "in", `${r}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => {
          const { id, text } = JSON.parse(l) as { id: string; text: string }
          return JSON.stringify({ text, id, metadata: {} }) + "\n"
        }).join("")
      ]))
      // Interrupted: the executor and its workers in their own process group, killed together once some task
      // finished and others are midway.
      const logs = path.join(dir, "logs")
      const child = spawn(process.execPath, taskCommand(path.join(fixtures, "run-job.ts"), [logs, String(tasks), "2"]), {
        env: env(path.join(dir, "out")),
        detached: true,
        stdio: "ignore"
      })
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 30_000
        // Until one task has finished and an unfinished one has started writing.
        const midway = () => {
          const left = incompleteRanks(logs, tasks)
          return left.length < tasks && left.some((r) => existsSync(progressPath(logs, r)))
        }
        while (Date.now() < deadline && !midway()) await new Promise((r) => setTimeout(r, 25))
        process.kill(-child.pid!, "SIGKILL")
        await exited
      })
      const left = incompleteRanks(logs, tasks)
      expect(left.length).toBeGreaterThan(0)
      expect(left.length).toBeLessThan(tasks)
      // What the kill left: temporary files of dead processes, no finished file for an unfinished task.
      const temps = readdirSync(path.join(dir, "out")).filter((f) => f.includes(".tmp-"))
      expect(temps.length).toBeGreaterThan(0)
      // SIGKILL is delivered at once but a process takes a moment to die; a user reruns after that, so does this.
      yield* Effect.promise(async () => {
        const gone = (pid: number) => {
          try {
            process.kill(pid, 0)
            return / Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\)/, ")"))
          } catch {
            return true
          }
        }
        const pids = temps.map((f) => Number(/\.tmp-(\d+)$/.exec(f)![1]))
        const deadline = Date.now() + 10_000
        while (Date.now() < deadline && !pids.every(gone)) await new Promise((r) => setTimeout(r, 25))
      })
      yield* runLocal({ name: "copy", loggingDir: logs, tasks, workers: 2, script: copyTask, env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out") }, outputs: [path.join(dir, "out")] })
      const got = outputs(path.join(dir, "out"))
      expect(got).toEqual(reference)
      expect(ids(got)).toEqual(expected.sort())
      expect(JSON.parse(readFileSync(path.join(logs, "stats.json"), "utf8"))).toEqual({ copy: { documents: tasks * 30 } })
    }), { timeout: 60_000 })
})

describe("executor boundaries", () => {
  it("imports nothing from the stages it runs (dedup, filters): they depend on it, not it on them", () => {
    const folder = path.join(import.meta.dirname, "..", "..", "src", "data", "executor")
    for (const file of readdirSync(folder).filter((f) => f.endsWith(".ts"))) {
      const imports = [...readFileSync(path.join(folder, file), "utf8").matchAll(/^import .* from "([^"]+)"/gm)].map((m) => m[1]!)
      expect(imports.filter((i) => /\/(dedup|filters)\//.test(i)), file).toEqual([])
    }
  })
})

describe("Slurm executor", () => {
  const job = (dir: string) => ({
    name: "copy",
    loggingDir: path.join(dir, "logs"),
    tasks: 3,
    workers: 2,
    script: copyTask,
    env: { IN: path.join(dir, "in"), OUT: path.join(dir, "out") },
    partition: "cpu",
    time: "01:00:00",
    cpusPerTask: 2,
    cwd: process.cwd()
  })

  it("writes an array script over the ranks still to run, with per-task logs and the rank in the environment", () => {
    const dir = tmp()
    const text = slurmScript(job(dir), [0, 2])
    expect(text.startsWith("#!/bin/bash\n")).toBe(true)
    expect(text).toContain("#SBATCH --array=0-1%2\n")
    expect(text).toContain("#SBATCH --partition=cpu\n")
    expect(text).toContain("#SBATCH --time=01:00:00\n")
    expect(text).toContain("#SBATCH --cpus-per-task=2\n")
    expect(text).toContain(`#SBATCH --output=${path.join(dir, "logs", "slurm_logs", "%A_%a.out")}\n`)
    expect(text).toContain("RANKS=(0 2)\n")
    expect(text).toContain('export SMOL_RANKS="${RANKS[$SLURM_ARRAY_TASK_ID]}"\n')
    expect(text).toContain("export SMOL_WORLD_SIZE=3\n")
    expect(text).toContain(`export IN='${path.join(dir, "in")}'`)
    expect(text).toMatch(new RegExp(`exec '[^']*node[^']*' '--import' '[^']*tsx[^']*' '${copyTask}'\\n$`))
  })

  it.live("the script runs the same program for its array index; sbatch is called with the dependency", () =>
    Effect.gen(function*() {
      const dir = tmp()
      makeInputs(path.join(dir, "in"), 3, 2)
      const j = job(dir)
      // No sbatch on PATH here: the script is written, nothing is submitted.
      const written = yield* submitSlurm(j, "sbatch-not-installed")
      expect(written.jobId).toBeUndefined()
      expect(written.ranks).toEqual([0, 1, 2])
      // Run array index 1 as Slurm would (the #SBATCH lines are comments to bash).
      execFileSync("bash", [written.script], { env: { ...process.env, SLURM_ARRAY_TASK_ID: "1" }, stdio: "pipe" })
      expect(incompleteRanks(j.loggingDir, 3)).toEqual([0, 2])
      expect(readdirSync(path.join(dir, "out"))).toEqual(["00001.jsonl"])
      // A fake sbatch records its arguments; the dependent job names the first job's id.
      const bin = path.join(dir, "bin")
      mkdirSync(bin)
      const fake = path.join(bin, "sbatch")
      writeFileSync(fake, `#!/bin/bash\necho "$@" >> ${path.join(dir, "sbatch.log")}\necho "Submitted batch job 4$(wc -l < ${path.join(dir, "sbatch.log")})"\n`)
      chmodSync(fake, 0o755)
      const second = { ...job(dir), name: "second", loggingDir: path.join(dir, "logs2"), tasks: 1, workers: undefined, depends: j } as const
      const { workers: _w, ...secondJob } = second
      const submitted = yield* submitSlurm(secondJob, fake)
      expect(submitted.jobId).toBe("42")
      const calls = readFileSync(path.join(dir, "sbatch.log"), "utf8").trim().split("\n")
      expect(calls[0]).toBe(path.join(j.loggingDir, "launch_script.slurm"))
      expect(calls[1]).toBe(`--dependency=afterok:41 ${path.join(second.loggingDir, "launch_script.slurm")}`)
      // The rerun script covers only the ranks still incomplete.
      expect(readFileSync(path.join(j.loggingDir, "launch_script.slurm"), "utf8")).toContain("RANKS=(0 2)\n")
    }), { timeout: 30_000 })
})

/**
 * `programs/classifier.ts apply` and `threshold` through a real Slurm (a single-node cluster: .ci/slurm-up.sh),
 * compared document by document with the local executor. As in test/data/slurm.test.ts: without Slurm these
 * tests fail, saying how to start one, so a broken cluster cannot pass unnoticed.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { noSlurm, slurmForTests, runProgram } from "../support/slurm.ts"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"

const root = path.resolve(import.meta.dirname, "..", "..")
const classifierProgram = path.join(root, "programs", "classifier.ts")

const slurm = slurmForTests()

const classifier = (args: ReadonlyArray<string>) => runProgram(classifierProgram, args)


/**
 * Labelled documents whose words carry their score (about score/10 of them are "lesson" words), half java and
 * half python, so that a small n-gram classifier learns to tell them apart.
 */
const plantedDocs = (n: number) => {
  const rng = defaultRng(7)
  return Array.from({ length: n }, (_, i) => {
    const score = i % 6
    const length = 40 + rng.integers(0, 30)
    const words: Array<string> = []
    for (let k = 0; k < Math.round((score * length) / 10); k++) words.push(`lesson${rng.integers(0, 15)}`)
    while (words.length < length) words.push(`noise${rng.integers(0, 200)}`)
    rng.shuffle(words)
    return { id: `doc-${String(i).padStart(3, "0")}`, text: words.join(" "), metadata: { language: i % 2 === 0 ? "java" : "python", annotation: { score } } }
  })
}

interface Line { readonly id: string; readonly metadata: Record<string, unknown> }
/** Every document of a folder's .jsonl files, sorted by id. */
const documents = (dir: string): Array<Line> =>
  readdirSync(dir).filter((f) => f.endsWith(".jsonl")).flatMap((f) =>
    readFileSync(path.join(dir, f), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Line))
    .sort((a, b) => a.id.localeCompare(b.id))

/** The summary a run prints, without the timing line after it (its paths made relative to the output). */
const summary = (stdout: string, output: string) => stdout.split("\n\n")[0]!.replaceAll(output, "OUT")

const submissions = (loggingDir: string) =>
  (JSON.parse(readFileSync(path.join(loggingDir, "slurm_jobs.json"), "utf8")) as {
    submissions: Array<{ after: Array<string>; arrays: Array<{ jobId: string }> }>
  }).submissions

describe("programs/classifier.ts on a real Slurm", () => {
  it("apply (scores + threshold) and threshold through Slurm (--wait) write exactly the documents a local run does", async () => {
    if (!slurm.ok) throw noSlurm(slurm.why)
    const dir = mkdtempSync(path.join(tmpdir(), "smol-slurm-apply-"))
    const docs = plantedDocs(240)
    mkdirSync(path.join(dir, "in"))
    for (const part of [0, 1]) {
      writeFileSync(path.join(dir, "in", `part-${part}.jsonl`), docs.filter((_, i) => i % 2 === part).map((d) => JSON.stringify(d)).join("\n") + "\n")
    }
    const model = path.join(dir, "model")
    const trained = await classifier(["train", "--input", path.join(dir, "in"), "--output", model, "--buckets", "16384", "--epochs", "10"])
    expect(trained.status, trained.stderr).toBe(0)

    const onSlurm = ["--executor", "slurm", "--wait", "--time", "0:10:00"]
    const apply = (out: string, extra: ReadonlyArray<string> = []) =>
      classifier(["apply", "--model", model, "--input", path.join(dir, "in"), "--output", path.join(dir, out), "--tasks", "2",
        "--threshold", "3", "--threshold-override", "java=2", ...extra])
    const [local, slurmRun] = await Promise.all([apply("local", ["--workers", "2"]), apply("slurm", onSlurm)])
    expect(local.status, local.stderr).toBe(0)
    expect(slurmRun.status, slurmRun.stderr).toBe(0)
    for (const folder of ["scored", "kept", path.join("dropped", "threshold")]) {
      const here = documents(path.join(dir, "local", folder))
      expect(documents(path.join(dir, "slurm", folder)), folder).toEqual(here)
    }
    const kept = documents(path.join(dir, "local", "kept"))
    const dropped = documents(path.join(dir, "local", "dropped", "threshold"))
    expect(kept.length).toBeGreaterThan(0)
    expect(dropped.length).toBeGreaterThan(0)
    expect(kept.length + dropped.length).toBe(docs.length)
    expect(summary(slurmRun.stdout, path.join(dir, "slurm"))).toEqual(summary(local.stdout, path.join(dir, "local")))
    expect(JSON.parse(readFileSync(path.join(dir, "slurm", "stats.json"), "utf8"))).toEqual(JSON.parse(readFileSync(path.join(dir, "local", "stats.json"), "utf8")))
    // Each job was an array of its own, threshold waiting for classify.
    const classifyId = submissions(path.join(dir, "slurm", "logs", "classify"))[0]!.arrays[0]!.jobId
    const thresholdSubmission = submissions(path.join(dir, "slurm", "logs", "threshold"))[0]!
    expect(thresholdSubmission.arrays[0]!.jobId).not.toBe(classifyId)
    expect(thresholdSubmission.after).toEqual([classifyId])

    // Another threshold over the Slurm run's scores, through Slurm and here.
    const threshold = (out: string, extra: ReadonlyArray<string> = []) =>
      classifier(["threshold", "--input", path.join(dir, "slurm", "scored"), "--output", path.join(dir, out), "--threshold", "4", "--tasks", "2", ...extra])
    const [strictLocal, strictSlurm] = await Promise.all([threshold("strict-local"), threshold("strict-slurm", onSlurm)])
    expect(strictLocal.status, strictLocal.stderr).toBe(0)
    expect(strictSlurm.status, strictSlurm.stderr).toBe(0)
    for (const folder of ["kept", path.join("dropped", "threshold")]) {
      expect(documents(path.join(dir, "strict-slurm", folder)), folder).toEqual(documents(path.join(dir, "strict-local", folder)))
    }
    const strictKept = documents(path.join(dir, "strict-slurm", "kept"))
    expect(strictKept.length).toBeGreaterThan(0)
    expect(strictKept.length + documents(path.join(dir, "strict-slurm", "dropped", "threshold")).length).toBe(docs.length)
    expect(strictKept.every((d) => (d.metadata["int_score"] as number) >= 4)).toBe(true)
  }, 300_000)
})

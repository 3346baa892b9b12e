/**
 * `programs/tokenizer.ts shard --executor slurm` through a real Slurm (a single-node cluster: .ci/slurm-up.sh),
 * compared byte for byte with the local executor. As in test/data/slurm.test.ts: without Slurm this test fails,
 * saying how to start one, so a broken cluster cannot pass unnoticed.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { noSlurm, slurmForTests, runProgram } from "../support/slurm.ts"
import { outputFiles, tokenFiles, tokenizerProgram, writeShardInputs } from "./shard-fixture.ts"

const slurm = slurmForTests()

const tokenizer = (args: ReadonlyArray<string>) => runProgram(tokenizerProgram, args)

interface Submission {
  readonly after: ReadonlyArray<string>
  readonly arrays: ReadonlyArray<{ readonly jobId: string; readonly groups: ReadonlyArray<ReadonlyArray<number>> }>
}
const submissions = (loggingDir: string): Array<Submission> =>
  (JSON.parse(readFileSync(path.join(loggingDir, "slurm_jobs.json"), "utf8")) as { submissions: Array<Submission> }).submissions

/** The summary a run prints, without the timing line after it, its output folder written OUT. */
const summary = (stdout: string, output: string) => stdout.split("\n\n")[0]!.replaceAll(output, "OUT")

describe("programs/tokenizer.ts shard on a real Slurm", () => {
  it("--executor slurm --wait --tasks 2 --merge writes byte for byte what the local executor writes; a rerun submits only what is left", async () => {
    if (!slurm.ok) throw noSlurm(slurm.why)
    const dir = mkdtempSync(path.join(tmpdir(), "smol-slurm-shard-"))
    const inputs = await writeShardInputs(dir)
    const shard = (out: string, extra: ReadonlyArray<string>) =>
      tokenizer([
        "shard", "--tokenizer", inputs.tokenizer, ...inputs.files.flatMap((f) => ["--input", f]), "--output", path.join(dir, out),
        "--seed", "5", "--max-tokens-per-file", "120", "--tasks", "2", "--merge", "all", "--merge-max-tokens-per-file", "300", ...extra
      ])
    const onSlurm = ["--executor", "slurm", "--wait", "--time", "0:10:00"]
    const [local, viaSlurm] = await Promise.all([shard("local", ["--workers", "2"]), shard("slurm", onSlurm)])
    expect(local.status, local.stderr).toBe(0)
    expect(viaSlurm.status, viaSlurm.stderr).toBe(0)
    const here = outputFiles(path.join(dir, "local"))
    expect(tokenFiles(path.join(dir, "local")).length).toBeGreaterThan(2)
    expect(tokenFiles(path.join(dir, "local", "merged")).length).toBeGreaterThan(1)
    expect([...outputFiles(path.join(dir, "slurm")).keys()]).toEqual([...here.keys()])
    expect(outputFiles(path.join(dir, "slurm"))).toEqual(here)
    expect(summary(viaSlurm.stdout, path.join(dir, "slurm"))).toEqual(summary(local.stdout, path.join(dir, "local")))

    // Two arrays: the tokenize ranks, then the merge waiting for them.
    const tokenizeLogs = path.join(dir, "slurm", "logs", "tokenize")
    const tokenizeId = submissions(tokenizeLogs)[0]!.arrays[0]!.jobId
    const mergeSubmission = submissions(path.join(dir, "slurm", "logs", "merge"))[0]!
    expect(submissions(tokenizeLogs)[0]!.arrays[0]!.groups).toEqual([[0], [1]])
    expect(mergeSubmission.arrays[0]!.jobId).not.toBe(tokenizeId)
    expect(mergeSubmission.after).toEqual([tokenizeId])

    // Rank 1 lost its marker: the rerun submits rank 1 alone (the merge is complete), and ends with the same files.
    rmSync(path.join(tokenizeLogs, "completions", "00001"))
    const resumed = await shard("slurm", onSlurm)
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(submissions(tokenizeLogs).length).toBe(2)
    expect(submissions(tokenizeLogs)[1]!.arrays.map((a) => a.groups)).toEqual([[[1]]])
    expect(submissions(path.join(dir, "slurm", "logs", "merge")).length).toBe(1)
    expect(outputFiles(path.join(dir, "slurm"))).toEqual(here)

    // All done: a rerun without --wait submits nothing and prints the summary.
    const done = await shard("slurm", ["--executor", "slurm"])
    expect(done.status, done.stderr).toBe(0)
    expect(done.stdout).toContain("every tokenize task was already complete")
    expect(submissions(tokenizeLogs).length).toBe(2)
  }, 300_000)
})

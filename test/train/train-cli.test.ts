import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Runs programs/train.ts as a user would (Node with tsx as an import hook). */
const train = (args: ReadonlyArray<string>) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "programs/train.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString() })
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString() })
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

describe("programs/train.ts checks its flags before any work", () => {
  it("a bad number stops the program naming its flag, before the GPU is opened", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-train-cli-"))
    const base = ["--preset", "tiny", "--data", join(dir, "ids.jsonl"), "--out", join(dir, "run")]
    const cases = [
      [["--lr", "-1"], `Invalid value for flag --lr: "-1". Expected: a number > 0`],
      [["--seq-len", "0"], `Invalid value for flag --seq-len: "0". Expected: an integer ≥ 1`],
      [["--batch-size", "0"], `Invalid value for flag --batch-size: "0". Expected: an integer ≥ 1`],
      [["--steps", "0"], `Invalid value for flag --steps: "0". Expected: an integer ≥ 1`]
    ] as const
    const results = await Promise.all(cases.map(([flag]) => train([...base, ...flag])))
    results.forEach((r, i) => {
      expect(r.status, cases[i]![1]).not.toBe(0)
      expect(r.stdout + r.stderr).toContain(cases[i]![1])
      expect(r.stderr).not.toMatch(/Training on/)
    })
  }, 60_000)

  it("--help describes every flag and its default", async () => {
    const { stdout } = await train(["--help"])
    const flags = stdout.slice(stdout.indexOf("FLAGS"), stdout.indexOf("GLOBAL FLAGS")).split("\n").filter((l) => l.trimStart().startsWith("--"))
    expect(flags.length).toBeGreaterThanOrEqual(20)
    for (const line of flags) expect(line, line).toMatch(/\(default: [^)]+\)|\(required\)|give this or --/)
    expect(stdout).toMatch(/--warmup integer +.*\(default: min\(2000, a tenth of --steps\)\)/)
  }, 60_000)

  it("refuses an --out that holds a run unless given --resume or --overwrite, and leaves it untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-train-cli-"))
    const out = join(dir, "run")
    mkdirSync(join(out, "checkpoints", "step-00000004"), { recursive: true })
    writeFileSync(join(out, "metrics.jsonl"), `{"step":1}\n`)
    const r = await train(["--preset", "tiny", "--data", join(dir, "ids.jsonl"), "--out", out])
    expect(r.status).not.toBe(0)
    expect(r.stdout + r.stderr).toContain(`RunFolderInUseError: ${out} already holds a training run (checkpoints step-00000004 and metrics.jsonl); pass --resume to continue it, or --overwrite`)
    expect(r.stderr).not.toMatch(/Training on/)
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8")).toBe(`{"step":1}\n`)
  }, 60_000)
})

import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Runs programs/full-run.ts as a user would (Node with tsx as an import hook). */
const run = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "programs/full-run.ts", ...args], { encoding: "utf8" })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The error lines a failed run printed (the program's one `error:` line, or the config's listed problems). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("Warning:"))

// Each case fails before any work: no GPU, no world, a second or two each.
describe("programs/full-run.ts refuses bad input before any work", () => {
  const root = mkdtempSync(join(tmpdir(), "smol-full-run-cli-"))

  it("a bad --set names the override and the field, and writes nothing (not even the default world)", () => {
    const out = join(root, "bad-set")
    const r = run(["--out", out, "--set", "training.lr=-1"])
    expect(r.status).not.toBe(0)
    expect(errorLines(r.stderr)).toEqual(["error: RunConfigError: --set training.lr=-1: training.lr: Expected a number > 0, got -1"])
    expect(existsSync(out)).toBe(false)
  })

  it("a config's problems are listed with file, line and field", () => {
    const file = join(root, "run.yaml")
    writeFileSync(file, [
      "sources:",
      "  web: {paths: [a.jsonl]}",
      "training: {warmup: 0}",
      "stages:",
      "  - {name: a, untilTokens: 1M, mixture: {web: 1, math: 2}}",
      "ablation: {source: web, tokens: 1M, tasks: [nope]}",
      ""
    ].join("\n"))
    const r = run(["--config", file, "--out", join(root, "bad-config")])
    expect(r.status).not.toBe(0)
    const lines = errorLines(r.stderr).join("\n")
    expect(lines).toContain(`${file}:5: stages[0].mixture.math: unknown source "math" (sources: web)`)
    expect(lines).toContain(`${file}:6: ablation.source: source "web" has no classifier or threshold`)
    expect(lines).toContain(`${file}:6: ablation.tasks[0]: unknown task "nope"`)
    expect(existsSync(join(root, "bad-config"))).toBe(false)
  })

  it("a folder holding a run is not started over without --resume", () => {
    const out = join(root, "taken")
    mkdirSync(join(out, "done"), { recursive: true })
    writeFileSync(join(out, "done", "tokenize.json"), "{}")
    const r = run(["--out", out])
    expect(r.status).not.toBe(0)
    expect(errorLines(r.stderr)).toEqual([`error: FullRunError: ${out} already holds a run; pass --resume to continue it, or give another --out`])
  })
})

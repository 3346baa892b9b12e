import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkRunFolder, keepMetricsThrough, openRunFolder } from "../../src/train/run-folder.ts"

/** A folder left by an earlier run: two checkpoints, a half-written third, and its metrics. */
const earlierRun = () => {
  const out = mkdtempSync(join(tmpdir(), "smol-run-"))
  for (const name of ["step-00000002", "step-00000004", "step-00000006.tmp-123-0"]) mkdirSync(join(out, "checkpoints", name), { recursive: true })
  writeFileSync(join(out, "metrics.jsonl"), [1, 2, 3, 4, 5].map((step) => JSON.stringify({ step }) + "\n").join("") + `{"step": 6, "lo`)
  writeFileSync(join(out, "notes.txt"), "mine")
  return out
}

describe("a training run's folder", () => {
  it.effect("refuses to train over an earlier run unless told to resume or overwrite, naming both flags", () =>
    Effect.gen(function*() {
      const out = earlierRun()
      const error = yield* Effect.flip(openRunFolder(out, { resume: false }))
      expect(error._tag).toBe("RunFolderInUseError")
      expect(error.message).toBe(
        `${out} already holds a training run (checkpoints step-00000002 … step-00000004 and metrics.jsonl); ` +
          "pass --resume to continue it, or --overwrite to delete its checkpoints and metrics and start again"
      )
      // Nothing was touched.
      expect(readdirSync(join(out, "checkpoints")).sort()).toEqual(["step-00000002", "step-00000004", "step-00000006.tmp-123-0"])
      // Metrics alone (a run killed before its first checkpoint) are a run too.
      const metricsOnly = mkdtempSync(join(tmpdir(), "smol-run-"))
      writeFileSync(join(metricsOnly, "metrics.jsonl"), `{"step": 1}\n`)
      expect((yield* Effect.flip(checkRunFolder(metricsOnly, { resume: false }))).message).toMatch(/\(metrics\.jsonl\); pass --resume/)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a new or empty folder is fine", () =>
    Effect.gen(function*() {
      const out = join(mkdtempSync(join(tmpdir(), "smol-run-")), "new")
      const run = yield* openRunFolder(out, { resume: false })
      expect(run.resumeFrom).toBeUndefined()
      expect(readdirSync(run.checkpoints)).toEqual([])
      yield* openRunFolder(out, { resume: false })
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("resume picks the newest whole checkpoint and drops what a killed save left", () =>
    Effect.gen(function*() {
      const out = earlierRun()
      const run = yield* openRunFolder(out, { resume: true })
      expect(run.resumeFrom).toBe(join(out, "checkpoints", "step-00000004"))
      expect(readdirSync(run.checkpoints).sort()).toEqual(["step-00000002", "step-00000004"])
      yield* keepMetricsThrough(run.metrics, 4)
      expect(readFileSync(run.metrics, "utf8")).toBe(`{"step":1}\n{"step":2}\n{"step":3}\n{"step":4}\n`)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("overwrite deletes the earlier checkpoints and metrics, and nothing else", () =>
    Effect.gen(function*() {
      const out = earlierRun()
      const run = yield* openRunFolder(out, { resume: false, overwrite: true })
      expect(run.resumeFrom).toBeUndefined()
      expect(readdirSync(run.checkpoints)).toEqual([])
      expect(existsSync(run.metrics)).toBe(false)
      expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine")
    }).pipe(Effect.provide(NodeServices.layer)))
})

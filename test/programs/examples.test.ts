import { NodeServices } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { saveTrainedClassifier, trainClassifier } from "../../src/classify/train-classifier.ts"
import { readRunReport } from "../../src/run/report/schema.ts"
import { prose } from "../support/prose.ts"

const temps: Array<string> = []
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), "smol-examples-"))
  temps.push(dir)
  return dir
}

/** Runs an example as a user would (`npx tsx programs/examples/NAME.ts …`), without blocking the other tests. */
const example = async (name: string, args: ReadonlyArray<string>) => {
  try {
    const r = await promisify(execFile)(process.execPath, ["--import", "tsx", `programs/examples/${name}.ts`, ...args], { encoding: "utf8", maxBuffer: 1 << 26 })
    return { status: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { status: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" }
  }
}

interface Line { readonly id: string; readonly metadata?: Record<string, unknown> }
const readJsonlTree = (dir: string): Array<Line> =>
  !existsSync(dir) ? [] : readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .flatMap((e) => readFileSync(join(e.parentPath, e.name), "utf8").split("\n").filter((l) => l !== ""))
    .map((l) => JSON.parse(l) as Line)


/**
 * The training examples' settings: a world of a few dozen documents, one step of 1,024 tokens per stage, one example
 * of each generative task, a small vocabulary, and a small ready-made classifier with threshold 0 for every source,
 * so curation keeps everything without training a 1M-bucket n-gram model per source (seconds each, the bulk of a
 * tiny run's time). Curation with a trained classifier is what curate-only's test checks.
 */
const tinyRun = (classifier: string, sources: ReadonlyArray<string>) => [
  "--scale", "0.04", "--tokens", "1024", "--limit", "1",
  "--set", "tokenizer.train.vocabSize=300", "--set", "model.overrides.vocabSize=300",
  ...sources.flatMap((s) => ["--set", `sources.${s}.classifier={model: ${JSON.stringify(classifier)}}`, "--set", `sources.${s}.threshold.minScore=0`])
]

describe.concurrent("programs/examples", () => {
  let classifier = ""
  beforeAll(async () => {
    classifier = join(temp(), "classifier")
    const docs = Array.from({ length: 24 }, (_, i) => ({
      doc: { id: `d${i}`, text: `${"lesson ".repeat(i % 6)}page number ${i}`, metadata: {} },
      label: i % 6,
      group: undefined
    }))
    await Effect.runPromise(Effect.gen(function*() {
      const trained = yield* trainClassifier(docs, { kind: "ngram", mode: "regression", buckets: 4096, dim: 4, epochs: 1 })
      yield* saveTrainedClassifier(classifier, trained, [])
    }).pipe(Effect.provide(NodeServices.layer)))
  })
  // Each run leaves checkpoints and curation outputs (a trained n-gram classifier alone is 64 MB).
  afterAll(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true })
  })

  it("curate-only: every web page of the world is kept or dropped once, and the funnel adds up", async () => {
    const out = temp()
    const r = await example("curate-only", ["--out", out, "--scale", "0.1"])
    expect(r.stderr).not.toContain("error:")
    expect(r.status).toBe(0)
    const input = readJsonlTree(join(out, "world", "web"))
    expect(input.length).toBe(150)
    const funnel = JSON.parse(readFileSync(join(out, "funnel.json"), "utf8")) as {
      documents: number
      steps: Array<{ name: string; documentsIn: number; documentsKept: number; dropped: Array<{ documents: number }> }>
    }
    expect(funnel.documents).toBe(input.length)
    expect(funnel.steps.map((s) => s.name)).toEqual(["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "minhash", "threshold"])
    let count = funnel.documents
    for (const step of funnel.steps) {
      expect(step.documentsIn).toBe(count)
      expect(step.dropped.reduce((s, d) => s + d.documents, 0)).toBe(step.documentsIn - step.documentsKept)
      count = step.documentsKept
    }
    // The threshold kept some and dropped some: the classifier learned the annotations.
    const threshold = funnel.steps.at(-1)!
    expect(threshold.documentsKept).toBeGreaterThan(0)
    expect(threshold.documentsKept).toBeLessThan(threshold.documentsIn)
    const kept = readJsonlTree(join(out, "curation", "curated"))
    const dropped = [...readJsonlTree(join(out, "curation", "filtered", "dropped")), ...readJsonlTree(join(out, "curation", "dropped"))]
    expect(kept.length).toBe(count)
    expect([...kept, ...dropped].map((d) => d.id).sort()).toEqual(input.map((d) => d.id).sort())
    for (const d of dropped) expect(typeof d.metadata?.["filter_reason"]).toBe("string")
    expect(r.stdout).toContain(`${input.length} documents read`)
    expect(r.stdout).toContain(`kept ${count} of ${input.length}`)
  })

  it("curate-only --input --model: the user's own files through the same steps, with a given classifier", async () => {
    const out = temp()
    const docs = [...Array.from({ length: 6 }, (_, i) => ({ id: `page-${i}`, text: prose(i) })), { id: "copy-of-page-2", text: prose(2) }, { id: "spam", text: "Buy now." }]
    const input = join(out, "pages.jsonl")
    writeFileSync(input, docs.map((d) => JSON.stringify(d)).join("\n") + "\n")
    const r = await example("curate-only", ["--out", out, "--input", input, "--model", classifier, "--min-score", "0"])
    expect(r.stderr).not.toContain("error:")
    expect(r.status).toBe(0)
    const funnel = JSON.parse(readFileSync(join(out, "funnel.json"), "utf8")) as { documents: number; steps: Array<{ name: string; documentsKept: number }> }
    expect(funnel.documents).toBe(docs.length)
    const kept = readJsonlTree(join(out, "curation", "curated"))
    const dropped = [...readJsonlTree(join(out, "curation", "filtered", "dropped")), ...readJsonlTree(join(out, "curation", "dropped"))]
    expect(kept.length).toBe(funnel.steps.at(-1)!.documentsKept)
    expect([...kept, ...dropped].map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort())
    expect(dropped.map((d) => d.id)).toContain("spam")
    expect(dropped.filter((d) => d.metadata?.["filter_reason"] === "minhash_duplicate").length).toBe(1)
    expect(kept.length).toBe(6)
    expect(existsSync(join(out, "world"))).toBe(false)
  })

  it("two-stage-ablation: two runs at equal tokens, their evaluations side by side", async () => {
    const out = temp()
    const r = await example("two-stage-ablation", ["--out", out, ...tinyRun(classifier, ["web", "math"])])
    expect(r.stderr).not.toContain("error:")
    expect(r.status).toBe(0)
    const lines = r.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^arm\s+mixture\s+tokens\s+world-facts\s+world-arithmetic$/)
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/))
    expect(rows.map((row) => row[0])).toEqual(["web", "web-math"])
    expect(rows[0]![1]).toBe("web 100%")
    expect(rows[1]![1]).toBe("web 70% · math 30%")
    expect(rows[0]![2]).toBe("1,024")
    expect(rows[1]![2]).toBe(rows[0]![2])
    for (const row of rows) {
      expect(row[3]).toMatch(/^[01]\.\d{3} acc$/)
      expect(row[4]).toMatch(/^[01]\.\d{3} qem$/)
    }
    for (const arm of ["web", "web-math"]) expect(existsSync(join(out, arm, "report.json"))).toBe(true)
  })

  it("custom-policy: each decision says custom and moves 0.2 of the next stage to the domain that scored lowest", async () => {
    const out = temp()
    const r = await example("custom-policy", ["--out", out, ...tinyRun(classifier, ["web", "python", "javascript", "math"])])
    expect(r.stderr).not.toContain("error:")
    expect(r.status).toBe(0)
    const report = await Effect.runPromise(readRunReport(join(out, "report.json")).pipe(Effect.provide(NodeServices.layer)))
    expect(report.stages.map((s) => s.name)).toEqual(["web", "code", "math"])
    const domains = [
      { tasks: ["world-facts"], sources: ["web"] },
      { tasks: ["world-arithmetic"], sources: ["math"] },
      { tasks: ["world-code"], sources: ["python", "javascript"] }
    ]
    for (const [i, stage] of report.stages.slice(0, -1).entries()) {
      const d = stage.decision!
      expect(d.policy).toBe("custom")
      expect(d.rule).toBe("raise-lowest-domain")
      // The lowest-scoring domain (the first listed on a tie), recomputed from the stage's evaluation.
      const scored = domains.flatMap((dom) => {
        const found = stage.evaluation.filter((e) => dom.tasks.includes(e.task))
        return found.length === 0 ? [] : [{ ...dom, score: found.reduce((s, e) => s + e.metrics[0]!.value, 0) / found.length }]
      })
      const lowest = scored.reduce((low, dom) => (dom.score < low.score ? dom : low))
      const total = Object.values(d.before).reduce((a, b) => a + b, 0)
      for (const source of new Set([...Object.keys(d.before), ...lowest.sources])) {
        const expected = ((d.before[source] ?? 0) / total) * 0.8 + (lowest.sources.includes(source) ? 0.2 / lowest.sources.length : 0)
        expect(d.after[source]).toBeCloseTo(expected, 5)
      }
      expect(report.stages[i + 1]!.mixture).toEqual(d.after)
      expect(r.stdout).toContain(d.reason)
    }
  })
})

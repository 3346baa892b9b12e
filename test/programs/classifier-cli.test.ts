import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { CANNED_CUES } from "../../src/classify/canned-scores.ts"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"
import { expectedScore, startFakeChatServer } from "../classify/fake-chat-server.ts"

/** Runs a program without blocking this process (the fake chat server answers from here). */
const run = async (program: string, args: ReadonlyArray<string>) => {
  try {
    const r = await promisify(execFile)(process.execPath, ["--import", "tsx", program, ...args], { encoding: "utf8", maxBuffer: 1 << 26 })
    return { status: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { status: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" }
  }
}

interface Line { readonly id: string; readonly text: string; readonly metadata: Record<string, unknown> }
const readDir = (dir: string): Array<Line> =>
  readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().flatMap((f) =>
    readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Line))

/**
 * Documents `DOC[n]` (the fake server scores them n % 6) whose words carry that score: about score/10 of them are
 * "lesson" words, so a classifier can learn what the annotator said.
 */
const plantedDocs = (n: number) => {
  const rng = defaultRng(5)
  return Array.from({ length: n }, (_, i) => {
    const score = expectedScore(i)
    const length = 50 + rng.integers(0, 40)
    const words: Array<string> = []
    for (let k = 0; k < Math.round((score * length) / 10); k++) words.push(`lesson${rng.integers(0, 15)}`)
    while (words.length < length) words.push(`noise${rng.integers(0, 200)}`)
    rng.shuffle(words)
    return { id: `doc-${i}`, text: `DOC[${i}] ${words.join(" ")}`, language: i % 2 === 0 ? "java" : "python" }
  })
}

describe("programs/classifier.ts", () => {
  it("annotate (fake endpoint) → train → eval → apply with a threshold; every document kept or dropped once; a rerun skips finished tasks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-classifier-cli-"))
    const docs = plantedDocs(360)
    mkdirSync(join(dir, "in"))
    for (const part of [0, 1]) {
      writeFileSync(join(dir, "in", `part-${part}.jsonl`), docs.filter((_, i) => i % 2 === part).map((d) => JSON.stringify(d)).join("\n") + "\n")
    }
    const server = await startFakeChatServer()
    try {
      const annotated = await run("programs/annotate.ts", ["--input", join(dir, "in"), "--output", join(dir, "annotate"),
        "--endpoint", server.url, "--model", "fake", "--prompt", "fineweb-edu", "--concurrency", "16", "--progress-interval", "60"])
      expect(annotated.status, annotated.stderr).toBe(0)
    } finally {
      await server.close()
    }

    const model = join(dir, "model")
    const trained = await run("programs/classifier.ts", ["train", "--input", join(dir, "annotate"), "--output", model,
      "--buckets", "16384", "--epochs", "10", "--group-key", "metadata.language", "--threshold-override", "java=2"])
    expect(trained.status, trained.stderr).toBe(0)
    expect(trained.stdout).toContain("Trained on 324 documents, validated on 36 held out")
    expect(trained.stdout).toContain("Confusion matrix")
    expect(trained.stdout).toMatch(/\| java \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 2 \|/)
    const metrics = JSON.parse(readFileSync(join(model, "metrics.json"), "utf8")) as { validation: { binary: { f1: number }; count: number } }
    expect(metrics.validation.count).toBe(36)
    expect(metrics.validation.binary.f1).toBeGreaterThanOrEqual(0.9)
    expect(readFileSync(join(model, "report.md"), "utf8")).toContain("### Validation")
    expect(JSON.parse(readFileSync(join(model, "config.json"), "utf8"))).toMatchObject({ model_type: "ngram-classifier", classifier_kind: "ngram" })

    const evaluated = await run("programs/classifier.ts", ["eval", "--model", model, "--input", join(dir, "annotate", "annotated"), "--output", join(dir, "eval")])
    expect(evaluated.status, evaluated.stderr).toBe(0)
    expect(evaluated.stdout).toMatch(/\| 360 \| [\d.]+ \|/)
    expect(JSON.parse(readFileSync(join(dir, "eval", "metrics.json"), "utf8"))).toMatchObject({ count: 360 })

    const out = join(dir, "out")
    const args = ["apply", "--model", model, "--input", join(dir, "in"), "--output", out, "--tasks", "2", "--workers", "2",
      "--threshold", "3", "--threshold-override", "java=2"]
    const applied = await run("programs/classifier.ts", args)
    expect(applied.status, applied.stderr).toBe(0)
    const scored = readDir(join(out, "scored"))
    expect(scored.map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort())
    for (const d of scored) expect(typeof d.metadata["score"]).toBe("number")
    const kept = readDir(join(out, "kept"))
    const dropped = readDir(join(out, "dropped", "threshold"))
    expect([...kept, ...dropped].map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort())
    for (const d of kept) expect(d.metadata["int_score"] as number).toBeGreaterThanOrEqual(d.metadata["language"] === "java" ? 2 : 3)
    for (const d of dropped) expect(d.metadata["filter_reason"]).toBe(d.metadata["language"] === "java" ? "below_threshold_2" : "below_threshold_3")
    expect(applied.stdout).toContain(`kept ${kept.length} of 360`)

    const mtime = statSync(join(out, "kept", "00000.jsonl")).mtimeMs
    const again = await run("programs/classifier.ts", args)
    expect(again.status, again.stderr).toBe(0)
    expect(statSync(join(out, "kept", "00000.jsonl")).mtimeMs).toBe(mtime)
    expect(readDir(join(out, "kept"))).toEqual(kept)

    // Another threshold over the same scores, without scoring again.
    const strict = await run("programs/classifier.ts", ["threshold", "--input", join(out, "scored"), "--output", join(dir, "strict"), "--threshold", "4"])
    expect(strict.status, strict.stderr).toBe(0)
    const strictKept = readDir(join(dir, "strict", "kept"))
    expect(strictKept.length + readDir(join(dir, "strict", "dropped", "threshold")).length).toBe(360)
    expect(strictKept.every((d) => (d.metadata["int_score"] as number) >= 4)).toBe(true)

    // A rerun of apply with another threshold into the same output is refused rather than mixing two runs.
    const changed = await run("programs/classifier.ts", [...args.slice(0, -4), "--threshold", "4"])
    expect(changed.status).not.toBe(0)
    expect(changed.stderr).toContain("started with another configuration")
  }, 180_000)

  it("a document without a label fails training with FILE:LINE; an encoder kind is refused by name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-classifier-bad-"))
    const file = join(dir, "labels.jsonl")
    writeFileSync(file, [
      JSON.stringify({ id: "a", text: "one", metadata: { annotation: { score: 1 } } }),
      "",
      JSON.stringify({ id: "b", text: "two", metadata: { annotation: {} } })
    ].join("\n") + "\n")
    const bad = await run("programs/classifier.ts", ["train", "--input", file, "--output", join(dir, "m")])
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain(`${file}:3: document "b" has no numeric label at metadata.annotation.score`)
    const encoder = await run("programs/classifier.ts", ["train", "--input", file, "--output", join(dir, "m"), "--kind", "encoder"])
    expect(encoder.status).not.toBe(0)
    expect(encoder.stderr).toContain("ClassifierUnavailableError: --kind encoder: an encoder (BERT-family) classifier")
  }, 60_000)
})

describe("programs/stack-edu.ts", () => {
  it("with the canned annotator: annotate → train → apply → threshold per language, Java at 2, each language a source", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-stack-edu-"))
    const rng = defaultRng(9)
    const counts: Record<string, number> = {}
    for (const language of ["python", "java"]) {
      mkdirSync(join(dir, "in", language), { recursive: true })
      const lines = Array.from({ length: 120 }, (_, i) => {
        const cues = [...CANNED_CUES].sort(() => rng.uniform(0, 1) - 0.5).slice(0, rng.integers(0, 6))
        const words = [...cues, ...cues, ...Array.from({ length: 30 }, () => `tok${rng.integers(0, 100)}`)]
        rng.shuffle(words)
        return JSON.stringify({ id: `${language}-${i}`, text: words.join(" ") })
      })
      counts[language] = lines.length
      writeFileSync(join(dir, "in", language, "files.jsonl"), lines.join("\n") + "\n")
    }
    const r = await run("programs/stack-edu.ts", ["--input", join(dir, "in"), "--output", join(dir, "out"), "--annotator", "canned",
      "--sample", "100", "--buckets", "4096", "--epochs", "30"])
    expect(r.status, r.stderr).toBe(0)
    const summary = JSON.parse(readFileSync(join(dir, "out", "summary.json"), "utf8")) as Record<string, { threshold: number; kept: number; dropped: number; annotated: number }>
    expect(summary["java"]!.threshold).toBe(2)
    expect(summary["python"]!.threshold).toBe(3)
    for (const language of ["python", "java"]) {
      const s = summary[language]!
      expect(s.annotated).toBe(100)
      expect(s.kept + s.dropped).toBe(counts[language])
      const kept = readDir(join(dir, "out", language, "kept"))
      expect(kept.length).toBe(s.kept)
      expect(kept.every((d) => (d.metadata["int_score"] as number) >= s.threshold)).toBe(true)
      expect(readdirSync(join(dir, "out", language, "classifier")).sort()).toEqual(["config.json", "metrics.json", "model.safetensors", "report.md"])
    }
  }, 120_000)
})

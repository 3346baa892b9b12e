import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type ApplyRunConfig, runApplyTask } from "../../src/classify/apply-run.ts"
import { ClassifierLoadError, ClassifierUnavailableError, loadQualityClassifier } from "../../src/classify/classifier-folder.ts"
import { classifyDocuments } from "../../src/classify/classify-stage.ts"
import { evaluateScores, intScore } from "../../src/classify/metrics.ts"
import { trainNgramClassifier } from "../../src/classify/ngram/train.ts"
import { ClassifierPredictError, ngramQualityClassifier, type QualityClassifier } from "../../src/classify/QualityClassifier.ts"
import { parseThresholdOverrides, thresholdFilter } from "../../src/classify/threshold-stage.ts"
import { makeDocument, type Document } from "../../src/data/Document.ts"
import { runTask } from "../../src/data/executor/task.ts"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"

/** Planted signal: label L sets how many of a document's words are "lesson" words (about L/10 of them). */
const planted = (n: number, seed: number, prefix: string) => {
  const rng = defaultRng(seed)
  return Array.from({ length: n }, (_, i) => {
    const label = rng.integers(0, 6)
    const length = 40 + rng.integers(0, 61)
    const markers = Math.round(((label * length) / 10) * rng.uniform(0.8, 1.2))
    const words: Array<string> = []
    for (let k = 0; k < markers; k++) words.push(`lesson${rng.integers(0, 20)}`)
    while (words.length < length) words.push(`noise${rng.integers(0, 300)}`)
    rng.shuffle(words)
    return { doc: makeDocument(`${prefix}-${i}`, words.join(" "), { language: i % 3 === 0 ? "Java" : "python" }), label }
  })
}

const training = planted(1500, 1, "train")
const model = trainNgramClassifier(training.map((e) => ({ text: e.doc.text, label: e.label })), {
  mode: "regression",
  buckets: 1 << 14,
  dim: 16,
  epochs: 5,
  seed: 3
})
const classifier = ngramQualityClassifier(model)
const heldOut = planted(300, 2, "doc")

const docsOf = (dir: string): Array<Document> =>
  !existsSync(dir) ? [] : readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().flatMap((f) =>
    readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Document)
  )

describe("classify stage", () => {
  it.effect("adds metadata.score and int_score in batches; the planted signal survives (binary F1 ≥ 0.9 held out)", () =>
    Effect.gen(function*() {
      const scored = yield* Stream.fromIterable(heldOut.map((e) => e.doc)).pipe(classifyDocuments(classifier, { batchSize: 7 }), Stream.runCollect)
      expect(scored.map((d) => d.id)).toEqual(heldOut.map((e) => e.doc.id))
      const direct = yield* classifier.predict(heldOut.map((e) => e.doc.text))
      scored.forEach((d, i) => {
        expect(d.metadata["score"]).toBe(direct[i])
        expect(d.metadata["int_score"]).toBe(intScore(direct[i]!))
        expect(d.metadata["language"]).toBe(heldOut[i]!.doc.metadata["language"])
      })
      const m = evaluateScores(heldOut.map((e) => e.label), scored.map((d) => d.metadata["score"] as number))
      expect(m.binary.f1).toBeGreaterThanOrEqual(0.9)
    }))
})

describe("threshold stage", () => {
  const doc = (int_score: unknown, language?: string) => makeDocument("d", "t", { int_score, ...(language === undefined ? {} : { language }) })
  const rule = { threshold: 3, overrides: { java: 2 } }
  it("keeps int_score ≥ 3, Java ≥ 2 (matched case-insensitively), and names the threshold that dropped a document", () => {
    const f = thresholdFilter(rule)
    expect(f.filter(doc(3, "python"))._tag).toBe("Keep")
    expect(f.filter(doc(2, "python"))).toEqual({ _tag: "Drop", reason: "below_threshold_3" })
    expect(f.filter(doc(2, "Java"))._tag).toBe("Keep")
    expect(f.filter(doc(1, "java"))).toEqual({ _tag: "Drop", reason: "below_threshold_2" })
    expect(f.filter(doc(2))).toEqual({ _tag: "Drop", reason: "below_threshold_3" })
    expect(f.filter(makeDocument("x", "t"))).toEqual({ _tag: "Drop", reason: "missing_int_score" })
    const byKey = thresholdFilter({ threshold: 3, overrides: { java: 2 }, languageKey: "metadata.lang.name" })
    expect(byKey.filter(makeDocument("y", "t", { int_score: 2, lang: { name: "java" } }))._tag).toBe("Keep")
  })
  it("downsample keeps the given share of each low score, the same documents whatever the order, and marks them", () => {
    const f = thresholdFilter({ threshold: 3, downsample: { "2": 0.25, "0": 1 }, seed: 7 })
    const docs = Array.from({ length: 4000 }, (_, i) => makeDocument(`doc-${i}`, "t", { int_score: i % 4 }))
    const keptIds = (order: ReadonlyArray<typeof docs[number]>) =>
      order.flatMap((d) => {
        const r = f.filter(d)
        return r._tag === "Keep" ? [d.id] : []
      }).sort()
    const kept = keptIds(docs)
    expect(keptIds([...docs].reverse())).toEqual(kept)
    const byScore = (s: number) => kept.filter((id) => Number(id.slice(4)) % 4 === s).length
    expect(byScore(3)).toBe(1000)
    expect(byScore(0)).toBe(1000)
    expect(byScore(1)).toBe(0)
    expect(byScore(2)).toBeGreaterThan(200)
    expect(byScore(2)).toBeLessThan(300)
    const two = docs.find((d) => d.metadata["int_score"] === 2 && kept.includes(d.id))!
    const r = f.filter(two)
    expect(r._tag === "Keep" && r.doc.metadata["downsampled"]).toBe(true)
    expect(f.filter(docs[3]!)).toEqual({ _tag: "Keep", doc: docs[3] })
    // Another seed keeps other documents.
    const other = thresholdFilter({ threshold: 3, downsample: { "2": 0.25 }, seed: 8 })
    expect(docs.filter((d) => d.metadata["int_score"] === 2 && other.filter(d)._tag === "Keep").map((d) => d.id).sort()).not.toEqual(kept.filter((id) => Number(id.slice(4)) % 4 === 2))
  })
  it("parses LANGUAGE=T overrides and names a malformed one", () => {
    expect(parseThresholdOverrides(["java=2", "Markdown=4"])).toEqual({ java: 2, markdown: 4 })
    expect(parseThresholdOverrides(["java:2"])).toEqual({ problem: "--threshold-override java:2: expected LANGUAGE=THRESHOLD, e.g. java=2" })
  })
})

describe("classifier folders", () => {
  it.effect("loads an n-gram folder back with the same scores; refuses an encoder folder with its own error", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-clsdir-"))
      yield* classifier.save(join(dir, "ngram"))
      const loaded = yield* loadQualityClassifier(join(dir, "ngram"))
      expect(loaded.kind).toBe("ngram")
      const texts = heldOut.slice(0, 20).map((e) => e.doc.text)
      expect(Array.from(yield* loaded.predict(texts))).toEqual(Array.from(yield* classifier.predict(texts)))
      writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "bert", architectures: ["BertForSequenceClassification"], num_labels: 1 }))
      const encoder = yield* Effect.exit(loadQualityClassifier(dir))
      expect(Exit.isFailure(encoder) && String(encoder.cause)).toContain("ClassifierUnavailableError")
      const none = yield* Effect.flip(loadQualityClassifier(join(dir, "missing")))
      expect(none).toBeInstanceOf(ClassifierLoadError)
      writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llama" }))
      const other = yield* Effect.flip(loadQualityClassifier(dir))
      expect(other).toBeInstanceOf(ClassifierLoadError)
      expect(other.message).toContain("llama")
      expect(ClassifierUnavailableError).toBeDefined()
    }).pipe(Effect.provide(NodeServices.layer)))
})

/** Three input files; a run of classify (3 ranks) then threshold (3, Java 2) over the scored ranks. */
const setUpRun = (root: string): ApplyRunConfig => {
  const input = join(root, "in")
  const all = heldOut.map((e) => e.doc)
  for (let f = 0; f < 3; f++) {
    const part = all.filter((_, i) => i % 3 === f)
    const lines = part.map((d) => JSON.stringify({ id: d.id, text: d.text, language: d.metadata["language"] }))
    mkdirSync(input, { recursive: true })
    writeFileSync(join(input, `part-${f}.jsonl`), lines.join("\n") + "\n")
  }
  const out = join(root, "out")
  return {
    logs: join(out, "logs"),
    workers: 1,
    jobs: [
      { stage: "classify", name: "classify", tasks: 3, inputs: [input], textKey: "text", idKey: "id", model: "in-memory", batchSize: 8, scored: join(out, "scored") },
      {
        stage: "threshold",
        name: "threshold",
        tasks: 3,
        source: { kind: "ranks", folder: join(out, "scored") },
        threshold: 3,
        overrides: { java: 2 },
        languageKey: "metadata.language",
        scoreKey: "metadata.int_score",
        kept: join(out, "kept"),
        dropped: join(out, "dropped")
      }
    ]
  }
}

/** Every rank of every job, in this process, as the executor's workers would run them. */
const runAll = (run: ApplyRunConfig, model: (name: string) => Effect.Effect<QualityClassifier>) =>
  Effect.forEach(run.jobs, (job) =>
    Effect.forEach([0, 1, 2], (rank) =>
      Effect.exit(runTask(join(run.logs, job.name), rank, job.tasks, (ctx) => runApplyTask(run, job.name, ctx, model))), { discard: false }))

/** A classifier that fails its `failAt`-th call (once), as a task killed halfway through its file would stop. */
const failingOnce = (failAt: number): QualityClassifier => {
  let calls = 0
  let failed = false
  return {
    ...classifier,
    predict: (texts) =>
      Effect.suspend(() => {
        calls++
        if (!failed && calls === failAt) {
          failed = true
          return Effect.fail(new ClassifierPredictError({ message: "device lost (injected)" }))
        }
        return classifier.predict(texts)
      })
  }
}

describe("classify and threshold as sharded, resumable jobs", () => {
  it.effect("every document ends in exactly one of kept/dropped; a failed rank reruns alone and the outputs equal an uninterrupted run", () =>
    Effect.gen(function*() {
      const clean = setUpRun(mkdtempSync(join(tmpdir(), "smol-apply-clean-")))
      yield* runAll(clean, () => Effect.succeed(classifier))
      const kept = docsOf(join(clean.logs, "..", "kept"))
      const dropped = docsOf(join(clean.logs, "..", "dropped", "threshold"))
      expect([...kept, ...dropped].map((d) => d.id).sort()).toEqual(heldOut.map((e) => e.doc.id).sort())
      for (const d of kept) expect(d.metadata["int_score"] as number).toBeGreaterThanOrEqual(d.metadata["language"] === "Java" ? 2 : 3)
      for (const d of dropped) {
        const t = d.metadata["language"] === "Java" ? 2 : 3
        expect(d.metadata["int_score"] as number).toBeLessThan(t)
        expect(d.metadata["filter_reason"]).toBe(`below_threshold_${t}`)
      }
      // Both branches of the override are exercised by the data.
      expect(kept.some((d) => d.metadata["language"] === "Java" && d.metadata["int_score"] === 2)).toBe(true)
      expect(dropped.some((d) => d.metadata["language"] === "python" && d.metadata["int_score"] === 2)).toBe(true)

      // The same run where rank 1 of classify dies on its 3rd batch (after writing part of its file).
      const root = mkdtempSync(join(tmpdir(), "smol-apply-resume-"))
      const resumed = setUpRun(root)
      const flaky = failingOnce(3)
      const first = yield* Effect.forEach([0, 1, 2], (rank) =>
        Effect.exit(runTask(join(resumed.logs, "classify"), rank, 3, (ctx) =>
          runApplyTask(resumed, "classify", ctx, () => Effect.succeed(rank === 1 ? flaky : classifier)))))
      expect(first.map(Exit.isSuccess)).toEqual([true, false, true])
      const scored = join(root, "out", "scored")
      // The failed rank left no file that looks finished, and no temporary file.
      expect(readdirSync(scored).sort()).toEqual(["00000.jsonl", "00002.jsonl"])
      const before = statSync(join(scored, "00000.jsonl")).mtimeMs
      const loaded: Array<number> = []
      const second = yield* runAll(resumed, () => Effect.sync(() => (loaded.push(1), classifier)))
      expect(second.flat().every(Exit.isSuccess)).toBe(true)
      // Completed ranks were skipped: rank 0's file was not rewritten, and only rank 1 (then the 3 threshold ranks) ran.
      expect(statSync(join(scored, "00000.jsonl")).mtimeMs).toBe(before)
      expect(loaded.length).toBe(1)
      const text = (run: ApplyRunConfig, sub: string) =>
        readdirSync(join(run.logs, "..", sub)).sort().map((f) => [f, readFileSync(join(run.logs, "..", sub, f), "utf8")])
      for (const sub of ["scored", "kept", join("dropped", "threshold")]) expect(text(resumed, sub)).toEqual(text(clean, sub))
    }).pipe(Effect.provide(NodeServices.layer)), 60_000)
})

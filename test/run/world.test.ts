import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Annotator } from "../../src/classify/annotate/Annotator.ts"
import { annotateFiles } from "../../src/classify/annotate/annotate-files.ts"
import type { AnnotationPrompt } from "../../src/classify/annotate/AnnotationPrompt.ts"
import { builtinPrompt } from "../../src/classify/annotate/prompts.ts"
import { readLabelledDocuments } from "../../src/classify/labelled-documents.ts"
import { trainClassifier } from "../../src/classify/train-classifier.ts"
import { dedupFilter } from "../../src/data/dedup/filter.ts"
import { minhashBuckets, minhashCluster, minhashSignatures } from "../../src/data/dedup/minhash.ts"
import type { Document } from "../../src/data/Document.ts"
import { C4QualityFilter } from "../../src/data/filters/c4-quality.ts"
import type { DocSink } from "../../src/data/filters/Filter.ts"
import { FineWebQualityFilter } from "../../src/data/filters/fineweb-quality.ts"
import { GopherQualityFilter } from "../../src/data/filters/gopher-quality.ts"
import { GopherRepetitionFilter } from "../../src/data/filters/gopher-repetition.ts"
import { StatsCollector } from "../../src/data/stats.ts"
import { scoreCompletions } from "../../src/eval/code.ts"
import { CodeRunner } from "../../src/eval/CodeRunner.ts"
import { loadJobs } from "../../src/eval/jobs.ts"
import { gsm8kNormalizer } from "../../src/eval/metrics.ts"
import { generateWorld, WORLD_SOURCES } from "../../src/run/world/generate.ts"
import { textSha256 } from "../../src/run/world/labels.ts"
import { defaultRunConfig, WORLD_TASKS } from "../../src/run/world/run-config.ts"
import { worldAnnotator, worldAnnotatorFromDir } from "../../src/run/world/world-annotator.ts"
import { SOURCE_FILES, worldFiles, writeDefaultWorld } from "../../src/run/world/write-world.ts"

const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `world-${name}-`))
const prompt = (name: "fineweb-edu" | "finemath-3" | "finemath-5"): AnnotationPrompt => builtinPrompt(name) as AnnotationPrompt

/** One small world written once for the tests that read files. */
const worldDir = tmp("small")
const written = await Effect.runPromise(writeDefaultWorld(worldDir, { seed: 7, scale: 0.3 }).pipe(Effect.provide(NodeServices.layer)))

describe("the default world", () => {
  it("is the same for the same seed and differs for another", () => {
    const a = worldFiles(generateWorld({ seed: 3, scale: 0.1 }))
    const b = worldFiles(generateWorld({ seed: 3, scale: 0.1 }))
    const c = worldFiles(generateWorld({ seed: 4, scale: 0.1 }))
    expect(a.map(([f]) => f)).toEqual(c.map(([f]) => f))
    expect(a).toEqual(b)
    for (const [i, [file, text]] of a.entries()) {
      if (file !== "world.json" && !file.endsWith("code.jsonl")) expect(text, file).not.toEqual(c[i]![1])
    }
  })

  it.effect("writes byte-identical files for the same seed", () =>
    Effect.gen(function*() {
      const again = tmp("again")
      yield* writeDefaultWorld(again, { seed: 7, scale: 0.3 })
      for (const [file] of worldFiles(written)) expect(readFileSync(path.join(again, file)), file).toEqual(readFileSync(path.join(worldDir, file)))
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("refuses a seed or scale it cannot use, naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(writeDefaultWorld(tmp("bad"), { scale: 0 }))
      expect([error._tag, error.message]).toEqual(["WorldOptionsError", "scale must be a positive number, got 0"])
    }).pipe(Effect.provide(NodeServices.layer)))

  it("a smaller world's sources are the first documents of a larger one's", () => {
    const small = generateWorld({ seed: 5, scale: 0.1 })
    const large = generateWorld({ seed: 5, scale: 0.2 })
    for (const s of WORLD_SOURCES) expect(large.sources[s].slice(0, small.sources[s].length)).toEqual(small.sources[s])
    expect(large.eval).toEqual(small.eval)
  })

  it("has every grade 0–5 in every source, and code with its language", () => {
    for (const s of WORLD_SOURCES) expect(new Set(written.sources[s].map((d) => d.score)), s).toEqual(new Set([0, 1, 2, 3, 4, 5]))
    expect(new Set(written.sources.python.map((d) => d.doc.metadata["language"]))).toEqual(new Set(["python"]))
    expect(new Set(written.sources.javascript.map((d) => d.doc.metadata["language"]))).toEqual(new Set(["javascript"]))
    const chat = readFileSync(path.join(worldDir, "chat/chats.jsonl"), "utf8").split("\n")[0]!
    expect((JSON.parse(chat) as { messages: Array<{ role: string }> }).messages.map((m) => m.role)).toContain("assistant")
  })

  it("teaches each fact on pages graded 3 and up, and only there", () => {
    const pages = written.sources.web.filter((d) => d.kind === "page")
    for (const f of written.facts.facts) {
      expect(pages.some((d) => d.score >= 3 && d.doc.text.includes(f.statement)), f.id).toBe(true)
      expect(pages.some((d) => d.score < 3 && d.doc.text.includes(f.statement)), f.id).toBe(false)
    }
  })

  it("holds out educational pages of its own: graded 3 and up, none of them a training page", () => {
    const held = written.eval.eduPages
    expect(held).toHaveLength(60)
    const training = new Set(written.sources.web.map((d) => d.doc.text))
    expect(held.filter((d) => training.has(d.text))).toEqual([])
    // They state the world's facts, as the pages the classifier keeps do.
    expect(held.filter((d) => written.facts.facts.some((f) => d.text.includes(f.statement))).length).toBeGreaterThan(30)
    expect(new Set(held.map((d) => d.id)).size).toBe(60)
  })
})

describe("the world's annotator", () => {
  const doc = written.sources.web.find((d) => d.score === 4)!.doc

  it.effect("answers the generator's score in each prompt's reply format, rescaled to its scale", () =>
    Effect.gen(function*() {
      const annotator = yield* Annotator
      const edu = yield* annotator.annotate(prompt("fineweb-edu"), doc.text)
      expect(edu.score).toBe(4)
      expect(edu.completion).toMatch(/Educational score: 4$/)
      const math5 = yield* annotator.annotate(prompt("finemath-5"), doc.text)
      expect([math5.score, math5.completion.endsWith("Final score: 4")]).toEqual([4, true])
      expect((yield* annotator.annotate(prompt("finemath-3"), doc.text)).score).toBe(2)
      const unknown = yield* Effect.flip(annotator.annotate(prompt("fineweb-edu"), "A text the world never wrote."))
      expect(unknown._tag === "AnnotationFailed" && unknown.reason).toBe("no_score")
      expect(annotator.counts().outcomes).toEqual({ ok: 3, no_score: 1 })
    }).pipe(Effect.provide(worldAnnotatorFromDir(worldDir).pipe(Layer.provide(NodeServices.layer)))))

  it.effect("labels separate: an n-gram classifier trained on its annotations reaches binary F1 ≥ 0.8 at 3 (web, math, code)", () =>
    Effect.gen(function*() {
      const scores = new Map(written.sources.web.map((d) => [d.doc.id, d.score]))
      const out = tmp("annotation")
      for (const source of ["web", "math", "python"] as const) {
        const dir = path.join(out, source)
        const summary = yield* annotateFiles({ inputs: [path.join(worldDir, SOURCE_FILES[source])], output: dir, prompt: prompt("fineweb-edu"), concurrency: 8 })
        expect(summary.failed).toBe(0)
        const labelled = yield* readLabelledDocuments([dir])
        if (source === "web") for (const d of labelled) expect(d.label).toBe(scores.get(d.doc.id))
        const trained = yield* trainClassifier(labelled, { kind: "ngram", mode: "regression", buckets: 1 << 16, epochs: 20, testFraction: 0.25, seed: 1 })
        expect(trained.validation.overall.binary.f1, source).toBeGreaterThanOrEqual(0.8)
      }
    }).pipe(Effect.provide(Layer.merge(worldAnnotatorFromDir(worldDir).pipe(Layer.provide(NodeServices.layer)), NodeServices.layer))), 60_000)
})

const fineWebChain = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter({ filterNoTerminalPunct: false }), FineWebQualityFilter()]

/** The reason the FineWeb chain drops `doc` for, or undefined when it keeps it. */
const dropReason = (doc: Document): string | undefined => {
  let current = doc
  for (const f of fineWebChain) {
    const r = f.filter(current)
    if (r._tag === "Drop") return r.reason ?? f.id
    current = r.doc
  }
  return undefined
}

describe("curation on the world's web", () => {
  const web = written.sources.web
  const kept = web.filter((d) => dropReason(d.doc) === undefined)

  it("the heuristic filters drop every filter bait and keep nearly every page graded 3 and up", () => {
    const bait = web.filter((d) => d.kind === "filter_bait")
    expect(new Set(bait.map((d) => d.bait))).toEqual(new Set(["repeated_lines", "too_short", "bullet_lines", "lorem_ipsum"]))
    expect(bait.filter((d) => dropReason(d.doc) === undefined).map((d) => d.doc.id)).toEqual([])
    const good = web.filter((d) => d.kind === "page" && d.score >= 3)
    expect(good.filter((d) => dropReason(d.doc) === undefined).length / good.length).toBeGreaterThanOrEqual(0.97)
    // The heuristics are not a quality classifier: most low-grade pages pass them too.
    const low = web.filter((d) => d.kind === "page" && d.score < 3)
    expect(low.filter((d) => dropReason(d.doc) === undefined).length / low.length).toBeGreaterThanOrEqual(0.8)
  })

  it.effect("MinHash dedup (FineWeb's settings) removes the near-duplicates and little else", () =>
    Effect.gen(function*() {
      const dir = tmp("minhash")
      const stats = new StatsCollector()
      const docs = kept.map((d) => d.doc)
      yield* Stream.runDrain(Stream.fromIterable(docs).pipe(minhashSignatures({ folder: path.join(dir, "sigs"), rank: 0, stats })))
      // One bucket task per band, as datatrove's bucket stage requires a multiple of num_buckets (14).
      for (let rank = 0; rank < 14; rank++) yield* minhashBuckets({ input: path.join(dir, "sigs"), output: path.join(dir, "buckets"), rank, worldSize: 14, stats })
      yield* minhashCluster({ input: path.join(dir, "buckets"), signatures: path.join(dir, "sigs"), output: path.join(dir, "remove"), stats })
      const dropped: Array<Document> = []
      const sink: DocSink = { write: (d) => Effect.sync(() => void dropped.push(...d)) }
      const survivors = yield* Stream.runCollect(Stream.fromIterable(docs).pipe(
        dedupFilter({ folder: path.join(dir, "remove"), rank: 0, id: "minhash", reason: "minhash_duplicate", stats, exclusion: sink })
      ))
      const alive = new Set(survivors.map((d) => d.id))
      const keptIds = new Set(kept.map((d) => d.doc.id))
      // A copy whose original survived the filters: one of the two must go.
      const pairs = kept.filter((d) => d.kind === "near_duplicate" && keptIds.has(d.duplicateOf!))
      expect(pairs.length).toBeGreaterThan(5)
      const both = pairs.filter((d) => alive.has(d.doc.id) && alive.has(d.duplicateOf!))
      expect(both.length / pairs.length).toBeLessThanOrEqual(0.05)
      const pages = kept.filter((d) => d.kind === "page" && d.score >= 3)
      expect(pages.filter((d) => !alive.has(d.doc.id)).length / pages.length).toBeLessThanOrEqual(0.1)
    }).pipe(Effect.provide(NodeServices.layer)), 60_000)
})

describe("the world's evaluation tasks", () => {
  const dataDir = path.join(worldDir, "eval")

  it.effect("load through the evaluation loaders", () =>
    Effect.gen(function*() {
      const jobs = yield* loadJobs({ tasks: [WORLD_TASKS.facts, WORLD_TASKS.arithmetic, WORLD_TASKS.code], dataDir })
      const [facts, arithmetic, code] = jobs
      if (facts?._tag !== "Task" || arithmetic?._tag !== "Task" || code?._tag !== "Code") throw new Error(`unexpected jobs ${jobs.map((j) => j._tag)}`)
      expect(facts.task.docs.length).toBe(written.facts.facts.length)
      expect(facts.task.docs.every((d) => d.choices.length === 4)).toBe(true)
      expect(facts.task.docs[0]!.query).toBe(`Question: ${written.facts.facts[0]!.question}\nAnswer:`)
      // The right answer is not always in the same place.
      expect(new Set(facts.task.docs.map((d) => d.gold[0])).size).toBe(4)
      expect(arithmetic.task.docs.length).toBe(40)
      for (const d of arithmetic.task.docs) expect(gsm8kNormalizer(d.choices[0]!)).toMatch(/^\d+$/)
      const asked = new Set(written.eval.arithmetic.map((r) => r.question))
      expect(written.sources.math.filter((d) => [...asked].some((q) => d.doc.text.includes(q)))).toEqual([])
      expect(code.problems.length).toBe(written.eval.code.length)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("the cloze form scores each fact's own sentence, with the same choices as the question", () =>
    Effect.gen(function*() {
      const [cloze] = yield* loadJobs({ tasks: [WORLD_TASKS.factsCloze], dataDir })
      if (cloze?._tag !== "Task") throw new Error("expected a multiple-choice task")
      // Every fact but those whose sentence starts with the answer (who invented what).
      const stated = written.facts.facts.filter((f) => f.statement.indexOf(f.answer) > 0)
      expect(cloze.task.docs.length).toBe(stated.length)
      expect(stated.length).toBeLessThan(written.facts.facts.length)
      cloze.task.docs.forEach((d, i) => {
        const f = stated[i]!
        expect(`${d.query}${d.choices[d.gold[0]!]}`).toBe(f.statement.slice(0, f.statement.indexOf(f.answer) + f.answer.length))
        const question = written.eval.facts.find((q) => q.id === f.id)!
        expect(d.choices).toEqual(question.choices.text.map((c) => ` ${c}`))
      })
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("the code tasks' reference solutions pass in the CodeRunner, and a wrong one fails", () =>
    Effect.gen(function*() {
      const jobs = yield* loadJobs({ tasks: [WORLD_TASKS.code], dataDir })
      const job = jobs[0]!
      if (job._tag !== "Code") throw new Error("not a code job")
      const rows = written.eval.code
      const right = rows.map((r) => ({ taskId: r.task_id, completion: r.canonical_solution }))
      const result = yield* scoreCompletions(job.name, job.problems, right, { ks: [1], concurrency: 2 })
      expect(result.metrics).toEqual([{ name: "pass@1", value: 1 }])
      const some = job.problems.slice(0, 3)
      const wrong = some.map((p) => ({ taskId: p.taskId, completion: "    return None\n" }))
      expect((yield* scoreCompletions(job.name, some, wrong, { ks: [1] })).metrics[0]!.value).toBe(0)
    }).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, CodeRunner.layer()))), 60_000)
})

describe("the default run config", () => {
  it.effect("validates, reads the world's files and evaluates the world's tasks", () =>
    Effect.gen(function*() {
      const config = yield* defaultRunConfig(worldDir)
      expect(config.model.preset).toBe("tiny")
      expect(config.stages.map((s) => s.name)).toEqual(["web", "code", "math"])
      for (const source of Object.values(config.sources)) for (const p of source.paths) expect(readdirSync(path.dirname(p))).toContain(path.basename(p))
      expect(readdirSync(path.join(config.evaluation.dataDir, "world")).sort()).toEqual(["arithmetic.jsonl", "code.jsonl", "edu-pages.jsonl", "facts-cloze.jsonl", "facts.jsonl"])
      // Math first appears in the last stage, so the report can show what it adds.
      expect(config.stages.map((s) => "math" in s.mixture)).toEqual([false, false, true])
    }))

  it.effect("an in-memory label table serves the same scores as the folder's", () =>
    Effect.gen(function*() {
      const annotator = yield* Annotator
      const d = written.sources.math.find((x) => x.score === 5)!.doc
      expect((yield* annotator.annotate(prompt("finemath-5"), d.text)).score).toBe(5)
    }).pipe(Effect.provide(worldAnnotator(new Map(written.sources.math.map((x) => [textSha256(x.doc.text), x.score]))))))
})

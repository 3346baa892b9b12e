/**
 * The full run's curation with `sources.<s>.classifier.train.annotate.endpoint` set: the labels come from an
 * OpenAI-compatible server (the in-process fake of test/classify/fake-chat-server.ts, which scores `DOC[n]` as
 * n % 6), not from the program's built-in annotator. A working endpoint gives exactly `budget` labels, a classifier
 * and a threshold over its scores; a failing one ends the curation with an error naming the source, never a hang,
 * and the API key goes out as a bearer token without ever reaching an error message.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { loadQualityClassifier } from "../../src/classify/classifier-folder.ts"
import { intScore } from "../../src/classify/metrics.ts"
import { Source } from "../../src/run/config.ts"
import { curateSource } from "../../src/run/pipeline/curate.ts"
import { expectedScore, fakeDocText, startFakeChatServer } from "../classify/fake-chat-server.ts"

const root = mkdtempSync(path.join(tmpdir(), "smol-curate-endpoint-"))

/** Words that go with each score, so the n-gram classifier has something to learn from the server's labels. */
const vocabulary = [
  "buy cheap pills now click here winner",
  "celebrity gossip photos scandal rumours",
  "recipe dinner kitchen tasty weekend",
  "history of the bridge built in the town",
  "lesson explains how plants turn light into sugar",
  "worked proof of the theorem step by step with exercises"
]

/** `count` documents, doc n's text naming it (`DOC[n]`) and carrying the vocabulary of its score n % 6. */
const writeSource = (name: string, count: number, faults: ReadonlyArray<string> = []): string => {
  const dir = path.join(root, name, "input")
  mkdirSync(dir, { recursive: true })
  const lines = Array.from({ length: count }, (_, n) =>
    JSON.stringify({ id: `d${n}`, text: `${fakeDocText(n, faults)} ${vocabulary[expectedScore(n)]!} ${vocabulary[expectedScore(n)]!}` }))
  writeFileSync(path.join(dir, "docs.jsonl"), lines.join("\n") + "\n")
  return dir
}

const sourceOf = (input: string, endpoint: string, budget: number, minScore: number, annotate: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(Source)({
    paths: [input],
    filters: [],
    dedup: "none",
    classifier: { train: { annotate: { prompt: "fineweb-edu", endpoint, model: "fake-llm", budget, concurrency: 4, ...annotate }, kind: "ngram", epochs: 40 } },
    threshold: { minScore }
  })

const jsonlIn = (dir: string): Array<{ id: string; text: string; metadata: Record<string, unknown> }> =>
  (existsSync(dir) ? readdirSync(dir) : []).filter((f) => f.endsWith(".jsonl")).sort().flatMap((f) =>
    readFileSync(path.join(dir, f), "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: string; text: string; metadata: Record<string, unknown> }))

const docNumber = (text: string): number => Number(/DOC\[(\d+)\]/.exec(text)![1])

/** Runs `body` with OPENAI_API_KEY set to `key` (or unset), restoring the variable after. */
const withApiKey = <A, E, R>(key: string | undefined, body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.env["OPENAI_API_KEY"]
      if (key === undefined) delete process.env["OPENAI_API_KEY"]
      else process.env["OPENAI_API_KEY"] = key
      return before
    }),
    () => body,
    (before) => Effect.sync(() => (before === undefined ? delete process.env["OPENAI_API_KEY"] : (process.env["OPENAI_API_KEY"] = before)))
  )

const fakeServer = (options: Parameters<typeof startFakeChatServer>[0] = {}) =>
  Effect.acquireRelease(Effect.promise(() => startFakeChatServer(options)), (s) => Effect.promise(() => s.close()))

const curate = (name: string, source: typeof Source.Type) =>
  curateSource({ name, source, dir: path.join(root, name, "out"), seed: 7, annotator: undefined, tasks: 2, log: () => undefined })

describe("curation with an annotation endpoint from the config", () => {
  it.live("annotates exactly the budget at the endpoint, trains on its scores, and keeps what the classifier scores at or above the threshold", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer()
      const documents = 90
      const budget = 60
      const minScore = 3
      const input = writeSource("working", documents)
      const curated = yield* withApiKey("sk-test-working", curate("working", sourceOf(input, server.url, budget, minScore)))

      // Each sampled document was asked once: no retries, no document twice, `budget` in all.
      const asked = [...server.requests.entries()]
      expect(asked.length).toBe(budget)
      expect(asked.every(([, n]) => n === 1)).toBe(true)
      expect([...server.authorizations]).toEqual(["Bearer sk-test-working"])

      // The labels are the server's scores, for the documents it was asked about.
      const annotated = jsonlIn(path.join(root, "working", "out", "classifier", "annotation", "annotated"))
      expect(annotated.length).toBe(budget)
      expect(new Set(annotated.map((d) => docNumber(d.text)))).toEqual(new Set(server.requests.keys()))
      for (const d of annotated) {
        const annotation = d.metadata["annotation"] as { score: number; model: string }
        expect([d.id, annotation.score, annotation.model]).toEqual([d.id, expectedScore(docNumber(d.text)), "fake-llm"])
      }

      // A classifier was trained on them and measured on the held-out tenth.
      const classifier = curated.funnel.classifier!
      expect(classifier.kind).toBe("ngram")
      expect(classifier.documents).toBe(budget / 10)
      expect(classifier.binary.threshold).toBe(minScore)

      // The threshold keeps exactly the documents the trained classifier gives an int_score ≥ minScore.
      const all = jsonlIn(path.join(input))
      const model = yield* loadQualityClassifier(classifier.model)
      const scores = yield* model.predict(all.map((d) => d.text))
      const expectedKept = all.filter((_, i) => intScore(scores[i]!) >= minScore).map((d) => d.id).sort()
      const kept = jsonlIn(path.join(root, "working", "out", "curated"))
      const dropped = jsonlIn(path.join(root, "working", "out", "dropped", "threshold"))
      expect(kept.map((d) => d.id).sort()).toEqual(expectedKept)
      expect(kept.every((d) => (d.metadata["int_score"] as number) >= minScore)).toBe(true)
      expect(dropped.every((d) => (d.metadata["int_score"] as number) < minScore && d.metadata["filter_reason"] === `below_threshold_${minScore}`)).toBe(true)
      // Learned, not constant: the classifier both keeps and drops.
      expect(kept.length).toBeGreaterThan(0)
      expect(dropped.length).toBeGreaterThan(0)

      // The funnel: every document read, kept or dropped with its reason, once.
      const { funnel } = curated
      expect(funnel.documents).toBe(documents)
      expect(funnel.steps.map((s) => s.name)).toEqual(["threshold"])
      const step = funnel.steps[0]!
      expect(step.documentsIn).toBe(documents)
      expect(step.documentsKept).toBe(kept.length)
      expect(step.dropped).toEqual([{ reason: `below_threshold_${minScore}`, documents: dropped.length }])
      expect(kept.length + dropped.length).toBe(documents)
      expect(funnel.threshold).toEqual({ minScore })
      expect(curated.inputs).toEqual([path.join(root, "working", "out", "curated")])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.live("an endpoint that refuses every document ends the curation with an error naming the source and why", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer()
      // 400 is the server refusing the document: final at once, so the test needs no retry backoff.
      const input = writeSource("refusing", 30, ["400"])
      const started = performance.now()
      const error = yield* Effect.flip(withApiKey(undefined, curate("refusing", sourceOf(input, server.url, 12, 3))))
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(error._tag).toBe("FullRunError")
      expect(error.message).toContain("sources.refusing.classifier.train.annotate")
      expect(error.message).toContain("0 of 12")
      expect(error.message).toContain("rejected")
      expect(error.message).toContain("HTTP 400")
      expect([...server.requests.values()].reduce((a, b) => a + b, 0)).toBe(12)
      // No key in the environment: no Authorization header at all.
      expect([...server.authorizations]).toEqual([""])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 20_000)

  it.live("retries a server fault as often as annotate.maxAttempts allows: once recovered it is annotated, still failing it ends the curation naming the source", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer()
      // Each document's first request gets a 503, the next ones its score.
      const recovering = writeSource("recovering", 30, ["503"])
      const curated = yield* withApiKey(undefined, curate("recovering", sourceOf(recovering, server.url, 12, 3, { maxAttempts: 2, concurrency: 12 })))
      expect(curated.funnel.classifier?.kind).toBe("ngram")
      expect(server.requests.size).toBe(12)
      expect([...server.requests.values()].every((n) => n === 2)).toBe(true)

      // Three 500s each: two attempts are not enough.
      server.requests.clear()
      const down = writeSource("down", 30, ["500", "500", "500"])
      const started = performance.now()
      const error = yield* Effect.flip(withApiKey(undefined, curate("down", sourceOf(down, server.url, 12, 3, { maxAttempts: 2, concurrency: 12 }))))
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(error._tag).toBe("FullRunError")
      expect(error.message).toContain("sources.down.classifier.train.annotate: 0 of 12")
      expect(error.message).toContain("server_error 12")
      expect(error.message).toContain("HTTP 500")
      expect([...server.requests.values()]).toEqual(Array.from({ length: 12 }, () => 2))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 20_000)

  it.live("an endpoint slower than annotate.timeoutSeconds fails by timeout, not by waiting", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ slowMs: 10_000 })
      const input = writeSource("slow", 20, ["slow", "slow"])
      const started = performance.now()
      const error = yield* Effect.flip(withApiKey(undefined, curate("slow", sourceOf(input, server.url, 8, 3, { maxAttempts: 2, timeoutSeconds: 0.3 }))))
      expect(performance.now() - started).toBeLessThan(8_000)
      expect(error.message).toContain("sources.slow.classifier.train.annotate: 0 of 8")
      expect(error.message).toContain("timeout 8")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 20_000)

  it.live("a rejected key stops the curation at once with an error naming the source, and the key never appears in it", () =>
    Effect.gen(function*() {
      const key = "sk-secret-1234567890"
      // The server echoes the Authorization header in its 401 body, as a careless proxy might.
      const server = yield* fakeServer({ echoAuthorization: true })
      const input = writeSource("bad-key", 30, ["401"])
      const error = yield* Effect.flip(withApiKey(key, curate("bad-key", sourceOf(input, server.url, 12, 3))))
      expect(error._tag).toBe("FullRunError")
      expect(error.message).toContain("sources.bad-key.classifier.train.annotate.endpoint")
      expect(error.message).toContain("HTTP 401")
      expect(error.message).toContain("[REDACTED]")
      expect(error.message).not.toContain(key)
      expect(String(error)).not.toContain(key)
      expect([...server.authorizations]).toEqual([`Bearer ${key}`])
      // Nothing the run wrote carries the key either.
      const written = readdirSync(path.join(root, "bad-key", "out"), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile()).map((e) => readFileSync(path.join(e.parentPath, e.name), "utf8"))
      expect(written.some((text) => text.includes(key))).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 20_000)
})

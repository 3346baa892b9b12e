import { NodeHttpClient, NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { annotateFiles, type AnnotateFilesOptions } from "../../src/classify/annotate/annotate-files.ts"
import { Annotator, type ChatAnnotatorOptions } from "../../src/classify/annotate/Annotator.ts"
import { builtinPrompt } from "../../src/classify/annotate/prompts.ts"
import type { AnnotationPrompt } from "../../src/classify/annotate/AnnotationPrompt.ts"
import { expectedScore, fakeDocText, startFakeChatServer } from "./fake-chat-server.ts"

const KEY = "sk-test-SECRET-7f3a9c21e5"

const fineWebEdu = builtinPrompt("fineweb-edu") as AnnotationPrompt

interface OutDoc {
  readonly id: string
  readonly text: string
  readonly metadata: Record<string, unknown> & {
    readonly annotation?: { score: number; prompt: string; model: string; completion: string; usage: { prompt_tokens: number; completion_tokens: number } }
    readonly annotation_error?: { reason: string; attempts: number; last_error: string }
  }
}

const readLines = (file: string): Array<OutDoc> =>
  readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as OutDoc)

const readOutputs = (out: string, kind: "annotated" | "failed"): Array<OutDoc> =>
  readdirSync(join(out, kind)).filter((f) => f.endsWith(".jsonl")).flatMap((f) => readLines(join(out, kind, f)))

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })

const writeDocs = (file: string, docs: ReadonlyArray<{ id: string; text: string }>) =>
  writeFileSync(file, docs.map((d) => JSON.stringify(d)).join("\n") + "\n")

const docNumber = (d: OutDoc) => Number(/DOC\[(\d+)\]/.exec(d.text)![1])

const run = (annotator: ChatAnnotatorOptions, options: AnnotateFilesOptions) =>
  annotateFiles(options).pipe(
    Effect.provide(Annotator.layer(annotator).pipe(Layer.provide(NodeHttpClient.layerUndici))),
    Effect.provide(NodeServices.layer)
  )

// Faults per document; the rest (0–9) are answered at once.
const faults: Record<number, ReadonlyArray<string>> = {
  10: ["429", "429"],
  11: ["500", "503"],
  12: ["malformed"],
  13: ["drop"],
  14: ["slow"],
  15: ["noscore"],
  16: ["500", "500", "500", "500"],
  17: ["400"],
  18: ["nochoices"],
  19: ["429", "429", "429", "429"],
  20: ["slow", "slow", "slow", "slow"],
  21: ["drop", "drop", "drop", "drop"]
}
const expectedFailure: Record<number, { reason: string; attempts: number }> = {
  15: { reason: "no_score", attempts: 1 },
  16: { reason: "server_error", attempts: 4 },
  17: { reason: "rejected", attempts: 1 },
  19: { reason: "rate_limited", attempts: 4 },
  20: { reason: "timeout", attempts: 4 },
  21: { reason: "connection", attempts: 4 }
}
const N = 22

describe("annotate against an OpenAI-compatible server with injected faults", () => {
  it.live("every document ends annotated with its own score or failed with its reason, and a rerun repeats no finished request", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startFakeChatServer({ slowMs: 1500, retryAfter: "0.2" }))
      yield* Effect.addFinalizer(() => Effect.promise(() => server.close()))
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-"))
      mkdirSync(join(dir, "in"))
      const docs = Array.from({ length: N }, (_, n) => ({ id: `doc-${n}`, text: fakeDocText(n, faults[n]) }))
      // Two input files, the second with a different order, so outputs per file and mix-ups are both exercised.
      writeDocs(join(dir, "in", "part-a.jsonl"), docs.slice(0, 11))
      writeDocs(join(dir, "in", "part-b.jsonl"), docs.slice(11).reverse())
      const out = join(dir, "out")
      const annotator: ChatAnnotatorOptions = {
        endpoint: server.url,
        model: "fake-llama",
        apiKey: Redacted.make(KEY),
        timeoutMs: 500,
        maxAttempts: 4,
        backoff: { baseMs: 10, maxMs: 40, maxRetryAfterMs: 5_000 }
      }
      const options: AnnotateFilesOptions = { inputs: [join(dir, "in")], output: out, prompt: fineWebEdu, concurrency: 6 }
      const summary = yield* run(annotator, options)

      const annotated = readOutputs(out, "annotated")
      const failed = readOutputs(out, "failed")
      expect(readdirSync(join(out, "annotated")).sort()).toEqual(["part-a.jsonl", "part-b.jsonl"])
      // Exactly one of the two, for every input document.
      expect([...annotated, ...failed].map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort())
      for (const d of annotated) {
        const n = docNumber(d)
        expect(d.id).toBe(`doc-${n}`)
        expect(expectedFailure[n]).toBeUndefined()
        expect(d.metadata.annotation!.score).toBe(expectedScore(n))
        expect(d.metadata.annotation!.completion).toContain(`DOC[${n}]`)
        expect(d.metadata.annotation!.prompt).toBe(fineWebEdu.version)
        expect(d.metadata.annotation!.model).toBe("fake-llama")
        expect(d.metadata.annotation!.usage).toEqual({ prompt_tokens: 100, completion_tokens: 20 })
      }
      for (const d of failed) {
        const n = docNumber(d)
        expect({ n, reason: d.metadata.annotation_error!.reason, attempts: d.metadata.annotation_error!.attempts }).toEqual({ n, ...expectedFailure[n] })
        expect(d.metadata.annotation_error!.last_error.length).toBeGreaterThan(0)
      }
      expect(failed.length).toBe(Object.keys(expectedFailure).length)

      // Requests per document: one per fault, then one that succeeds (or the attempts cap).
      for (let n = 0; n < N; n++) {
        const expected = expectedFailure[n]?.attempts ?? (faults[n]?.length ?? 0) + 1
        expect({ n, requests: server.requests.get(n) }).toEqual({ n, requests: expected })
      }
      // Retry-After: 0.2 s is honoured (the plain backoff here is at most 40 ms).
      const [first, second] = server.arrivals.get(10)!
      expect(second! - first!).toBeGreaterThanOrEqual(190)

      const totalRequests = [...server.requests.values()].reduce((a, b) => a + b, 0)
      expect(summary.requests).toBe(totalRequests)
      expect(summary.retries).toBe(totalRequests - N)
      expect(summary.annotated).toBe(N - failed.length)
      expect(summary.failed_by_reason).toEqual({ no_score: 1, server_error: 1, rejected: 1, rate_limited: 1, timeout: 1, connection: 1 })
      // Token usage of every 200 reply that was JSON: the annotated ones and the score-less one.
      expect(summary.prompt_tokens).toBe(100 * (summary.annotated + 1))
      expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8"))).toMatchObject({ requests: totalRequests, annotated: summary.annotated })
      expect(server.authorizations).toEqual(new Set([`Bearer ${KEY}`]))

      // The rerun asks again only for the documents that failed transiently (and the rejected one).
      const before = new Map(server.requests)
      const rerun = yield* run(annotator, options)
      for (let n = 0; n < N; n++) {
        const finished = expectedFailure[n] === undefined || expectedFailure[n]!.reason === "no_score"
        if (finished) expect({ n, requests: server.requests.get(n) }).toEqual({ n, requests: before.get(n) })
        else expect(server.requests.get(n)!).toBeGreaterThan(before.get(n)!)
      }
      expect(rerun.from_cache).toBe(summary.annotated + 1)
      expect(readOutputs(out, "annotated").length + readOutputs(out, "failed").length).toBe(N)

      // The key is in no file the runs wrote.
      for (const file of filesUnder(out)) expect({ file, hasKey: readFileSync(file, "utf8").includes(KEY) }).toEqual({ file, hasKey: false })
    }), 60_000)

  it.live("a rejected key stops the run with an error that does not contain the key, and leaves no output", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startFakeChatServer({ echoAuthorization: true }))
      yield* Effect.addFinalizer(() => Effect.promise(() => server.close()))
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-"))
      writeDocs(join(dir, "docs.jsonl"), Array.from({ length: 5 }, (_, n) => ({ id: `d${n}`, text: fakeDocText(n, ["401"]) })))
      const out = join(dir, "out")
      const exit = yield* run(
        { endpoint: server.url, model: "m", apiKey: Redacted.make(KEY), backoff: { baseMs: 1, maxMs: 1, maxRetryAfterMs: 1 } },
        { inputs: [join(dir, "docs.jsonl")], output: out, prompt: fineWebEdu, concurrency: 2 }
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      const text = JSON.stringify(exit) + String((exit as { cause?: unknown }).cause)
      expect(text).toContain("AnnotationConfigError")
      expect(text).toContain("401")
      expect(text).toContain("[REDACTED]")
      expect(text).not.toContain(KEY)
      const written = filesUnder(out).filter((f) => f.includes("annotated") || f.includes("failed"))
      expect(written).toEqual([])
      for (const file of filesUnder(out)) expect(readFileSync(file, "utf8")).not.toContain(KEY)
    }))

  it.live("--max-requests-per-second spaces the requests of concurrent documents", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startFakeChatServer())
      yield* Effect.addFinalizer(() => Effect.promise(() => server.close()))
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-"))
      writeDocs(join(dir, "docs.jsonl"), Array.from({ length: 12 }, (_, n) => ({ id: `d${n}`, text: fakeDocText(n) })))
      const summary = yield* run(
        { endpoint: server.url, model: "m", maxRequestsPerSecond: 40 },
        { inputs: [join(dir, "docs.jsonl")], output: join(dir, "out"), prompt: fineWebEdu, concurrency: 6 }
      )
      expect(summary.annotated).toBe(12)
      const times = [...server.arrivals.values()].flat().sort((a, b) => a - b)
      // Starts 25 ms apart: 275 ms from first to last. (Single gaps at the server vary: a request that opens a
      // new connection arrives later than one reusing a warm one.)
      expect(times.length).toBe(12)
      expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(250)
    }))

  it.live("the test double scores through the same stage; a score outside the prompt's scale is no_score", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-"))
      writeDocs(join(dir, "docs.jsonl"), Array.from({ length: 8 }, (_, n) => ({ id: `d${n}`, text: `text ${n}` })))
      const fineMath3 = builtinPrompt("finemath-3") as AnnotationPrompt
      const summary = yield* annotateFiles({ inputs: [join(dir, "docs.jsonl")], output: join(dir, "out"), prompt: fineMath3, concurrency: 3 }).pipe(
        Effect.provide(Annotator.canned((text) => Number(text.split(" ")[1]))),
        Effect.provide(NodeServices.layer)
      )
      expect(summary.annotated).toBe(4)
      expect(summary.failed_by_reason).toEqual({ no_score: 4 })
      const annotated = readOutputs(join(dir, "out"), "annotated")
      for (const d of annotated) expect(d.metadata.annotation!.score).toBe(Number(d.id.slice(1)))
      const failed = readOutputs(join(dir, "out"), "failed")
      for (const d of failed) expect(d.metadata.annotation_error!.last_error).toMatch(/outside 0–3/)
    }))

  it.live("--sample draws the same seeded documents every time, in input order, and --limit caps what is read", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-"))
      writeDocs(join(dir, "a.jsonl"), Array.from({ length: 30 }, (_, n) => ({ id: `a${n}`, text: `text ${n % 6}` })))
      writeDocs(join(dir, "b.jsonl"), Array.from({ length: 30 }, (_, n) => ({ id: `b${n}`, text: `text ${n % 6}` })))
      const sampled = (out: string, seed: number, limit?: number) =>
        annotateFiles({ inputs: [join(dir, "a.jsonl"), join(dir, "b.jsonl")], output: join(dir, out), prompt: fineWebEdu, concurrency: 4, sample: { size: 10, seed }, limit }).pipe(
          Effect.provide(Annotator.canned((text) => Number(text.split(" ")[1]))),
          Effect.provide(NodeServices.layer),
          Effect.map(() => [...readOutputs(join(dir, out), "annotated"), ...readOutputs(join(dir, out), "failed")].map((d) => d.id))
        )
      const first = yield* sampled("s1", 7)
      const again = yield* sampled("s2", 7)
      const other = yield* sampled("s3", 8)
      const limited = yield* sampled("s4", 7, 20)
      expect(first.length).toBe(10)
      expect(new Set(first).size).toBe(10)
      expect(again).toEqual(first)
      expect(other).not.toEqual(first)
      expect(limited.every((id) => id.startsWith("a"))).toBe(true)
    }))
})

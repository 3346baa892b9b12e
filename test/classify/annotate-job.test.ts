/**
 * programs/annotate.ts as a sharded job (--tasks, --executor): against the fake chat server, the merged outputs
 * are the bytes one process writes, a rerun asks nothing, and a rank that the endpoint fails fails by name and is
 * the only one redone. The Slurm test follows test/data/slurm.test.ts: without Slurm it fails,
 * saying how to start one, so a broken cluster cannot pass unnoticed.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { annotateFiles } from "../../src/classify/annotate/annotate-files.ts"
import type { AnnotationPrompt } from "../../src/classify/annotate/AnnotationPrompt.ts"
import { Annotator } from "../../src/classify/annotate/Annotator.ts"
import { builtinPrompt } from "../../src/classify/annotate/prompts.ts"
import { noSlurm, slurmForTests, runProgram } from "../support/slurm.ts"
import { expectedScore, type FakeChatServer, fakeDocText, startFakeChatServer } from "./fake-chat-server.ts"

const annotate = (args: ReadonlyArray<string>) => runProgram("programs/annotate.ts", args)

const slurm = slurmForTests()

/** Two input files of fake-server documents; every seventh has a reply without a score (failed/, no_score). */
const writeInputs = (dir: string, faults: Record<number, ReadonlyArray<string>> = {}) => {
  const doc = (n: number) => JSON.stringify({ id: `doc-${n}`, text: fakeDocText(n, faults[n] ?? (n % 7 === 3 ? ["noscore"] : [])), metadata: { n } })
  writeFileSync(join(dir, "a.jsonl"), Array.from({ length: 24 }, (_, n) => doc(n)).join("\n") + "\n")
  writeFileSync(join(dir, "b.jsonl"), Array.from({ length: 18 }, (_, n) => doc(100 + n)).join("\n") + "\n")
  return [join(dir, "a.jsonl"), join(dir, "b.jsonl")]
}

const args = (inputs: ReadonlyArray<string>, out: string, server: FakeChatServer, extra: ReadonlyArray<string> = []) => [
  ...inputs.flatMap((i) => ["--input", i]), "--output", out, "--endpoint", server.url, "--model", "fake-llama",
  "--prompt", "fineweb-edu", "--concurrency", "4", "--api-key-env", "SMOL_ANNOTATE_JOB_TEST_KEY", ...extra
]

/** Every output file (annotated/ and failed/) with its bytes. */
const outputs = (out: string): Record<string, string> =>
  Object.fromEntries(["annotated", "failed"].flatMap((kind) =>
    readdirSync(join(out, kind)).sort().map((f) => [`${kind}/${f}`, readFileSync(join(out, kind, f), "utf8")])))

const totalRequests = (server: FakeChatServer) => [...server.requests.values()].reduce((a, b) => a + b, 0)

const ids = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => (JSON.parse(l) as { id: string }).id)

describe("annotation output order", () => {
  it.live("lines are written in input order even when the replies come back in reverse", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-annotate-order-"))
      const n = 12
      writeFileSync(join(dir, "docs.jsonl"), Array.from({ length: n }, (_, i) => JSON.stringify({ id: `d${i}`, text: `text ${i}` })).join("\n") + "\n")
      const answered: Array<number> = []
      // Document i answers after (n - i) × 15 ms: with all of them in flight, the last is answered first.
      const reversed = Layer.succeed(Annotator, Annotator.of({
        model: "reversed",
        counts: () => ({ requests: 0, retries: 0, outcomes: {}, prompt_tokens: 0, completion_tokens: 0 }),
        annotate: (_prompt, text) => {
          const i = Number(text.split(" ")[1])
          return Effect.sleep((n - i) * 15).pipe(Effect.andThen(Effect.sync(() => {
            answered.push(i)
            return { score: i % 6, completion: `Educational score: ${i % 6}`, usage: { prompt_tokens: 1, completion_tokens: 1 }, attempts: 1 }
          })))
        }
      }))
      yield* annotateFiles({ inputs: [join(dir, "docs.jsonl")], output: join(dir, "out"), prompt: builtinPrompt("fineweb-edu") as AnnotationPrompt, concurrency: n }).pipe(
        Effect.provide(reversed),
        Effect.provide(NodeServices.layer)
      )
      expect(answered).toEqual(Array.from({ length: n }, (_, i) => n - 1 - i))
      expect(ids(readFileSync(join(dir, "out", "annotated", "docs.jsonl"), "utf8"))).toEqual(Array.from({ length: n }, (_, i) => `d${i}`))
    }))
})

describe("programs/annotate.ts --tasks N (local executor)", () => {
  it("3 tasks write byte for byte what one process writes, from the same seeded sample, and a rerun asks nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-annotate-job-"))
    const inputs = writeInputs(dir)
    const sample = ["--sample", "30", "--seed", "5"]
    const [single, sharded] = [await startFakeChatServer(), await startFakeChatServer()]
    try {
      const one = await annotate(args(inputs, join(dir, "one"), single, sample))
      expect(one.status, one.stderr).toBe(0)
      const three = await annotate(args(inputs, join(dir, "three"), sharded, [...sample, "--tasks", "3"]))
      expect(three.status, three.stderr).toBe(0)

      const expected = outputs(join(dir, "one"))
      expect(Object.keys(expected)).toEqual(["annotated/a.jsonl", "annotated/b.jsonl", "failed/a.jsonl", "failed/b.jsonl"])
      expect(outputs(join(dir, "three"))).toEqual(expected)
      // The sample, in input order: 30 of the 42 documents, some failed for want of a score.
      const annotated = [...ids(expected["annotated/a.jsonl"]!), ...ids(expected["annotated/b.jsonl"]!)]
      const failed = [...ids(expected["failed/a.jsonl"]!), ...ids(expected["failed/b.jsonl"]!)]
      expect(annotated.length + failed.length).toBe(30)
      expect(failed.length).toBeGreaterThan(0)
      const number = (id: string) => Number(id.slice(4))
      expect(annotated.map(number)).toEqual([...annotated.map(number)].sort((a, b) => a - b))
      for (const line of expected["annotated/a.jsonl"]!.split("\n").filter((l) => l !== "")) {
        const d = JSON.parse(line) as { id: string; metadata: { annotation: { score: number } } }
        expect(d.metadata.annotation.score).toBe(expectedScore(number(d.id)))
      }
      expect(totalRequests(sharded)).toBe(30)
      const summary = JSON.parse(three.stdout) as { documents: number; annotated: number; failed: number; tasks: number; requests: number }
      expect(summary).toMatchObject({ documents: 30, annotated: annotated.length, failed: failed.length, tasks: 3, requests: 30 })

      const again = await annotate(args(inputs, join(dir, "three"), sharded, [...sample, "--tasks", "3"]))
      expect(again.status, again.stderr).toBe(0)
      expect(totalRequests(sharded)).toBe(30)
      expect(outputs(join(dir, "three"))).toEqual(expected)
      expect(JSON.parse(again.stdout)).toMatchObject({ documents: 30, tasks: 3 })

      // The settings that decide what is written cannot change under a started run.
      const other = await annotate(args(inputs, join(dir, "three"), sharded, ["--sample", "30", "--seed", "6", "--tasks", "3"]))
      expect(other.status).not.toBe(0)
      expect(other.stderr).toMatch(/started with other settings \(sample: \{"size":30,"seed":5\} then, \{"size":30,"seed":6\} now\)/)
    } finally {
      await single.close()
      await sharded.close()
    }
  }, 120_000)

  it("a rank whose endpoint fails fails by name, and the rerun asks only for that rank's unanswered documents", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smol-annotate-job-"))
    // Document 20 is in rank 1's share (ordinals 14–27 of 42) and gets two 500s: with --max-attempts 2, that is
    // every attempt of the first run; the rerun's request is answered.
    const inputs = writeInputs(dir, { 20: ["500", "500"] })
    const server = await startFakeChatServer()
    const retryFlags = ["--tasks", "3", "--max-attempts", "2", "--backoff-base-ms", "1", "--backoff-max-ms", "5"]
    try {
      const first = await annotate(args(inputs, join(dir, "out"), server, retryFlags))
      expect(first.status).not.toBe(0)
      expect(first.stderr).toMatch(/annotate: 1 of 3 tasks failed \(rank 1\)/)
      expect(first.stderr).toMatch(/rank 1: AnnotationsIncomplete: 1 of 14 documents could not be annotated \(server_error 1\), e\.g\. doc-20: server_error after 2 attempts \(HTTP 500/)
      expect(first.stderr).toMatch(/Rerun the same command to retry only the failed tasks/)
      expect(readFileSync(join(dir, "out", "logs", "annotate", "logs", "task_00001.log"), "utf8")).toMatch(/failed: AnnotationsIncomplete: 1 of 14 documents/)
      expect(totalRequests(server)).toBe(42 + 1)

      const second = await annotate(args(inputs, join(dir, "out"), server, retryFlags))
      expect(second.status, second.stderr).toBe(0)
      // One request more, for document 20: the ranks that completed were skipped, rank 1's answers came from its cache.
      expect(totalRequests(server)).toBe(42 + 2)
      expect(server.requests.get(20)).toBe(3)
      const out = outputs(join(dir, "out"))
      const annotated = [...ids(out["annotated/a.jsonl"]!), ...ids(out["annotated/b.jsonl"]!)]
      const failed = [...ids(out["failed/a.jsonl"]!), ...ids(out["failed/b.jsonl"]!)]
      expect(annotated).toContain("doc-20")
      expect(annotated.length + failed.length).toBe(42)
      expect(failed.every((id) => Number(id.slice(4)) % 7 === 3)).toBe(true)
      // The summary sums each rank's last run: ranks 0 and 2 as they completed the first time, rank 1's rerun.
      expect(JSON.parse(second.stdout)).toMatchObject({ documents: 42, failed: failed.length, requests: 14 + 1 + 14, from_cache: 13 })
    } finally {
      await server.close()
    }
  }, 120_000)
})

describe("programs/annotate.ts on a real Slurm", () => {
  it("--executor slurm --wait --tasks 2 writes byte for byte what the local executor writes", async () => {
    if (!slurm.ok) throw noSlurm(slurm.why)
    const dir = mkdtempSync(join(tmpdir(), "smol-annotate-slurm-"))
    const inputs = writeInputs(dir)
    const sample = ["--sample", "20", "--seed", "11", "--tasks", "2"]
    const [here, there] = [await startFakeChatServer(), await startFakeChatServer()]
    try {
      const local = await annotate(args(inputs, join(dir, "local"), here, sample))
      expect(local.status, local.stderr).toBe(0)
      const onSlurm = await annotate(args(inputs, join(dir, "slurm"), there, [...sample, "--executor", "slurm", "--wait", "--time", "0:10:00"]))
      expect(onSlurm.status, onSlurm.stderr).toBe(0)
      expect(outputs(join(dir, "slurm"))).toEqual(outputs(join(dir, "local")))
      expect(totalRequests(there)).toBe(20)
      expect(JSON.parse(onSlurm.stdout)).toMatchObject({ documents: 20, tasks: 2, requests: 20 })
    } finally {
      await here.close()
      await there.close()
    }
  }, 300_000)
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { formatDuration, progressLine } from "../../src/data/progress/format.ts"
import { doneOfTotalReporter } from "../../src/data/progress/Progress.ts"
import { evaluateTask } from "../../src/eval/evaluate.ts"
import { LanguageModel, type LanguageModelShape } from "../../src/eval/LanguageModel.ts"
import { builtinTasks } from "../../src/eval/tasks.ts"

const recorder = (isTTY: boolean) => {
  const written: Array<string> = []
  let t = 0
  return {
    written,
    at: (ms: number) => {
      t = ms
    },
    options: { sink: { isTTY, write: (s: string) => written.push(s) }, now: () => t }
  }
}

describe("progress on stderr", () => {
  it("formats done/total, percent, rate and ETA; elapsed time once finished", () => {
    const line = (task: string, unit: string, done: number, total: number, rate: number | undefined, elapsed: number) =>
      progressLine({ task, unit, done, total, rate, elapsed })
    expect(line("hellaswag", "requests", 12288, 40168, 412.4, 30)).toBe(
      "hellaswag: 12,288/40,168 requests (30.6%) · 412 req/s · ETA 1:08"
    )
    expect(line("gsm8k", "requests", 10, 1319, 2.25, 4)).toBe("gsm8k: 10/1,319 requests (0.8%) · 2.3 req/s · ETA 9:42")
    expect(line("piqa", "requests", 0, 100, undefined, 0)).toBe("piqa: 0/100 requests (0.0%)")
    expect(line("humaneval", "programs", 164, 164, 8, 20.5)).toBe("humaneval: 164/164 programs (100.0%) · 8.0 programs/s · 0:21 elapsed")
    expect(formatDuration(3725)).toBe("1:02:05")
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("?")
  })

  it.effect("on a terminal: one line with a bar rewritten with \\r at most every 0.5 s, ended by a newline when done", () =>
    Effect.gen(function*() {
      const r = recorder(true)
      const report = doneOfTotalReporter(r.options)
      r.at(0)
      yield* report("arc:easy", 0, 100)
      r.at(200)
      yield* report("arc:easy", 10, 100) // throttled
      r.at(1000)
      yield* report("arc:easy", 50, 100)
      r.at(1100)
      yield* report("arc:easy", 60, 100) // throttled
      r.at(2000)
      yield* report("arc:easy", 100, 100) // always written
      expect(r.written).toEqual([
        "\rarc:easy: [                    ] 0/100 requests (0.0%)\x1b[K",
        "\rarc:easy: [██████████          ] 50/100 requests (50.0%) · 50.0 req/s · ETA 0:01\x1b[K",
        "\rarc:easy: [████████████████████] 100/100 requests (100.0%) · 50.0 req/s · 0:02 elapsed\x1b[K\n"
      ])
    }))

  it.effect("elsewhere: plain lines, throttled (5 s by default), each task on its own clock", () =>
    Effect.gen(function*() {
      const r = recorder(false)
      const report = doneOfTotalReporter(r.options)
      r.at(0)
      yield* report("mmlu", 0, 1000)
      r.at(4000)
      yield* report("mmlu", 400, 1000)
      r.at(5000)
      yield* report("mmlu", 500, 1000)
      r.at(10000)
      yield* report("mmlu", 1000, 1000)
      r.at(10000)
      yield* report("piqa", 0, 10)
      r.at(12000)
      yield* report("piqa", 10, 10)
      expect(r.written).toEqual([
        "mmlu: 0/1,000 requests (0.0%)\n",
        "mmlu: 500/1,000 requests (50.0%) · 100 req/s · ETA 0:05\n",
        "mmlu: 1,000/1,000 requests (100.0%) · 100 req/s · 0:10 elapsed\n",
        "piqa: 0/10 requests (0.0%)\n",
        "piqa: 10/10 requests (100.0%) · 5.0 req/s · 0:02 elapsed\n"
      ])
      expect(r.written.join("")).not.toContain("\r")
    }))

  it.effect("evaluateTask reports 0 before the first batch, then after each batch", () =>
    Effect.gen(function*() {
      const spec = builtinTasks.find((t) => t.name === "piqa")!
      const docs = [0, 1, 2].map((i) => ({ query: `Question: g${i}\nAnswer:`, choices: [" a", " b"], gold: [0], instruction: "" }))
      const model: LanguageModelShape = {
        name: "fixed",
        logLikelihood: (rs) => Effect.succeed(rs.map(() => ({ logProb: -1, isGreedy: false }))),
        logLikelihoodRolling: () => Effect.die("unused"),
        generate: () => Effect.die("unused")
      }
      const calls: Array<[string, number, number]> = []
      yield* evaluateTask({ spec, docs }, { batchSize: 4, onProgress: (t, d, n) => Effect.sync(() => calls.push([t, d, n])) }).pipe(
        Effect.provideService(LanguageModel, model)
      )
      expect(calls).toEqual([["piqa", 0, 6], ["piqa", 4, 6], ["piqa", 6, 6]])
    }))
})

import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { CodeRunner } from "../../src/eval/CodeRunner.ts"
import { LanguageModelError } from "../../src/eval/errors.ts"
import { buildInstances, evaluateTask, groupAverages, logLikelihoodRequests } from "../../src/eval/evaluate.ts"
import { LanguageModel, type LanguageModelShape } from "../../src/eval/LanguageModel.ts"
import { gsm8kNormalizer, meanStderr, passAtK } from "../../src/eval/metrics.ts"
import { loadPredictions, predictionsModel } from "../../src/eval/predictions.ts"
import * as P from "../../src/eval/prompts.ts"
import { runEvaluation } from "../../src/eval/jobs.ts"
import { markdownTable, resultsJson, writeReport } from "../../src/eval/report.ts"
import { builtinTasks, findTasks, type LoadedTask, loadTask, type TaskSpec } from "../../src/eval/tasks.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-eval-"))
const spec = (name: string): TaskSpec => builtinTasks.find((t) => t.name === name)!

/** Log-probs looked up by continuation text; anything else is a test bug. */
const fixedModel = (table: Record<string, number>, generations: Record<string, string> = {}): LanguageModelShape => ({
  name: "fixed",
  logLikelihood: (requests) =>
    Effect.forEach(requests, (r) =>
      r.continuation in table
        ? Effect.succeed({ logProb: table[r.continuation]!, isGreedy: false })
        : Effect.fail(new LanguageModelError({ reason: "MissingPrediction", message: r.continuation }))),
  generate: (requests) => Effect.succeed(requests.map((r) => [generations[r.prompt.split("\n\n").at(-1)!] ?? ""])),
  logLikelihoodRolling: () => Effect.fail(new LanguageModelError({ reason: "MissingPrediction", message: "no rolling" }))
})

const arcDoc = (q: string, choices: Array<string>, gold: number) =>
  P.arc({ question: q, choices: { text: choices, label: choices.map((_, i) => "ABCD"[i]!) }, answerKey: "ABCD"[gold]! })

describe("multiple choice by log-likelihood", () => {
  it.effect("acc takes the raw argmax, acc_norm (nospace) divides by characters without the leading space", () =>
    Effect.gen(function*() {
      // Q1: raw sums favour the short wrong " cat" (-3 vs -4); per character " elephant" (-4/8 = -0.5) beats
      //     " cat" (-3/3 = -1), so acc=0 and acc_norm=1. Q2: both agree on the gold. Q3: both pick the wrong one.
      const task: LoadedTask = {
        spec: spec("arc:easy"),
        docs: [arcDoc("Big?", ["cat", "elephant"], 1), arcDoc("Wet?", ["water", "sand"], 0), arcDoc("Hot?", ["snow", "fire"], 1)]
      }
      const lm = fixedModel({ " cat": -3, " elephant": -4, " water": -1, " sand": -5, " snow": -0.5, " fire": -9 })
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, lm))
      const acc = r.metrics.find((m) => m.name === "acc")!
      const norm = r.metrics.find((m) => m.name === "acc_norm")!
      expect(r.samples).toBe(3)
      expect(acc.value).toBeCloseTo(1 / 3, 12)
      expect(norm.value).toBeCloseTo(2 / 3, 12)
      // lighteval mean_stderr: sample std (n-1) / sqrt(n); for [0,1,0] that is sqrt(1/3)/sqrt(3) = 1/3.
      expect(acc.stderr).toBeCloseTo(1 / 3, 12)
      expect(norm.stderr).toBeCloseTo(meanStderr([1, 1, 0])!, 12)
    }))

  it.effect("ties go to the first choice (np.argmax) and a gold beyond the choices never scores", () =>
    Effect.gen(function*() {
      const task: LoadedTask = { spec: spec("piqa"), docs: [P.piqa({ goal: "g", sol1: "ab", sol2: "cd", label: 1 })] }
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, fixedModel({ " ab": -2, " cd": -2 })))
      expect(r.metrics.map((m) => [m.name, m.value])).toEqual([["acc", 0], ["acc_norm", 0]])
    }))

  it.effect("ignoring the leading space changes the winner: SmolLM2's nospace form vs lighteval's plain acc_norm", () =>
    Effect.gen(function*() {
      // nospace: -2.2/2 = -1.1 vs -6/6 = -1.0, the long gold wins; with the space: -2.2/3 vs -6/7, the short one.
      const doc = P.piqa({ goal: "g", sol1: "ab", sol2: "abcdef", label: 1 })
      const lm = fixedModel({ " ab": -2.2, " abcdef": -6 })
      const nospace = yield* evaluateTask({ spec: spec("piqa"), docs: [doc] }).pipe(Effect.provideService(LanguageModel, lm))
      const plain = yield* evaluateTask({ spec: { ...spec("piqa"), metrics: ["acc_norm"] }, docs: [doc] }).pipe(Effect.provideService(LanguageModel, lm))
      expect(nospace.metrics.find((m) => m.name === "acc_norm")!.value).toBe(1)
      expect(plain.metrics).toEqual([{ name: "acc_norm", value: 0 }])
    }))

  it.effect("Winogrande partial scoring sends one context per option and the same continuation", () =>
    Effect.gen(function*() {
      const doc = P.winograndePartial({ sentence: "A beat B so _ cried.", option1: "A", option2: "B", answer: "2" })
      const task: LoadedTask = { spec: spec("winogrande:partial"), docs: [doc] }
      const instances = yield* buildInstances(task, {})
      expect(logLikelihoodRequests(instances)).toEqual([
        { context: "A beat B so A", continuation: " cried." },
        { context: "A beat B so B", continuation: " cried." }
      ])
      const lm: LanguageModelShape = {
        ...fixedModel({}),
        logLikelihood: (rs) => Effect.succeed(rs.map((r) => ({ logProb: r.context.endsWith("B") ? -1 : -2, isGreedy: false })))
      }
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, lm))
      expect(r.metrics).toEqual([{ name: "acc", value: 1 }])
    }))

  it.effect("--limit keeps lighteval's seed-42 shuffle order; MMLU reports subjects and the macro average", () =>
    Effect.gen(function*() {
      const docs = Array.from({ length: 20 }, (_, i) =>
        P.mmluCloze({ subject: i < 10 ? "law" : "virology", question: `q${i}`, choices: ["w", "x", "y", "z"], answer: 0 }))
      const task: LoadedTask = { spec: spec("mmlu"), docs }
      // CPython: random.Random(42).shuffle(list(range(20))) starts 19, 5, 14, 4.
      const four = yield* buildInstances(task, { limit: 4 })
      expect(four.map((i) => i.doc.query.match(/q(\d+)/)![1])).toEqual(["19", "5", "14", "4"])
      // " w" (gold) wins for law, loses for virology.
      const lm: LanguageModelShape = {
        ...fixedModel({}),
        logLikelihood: (rs) =>
          Effect.succeed(rs.map((r) => ({ logProb: (r.continuation === " w") === r.context.includes("law") ? -1 : -2, isGreedy: false })))
      }
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, lm))
      expect(r.metrics.find((m) => m.name === "acc_norm")!.value).toBe(0.5)
      expect(r.subtasks!.map((s) => [s.task, s.metrics[0]!.value])).toEqual([["mmlu:law", 1], ["mmlu:virology", 0]])
      const avg = groupAverages(r.subtasks!)
      expect(avg.map((a) => [a.task, a.metrics[0]!.value, a.metrics[0]!.stderr])).toEqual([["mmlu:_average", 0.5, 0]])
    }))
})

describe("GSM8K", () => {
  it("extracts the number after '#### ' as grade-school-math does", () => {
    expect(gsm8kNormalizer("so 3+4=7\n#### 1,234")).toBe("1234")
    expect(gsm8kNormalizer("#### -5.5 apples")).toBe("-5.5")
    expect(gsm8kNormalizer("The answer is 7")).toBe("[invalid]")
  })

  it.effect("5-shot prompt from the train pool, greedy generation with the task's stops, qem on the extracted number", () =>
    Effect.gen(function*() {
      const train = Array.from({ length: 30 }, (_, i) => P.gsm8k({ question: `t${i}?`, answer: `work\n#### ${i}` }))
      const test = [P.gsm8k({ question: "2+2?", answer: "2+2=4\n#### 4" }), P.gsm8k({ question: "3+3?", answer: "#### 6" })]
      const task: LoadedTask = { spec: spec("gsm8k"), docs: test, fewshotDocs: train }
      const seen: Array<{ prompt: string; stop: ReadonlyArray<string>; maxTokens: number }> = []
      const lm: LanguageModelShape = {
        ...fixedModel({}),
        generate: (rs) =>
          Effect.sync(() => {
            seen.push(...rs)
            return rs.map((r) => [r.prompt.endsWith("Question: 2+2?\nAnswer:") ? " 2+2=4\n#### 4" : " I think 6"])
          })
      }
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, lm))
      expect(r.metrics).toEqual([{ name: "qem", value: 0.5, stderr: 0.5 }])
      expect(seen.every((s) => s.maxTokens === 256 && s.stop.join() === "Question:,Question")).toBe(true)
      expect(seen.every((s) => (s.prompt.match(/Question: t\d+\?\nAnswer: work\n#### \d+\n\n/g) ?? []).length === 5)).toBe(true)
    }))

  it.effect("few-shot examples are dropped until the prompt plus generation fits the model", () =>
    Effect.gen(function*() {
      const train = Array.from({ length: 10 }, (_, i) => P.gsm8k({ question: `t${i}`, answer: `#### ${i}` }))
      const task: LoadedTask = { spec: spec("gsm8k"), docs: [P.gsm8k({ question: "q", answer: "#### 1" })], fewshotDocs: train }
      // One "token" per character; 256 generation tokens plus at most 80 prompt characters.
      const budget = { maxLength: 256 + 80, count: (t: string) => Effect.succeed(t.length) }
      const [inst] = yield* buildInstances(task, {}, budget)
      expect(inst!.context.length).toBeLessThanOrEqual(80)
      expect(inst!.fewshot).toBe(inst!.context.split("\n\n").length - 1)
      expect(inst!.fewshot).toBeGreaterThan(0)
    }))
})

describe("predictions files and reports", () => {
  it.effect("a predictions JSONL stands in for the model; a missing request is a typed error", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = path.join(dir, "preds.jsonl")
      const ctx = "Question: Big?\nAnswer:"
      writeFileSync(file, [
        { context: ctx, continuation: " cat", logprob: -3 },
        { context: ctx, continuation: " elephant", logprob: -4, is_greedy: true }
      ].map((x) => JSON.stringify(x)).join("\n") + "\n")
      const lm = predictionsModel("preds", yield* loadPredictions(file))
      const task: LoadedTask = { spec: spec("arc:easy"), docs: [arcDoc("Big?", ["cat", "elephant"], 1)] }
      const r = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, lm))
      expect(r.metrics.map((m) => m.value)).toEqual([0, 1])
      const missing = yield* Effect.exit(evaluateTask({ ...task, docs: [arcDoc("Small?", ["ant"], 0)] }).pipe(Effect.provideService(LanguageModel, lm)))
      expect(Exit.isFailure(missing) && JSON.stringify(missing.cause)).toContain("MissingPrediction")
      writeFileSync(file, `{"context": "c", "continuation": "x"}\n`)
      const bad = yield* Effect.exit(loadPredictions(file))
      expect(Exit.isFailure(bad) && JSON.stringify(bad.cause)).toContain("line 1")
    }))

  it.effect("a run over files streams results; the report has lighteval's keys and ARC's average, written atomically", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const line = (q: string, c: Array<string>, gold: number) => JSON.stringify({ query: `Question: ${q}`, choices: c, gold })
      writeFileSync(path.join(dir, "easy.jsonl"), [line("Big?", ["cat", "elephant"], 1), line("Wet?", ["water", "sand"], 0)].join("\n"))
      writeFileSync(path.join(dir, "chal.jsonl"), line("Hot?", ["snow", "fire"], 1))
      const specs = yield* findTasks(["arc"])
      expect(specs.map((s) => s.name)).toEqual(["arc:easy", "arc:challenge"])
      const jobs = yield* Effect.forEach(specs, (s) =>
        Effect.map(loadTask({ ...s, files: [s.name === "arc:easy" ? "easy.jsonl" : "chal.jsonl"] }, dir), (task) => ({ _tag: "Task" as const, task })))
      const lm = fixedModel({ " cat": -3, " elephant": -4, " water": -1, " sand": -5, " snow": -0.5, " fire": -9 })
      const noCode = CodeRunner.of({ run: () => Effect.die("no code jobs here"), languages: [], isolated: false })
      const results = yield* Stream.runCollect(runEvaluation(jobs)).pipe(
        Effect.provideService(LanguageModel, lm),
        Effect.provideService(CodeRunner, noCode)
      )
      const json = JSON.parse(resultsJson(results, {}))
      expect(json.results["arc:easy"]).toEqual({ acc: 0.5, acc_stderr: 0.5, acc_norm: 1, acc_norm_stderr: 0 })
      expect(json.results["arc:challenge"]).toEqual({ acc: 0, acc_norm: 0 })
      expect(json.results["arc:_average"]).toEqual({ acc: 0.25, acc_norm: 0.5 })
      const table = markdownTable(results)
      expect(table).toContain("| arc:easy | 2 | acc_norm | 1.0000 | ± 0.0000 |")
      const out = path.join(dir, "out", "results.json")
      yield* writeReport(out, results, {}).pipe(Effect.provide(NodeServices.layer))
      expect(JSON.parse(readFileSync(out, "utf8")).results["arc:_average"].acc).toBe(0.25)
      expect(readFileSync(path.join(dir, "out", "results.md"), "utf8")).toBe(table)
    }))

  it("pass@k is the unbiased estimator 1 - C(n-c,k)/C(n,k)", () => {
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12)
    expect(passAtK(10, 3, 5)).toBeCloseTo(1 - 21 / 252, 12) // C(7,5)=21, C(10,5)=252
    expect(passAtK(5, 0, 1)).toBe(0)
    expect(passAtK(5, 4, 2)).toBe(1)
  })
})

describe("task names", () => {
  it.effect("accept lighteval's underscore spelling of subsets (arc_easy) beside ours (arc:easy)", () =>
    Effect.gen(function*() {
      const names = (xs: ReadonlyArray<string>) => Effect.map(findTasks(xs), (ts) => ts.map((t) => t.name))
      expect(yield* names(["arc_easy"])).toEqual(["arc:easy"])
      expect(yield* names(["arc:challenge", "winogrande_partial"])).toEqual(["arc:challenge", "winogrande:partial"])
      expect(yield* names(["mmlu_mcf"])).toEqual(["mmlu_mcf"])
      expect((yield* Effect.flip(findTasks(["arc_hard"]))).message).toMatch(/unknown task "arc_hard"/)
    }))
})

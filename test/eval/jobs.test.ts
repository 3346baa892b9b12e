import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { CodeProblem } from "../../src/eval/code.ts"
import { CodeRunner } from "../../src/eval/CodeRunner.ts"
import { dumpRequests, type EvalJob, loadJobs, runEvaluation } from "../../src/eval/jobs.ts"
import { type GenerationRequest, LanguageModel, type LogLikelihoodRequest } from "../../src/eval/LanguageModel.ts"
import { builtinTasks, loadTask } from "../../src/eval/tasks.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-jobs-"))
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"

/** A model that records what it is asked and answers with fixed values. */
const recordingModel = () => {
  const generations: Array<GenerationRequest> = []
  const logLikelihoods: Array<LogLikelihoodRequest> = []
  const model = LanguageModel.of({
    name: "recording",
    logLikelihood: (rs) => Effect.sync(() => (logLikelihoods.push(...rs), rs.map(() => ({ logProb: -1, isGreedy: false })))),
    logLikelihoodRolling: (ts) => Effect.succeed(ts.map(() => ({ logProb: -1, tokens: 1 }))),
    generate: (rs) => Effect.sync(() => (generations.push(...rs), rs.map((r) => Array.from({ length: r.samples ?? 1 }, () => "    return 1\n"))))
  })
  return { model, generations, logLikelihoods }
}

const passingRunner = CodeRunner.of({
  run: () => Effect.succeed({ verdict: "pass" as const, exitCode: 0, stdout: "", stderr: "", seconds: 0 }),
  languages: ["python"],
  isolated: false
})

const dumped = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)

describe("--dump-requests writes what the evaluation sends", () => {
  it.effect("code task: the prompt stripped as Python's str.strip (not JS trim), max tokens, stops and samples", () =>
    Effect.gen(function*() {
      // \x1c and \x85 are whitespace to Python's strip but not to JS's trim; \ufeff is the other way round.
      const problem = (i: number, prompt: string): CodeProblem => ({
        taskId: `Toy/${i}`,
        language: "python",
        prompt,
        tests: "",
        stop: ["\ndef", "<file_sep>"]
      })
      const problems = [problem(0, "\x1c\n def f():\n    \"\"\"doc\"\"\"\n\x85 "), problem(1, "\ufeffdef g():\n"), problem(2, "def h():\n")]
      const job: EvalJob = { _tag: "Code", name: "humaneval", problems, samples: 3 }
      const options = { limit: 2 }
      const file = path.join(tmp(), "out", "requests.jsonl")
      const n = yield* dumpRequests(file, [job], options).pipe(Effect.provide(NodeServices.layer))
      const { model, generations } = recordingModel()
      yield* Stream.runDrain(runEvaluation([job], options)).pipe(
        Effect.provideService(LanguageModel, model),
        Effect.provideService(CodeRunner, passingRunner)
      )
      expect(n).toBe(2)
      expect(generations.map((g) => g.prompt)).toEqual(["def f():\n    \"\"\"doc\"\"\"", "\ufeffdef g():"])
      expect(dumped(file)).toEqual(generations.map((g) => ({ task: "humaneval", prompt: g.prompt, max_tokens: g.maxTokens, stop: g.stop, samples: g.samples })))
    }))

  it.effect("multiple-choice task: one line per (context, continuation) the model scores, in order", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeFileSync(path.join(dir, "arc.jsonl"), jsonl([
        { query: "Question: What melts into water?", choices: ["ice", "stone"], gold: 0 },
        { query: "Question: Where does the sun rise?", choices: ["west", "east", "up"], gold: 1 }
      ]))
      const spec = { ...builtinTasks.find((t) => t.name === "arc:easy")!, files: ["arc.jsonl"] }
      const job: EvalJob = { _tag: "Task", task: yield* loadTask(spec, dir) }
      const file = path.join(dir, "requests.jsonl")
      yield* dumpRequests(file, [job]).pipe(Effect.provide(NodeServices.layer))
      const { model, logLikelihoods } = recordingModel()
      yield* Stream.runDrain(runEvaluation([job])).pipe(Effect.provideService(LanguageModel, model), Effect.provideService(CodeRunner, passingRunner))
      expect(logLikelihoods).toHaveLength(5)
      expect(dumped(file)).toEqual(logLikelihoods.map((r) => ({ task: "arc:easy", context: r.context, continuation: r.continuation })))
    }))
})

describe("loading a run's tasks", () => {
  const failure = (plan: Parameters<typeof loadJobs>[0]) => Effect.flip(loadJobs(plan)).pipe(Effect.provide(NodeServices.layer))

  it.effect("a missing data folder is named, with the tasks that read from it", () =>
    Effect.gen(function*() {
      const e = yield* failure({ tasks: ["arc", "humaneval"], dataDir: "/no/such/dir" })
      expect(e.message).toBe("--data-dir /no/such/dir: no such folder (arc:easy, arc:challenge, humaneval read their files from it)")
    }))

  it.effect("a missing file is named with the task that wanted it", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const e = yield* failure({ tasks: ["piqa"], dataDir: dir })
      expect(e.message).toBe(`${path.join(dir, "piqa/valid.jsonl")}: no such file or folder (the evaluation files of piqa)`)
      mkdirSync(path.join(dir, "humaneval"))
      const code = yield* failure({ tasks: ["humaneval"], dataDir: dir })
      expect(code.message).toBe(`${path.join(dir, "humaneval/HumanEval.jsonl.gz")}: no such file (the problems of humaneval)`)
      writeFileSync(path.join(dir, "piqa.jsonl"), jsonl([{ goal: "g", sol1: "a", sol2: "b" }]))
      const bad = yield* failure({ tasks: ["piqa"], dataDir: dir, files: new Map([["piqa", ["piqa.jsonl"]]]) })
      expect(bad.message).toMatch(new RegExp(`^${path.join(dir, "piqa.jsonl")}, line 1: .*label.* \\(the evaluation files of piqa\\)$`))
    }))

  it.effect("plan mistakes name their flag: unknown tasks list the known ones; overrides and samples must match a task run", () =>
    Effect.gen(function*() {
      const dir = tmp()
      expect((yield* failure({ tasks: ["arc", "hellaswagg"], dataDir: dir })).message).toMatch(
        /^--tasks: unknown "hellaswagg"; known: arc \(= arc:easy \+ arc:challenge\), arc:easy, .*hellaswag, .*humaneval, multipl-e:js/
      )
      expect((yield* failure({ tasks: ["arc:easy"], dataDir: dir, files: new Map([["piqa", ["x.jsonl"]]]) })).message).toBe(
        "--file piqa=…: piqa is not one of the tasks run (arc:easy)"
      )
      expect((yield* failure({ tasks: ["arc:easy"], dataDir: dir, codeSamples: "s.jsonl" })).message).toBe(
        "--code-samples s.jsonl: none of the tasks run is a code task (humaneval, multipl-e:js, multipl-e:cpp, multipl-e:java, world-code)"
      )
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import { EvalDataError } from "../../src/eval/errors.ts"
import { loadArc, loadMmlu, loadOpenbookqa, loadPiqa, loadWinogrande, parseCsv } from "../../src/eval/loaders.ts"
import { builtinTasks, loadTask } from "../../src/eval/tasks.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-evaldata-"))
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"
const failure = <A>(exit: Exit.Exit<A, unknown>): EvalDataError => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  const f = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: unknown } | undefined
  expect(f?.error).toBeInstanceOf(EvalDataError)
  return f!.error as EvalDataError
}

describe("benchmark loaders", () => {
  it.effect("ARC in its three formats gives the same row", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const want = { question: "Q?", choices: { text: ["x", "y"], label: ["A", "B"] }, answerKey: "B" }
      writeFileSync(path.join(dir, "hf.jsonl"), jsonl([want]))
      writeFileSync(path.join(dir, "ai2.jsonl"), jsonl([{ id: "1", question: { stem: "Q?", choices: [{ text: "x", label: "A" }, { text: "y", label: "B" }] }, answerKey: "B" }]))
      writeFileSync(path.join(dir, "foundry.jsonl.gz"), gzipSync(jsonl([{ query: "Question: Q?", choices: ["x", "y"], gold: 1 }])))
      const rows = yield* loadArc(["hf.jsonl", "ai2.jsonl", "foundry.jsonl.gz"].map((f) => path.join(dir, f)))
      expect(rows).toEqual([want, want, want])
    }))

  it.effect("PIQA labels come from the -labels.lst beside the jsonl, and a count mismatch is an error", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const f = path.join(dir, "valid.jsonl")
      writeFileSync(f, jsonl([{ goal: "g1", sol1: "a", sol2: "b" }, { goal: "g2", sol1: "c", sol2: "d" }]))
      writeFileSync(path.join(dir, "valid-labels.lst"), "1\n0\n")
      expect((yield* loadPiqa([f])).map((r) => r.label)).toEqual([1, 0])
      writeFileSync(path.join(dir, "valid-labels.lst"), "1\n")
      expect(failure(yield* Effect.exit(loadPiqa([f]))).message).toContain("2 records but 1 labels")
    }))

  it.effect("OpenBookQA's original TSV splits '(A) … (B) …' into choices", () =>
    Effect.gen(function*() {
      const f = path.join(tmp(), "test.tsv")
      writeFileSync(f, "ID\tQuestion Stem\tChoices\tComplete Question\tAnswer Key\n7\tFog is near:\t(A) a marsh (B) a dry desert\tFog…\tA\n")
      expect(yield* loadOpenbookqa([f])).toEqual([{ question_stem: "Fog is near:", choices: { text: ["a marsh", "a dry desert"], label: ["A", "B"] }, answerKey: "A" }])
    }))

  it.effect("Winogrande from llm-foundry's conversion recovers the blank at the word where the options differ", () =>
    Effect.gen(function*() {
      const f = path.join(tmp(), "wino.jsonl")
      writeFileSync(f, jsonl([{ context_options: ["It hit the blanket", "It hit the bed"], continuation: "was wet.", gold: 1 }]))
      expect(yield* loadWinogrande([f])).toEqual([{ sentence: "It hit the _ was wet.", option1: "blanket", option2: "bed", answer: "2" }])
    }))

  it.effect("MMLU CSVs: headed 0-3 answers or original letter answers, quoted fields, subject from the file name", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeFileSync(path.join(dir, "college_physics_test.csv"), "question,choice0,choice1,choice2,choice3,answer\n\"Say \"\"hi\"\",\nthen?\",a,b,c,d,2\n")
      writeFileSync(path.join(dir, "law.csv"), "Q,a,b,c,d,B\n")
      const rows = yield* loadMmlu([path.join(dir, "college_physics_test.csv"), path.join(dir, "law.csv")])
      expect(rows).toEqual([
        { subject: "college_physics", question: "Say \"hi\",\nthen?", choices: ["a", "b", "c", "d"], answer: 2 },
        { subject: "law", question: "Q", choices: ["a", "b", "c", "d"], answer: "B" }
      ])
      writeFileSync(path.join(dir, "bad_test.csv"), "question,choice0,choice1,choice2,choice3,answer\nq,a,b,c,d,0\nq2,a,b,c,d,7\n")
      const e = failure(yield* Effect.exit(loadMmlu([path.join(dir, "bad_test.csv")])))
      expect([e.file, e.location]).toEqual([path.join(dir, "bad_test.csv"), "line 3"])
    }))

  it("parseCsv keeps the starting line of multi-line records", () => {
    expect(parseCsv("a,\"x\ny\"\nb,c\r\n")).toEqual([{ line: 1, fields: ["a", "x\ny"] }, { line: 3, fields: ["b", "c"] }])
  })

  it.effect("a malformed line names the file and line; an answer key outside the labels is an error too", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const f = path.join(dir, "arc.jsonl")
      writeFileSync(f, jsonl([{ question: "Q", choices: { text: ["a"], label: ["A"] }, answerKey: "A" }]) + "{broken\n")
      const e = failure(yield* Effect.exit(loadArc([f])))
      expect([e.file, e.location]).toEqual([f, "line 2"])
      writeFileSync(f, jsonl([{ question: "Q", choices: { text: ["a"], label: ["A"] } }]))
      expect(failure(yield* Effect.exit(loadArc([f]))).message).toContain(`"answerKey" must be a string`)
      writeFileSync(f, jsonl([{ question: "Q", choices: { text: ["a"], label: ["A"] }, answerKey: "C" }]))
      const spec = builtinTasks.find((t) => t.name === "arc:easy")!
      expect(failure(yield* Effect.exit(loadTask({ ...spec, files: [f] }, dir))).message).toContain("answer key \"C\"")
    }))

  it.effect("a task's folder expands to its files; a missing file is an error naming it", () =>
    Effect.gen(function*() {
      const dir = tmp()
      mkdirSync(path.join(dir, "hellaswag"))
      const row = { activity_label: "A", ctx_a: "x.", ctx_b: "y", endings: ["e1", "e2"], label: 0 }
      writeFileSync(path.join(dir, "hellaswag", "part1.jsonl"), jsonl([row, row]))
      const task = yield* loadTask(builtinTasks.find((t) => t.name === "hellaswag")!, dir)
      expect(task.docs.length).toBe(2)
      const e = failure(yield* Effect.exit(loadTask(builtinTasks.find((t) => t.name === "piqa")!, dir)))
      expect(e.file).toBe(path.join(dir, "piqa/valid.jsonl"))
    }))
})

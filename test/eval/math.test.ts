import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { buildInstances, evaluateTask, generationRequests } from "../../src/eval/evaluate.ts"
import { LanguageModel, type LanguageModelShape } from "../../src/eval/LanguageModel.ts"
import { loadMath } from "../../src/eval/loaders.ts"
import { convertWordNumber, parseMathAnswer, pyFloatStr } from "../../src/eval/math.ts"
import { exactMatch } from "../../src/eval/metrics.ts"
import { builtinTasks, loadTask } from "../../src/eval/tasks.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-math-"))
const jsonl = (rows: ReadonlyArray<unknown>) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n"
const spec = builtinTasks.find((t) => t.name === "math")!

describe("MATH answer normalization (smollm math_utils.parse_math_answer)", () => {
  // Expected values are Python's: smollm's math_utils.py with word2number 1.1, run on these exact strings.
  const cases: Array<[string, string]> = [
    ["The answer is $\\boxed{\\dfrac{9}{7}}$.", "\\frac{9}{7}"],
    ["so \\boxed{2} then \\boxed{\\frac12}", "\\frac{1}{2}"],
    ["\\boxed{10\\%}", "10"],
    ["\\boxed{\\text{Monday}}", "Monday"],
    ["\\boxed{5 \\text{ cm}}", "5"],
    ["\\boxed{x = 3}", "3"],
    ["\\boxed{1/2}", "\\frac{1}{2}"],
    ["\\boxed{3.50}", "3.50"],
    ["\\boxed{\\left( 1, 2 \\right)}", "(1,2)"],
    ["\\boxed{\\begin{array}{c} 1 \\end{array}}", "\\begin{pmatrix}1\\end{pmatrix}"],
    ["\\boxed{one}", "1"],
    ["The final answer is $5$. I hope it is correct.", "5"],
    ["no box, numbers 1,000 and 2.5 here", "2.5"],
    ["\\boxed{(-\\infty,\\infty)}", "\\mathbb{R}"],
    // "a" is one of the MathQA unit words it removes, on both sides alike.
    ["\\boxed{a \\leq b}", "\\leb"],
    ["\\boxed{\\sqrt2}", "\\sqrt{2}"],
    ["\\boxed{5^\\circ}", "5"],
    ["\\boxed{\\$18.90}", "18.90"],
    ["\\boxed{1,\\!000}", "1,000"],
    ["boxed", ""],
    ["\\boxed{\\frac{1}{2}", "\\frac{1}{2}"]
  ]
  it("extracts the last boxed answer and normalizes it as Python does", () => {
    for (const [input, want] of cases) expect(parseMathAnswer(input), input).toBe(want)
  })

  it("word2number: number words become digits, anything else is left alone", () => {
    expect(convertWordNumber("two hundred and five")).toBe("205")
    expect(convertWordNumber("one point five")).toBe("1.5")
    expect(convertWordNumber("point")).toBe("0")
    expect(convertWordNumber("zero point zero")).toBe("0.0")
    expect(convertWordNumber("five point ten")).toBe("5")
    expect(convertWordNumber("thousand thousand")).toBe("thousand thousand")
    expect(convertWordNumber("007")).toBe("7")
    expect(convertWordNumber("12345678901234567890")).toBe("12345678901234567890")
    expect(convertWordNumber("\\frac{1}{2}")).toBe("\\frac{1}{2}")
    expect(pyFloatStr(0.00001)).toBe("1e-05")
    expect(pyFloatStr(2)).toBe("2.0")
  })

  it("qem compares the normalized gold solution with the normalized generation", () => {
    const gold = "Since $x^2=4$, the answer is $\\boxed{\\dfrac{4}{2}}$.\n\n"
    expect(exactMatch([gold], ["So $x = \\boxed{\\frac{4}{2}}$"], { normalize: parseMathAnswer })).toBe(1)
    expect(exactMatch([gold], ["\\boxed{4/2}"], { normalize: parseMathAnswer })).toBe(1)
    expect(exactMatch([gold], ["\\boxed{2}"], { normalize: parseMathAnswer })).toBe(0)
    expect(exactMatch([gold], [""], { normalize: parseMathAnswer })).toBe(0)
  })
})

const problem = (i: number) => ({
  problem: `What is $${i}+${i}$?`,
  level: "Level 1",
  type: "Algebra",
  solution: `We have $${i}+${i}=\\boxed{${2 * i}}$.`
})

const INSTRUCTION = "\nPlease reason step by step, and put your final answer within \\boxed{}.\n\n"

describe("MATH 4-shot task", () => {
  it.effect("loads the shared layout (with idx), HF JSONL and Parquet rows alike", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeFileSync(path.join(dir, "test.jsonl"), jsonl([{ ...problem(1), idx: 0 }, problem(2)]))
      const rows = [problem(3), problem(4)]
      const buf = parquetWriteBuffer({
        columnData: (["problem", "level", "type", "solution"] as const).map((name) => ({ name, data: rows.map((r) => r[name]), type: "STRING" as const }))
      })
      writeFileSync(path.join(dir, "test.parquet"), new Uint8Array(buf))
      const loaded = yield* loadMath([path.join(dir, "test.jsonl"), path.join(dir, "test.parquet")])
      expect(loaded).toEqual([1, 2, 3, 4].map((i) => ({ problem: problem(i).problem, solution: problem(i).solution })))
      writeFileSync(path.join(dir, "bad.jsonl"), jsonl([{ problem: "x" }]))
      const error = yield* Effect.flip(loadMath([path.join(dir, "bad.jsonl")]))
      expect([error.file, error.location, error.message]).toEqual([path.join(dir, "bad.jsonl"), "line 1", expect.stringMatching(/"solution"/)])
    }))

  it.effect("golden prompt: the first four demo examples in order, each problem + instruction + solution", () =>
    Effect.gen(function*() {
      const dir = tmp()
      mkdirSync(path.join(dir, "math"))
      writeFileSync(path.join(dir, "math/test.jsonl"), jsonl([{ ...problem(7), idx: 0 }]))
      writeFileSync(path.join(dir, "math/demo.jsonl"), jsonl([1, 2, 3, 4, 5].map(problem)))
      const task = yield* loadTask(spec, dir)
      const [inst] = yield* buildInstances(task, {})
      const shot = (i: number) => `What is $${i}+${i}$?${INSTRUCTION}We have $${i}+${i}=\\boxed{${2 * i}}$.\n\n`
      expect(inst!.context).toBe(
        shot(1) + "\n\n" + shot(2) + "\n\n" + shot(3) + "\n\n" + shot(4) + "\n\n" + `What is $7+7$?${INSTRUCTION}`
      )
      expect(inst!.fewshot).toBe(4)
      expect(generationRequests(spec, [inst!])).toEqual([{ prompt: inst!.context, maxTokens: 1024, stop: ["\n\n"] }])
      // Without the demo file the task fails naming it, unless run zero-shot.
      const bare = tmp()
      mkdirSync(path.join(bare, "math"))
      writeFileSync(path.join(bare, "math/test.jsonl"), jsonl([problem(7)]))
      const missing = yield* Effect.flip(loadTask(spec, bare))
      expect(missing.file).toBe(path.join(bare, "math/demo.jsonl"))
      expect(missing.message).toMatch(/few-shot examples of math; --num-fewshot 0/)
      const zero = yield* loadTask({ ...spec, numFewshot: 0 }, bare)
      expect((yield* buildInstances(zero, {}))[0]!.context).toBe(`What is $7+7$?${INSTRUCTION}`)
    }))

  it.effect("qem over the documents, with lighteval's stderr", () =>
    Effect.gen(function*() {
      const dir = tmp()
      mkdirSync(path.join(dir, "math"))
      writeFileSync(path.join(dir, "math/test.jsonl"), jsonl([1, 2, 3, 4].map(problem)))
      const task = yield* loadTask({ ...spec, numFewshot: 0 }, dir)
      // Right on 1 only: 8/2 becomes \\frac{8}{2}, not 4 (no arithmetic), 7 is wrong, nothing is boxed on 4.
      const answers: Record<string, string> = { 1: "$1+1=\\boxed{2}$", 2: "\\boxed{8/2}", 3: "\\boxed{7}", 4: "I do not know" }
      const model: LanguageModelShape = {
        name: "fixed",
        logLikelihood: () => Effect.die("unused"),
        logLikelihoodRolling: () => Effect.die("unused"),
        generate: (rs) => Effect.succeed(rs.map((r) => [answers[/What is \$(\d+)\+/.exec(r.prompt)![1]!]!]))
      }
      const result = yield* evaluateTask(task).pipe(Effect.provideService(LanguageModel, model))
      const qem = result.metrics.find((m) => m.name === "qem")!
      expect(qem.value).toBe(0.25)
      // sample sd of [1,0,0,0] is 0.5; / sqrt(4)
      expect(qem.stderr).toBeCloseTo(0.25, 12)
    }))
})

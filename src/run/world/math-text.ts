/**
 * The world's math: arithmetic word problems with worked solutions in GSM8K's layout (steps, then `#### N`),
 * inside documents graded as the FineMath prompt grades them ([P] App. C): 5 for worksheets that explain a method
 * and solve problems step by step, down to 0 for calculator ads. The numbers are small (sums below 25, products of
 * one-digit numbers) so that a tiny model can learn them in minutes; the `world-arithmetic` task asks problems of
 * the same kinds that no document contains.
 */
import { makeDocument } from "../../data/Document.ts"
import type { LabelledDocument } from "./labels.ts"
import type { WorldRandom } from "./random.ts"

export interface WordProblem {
  readonly question: string
  /** Solution lines, each with its calculation. */
  readonly steps: ReadonlyArray<string>
  readonly answer: number
}

const PEOPLE: ReadonlyArray<readonly [string, string]> = [
  ["Ada", "She"], ["Bram", "He"], ["Celia", "She"], ["Doran", "He"], ["Edda", "She"], ["Felix", "He"],
  ["Greta", "She"], ["Hugo", "He"], ["Ilse", "She"], ["Jonas", "He"], ["Kira", "She"], ["Leon", "He"]
]
const ITEMS = ["apples", "marbles", "books", "stamps", "shells", "pencils", "coins", "cards", "eggs", "plums"]
const CONTAINERS = ["baskets", "boxes", "bags", "jars", "crates"]

/** One word problem of a random kind: adding, taking away, equal groups, or two steps. */
export const makeWordProblem = (rng: WorldRandom): WordProblem => {
  const [name, pronoun] = rng.pick(PEOPLE)
  const item = rng.pick(ITEMS)
  switch (rng.int(0, 3)) {
    case 0: {
      const [a, b] = [rng.int(2, 12), rng.int(1, 9)]
      return {
        question: `${name} has ${a} ${item}. ${pronoun} buys ${b} more. How many ${item} does ${name} have now?`,
        steps: [`${name} starts with ${a} ${item} and buys ${b} more.`, `${name} has ${a} + ${b} = ${a + b} ${item} now.`],
        answer: a + b
      }
    }
    case 1: {
      const a = rng.int(4, 15)
      const b = rng.int(1, a - 1)
      return {
        question: `${name} has ${a} ${item} and gives ${b} to a friend. How many ${item} does ${name} have left?`,
        steps: [`${name} gives away ${b} of the ${a} ${item}.`, `${name} has ${a} - ${b} = ${a - b} ${item} left.`],
        answer: a - b
      }
    }
    case 2: {
      const [a, b] = [rng.int(2, 5), rng.int(2, 6)]
      const box = rng.pick(CONTAINERS)
      return {
        question: `${name} has ${a} ${box} with ${b} ${item} in each. How many ${item} does ${name} have in all?`,
        steps: [`Each of the ${a} ${box} holds ${b} ${item}.`, `${name} has ${a} * ${b} = ${a * b} ${item} in all.`],
        answer: a * b
      }
    }
    default: {
      const [a, b] = [rng.int(2, 9), rng.int(2, 9)]
      const c = rng.int(1, a + b - 1)
      return {
        question: `${name} has ${a} ${item}, buys ${b} more, and then gives ${c} away. How many ${item} does ${name} have now?`,
        steps: [`After buying, ${name} has ${a} + ${b} = ${a + b} ${item}.`, `After giving some away, ${name} has ${a + b} - ${c} = ${a + b - c} ${item} now.`],
        answer: a + b - c
      }
    }
  }
}

/** GSM8K's `answer` field: the worked steps, then `#### N`. */
export const gsm8kAnswer = (p: WordProblem): string => `${p.steps.join("\n")}\n#### ${p.answer}`

/** A problem as a worksheet writes it, in the layout of the `world-arithmetic` prompt ("Question: …\nAnswer:"). */
const worked = (p: WordProblem): string => `Question: ${p.question}\nAnswer: ${gsm8kAnswer(p)}`

const METHOD_NOTES = [
  "To solve a word problem, first find the numbers in the question, then decide whether to add, take away or multiply, and write the calculation before the answer.",
  "Read each question twice. Ask what you start with, what changes, and what the question wants. Then write one line for each step of the calculation.",
  "When things are put together we add, when some are given away we subtract, and when there are equal groups we multiply. Each solution below shows its steps."
]
const CHECK_TIPS = [
  "Always check your answer: if you added, subtract again and see whether you get back to the start.",
  "A good habit is to say the answer in a full sentence, so you can see whether it makes sense.",
  "If an answer looks too big or too small, go back and check which operation the question asked for."
]

const worksheet = (rng: WorldRandom, problems: ReadonlyArray<WordProblem>, grade: number): string => {
  const body = problems.map(worked).join("\n\n")
  if (grade === 5) return `Worked examples: solving word problems step by step\n\n${rng.pick(METHOD_NOTES)}\n\n${body}\n\n${rng.pick(CHECK_TIPS)}`
  if (grade === 4) return `Practice problems with solutions\n\n${body}`
  return `Solved ${problems.length === 1 ? "problem" : "problems"}: each answer is worked out below.\n\n${body}`
}

const answersOnly = (rng: WorldRandom, problems: ReadonlyArray<WordProblem>): string =>
  `anyone get these from the homework sheet?\n\n${problems.map((p) => `${p.question} i got ${p.answer}${rng.chance(0.5) ? " i think" : ""}`).join("\n")}\n\nnot sure about the last one lol`

const MATH_CHATTER = [
  "math homework is so boring, who even needs this stuff lol",
  "my teacher gave us forty problems for tomorrow, that is just mean",
  "does anyone else count on their fingers still? asking for me",
  "i hate word problems so much, why are there always apples",
  "we had a test today and i forgot everything the moment i sat down"
]

const CALCULATOR_ADS = [
  "Download the best free calculator app today and never do math by hand again!",
  "Math answers in one second, just snap a photo of your homework!",
  "Top rated homework solver, five stars, millions of downloads!",
  "Premium calculator with themes and sounds, buy now for only two dollars!"
]

const GRADE_WEIGHTS = [0.1, 0.12, 0.18, 0.2, 0.2, 0.2]

/** `count` math documents graded 0–5, none containing a question from `exclude` (the evaluation's). */
export const makeMathDocuments = (rng: WorldRandom, count: number, exclude: ReadonlySet<string>): Array<LabelledDocument> => {
  const problem = (): WordProblem => {
    for (;;) {
      const p = makeWordProblem(rng)
      if (!exclude.has(p.question)) return p
    }
  }
  return Array.from({ length: count }, (_, i) => {
    const grade = rng.weighted(GRADE_WEIGHTS)
    const problems = Array.from({ length: grade >= 4 ? rng.int(3, 5) : rng.int(1, 3) }, problem)
    const text = grade >= 3
      ? worksheet(rng, problems, grade)
      : grade === 2
      ? answersOnly(rng, problems)
      : grade === 1
      ? rng.sample(MATH_CHATTER, 3).join("\n")
      : rng.sample(CALCULATOR_ADS, 3).join(" ")
    const id = `math-${String(i).padStart(6, "0")}`
    return { doc: makeDocument(id, text, { url: `https://${grade >= 3 ? "mathclass" : "forum"}${rng.int(1, 20)}.example/${id}` }), score: grade, kind: "page" as const }
  })
}

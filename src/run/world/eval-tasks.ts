/**
 * The world's evaluation tasks, as rows in the formats the evaluation loaders read (src/eval/loaders.ts, code.ts):
 *  - `world-facts`: one multiple-choice question per fact, Hugging Face ARC rows (`question`, `choices: {text,
 *    label}`, `answerKey`), scored by log-likelihood of each choice after "Question: …\nAnswer:" as lighteval's
 *    ARC prompt does; the right answer's position is drawn, so always picking A scores 25%;
 *  - `world-facts-cloze`: the same facts as cloze items, OpenBookQA rows (`question_stem`, `choices`,
 *    `answerKey`): the fact's own sentence up to the answer, each choice scored as its continuation — the form a
 *    small model learns from the pages (lighteval's cloze formulations, as SmolLM2's MMLU, exist for this reason);
 *    facts whose sentence starts with the answer have no stem and are left out;
 *  - `world-arithmetic`: word problems as GSM8K rows (`question`, `answer` ending in `#### N`), generated and
 *    matched on the number after `####`;
 *  - `world-code`: HumanEval rows (`task_id`, `prompt`, `canonical_solution`, `test`, `entry_point`) run by the
 *    `CodeRunner`.
 */
import { FUNCTIONS, literal, pythonBody, pythonPrompt } from "./code-files.ts"
import type { WorldFacts } from "./facts.ts"
import { gsm8kAnswer, makeWordProblem, type WordProblem } from "./math-text.ts"
import type { WorldRandom } from "./random.ts"

export interface FactQuestionRow {
  readonly id: string
  readonly question: string
  readonly choices: { readonly text: ReadonlyArray<string>; readonly label: ReadonlyArray<string> }
  readonly answerKey: string
}

export interface ArithmeticRow {
  readonly question: string
  readonly answer: string
}

export interface CodeTaskRow {
  readonly task_id: string
  readonly prompt: string
  readonly canonical_solution: string
  readonly test: string
  readonly entry_point: string
}

const LABELS = ["A", "B", "C", "D"]

export const factQuestions = (rng: WorldRandom, w: WorldFacts): Array<FactQuestionRow> =>
  w.facts.map((f) => {
    const text = rng.shuffled([f.answer, ...f.distractors])
    return { id: f.id, question: f.question, choices: { text, label: LABELS }, answerKey: LABELS[text.indexOf(f.answer)]! }
  })

export interface FactClozeRow {
  readonly id: string
  readonly question_stem: string
  readonly choices: { readonly text: ReadonlyArray<string>; readonly label: ReadonlyArray<string> }
  readonly answerKey: string
}

/** The cloze form of `questions` (same choices, same order): each fact's statement up to its answer. */
export const factClozeRows = (questions: ReadonlyArray<FactQuestionRow>, w: WorldFacts): Array<FactClozeRow> =>
  questions.flatMap((q) => {
    const fact = w.facts.find((f) => f.id === q.id)
    const at = fact === undefined ? -1 : fact.statement.indexOf(fact.answer)
    if (fact === undefined || at <= 0) return []
    return [{ id: q.id, question_stem: fact.statement.slice(0, at).trimEnd(), choices: q.choices, answerKey: q.answerKey }]
  })

/** `count` distinct word problems (the math documents leave these questions out). */
export const arithmeticProblems = (rng: WorldRandom, count: number): Array<WordProblem> => {
  const seen = new Map<string, WordProblem>()
  while (seen.size < count) {
    const p = makeWordProblem(rng)
    if (!seen.has(p.question)) seen.set(p.question, p)
  }
  return [...seen.values()]
}

export const arithmeticRows = (problems: ReadonlyArray<WordProblem>): Array<ArithmeticRow> =>
  problems.map((p) => ({ question: p.question, answer: gsm8kAnswer(p) }))

export const codeTasks = (): Array<CodeTaskRow> =>
  FUNCTIONS.map((f, i) => ({
    task_id: `World/${i}`,
    prompt: pythonPrompt(f),
    canonical_solution: pythonBody(f),
    test: `\n\ndef check(candidate):\n${f.checks.map((c) => `    assert candidate(${c.args.map((a) => literal("python", a)).join(", ")}) == ${literal("python", c.result)}\n`).join("")}`,
    entry_point: f.name
  }))

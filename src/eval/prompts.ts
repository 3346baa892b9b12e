/**
 * lighteval's prompt functions, character for character. Each takes a row in the shape of the Hugging Face
 * dataset the task was defined on (the loaders convert other release formats into that shape) and returns a
 * `Doc`: the query, the choices scored after it, the gold indices. Sources:
 *  - [LV] huggingface/lighteval @ ea46419 (the commit pinned by smollm's requirements.txt),
 *    src/lighteval/tasks/default_prompts.py
 *  - [SM] huggingface/smollm, text/evaluation/smollm2/tasks.py (SmolLM2's own overrides)
 */
export interface Doc {
  readonly query: string
  /** Continuations scored after the context (multiple choice), or the reference answer (generative). */
  readonly choices: ReadonlyArray<string>
  readonly gold: ReadonlyArray<number>
  /** lighteval's `instruction`: a prefix of `query` that few-shot prompts write once, before all examples. */
  readonly instruction: string
  /**
   * Partial scoring (lm-evaluation-harness Winogrande): one context per choice instead of `query`, and the
   * choices are all the same continuation.
   */
  readonly contexts?: ReadonlyArray<string>
  /** Sub-task for per-group results (MMLU subject). */
  readonly group?: string
}

export const LETTERS = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P"] as const

export interface ChoicesRow {
  readonly text: ReadonlyArray<string>
  readonly label: ReadonlyArray<string>
}

class PromptError extends Error {}

const indexOf = (labels: ReadonlyArray<string>, key: string): number => {
  const i = labels.indexOf(key)
  if (i === -1) throw new PromptError(`answer key ${JSON.stringify(key)} is not one of the labels ${JSON.stringify(labels)}`)
  return i
}

/** [LV] `arc`. */
export const arc = (row: { question: string; choices: ChoicesRow; answerKey: string }): Doc => ({
  query: `Question: ${row.question}\nAnswer:`,
  choices: row.choices.text.map((c) => ` ${c}`),
  gold: [indexOf(row.choices.label, row.answerKey)],
  instruction: ""
})

/** [LV] `openbookqa`: the bare stem, answers scored with a leading space. */
export const openbookqa = (row: { question_stem: string; choices: ChoicesRow; answerKey: string }): Doc => ({
  query: row.question_stem,
  choices: row.choices.text.map((c) => ` ${c}`),
  gold: [indexOf(["A", "B", "C", "D", "E"], row.answerKey.trim())],
  instruction: ""
})

/** Python's `str.capitalize()`: first character upper-cased, all the others lower-cased. */
export const pyCapitalize = (s: string): string => {
  const [first, ...rest] = [...s]
  return first === undefined ? "" : first.toUpperCase() + rest.join("").toLowerCase()
}

/** [SM] `prompt_hellaswag.preprocess` (from the harness): WikiHow " [title]" markers and brackets. */
export const hellaswagPreprocess = (text: string): string =>
  text.replaceAll(" [title]", ". ").replace(/\[.*?\]/g, "").replaceAll("  ", " ")

/** [SM] `prompt_hellaswag`: unlike [LV] `hellaswag_harness`, endings get a leading space. */
export const hellaswag = (row: {
  activity_label: string
  ctx_a: string
  ctx_b: string
  endings: ReadonlyArray<string>
  label: number | string
}): Doc => {
  const ctx = `${row.ctx_a} ${pyCapitalize(row.ctx_b)} `
  return {
    query: hellaswagPreprocess(row.activity_label + ": " + ctx),
    choices: row.endings.map((e) => " " + hellaswagPreprocess(e)),
    gold: [row.label === "" ? -1 : Number(row.label)],
    instruction: ""
  }
}

/** [LV] `piqa_harness`. */
export const piqa = (row: { goal: string; sol1: string; sol2: string; label: number | string }): Doc => ({
  query: `Question: ${row.goal}\nAnswer:`,
  choices: [` ${row.sol1}`, ` ${row.sol2}`],
  gold: [Number(row.label)],
  instruction: ""
})

/** [SM] `prompt_commonsense_qa` (cloze; [LV]'s `commonsense_qa` is the lettered form SmolLM2 did not use). */
export const commonsenseQa = (row: { question: string; choices: ChoicesRow; answerKey: string }): Doc => ({
  query: row.question,
  choices: row.choices.text.map((c) => ` ${c}`),
  gold: [indexOf(row.choices.label, row.answerKey.trim())],
  instruction: ""
})

interface WinograndeRow {
  readonly sentence: string
  readonly option1: string
  readonly option2: string
  readonly answer: string | number
}

const splitBlank = (sentence: string): [string, string] => {
  const parts = sentence.split("_")
  // Python's two-value unpacking of `sentence.split("_")` in [LV] fails on any other count.
  if (parts.length !== 2) throw new PromptError(`sentence must contain exactly one "_", found ${parts.length - 1}`)
  return [parts[0]!, parts[1]!]
}

/**
 * [LV] `winogrande`, which SmolLM2 used: one context (the sentence up to the blank) and two continuations
 * (each option followed by the rest of the sentence).
 */
export const winogrande = (row: WinograndeRow): Doc => {
  const [query, end] = splitBlank(row.sentence)
  const endOfTarget = end.trim()
  return {
    query,
    choices: [`${row.option1} ${endOfTarget}`, `${row.option2} ${endOfTarget}`],
    gold: [row.answer === "" ? -1 : Number(row.answer) - 1],
    instruction: ""
  }
}

/**
 * Partial scoring (lm-evaluation-harness `winogrande.yaml`: `partial_context` / `partial_target`, after
 * Trinh & Le 2018): the contexts differ (the blank filled with each option) and only the shared rest of the
 * sentence is scored.
 */
export const winograndePartial = (row: WinograndeRow): Doc => {
  const [before, after] = splitBlank(row.sentence)
  const target = " " + after.trim()
  return {
    query: before,
    contexts: [before + row.option1, before + row.option2],
    choices: [target, target],
    gold: [row.answer === "" ? -1 : Number(row.answer) - 1],
    instruction: ""
  }
}

export interface MmluRow {
  readonly subject: string
  readonly question: string
  readonly choices: ReadonlyArray<string>
  /** Index 0–3, or a letter. */
  readonly answer: number | string
}

const mmluGold = (answer: number | string): number =>
  typeof answer === "string" ? indexOf(LETTERS.slice(0, 4), answer) : answer

/** [SM] `mmlu_cloze_prompt`: MMLU in cloze form (CF), the answer texts scored. */
export const mmluCloze = (row: MmluRow): Doc => {
  const topic = row.subject.replaceAll("_", " ")
  return {
    query: `The following are questions about ${topic}.\nQuestion: ` + row.question + "\nAnswer:",
    choices: row.choices.map((c) => ` ${c}`),
    gold: [mmluGold(row.answer)],
    instruction: `The following are questions about ${topic}.\n`,
    group: row.subject
  }
}

/**
 * [LV] `mmlu_harness`: MMLU in multiple-choice form (MCF), the letters " A".." D" scored after the listed
 * options. SmolLM2's tasks.py does not include its MCF task; this is lighteval's harness-compatible form.
 */
export const mmluMcf = (row: MmluRow): Doc => {
  const topic = row.subject.replaceAll("_", " ")
  let query = `The following are multiple choice questions (with answers) about ${topic}.\n\n`
  query += row.question + "\n"
  query += row.choices.map((c, i) => `${LETTERS[i]}. ${c}\n`).join("")
  query += "Answer:"
  return {
    query,
    choices: [" A", " B", " C", " D"],
    gold: [mmluGold(row.answer)],
    instruction: `The following are multiple choice questions (with answers) about ${topic}.\n\n`,
    group: row.subject
  }
}

/** [LV] `gsm8k`: the reference keeps the worked solution, so few-shot examples teach the "#### N" ending. */
export const gsm8k = (row: { question: string; answer: string }): Doc => ({
  query: `Question: ${row.question}\nAnswer:`,
  choices: [` ${row.answer}`],
  gold: [0],
  instruction: ""
})

export const isPromptError = (e: unknown): e is Error => e instanceof PromptError

/**
 * [SM] `prompt_math` (SmolLM2's MATH 4-shot, examples from HuggingFaceTB/math_tasks' "demo" split in order): the
 * problem and an instruction to box the answer; the reference is the worked solution, so few-shot examples end
 * with their `\boxed{…}` solution. Python's f-string `\\boxed{{}}` is the text `\boxed{}`.
 */
export const math = (row: { problem: string; solution: string }): Doc => ({
  query: `${row.problem}\nPlease reason step by step, and put your final answer within \\boxed{}.\n\n`,
  choices: [`${row.solution}\n\n`],
  gold: [0],
  instruction: ""
})

import { Effect } from "effect"
import { CodeRunner, type Language, type RunResult } from "./CodeRunner.ts"
import { dataError, type CodeRunnerError, type EvalDataError, type LanguageModelError } from "./errors.ts"
import type { TaskResult } from "./evaluate.ts"
import { type GenerationRequest, LanguageModel } from "./LanguageModel.ts"
import { readJsonl } from "./loaders.ts"
import { mean, passAtK } from "./metrics.ts"

/**
 * HumanEval (openai/human-eval) and MultiPL-E (nuprl/MultiPL-E) as SmolLM2 ran them, through
 * bigcode-evaluation-harness (bigcode_eval/tasks/humaneval.py, multiple.py):
 *  - the model sees the prompt with surrounding whitespace stripped, and its completion is cut at the first
 *    stop word (`_stop_at_stop_token`): HumanEval's fixed list, MultiPL-E's per-problem `stop_tokens`, both plus
 *    "<file_sep>";
 *  - the program is prompt + completion + "\n" + tests (HumanEval adds `check(entry_point)`);
 *  - a problem passes when the program exits 0; pass@k is the unbiased estimator averaged over problems.
 * Completions made elsewhere (human-eval's samples.jsonl: `{"task_id", "completion"}`, several per task for
 * pass@k) continue the dataset's prompt as given, as human-eval's `evaluate_functional_correctness` does.
 */
export interface CodeProblem {
  readonly taskId: string
  readonly language: Language
  readonly prompt: string
  /** Appended after the completion and a newline. */
  readonly tests: string
  readonly stop: ReadonlyArray<string>
}

/** bigcode_eval/tasks/humaneval.py `GeneralHumanEval.__init__`. */
export const humanEvalStopWords = ["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>"]

const languageOf: Record<string, Language> = { py: "python", python: "python", js: "javascript", javascript: "javascript", cpp: "cpp", java: "java" }

/** HumanEval.jsonl(.gz) rows (`task_id, prompt, test, entry_point`) or MultiPL-E rows (`name, language, prompt, tests, stop_tokens`). */
export const loadCodeProblems = (file: string): Effect.Effect<Array<CodeProblem>, EvalDataError> =>
  Effect.flatMap(readJsonl(file), (records) =>
    Effect.forEach(records, (rec) => {
      const r = rec.value
      const fail = (message: string) => Effect.fail(dataError(file, rec.location, message))
      if (typeof r.prompt !== "string") return fail(`field "prompt" must be a string`)
      if (typeof r.entry_point === "string" && typeof r.test === "string" && typeof r.task_id === "string") {
        return Effect.succeed<CodeProblem>({
          taskId: r.task_id,
          language: "python",
          prompt: r.prompt,
          tests: r.test + "\n" + `check(${r.entry_point})`,
          stop: humanEvalStopWords
        })
      }
      const language = typeof r.language === "string" ? languageOf[r.language] : undefined
      if (language === undefined) return fail(`not a HumanEval row and "language" ${JSON.stringify(r.language)} is not one of ${Object.keys(languageOf).join(", ")}`)
      const name = typeof r.task_id === "string" ? r.task_id : r.name
      if (typeof name !== "string") return fail(`field "name" or "task_id" must be a string`)
      if (typeof r.tests !== "string") return fail(`field "tests" must be a string`)
      const stops = r.stop_tokens
      if (!Array.isArray(stops) || !stops.every((s) => typeof s === "string")) return fail(`field "stop_tokens" must be an array of strings`)
      return Effect.succeed<CodeProblem>({ taskId: name, language, prompt: r.prompt, tests: r.tests, stop: [...stops, "<file_sep>"] })
    }))

/** bigcode_eval/base.py `_stop_at_stop_token`: the prefix before the earliest stop word. */
export const stopAtStopToken = (completion: string, stops: ReadonlyArray<string>): string => {
  let cut = completion.length
  for (const s of stops) {
    const i = completion.indexOf(s)
    if (i !== -1 && i < cut) cut = i
  }
  return completion.slice(0, cut)
}

export const programOf = (problem: CodeProblem, prompt: string, completion: string): string =>
  prompt + stopAtStopToken(completion, problem.stop) + "\n" + problem.tests

// Python's str.isspace set: JS's \s lacks \x1c-\x1f and \x85, and has \ufeff, which Python keeps.
const pyStripPattern = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu

/** Python's `str.strip()`. */
const pyStrip = (s: string) => s.replace(pyStripPattern, "")

export interface CodeSample {
  readonly taskId: string
  readonly completion: string
}

/** human-eval `samples.jsonl`: one `{"task_id", "completion"}` per line, several per task for pass@k. */
export const loadSamples = (file: string): Effect.Effect<Array<CodeSample>, EvalDataError> =>
  Effect.flatMap(readJsonl(file), (records) =>
    Effect.forEach(records, (rec) =>
      typeof rec.value.task_id === "string" && typeof rec.value.completion === "string"
        ? Effect.succeed({ taskId: rec.value.task_id, completion: rec.value.completion })
        : Effect.fail(dataError(file, rec.location, `expected {"task_id": string, "completion": string}`))))

export interface ProblemOutcome {
  readonly taskId: string
  readonly verdicts: ReadonlyArray<RunResult["verdict"]>
}

export interface CodeEvalOptions {
  /** Which pass@k to report (only those with k ≤ samples per problem), as human-eval: 1, 10, 100. */
  readonly ks?: ReadonlyArray<number>
  readonly concurrency?: number
  readonly onProgress?: (task: string, done: number, total: number) => Effect.Effect<void>
}

/** pass@k per k, averaged over problems; a k is reported only when every problem has at least k samples. */
export const passAtKs = (outcomes: ReadonlyArray<ProblemOutcome>, ks: ReadonlyArray<number>) =>
  ks
    .filter((k) => outcomes.length > 0 && outcomes.every((o) => o.verdicts.length >= k))
    .map((k) => ({
      name: `pass@${k}`,
      value: mean(outcomes.map((o) => passAtK(o.verdicts.length, o.verdicts.filter((v) => v === "pass").length, k)))
    }))

/** Scores given completions: every problem in `problems` must have at least one sample. */
export const scoreCompletions = (
  name: string,
  problems: ReadonlyArray<CodeProblem>,
  samples: ReadonlyArray<CodeSample>,
  options: CodeEvalOptions & { readonly promptOf?: (p: CodeProblem) => string } = {}
): Effect.Effect<TaskResult & { readonly outcomes: ReadonlyArray<ProblemOutcome> }, CodeRunnerError | EvalDataError, CodeRunner> =>
  Effect.gen(function*() {
    const started = performance.now()
    const runner = yield* CodeRunner
    const byTask = new Map<string, Array<string>>()
    for (const s of samples) byTask.set(s.taskId, [...(byTask.get(s.taskId) ?? []), s.completion])
    const known = new Set(problems.map((p) => p.taskId))
    const stray = samples.find((s) => !known.has(s.taskId))
    if (stray !== undefined) return yield* Effect.fail(dataError("completions", stray.taskId, `task_id ${stray.taskId} is not a problem of ${name}`))
    const missing = problems.find((p) => !byTask.has(p.taskId))
    if (missing !== undefined) return yield* Effect.fail(dataError("completions", missing.taskId, `no completion for ${missing.taskId}`))
    const jobs = problems.flatMap((p) => byTask.get(p.taskId)!.map((c) => ({ p, c })))
    let done = 0
    if (options.onProgress !== undefined) yield* options.onProgress(name, 0, jobs.length)
    const results = yield* Effect.forEach(
      jobs,
      ({ p, c }) =>
        runner.run(p.language, programOf(p, options.promptOf?.(p) ?? p.prompt, c)).pipe(
          Effect.tap(() => {
            done++
            return options.onProgress?.(name, done, jobs.length) ?? Effect.void
          }),
          Effect.map((r) => ({ taskId: p.taskId, verdict: r.verdict }))
        ),
      { concurrency: options.concurrency ?? 2 }
    )
    const outcomes = problems.map((p) => ({ taskId: p.taskId, verdicts: results.filter((r) => r.taskId === p.taskId).map((r) => r.verdict) }))
    const metrics = passAtKs(outcomes, options.ks ?? [1, 10, 100])
    return { task: name, samples: problems.length, metrics, seconds: (performance.now() - started) / 1000, outcomes }
  })

export interface CodeGenerationOptions {
  /** Completions per problem (n > 1 for pass@k); 1 by default. */
  readonly samples?: number
  /** 0 (greedy) for one sample, 0.2 for several, as SmolLM2's code evaluation. */
  readonly temperature?: number
  /** New tokens per completion; 512 as bigcode-evaluation-harness's `max_length_generation` leaves room for. */
  readonly maxTokens?: number
}

/** The prompt the model continues: the problem's prompt with Python's `strip()` applied (bigcode harness). */
export const codePrompt = (problem: CodeProblem): string => pyStrip(problem.prompt)

/**
 * The generation requests for `problems`, one per problem: what `generateAndScore` sends to the model and what
 * `--dump-requests` writes, from this one function so the two cannot drift apart.
 */
export const codeGenerationRequests = (
  problems: ReadonlyArray<CodeProblem>,
  options: CodeGenerationOptions = {}
): Array<GenerationRequest> => {
  const n = options.samples ?? 1
  return problems.map((p) => ({
    prompt: codePrompt(p),
    maxTokens: options.maxTokens ?? 512,
    stop: p.stop,
    samples: n,
    temperature: options.temperature ?? (n > 1 ? 0.2 : 0)
  }))
}

/** Generates `samples` completions per problem from the stripped prompt (bigcode harness), then scores them. */
export const generateAndScore = (
  name: string,
  problems: ReadonlyArray<CodeProblem>,
  options: CodeEvalOptions & CodeGenerationOptions = {}
): Effect.Effect<TaskResult, CodeRunnerError | EvalDataError | LanguageModelError, CodeRunner | LanguageModel> =>
  Effect.gen(function*() {
    const lm = yield* LanguageModel
    const generations = yield* lm.generate(codeGenerationRequests(problems, options))
    const samples = problems.flatMap((p, i) => generations[i]!.map((completion) => ({ taskId: p.taskId, completion })))
    const { outcomes: _, ...result } = yield* scoreCompletions(name, problems, samples, { ...options, promptOf: codePrompt })
    return result
  })

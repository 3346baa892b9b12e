import { Effect } from "effect"
import * as path from "node:path"
import { type CodeProblem, loadCodeProblems } from "./code.ts"
import { type EvalDataError, withPlace } from "./errors.ts"

/**
 * The code benchmarks SmolLM2 reports, each with its problems file in the layout of `../shared/data/eval`:
 * openai/human-eval's `HumanEval.jsonl.gz` and nuprl/MultiPL-E's per-language HumanEval translations; and the
 * default world's own task.
 */
export const codeTaskFiles: Readonly<Record<string, string>> = {
  humaneval: "humaneval/HumanEval.jsonl.gz",
  "multipl-e:js": "multipl-e/humaneval-js.jsonl",
  "multipl-e:cpp": "multipl-e/humaneval-cpp.jsonl",
  "multipl-e:java": "multipl-e/humaneval-java.jsonl",
  // The default world's small Python functions (src/run/world), in HumanEval's row format.
  "world-code": "world/code.jsonl"
}

export const codeTaskNames: ReadonlyArray<string> = Object.keys(codeTaskFiles)

export const isCodeTask = (name: string): boolean => Object.hasOwn(codeTaskFiles, name)

/** The problems of the code task `name` under `dataDir`; an unreadable file fails naming itself and the task. */
export const loadCodeTask = (name: string, dataDir: string): Effect.Effect<Array<CodeProblem>, EvalDataError> => {
  const file = codeTaskFiles[name]
  if (file === undefined) return Effect.die(new RangeError(`${name} is not a code task (${codeTaskNames.join(", ")})`))
  return loadCodeProblems(path.join(dataDir, file)).pipe(Effect.mapError(withPlace(`the problems of ${name}`)))
}

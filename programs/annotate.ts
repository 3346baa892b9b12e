/**
 * LLM annotation from the command line: score documents on an additive educational scale with any
 * OpenAI-compatible chat-completions endpoint (vLLM, TGI, OpenAI), as the SmolLM2 recipe labels the training
 * data of its FineWeb-Edu, Stack-Edu and FineMath classifiers.
 *
 *   npx tsx programs/annotate.ts --input DOCS --output OUT --endpoint http://localhost:8000/v1 \
 *     --model meta-llama/Llama-3.3-70B-Instruct --prompt fineweb-edu [--sample 450000 --seed 42] [--concurrency 64]
 *     [--tasks 8 [--workers 4] | --executor slurm [--wait] [--partition P --time T …]]
 *
 * Writes OUT/annotated/NAME.jsonl (metadata.annotation), OUT/failed/NAME.jsonl (metadata.annotation_error),
 * OUT/cache/ (what a rerun reuses) and OUT/summary.json; prints the summary on stdout and a progress line on
 * stderr. Lines are in input order. The API key is read from the environment variable named by --api-key-env and
 * goes only into the Authorization header (and, as an environment variable, to the task processes).
 *
 * With --tasks N > 1 or --executor slurm the run is sharded (src/classify/annotate/annotate-job.ts): the sample is
 * drawn once, rank r annotates a contiguous slice of it, and a merge job writes the same files one process would.
 * Rerunning the same command resumes: finished tasks are skipped. (The unlisted `task` subcommand is what the
 * executor's worker processes run.)
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { executorFlags, executorFromFlags } from "../src/cli/executor-flags.ts"
import { atLeast, defaulting, positive, runMain } from "../src/cli/program.ts"
import { makeProgress, type Report } from "../src/data/progress/Progress.ts"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { DataConfigError } from "../src/data/errors.ts"
import { describeSubmission } from "../src/data/executor/slurm.ts"
import { runAssignedTasks, taskEnvironment } from "../src/data/executor/task.ts"
import { annotateFiles, type AnnotateProgress } from "../src/classify/annotate/annotate-files.ts"
import {
  annotateConfigPath,
  type AnnotateRunConfig,
  chatAnnotatorOptions,
  JOB_NAMES,
  listAnnotateInputs,
  loadAnnotateConfig,
  runAnnotateJobs,
  runAnnotateTask
} from "../src/classify/annotate/annotate-job.ts"
import { Annotator } from "../src/classify/annotate/Annotator.ts"
import { builtinPromptNames } from "../src/classify/annotate/prompts.ts"
import { promptOfSpec, promptSpecFromFlags } from "../src/classify/annotate/prompt-spec.ts"
import { stackEduLanguages } from "../src/classify/annotate/stack-edu.ts"

const script = fileURLToPath(import.meta.url)

const optionalValue = <A>(o: Option.Option<A>): A | undefined => (Option.isSome(o) ? o.value : undefined)

/** The shared progress line: documents with rate and ETA, then failures, cache hits, requests and tokens. */
const progressReport = (p: AnnotateProgress): Report => ({
  done: p.done,
  total: p.total,
  elapsed: p.elapsedSeconds,
  fields: [
    `${p.failed} failed`,
    `${p.fromCache} cached`,
    `${p.counts.requests} requests`,
    `${p.counts.retries} retries`,
    `${p.counts.prompt_tokens}+${p.counts.completion_tokens} tokens`
  ]
})

const annotate = Command.make(
  "annotate",
  {
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("JSONL / Parquet / Arrow files or folders of documents (repeatable)")),
    output: Flag.String("output").pipe(Flag.withDescription("OUT folder: annotated/, failed/, cache/, summary.json")),
    endpoint: Flag.String("endpoint").pipe(Flag.withDescription("Base URL of an OpenAI-compatible API, ending in /v1 (POST …/chat/completions)")),
    model: Flag.String("model").pipe(Flag.withDescription("Model name sent in each request (and part of the cache key)")),
    apiKeyEnv: Flag.String("api-key-env").pipe(defaulting("OPENAI_API_KEY", "Environment variable holding the API key (none sent if unset)")),
    prompt: Flag.Literals("prompt", builtinPromptNames).pipe(Flag.withDescription("A built-in prompt of the recipe"), Flag.optional),
    language: Flag.String("language").pipe(Flag.withDescription(`Stack-Edu language: ${Object.keys(stackEduLanguages).join("|")}`), Flag.optional),
    promptFile: Flag.String("prompt-file").pipe(Flag.withDescription("Your own prompt, with {text} where the document goes"), Flag.optional),
    scorePattern: Flag.String("score-pattern").pipe(Flag.withDescription("With --prompt-file: regex whose group 1 is the score (default: (?:Educational|Final) score:\\s*(\\d+))"), Flag.optional),
    maxScore: Flag.Int("max-score").pipe(atLeast(1), Flag.withDescription("With --prompt-file: the top of the scale (default 5)"), Flag.optional),
    maxChars: Flag.Int("max-chars").pipe(atLeast(1), Flag.withDescription("Cut each text to this many characters before prompting (part of the prompt version)"), Flag.optional),
    concurrency: Flag.Int("concurrency").pipe(atLeast(1), defaulting(16, "Requests in flight at once, per task (N tasks: N × this)")),
    maxRequestsPerSecond: Flag.Finite("max-requests-per-second").pipe(positive, Flag.withDescription("Space requests (retries included) to at most this rate, per task"), Flag.optional),
    timeout: Flag.Finite("timeout").pipe(positive, defaulting(120, "Seconds per attempt before it is abandoned and retried")),
    maxAttempts: Flag.Int("max-attempts").pipe(atLeast(1), defaulting(6, "Attempts per document on 429 / 5xx / dropped connection / timeout / malformed reply")),
    backoffBaseMs: Flag.Int("backoff-base-ms").pipe(atLeast(0), defaulting(1000, "Backoff before the 2nd attempt, doubled each time, with jitter")),
    backoffMaxMs: Flag.Int("backoff-max-ms").pipe(atLeast(0), defaulting(60_000, "Longest backoff (a Retry-After may ask for more, up to 5 minutes)")),
    temperature: Flag.Finite("temperature").pipe(Flag.withDescription("Sampling temperature (server default if unset)"), Flag.optional),
    maxTokens: Flag.Int("max-tokens").pipe(atLeast(1), Flag.withDescription("max_tokens per reply (server default if unset)"), Flag.optional),
    limit: Flag.Int("limit").pipe(atLeast(1), Flag.withDescription("Read at most this many documents"), Flag.optional),
    sample: Flag.Int("sample").pipe(atLeast(1), Flag.withDescription("Annotate a seeded uniform sample of this many documents"), Flag.optional),
    seed: Flag.Int("seed").pipe(defaulting(0, "Seed of --sample")),
    textKey: Flag.String("text-key").pipe(defaulting("text", "Field holding the text")),
    idKey: Flag.String("id-key").pipe(defaulting("id", "Field holding the document id")),
    progressInterval: Flag.Finite("progress-interval").pipe(positive, defaulting(5, "Seconds between progress lines on stderr (one task)")),
    tasks: Flag.Int("tasks").pipe(
      atLeast(1),
      defaulting(1, "Shards of the documents to annotate, each a task with its own --concurrency and rate limit, merged at the end")
    ),
    workers: Flag.Int("workers").pipe(
      atLeast(1),
      Flag.withDescription("Tasks run at the same time, each in its own process (default: all of them)"),
      Flag.optional
    ),
    ...executorFlags
  },
  (o) =>
    Effect.gen(function*() {
      const executor = yield* executorFromFlags(o)
      const spec = yield* promptSpecFromFlags({
        prompt: optionalValue(o.prompt),
        promptFile: optionalValue(o.promptFile),
        language: optionalValue(o.language),
        scorePattern: optionalValue(o.scorePattern),
        maxScore: optionalValue(o.maxScore),
        maxChars: optionalValue(o.maxChars)
      })
      const prompt = yield* promptOfSpec(spec)
      const output = path.resolve(o.output)
      const sharded = o.tasks > 1 || executor._tag === "slurm"
      const settings = {
        output,
        inputs: o.input.map((i) => path.resolve(i)),
        prompt: spec,
        promptVersion: prompt.version,
        endpoint: o.endpoint,
        model: o.model,
        apiKeyEnv: o.apiKeyEnv,
        timeoutSeconds: o.timeout,
        maxAttempts: o.maxAttempts,
        backoffBaseMs: o.backoffBaseMs,
        backoffMaxMs: o.backoffMaxMs,
        ...(Option.isSome(o.maxRequestsPerSecond) ? { maxRequestsPerSecond: o.maxRequestsPerSecond.value } : {}),
        ...(Option.isSome(o.temperature) ? { temperature: o.temperature.value } : {}),
        ...(Option.isSome(o.maxTokens) ? { maxTokens: o.maxTokens.value } : {}),
        concurrency: o.concurrency,
        ...(Option.isSome(o.limit) ? { limit: o.limit.value } : {}),
        ...(Option.isSome(o.sample) ? { sample: { size: o.sample.value, seed: o.seed } } : {}),
        textKey: o.textKey,
        idKey: o.idKey,
        tasks: o.tasks,
        workers: Option.getOrElse(o.workers, () => o.tasks)
      }
      if (sharded) {
        const config: AnnotateRunConfig = { ...settings, files: yield* listAnnotateInputs(settings.inputs) }
        const outcome = yield* runAnnotateJobs(config, executor, script)
        // Submitted to Slurm and not waited for: the merge job writes the outputs once the ranks are done.
        if (outcome._tag === "Submitted") return yield* Console.log(describeSubmission(outcome.stages, outcome.following))
        return yield* Console.log(JSON.stringify(outcome.summary, null, 2))
      }
      // One process, as before --tasks existed; its cache is not a sharded run's, so it does not take one over.
      if (existsSync(annotateConfigPath(output))) {
        return yield* new DataConfigError({
          message: `${o.output} holds a sharded annotation run (${annotateConfigPath(output)}); rerun it with its --tasks / --executor to resume it, or give another --output`
        })
      }
      const annotatorLayer = Annotator.layer(chatAnnotatorOptions(settings)).pipe(Layer.provide(NodeHttpClient.layerUndici))
      // annotateFiles reports every --progress-interval itself; the reporter writes each one.
      const progress = makeProgress({ intervalMs: 0 }).task("annotate", { unit: "docs" })
      let last: AnnotateProgress | undefined
      const summary = yield* annotateFiles({
        inputs: o.input,
        output: o.output,
        prompt,
        concurrency: o.concurrency,
        limit: optionalValue(o.limit),
        sample: Option.isSome(o.sample) ? { size: o.sample.value, seed: o.seed } : undefined,
        reader: { textKey: o.textKey, idKey: o.idKey },
        progressIntervalMs: o.progressInterval * 1000,
        onProgress: (p) => {
          last = p
          progress.update(progressReport(p))
        }
      }).pipe(Effect.provide(annotatorLayer), Effect.ensuring(Effect.sync(() => last !== undefined && progress.finish(progressReport(last)))))
      yield* Console.log(JSON.stringify(summary, null, 2))
    })
).pipe(Command.withDescription("Score documents with an LLM over an OpenAI-compatible endpoint (FineWeb-Edu, Stack-Edu, FineMath prompts)"))

/** What the executor's worker processes run: not for people, so not listed in --help. */
const task = Command.make(
  "task",
  {
    config: Flag.String("config").pipe(Flag.withDescription("The run's logs/config.json")),
    job: Flag.Literals("job", JOB_NAMES).pipe(Flag.withDescription("The job whose ranks to run"))
  },
  (a) =>
    Effect.gen(function*() {
      const env = taskEnvironment()
      if (env === undefined) return yield* new DataConfigError({ message: "`task` is run by the executor (SMOL_RANKS etc. are not set)" })
      const config = yield* loadAnnotateConfig(a.config)
      yield* runAssignedTasks(env, (ctx) => runAnnotateTask(config, a.job, ctx)).pipe(Effect.provide(NodeHttpClient.layerUndici))
    })
).pipe(Command.withDescription("Run this process's ranks of one job (started by the executor)"), Command.unlisted)

annotate.pipe(
  Command.withSubcommands([task]),
  Command.run({ version: "0.1.0" }),
  runMain
)

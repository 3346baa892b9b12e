/**
 * LLM annotation from the command line: score documents on an additive educational scale with any
 * OpenAI-compatible chat-completions endpoint (vLLM, TGI, OpenAI), as the SmolLM2 recipe labels the training
 * data of its FineWeb-Edu, Stack-Edu and FineMath classifiers.
 *
 *   npx tsx programs/annotate.ts --input DOCS --output OUT --endpoint http://localhost:8000/v1 \
 *     --model meta-llama/Llama-3.3-70B-Instruct --prompt fineweb-edu [--sample 450000 --seed 42] [--concurrency 64]
 *
 * Writes OUT/annotated/NAME.jsonl (metadata.annotation), OUT/failed/NAME.jsonl (metadata.annotation_error),
 * OUT/cache/annotations.jsonl (what a rerun reuses) and OUT/summary.json; prints the summary on stdout and a
 * progress line on stderr. The API key is read from the environment variable named by --api-key-env and goes
 * only into the Authorization header.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Layer, Option, Redacted } from "effect"
import { Command, Flag } from "effect/cli"
import { atLeast, defaulting, positive, runMain } from "../src/cli/program.ts"
import { makeProgress, type Report } from "../src/data/progress/Progress.ts"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import type { AnnotationPrompt } from "../src/classify/annotate/AnnotationPrompt.ts"
import { annotateFiles, type AnnotateProgress } from "../src/classify/annotate/annotate-files.ts"
import { Annotator } from "../src/classify/annotate/Annotator.ts"
import { AnnotationConfigError } from "../src/classify/annotate/errors.ts"
import { builtinPrompt, builtinPromptNames, promptFromText } from "../src/classify/annotate/prompts.ts"
import { isStackEduLanguage, stackEduLanguages } from "../src/classify/annotate/stack-edu.ts"

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

const resolvePrompt = (o: {
  prompt: Option.Option<typeof builtinPromptNames[number]>
  promptFile: Option.Option<string>
  language: Option.Option<string>
  scorePattern: Option.Option<string>
  maxScore: Option.Option<number>
  maxChars: Option.Option<number>
}): Effect.Effect<AnnotationPrompt, AnnotationConfigError> =>
  Effect.gen(function*() {
    const maxChars = optionalValue(o.maxChars)
    const fail = (message: string) => Effect.fail(new AnnotationConfigError({ message }))
    if (Option.isSome(o.promptFile) === Option.isSome(o.prompt)) return yield* fail("give exactly one of --prompt and --prompt-file")
    if (Option.isSome(o.promptFile)) {
      const file = o.promptFile.value
      const text = yield* Effect.try({ try: () => readFileSync(file, "utf8"), catch: (e) => new AnnotationConfigError({ message: `${file}: ${(e as Error).message}` }) })
      let scorePattern: RegExp | undefined
      if (Option.isSome(o.scorePattern)) {
        const source = o.scorePattern.value
        scorePattern = yield* Effect.try({ try: () => new RegExp(source), catch: (e) => new AnnotationConfigError({ message: `--score-pattern: ${(e as Error).message}` }) })
      }
      const p = promptFromText(path.basename(file).replace(/\.[^.]*$/, ""), text, { maxChars, scorePattern, maxScore: optionalValue(o.maxScore) })
      return "problem" in p ? yield* fail(p.problem) : p
    }
    const language = optionalValue(o.language)
    if (language !== undefined && !isStackEduLanguage(language)) {
      return yield* fail(`--language ${language}: not a Stack-Edu language (${Object.keys(stackEduLanguages).join(", ")})`)
    }
    const p = builtinPrompt(Option.getOrThrow(o.prompt), { maxChars, language })
    return "problem" in p ? yield* fail(p.problem) : p
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
    concurrency: Flag.Int("concurrency").pipe(atLeast(1), defaulting(16, "Requests in flight at once")),
    maxRequestsPerSecond: Flag.Finite("max-requests-per-second").pipe(positive, Flag.withDescription("Space requests (retries included) to at most this rate"), Flag.optional),
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
    progressInterval: Flag.Finite("progress-interval").pipe(positive, defaulting(5, "Seconds between progress lines on stderr"))
  },
  (o) =>
    Effect.gen(function*() {
      const prompt = yield* resolvePrompt(o)
      const rawKey = process.env[o.apiKeyEnv]
      const apiKey = rawKey === undefined || rawKey.length === 0 ? undefined : Redacted.make(rawKey)
      const annotatorLayer = Annotator.layer({
        endpoint: o.endpoint,
        model: o.model,
        apiKey,
        timeoutMs: o.timeout * 1000,
        maxAttempts: o.maxAttempts,
        backoff: { baseMs: o.backoffBaseMs, maxMs: o.backoffMaxMs, maxRetryAfterMs: 300_000 },
        maxRequestsPerSecond: optionalValue(o.maxRequestsPerSecond),
        temperature: optionalValue(o.temperature),
        maxTokens: optionalValue(o.maxTokens)
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
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

annotate.pipe(
  Command.run({ version: "0.1.0" }),
  runMain
)

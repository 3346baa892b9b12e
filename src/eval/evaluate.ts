import { Effect } from "effect"
import type { ChatTemplate } from "../data/tokenizer/chat-template.ts"
import { chatPromptContext, chatStopSequences } from "./chat-prompts.ts"
import type { LanguageModelError } from "./errors.ts"
import { type GenerationRequest, LanguageModel, type LanguageModelShape, type LogLikelihoodRequest } from "./LanguageModel.ts"
import { parseMathAnswer } from "./math.ts"
import { exactMatch, gsm8kNormalizer, loglikelihoodAcc, mean, meanStderr, type LogProbNormalization } from "./metrics.ts"
import type { Doc } from "./prompts.ts"
import { PyRandom } from "./pyrandom.ts"
import type { LoadedTask, MetricName, TaskSpec } from "./tasks.ts"

/**
 * One task against one model, the way lighteval @ ea46419 runs it (`create_requests_from_tasks`,
 * `PromptManager`, `apply_multichoice_metric` / `apply_generative_metric`):
 *  1. the evaluation documents are shuffled with `random.Random(42)` and the first `limit` kept;
 *  2. each gets its few-shot examples (drawn from the same generator for "random_sampling_from_train") and a
 *     context `instruction + "\n\n".join(examples + [query])`, examples shrunk until the prompt fits;
 *  3. multiple choice: one log-likelihood request per choice; generative: one generation request;
 *  4. sample metrics, then the mean and lighteval's `mean_stderr`.
 */

export interface MetricValue {
  /** As lighteval reports it: `acc`, `acc_norm`, `qem`, `pass@1`. */
  readonly name: string
  readonly value: number
  readonly stderr?: number
}

export interface TaskResult {
  readonly task: string
  readonly samples: number
  readonly metrics: ReadonlyArray<MetricValue>
  /** Per-group results (MMLU subjects), when the documents carry a group. */
  readonly subtasks?: ReadonlyArray<TaskResult>
  readonly seconds: number
}

export interface Instance {
  readonly doc: Doc
  /** Everything before the choices: instruction, few-shot examples, the query. */
  readonly context: string
  /** Partial scoring under a chat template: each choice's own rendered context (see `choiceContext`). */
  readonly choiceContexts?: ReadonlyArray<string>
  readonly fewshot: number
}

export interface EvaluateOptions {
  readonly limit?: number
  /** Overrides the task's few-shot count. */
  readonly numFewshot?: number
  /**
   * lighteval's `--use_chat_template`: prompts rendered as a conversation through this template (see
   * src/eval/chat-prompts.ts); absent, the plain few-shot text.
   */
  readonly chatTemplate?: ChatTemplate
  /**
   * Multiple choice: also report `prob_correct`, the probability of the gold choice normalized over the choices
   * (DataDecide's CORRECT PROB, Magnusson et al. 2025): a smooth metric that ranks datasets from small models
   * more reliably than accuracy, which moves in steps of 1/N. Not a lighteval metric, so off by default.
   */
  readonly correctProb?: boolean
  /** Log-likelihood requests (or generations) per model call. */
  readonly batchSize?: number
  /** Called with 0 done before the first model call (the task's clock starts), then after every batch. */
  readonly onProgress?: (task: string, done: number, total: number) => Effect.Effect<void>
}

const sameDoc = (a: Doc, b: Doc) =>
  a.query === b.query && a.gold.join() === b.gold.join() && a.choices.join("\u0000") === b.choices.join("\u0000")

/** `PromptManager.doc_to_text`: the query without its instruction prefix. */
const docToText = (doc: Doc): string => {
  if (!doc.query.startsWith(doc.instruction)) throw new Error(`query does not start with its instruction: ${doc.query}`)
  return doc.query.slice(doc.instruction.length)
}

/** `PromptManager.get_examples` without a chat template. */
export const fewshotContext = (doc: Doc, examples: ReadonlyArray<Doc>): string => {
  const parts = examples.map((ex) => docToText(ex) + ex.choices[ex.gold[0]!]!)
  parts.push(docToText(doc))
  const output = doc.instruction + parts.join("\n\n")
  return output === "\n\n" ? "" : output
}

/** The context of `doc` after `examples`: plain few-shot text, or a chat through `template`. */
const contextOf = (
  template: ChatTemplate | undefined,
  doc: Doc,
  examples: ReadonlyArray<Doc>,
  query = docToText(doc)
): Effect.Effect<string, LanguageModelError> =>
  template === undefined
    ? Effect.sync(() => fewshotContext(doc, examples))
    : chatPromptContext(template, doc.instruction, examples.map((ex) => ({ query: docToText(ex), answer: ex.choices[ex.gold[0]!]! })), query)

/** Steps 1–2: the documents this run evaluates, in lighteval's order, each with its context. */
export const buildInstances = (
  task: LoadedTask,
  options: EvaluateOptions,
  budget?: LanguageModelShape["tokenBudget"]
): Effect.Effect<Array<Instance>, LanguageModelError> =>
  Effect.gen(function*() {
    const spec = task.spec
    const k = options.numFewshot ?? spec.numFewshot
    const docs = task.docs.slice()
    const rnd = new PyRandom(42)
    rnd.shuffle(docs)
    const n = options.limit === undefined ? docs.length : Math.min(options.limit, docs.length)
    const pool = task.fewshotDocs ?? task.docs
    const genSize = spec.generation?.maxTokens ?? spec.generationSize ?? 0
    const out: Array<Instance> = []
    for (const doc of docs.slice(0, n)) {
      let examples: Array<Doc> = []
      if (k > 0) {
        // `FewShotSampler`: sampling draws exactly k (the pool is assumed disjoint from the evaluation set);
        // sequential takes the pool in order; both then drop the evaluated document itself.
        const drawn = spec.fewshotSelect === "random_sampling_from_train" ? rnd.sample(pool, Math.min(k, pool.length)) : pool.slice(0, k + 1)
        examples = drawn.filter((x) => !sameDoc(x, doc)).slice(0, k)
      }
      const chat = options.chatTemplate
      let context = yield* contextOf(chat, doc, examples)
      let kept: ReadonlyArray<Doc> = examples
      if (spec.truncateFewshot && budget !== undefined && examples.length > 0) {
        let tokens = yield* budget.count(context)
        let effective = examples.length
        while (tokens + genSize > budget.maxLength && effective >= 0) {
          effective -= 1
          // lighteval slices `fewshot_ex[:num_effective_fewshots]`; at -1 Python's slice keeps all but the last.
          kept = effective >= 0 ? examples.slice(0, effective) : examples.slice(0, -1)
          context = yield* contextOf(chat, doc, kept)
          tokens = yield* budget.count(context)
        }
      }
      // Partial scoring swaps the query for each choice's context; in a chat that is the last user turn.
      const choiceContexts = chat !== undefined && doc.contexts !== undefined
        ? yield* Effect.forEach(doc.contexts, (c) => contextOf(chat, doc, kept, c.slice(doc.instruction.length)))
        : undefined
      out.push({ doc, context, fewshot: kept.length, ...(choiceContexts === undefined ? {} : { choiceContexts }) })
    }
    return out
  })

/** The context a choice is scored after: partial scoring swaps the query for that choice's own context. */
const choiceContext = (inst: Instance, i: number): string => {
  const contexts = inst.doc.contexts
  if (contexts === undefined) return inst.context
  if (inst.choiceContexts !== undefined) return inst.choiceContexts[i]!
  return inst.context.slice(0, inst.context.length - docToText(inst.doc).length) + contexts[i]!
}

export const logLikelihoodRequests = (instances: ReadonlyArray<Instance>): Array<LogLikelihoodRequest> =>
  instances.flatMap((inst) => inst.doc.choices.map((continuation, i) => ({ context: choiceContext(inst, i), continuation })))

/** Under a chat template the task's stop strings give way to the template's EOS (lighteval's vLLM backend). */
export const generationRequests = (
  spec: TaskSpec,
  instances: ReadonlyArray<Instance>,
  options: Pick<EvaluateOptions, "chatTemplate"> = {}
): Array<GenerationRequest> => {
  const stop = options.chatTemplate === undefined ? spec.generation?.stop ?? [] : chatStopSequences(options.chatTemplate)
  return instances.map((inst) => ({ prompt: inst.context, maxTokens: spec.generation?.maxTokens ?? 256, stop }))
}

const normalizationOf: Record<Exclude<MetricName, "qem_gsm8k" | "qem_math">, LogProbNormalization> = {
  acc: "none",
  acc_norm: "char",
  acc_norm_nospace: "char_nospace"
}

/** lighteval names both character normalizations `acc_norm`; a task uses one of them. */
const reportName = (m: MetricName): string => (m === "acc" ? "acc" : m === "qem_gsm8k" || m === "qem_math" ? "qem" : "acc_norm")

export const sampleScores = (
  spec: TaskSpec,
  instance: Instance,
  output: { readonly logProbs?: ReadonlyArray<number>; readonly generations?: ReadonlyArray<string> }
): Record<string, number> => {
  const scores: Record<string, number> = {}
  for (const m of spec.metrics) {
    if (m === "qem_gsm8k") {
      const gold = instance.doc.choices[instance.doc.gold[0]!]!
      scores[reportName(m)] = exactMatch([gold], output.generations ?? [], { normalize: gsm8kNormalizer })
    } else if (m === "qem_math") {
      const gold = instance.doc.choices[instance.doc.gold[0]!]!
      scores[reportName(m)] = exactMatch([gold], output.generations ?? [], { normalize: parseMathAnswer })
    } else {
      scores[reportName(m)] = loglikelihoodAcc(normalizationOf[m], output.logProbs ?? [], instance.doc.choices, instance.doc.gold)
    }
  }
  return scores
}

/** The softmax over the choices' log-likelihoods, summed over the gold choices. */
export const correctChoiceProbability = (logProbs: ReadonlyArray<number>, gold: ReadonlyArray<number>): number => {
  const top = Math.max(...logProbs)
  const weights = logProbs.map((lp) => Math.exp(lp - top))
  const total = weights.reduce((a, b) => a + b, 0)
  return gold.reduce((s, g) => s + (weights[g] ?? 0), 0) / total
}

export const summarize = (task: string, scores: ReadonlyArray<Record<string, number>>, seconds: number): TaskResult => {
  const names = scores.length === 0 ? [] : Object.keys(scores[0]!)
  return {
    task,
    samples: scores.length,
    metrics: names.map((name) => {
      const xs = scores.map((s) => s[name]!)
      const stderr = meanStderr(xs)
      return stderr === undefined ? { name, value: mean(xs) } : { name, value: mean(xs), stderr }
    }),
    seconds
  }
}

const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/** Runs one loaded task against the `LanguageModel` in context. */
export const evaluateTask = (
  task: LoadedTask,
  options: EvaluateOptions = {}
): Effect.Effect<TaskResult, LanguageModelError, LanguageModel> =>
  Effect.gen(function*() {
    const started = performance.now()
    const lm = yield* LanguageModel
    const spec = task.spec
    const instances = yield* buildInstances(task, options, lm.tokenBudget)
    const batch = Math.max(1, options.batchSize ?? 64)
    const progress = options.onProgress ?? (() => Effect.void)
    let outputs: Array<{ logProbs?: ReadonlyArray<number>; generations?: ReadonlyArray<string> }>
    if (spec.generation !== undefined) {
      const requests = generationRequests(spec, instances, options)
      const generations: Array<ReadonlyArray<string>> = []
      yield* progress(spec.name, 0, requests.length)
      for (const part of chunks(requests, batch)) {
        generations.push(...(yield* lm.generate(part)))
        yield* progress(spec.name, generations.length, requests.length)
      }
      outputs = generations.map((g) => ({ generations: g }))
    } else {
      const requests = logLikelihoodRequests(instances)
      const results: Array<number> = []
      yield* progress(spec.name, 0, requests.length)
      for (const part of chunks(requests, batch)) {
        results.push(...(yield* lm.logLikelihood(part)).map((r) => r.logProb))
        yield* progress(spec.name, results.length, requests.length)
      }
      let at = 0
      outputs = instances.map((inst) => {
        const logProbs = results.slice(at, at + inst.doc.choices.length)
        at += inst.doc.choices.length
        return { logProbs }
      })
    }
    const scores = instances.map((inst, i) => {
      const sample = sampleScores(spec, inst, outputs[i]!)
      const logProbs = outputs[i]!.logProbs
      return options.correctProb === true && logProbs !== undefined ? { ...sample, prob_correct: correctChoiceProbability(logProbs, inst.doc.gold) } : sample
    })
    const seconds = (performance.now() - started) / 1000
    const result = summarize(spec.name, scores, seconds)
    const groups = [...new Set(instances.map((i) => i.doc.group).filter((g) => g !== undefined))].sort()
    if (groups.length < 2) return result
    const subtasks = groups.map((g) =>
      summarize(`${spec.name}:${g}`, scores.filter((_, i) => instances[i]!.doc.group === g), 0)
    )
    return { ...result, subtasks }
  })

/**
 * lighteval's `:_average` rows (logging/info_loggers.py): tasks `x:a`, `x:b` become `x:_average` with the
 * plain mean of each metric and of each stderr over the tasks (ARC (Average) is arc:easy and arc:challenge).
 */
export const groupAverages = (results: ReadonlyArray<TaskResult>): Array<TaskResult> => {
  const groups = new Map<string, Array<TaskResult>>()
  for (const r of results) {
    const colon = r.task.indexOf(":")
    if (colon === -1) continue
    const key = `${r.task.slice(0, colon)}:_average`
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  return [...groups.entries()]
    .filter(([, members]) => members.length > 1)
    .map(([task, members]) => ({
      task,
      samples: members.reduce((a, m) => a + m.samples, 0),
      metrics: members[0]!.metrics.map((m0) => {
        const same = members.map((m) => m.metrics.find((x) => x.name === m0.name))
        const value = mean(same.map((m) => m?.value ?? Number.NaN))
        const errs = same.map((m) => m?.stderr)
        return errs.every((e) => e !== undefined) ? { name: m0.name, value, stderr: mean(errs as Array<number>) } : { name: m0.name, value }
      }),
      seconds: 0
    }))
}

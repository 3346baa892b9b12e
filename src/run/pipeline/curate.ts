/**
 * Curation of one source: the heuristic filters and dedup (the stages programs/filter.ts runs), then a quality
 * classifier — given, or trained on labels an `Annotator` gives a sample of the filtered documents — and the score
 * threshold (the classify and threshold jobs of src/classify/apply-run.ts). The filter, dedup, classify and
 * threshold jobs run where the config's `curation` section says (curation-jobs.ts: in this process, local worker
 * processes, or Slurm arrays); the annotation and the classifier's training, small, run here. The annotated sample
 * is drawn from the source as read, the classifier then scores the filtered documents. Every step keeps what it
 * drops, with its reason, in the source's folder; the funnel (kept and dropped per step and reason, the
 * classifier's quality) is returned for the report, summed from the ranks' stats files whichever way they ran.
 */
import { Effect, FileSystem, Layer, Redacted, Schema, Stream } from "effect"
import { FetchHttpClient } from "effect/http"
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { builtinPrompt, promptFromText } from "../../classify/annotate/prompts.ts"
import type { AnnotationPrompt } from "../../classify/annotate/AnnotationPrompt.ts"
import { type AnnotateSummary, annotateFiles } from "../../classify/annotate/annotate-files.ts"
import { Annotator } from "../../classify/annotate/Annotator.ts"
import { type ApplyRunConfig, memoizedClassifierLoader, planApplyJobs, runApplyTask, writeApplyConfig } from "../../classify/apply-run.ts"
import { DEFAULT_CLASSIFY_BATCH } from "../../classify/classify-stage.ts"
import { readLabelledDocuments } from "../../classify/labelled-documents.ts"
import { THRESHOLD_ID } from "../../classify/threshold-stage.ts"
import { saveTrainedClassifier, trainClassifier } from "../../classify/train-classifier.ts"
import { type FilterRunConfig, planJobs, runStage } from "../../data/fineweb.ts"
import { writeFileAtomic } from "../../data/io/atomic.ts"
import type { JsonlError } from "../../data/io/jsonl.ts"
import { readDocuments } from "../../data/io/readers.ts"
import { mergeStats, type Stats } from "../../data/stats.ts"
import type { SourceConfig } from "../config.ts"
import { SourceFunnel } from "../report/schema.ts"
import { CURATION_TASK_SCRIPT, type CurationExecution, curationRunner, plannedWorkers, runCurationJobs } from "./curation-jobs.ts"
import { FullRunError } from "./layout.ts"

/** An `Annotator` built from files (the default world's labels). */
export type WorldAnnotatorLayer = Layer.Layer<Annotator, JsonlError, FileSystem.FileSystem>

export type SourceFunnelValue = typeof SourceFunnel.Type

/** What curation leaves for the next phases: where the source's curated documents are, and its funnel. */
export const CuratedSource = Schema.Struct({
  name: Schema.String,
  /** Files or folders of the curated documents (`{text, id, metadata}` JSONL, or the raw inputs when nothing curated them). */
  inputs: Schema.Array(Schema.String),
  /** The record field holding the text in `inputs`. */
  textKey: Schema.String,
  /** The documents the classifier and threshold read (after the filters and dedup), when there were those steps: the ablation's other arm. */
  unclassified: Schema.optionalKey(Schema.Struct({ inputs: Schema.Array(Schema.String), textKey: Schema.String })),
  funnel: SourceFunnel
})
export type CuratedSource = typeof CuratedSource.Type

const dropsOf = (block: Readonly<Record<string, number>>) =>
  Object.entries(block).filter(([k]) => k.startsWith("dropped_")).map(([k, v]) => ({ reason: k.slice("dropped_".length), documents: v }))

/** A funnel step from a stats block (`total`, `forwarded`, `dropped_<reason>`); `documentsIn` when the block has no total. */
const stepOf = (name: string, kind: "filter" | "dedup" | "threshold", block: Readonly<Record<string, number>> | undefined, documentsIn: number) => {
  const b = block ?? {}
  const dropped = dropsOf(b)
  const read = b["total"] ?? documentsIn
  const kept = b["forwarded"] ?? read - dropped.reduce((s, d) => s + d.documents, 0)
  return { name, kind, documentsIn: read, documentsKept: kept, dropped }
}

/** The prompt of an annotation config. */
const promptOf = (source: string, a: NonNullable<Extract<SourceConfig["classifier"], { train: unknown }>["train"]>["annotate"], readText: (f: string) => string) => {
  const made: AnnotationPrompt | { readonly problem: string } = typeof a.prompt === "string"
    ? builtinPrompt(a.prompt, { language: a.language })
    : promptFromText(a.prompt.file, readText(a.prompt.file))
  return "problem" in made ? Effect.fail(new FullRunError({ message: `sources.${source}.classifier.train.annotate.prompt: ${made.problem}` })) : Effect.succeed(made)
}

/**
 * Why annotation left too few labels to train on (every document refused, or failed after its retries): the
 * failure reasons and the first document's last error, so the user sees the endpoint's answer, not an empty split.
 */
const tooFewLabels = (source: string, endpoint: string | undefined, summary: AnnotateSummary, annotationDir: string): string => {
  const reasons = Object.entries(summary.failed_by_reason).map(([r, n]) => `${r} ${n}`).join(", ")
  let first = ""
  for (const f of summary.files) {
    const line = existsSync(f.failed) ? readFileSync(f.failed, "utf8").split("\n", 1)[0]! : ""
    if (line.length === 0) continue
    const error = (JSON.parse(line) as { metadata?: { annotation_error?: { last_error?: unknown } } }).metadata?.annotation_error?.last_error
    if (typeof error === "string") first = `; the first: ${error}`
    break
  }
  return `sources.${source}.classifier.train.annotate: ${summary.annotated} of ${summary.documents} sampled documents annotated by ${endpoint ?? "the built-in annotator"}, too few to train a classifier (failed: ${reasons || "none"}${first}; see ${path.join(annotationDir, "failed")})`
}

/**
 * One source's curation. The run config's `curation` section (`tasks`, `executor`, `workers`, `slurm`) is spread into
 * it whole; without `executor` and `workers`, the jobs run here, one rank after another.
 */
export interface CurateOptions extends CurationExecution {
  readonly name: string
  readonly source: SourceConfig
  /** OUT/curation/<name>. */
  readonly dir: string
  readonly seed: number
  /** The `Annotator` used when the annotation config names no endpoint (the default world's stand-in). */
  readonly annotator: WorldAnnotatorLayer | undefined
  readonly tasks: number
  readonly log: (line: string) => void
}

/** Curates one source; see the file's comment. */
export const curateSource = (o: CurateOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { source, dir } = o
    const runner = curationRunner(o, o.tasks)
    const reader = { textKey: source.textKey, idKey: source.idKey, ...(source.glob === undefined ? {} : { glob: source.glob }), ...(source.limit === undefined ? {} : { limit: source.limit }) }
    const inputs = source.paths.map((p) => (p.startsWith("hf://") ? p : path.resolve(p)))
    // Documents and bytes read, for the funnel's top.
    const [documents, bytes] = yield* readDocuments(inputs, reader).pipe(
      Stream.runFold(() => [0, 0] as [number, number], ([n, b], d) => [n + 1, b + Buffer.byteLength(d.text)] as [number, number])
    )
    const steps: Array<SourceFunnelValue["steps"][number]> = []
    let current: { inputs: ReadonlyArray<string>; textKey: string; idKey: string } = { inputs, textKey: source.textKey, idKey: source.idKey }
    let count = documents

    // ── filters and dedup ──
    if (source.filters.length > 0 || source.dedup !== "none") {
      const output = path.join(dir, "filtered")
      const config: FilterRunConfig = {
        inputs, output, exclusions: path.join(output, "dropped"), format: "jsonl", gzip: false, filters: source.filters,
        c4TerminalPunct: false, dedup: source.dedup, minhashHash: "xxhash", tasks: o.tasks, workers: plannedWorkers(runner),
        textKey: source.textKey, idKey: source.idKey,
        ...(source.glob === undefined ? {} : { glob: source.glob }), ...(source.limit === undefined ? {} : { limit: source.limit })
      }
      // The file the worker processes read (programs/filter.ts writes the same one).
      const configFile = path.join(output, "logs", "config.json")
      yield* writeFileAtomic(configFile, JSON.stringify(config, null, 2) + "\n")
      const jobs = planJobs(config, CURATION_TASK_SCRIPT, configFile)
      const stats = yield* runCurationJobs({ jobs, runner, rank: (job) => (ctx) => runStage(config, job.stage, ctx), label: o.name, log: o.log })
      const merged = mergeStats(stats)
      for (const f of source.filters) {
        const step = stepOf(f, "filter", merged[f], count)
        steps.push(step)
        count = step.documentsKept
      }
      if (source.dedup !== "none") {
        const step = stepOf(source.dedup, "dedup", merged[source.dedup], count)
        steps.push(step)
        count = step.documentsKept
      }
      // The next step reads this folder: it exists even when the filters kept nothing.
      yield* fs.makeDirectory(path.join(output, "kept"), { recursive: true })
      current = { inputs: [path.join(output, "kept")], textKey: "text", idKey: "id" }
      o.log(`${o.name}: filters and dedup kept ${count} of ${documents} documents`)
    }

    // ── classifier ──
    let model: string | undefined
    let quality: SourceFunnelValue["classifier"]
    const classifier = source.classifier
    if (classifier !== "none" && "model" in classifier) model = path.resolve(classifier.model)
    if (classifier !== "none" && "train" in classifier) {
      const t = classifier.train
      const prompt = yield* promptOf(o.name, t.annotate, (f) => readFileSync(f, "utf8"))
      const annotator: WorldAnnotatorLayer = t.annotate.endpoint !== undefined
        ? Annotator.layer({
          endpoint: t.annotate.endpoint,
          model: t.annotate.model ?? "default",
          ...(t.annotate.maxAttempts === undefined ? {} : { maxAttempts: t.annotate.maxAttempts }),
          ...(t.annotate.timeoutSeconds === undefined ? {} : { timeoutMs: t.annotate.timeoutSeconds * 1000 }),
          ...(process.env["OPENAI_API_KEY"] === undefined ? {} : { apiKey: Redacted.make(process.env["OPENAI_API_KEY"]) })
        }).pipe(Layer.provide(FetchHttpClient.layer))
        : o.annotator ?? Layer.effect(Annotator, Effect.die(new FullRunError({ message: `sources.${o.name}.classifier.train.annotate: no endpoint, and this run has no built-in annotator` })))
      const annotationDir = path.join(dir, "classifier", "annotation")
      const summary = yield* annotateFiles({
        // A sample of the source as read, before the filters: C4's filter rewrites text (drops lines), and the
        // labels belong to the documents as written (the default world's annotator knows them by their hash).
        inputs, output: annotationDir, prompt, concurrency: t.annotate.concurrency, limit: source.limit,
        sample: { size: t.annotate.budget, seed: o.seed },
        reader: { textKey: source.textKey, idKey: source.idKey, ...(source.glob === undefined ? {} : { glob: source.glob }) }
      }).pipe(
        Effect.provide(annotator),
        // A refused key, an unknown model or a wrong URL (already scrubbed of the key): the config's field to fix.
        Effect.catchTag("AnnotationConfigError", (e) =>
          Effect.fail(new FullRunError({ message: `sources.${o.name}.classifier.train.annotate.endpoint: ${e.message}` })))
      )
      o.log(`${o.name}: annotated ${summary.annotated} documents with ${prompt.name} (${summary.failed} failed)`)
      if (summary.annotated < 2) return yield* new FullRunError({ message: tooFewLabels(o.name, t.annotate.endpoint, summary, annotationDir) })
      const labelled = yield* readLabelledDocuments([annotationDir])
      const threshold = source.threshold?.minScore ?? 3
      const trained = yield* trainClassifier(labelled, {
        kind: t.kind, mode: "regression", seed: o.seed, testFraction: t.testFraction, threshold,
        ...(t.epochs === undefined ? {} : { epochs: t.epochs }), ...(t.base === undefined ? {} : { base: t.base }),
        ...(t.buckets === undefined ? {} : { buckets: t.buckets })
      })
      model = path.join(dir, "classifier", "model")
      yield* saveTrainedClassifier(model, trained, [path.join(annotationDir, "annotated")])
      const v = trained.validation.overall
      quality = {
        kind: t.kind, model, documents: v.count, accuracy: v.accuracy, macroF1: v.macroF1, mse: v.mse,
        binary: { threshold: v.binary.threshold, precision: v.binary.precision, recall: v.binary.recall, f1: v.binary.f1 },
        confusion: v.confusion
      }
      o.log(`${o.name}: classifier F1 ${v.binary.f1.toFixed(3)} at ${v.binary.threshold} on ${v.count} held-out documents`)
    }

    // ── classify and threshold ──
    const threshold = source.threshold
    const unclassified = { inputs: current.inputs, textKey: current.textKey }
    if (model !== undefined || threshold !== undefined) {
      const scored = path.join(dir, "scored")
      const kept = path.join(dir, "curated")
      const dropped = path.join(dir, "dropped")
      const run: ApplyRunConfig = {
        logs: path.join(dir, "apply-logs"),
        workers: plannedWorkers(runner),
        jobs: [
          ...(model === undefined ? [] : [{
            stage: "classify" as const, name: "classify", tasks: o.tasks, inputs: current.inputs, textKey: current.textKey,
            idKey: current.idKey, model, batchSize: DEFAULT_CLASSIFY_BATCH, scored
          }]),
          ...(threshold === undefined ? [] : [{
            stage: "threshold" as const, name: "threshold", tasks: o.tasks,
            source: model === undefined
              ? { kind: "files" as const, inputs: current.inputs, textKey: current.textKey, idKey: current.idKey }
              : { kind: "ranks" as const, folder: scored },
            threshold: threshold.minScore, overrides: { ...threshold.byLanguage }, languageKey: threshold.languageKey,
            scoreKey: "metadata.int_score", kept, dropped,
            ...(Object.keys(threshold.downsample).length === 0 ? {} : { downsample: { ...threshold.downsample }, seed: o.seed })
          }])
        ]
      }
      const configFile = yield* writeApplyConfig(run)
      const loader = memoizedClassifierLoader()
      const jobs = planApplyJobs(run, configFile, CURATION_TASK_SCRIPT)
      const stats = yield* runCurationJobs({ jobs, runner, rank: (job) => (ctx) => runApplyTask(run, job.name, ctx, loader), label: o.name, log: o.log })
      const thresholdStats: Stats = threshold === undefined ? {} : stats.at(-1)!
      // The next phase reads these folders: they exist even when nothing was kept.
      yield* fs.makeDirectory(threshold === undefined ? scored : kept, { recursive: true })
      if (threshold !== undefined) {
        const step = stepOf("threshold", "threshold", thresholdStats[THRESHOLD_ID], count)
        steps.push(step)
        count = step.documentsKept
        current = { inputs: [kept], textKey: "text", idKey: "id" }
      } else current = { inputs: [scored], textKey: "text", idKey: "id" }
      o.log(`${o.name}: ${count} documents curated of ${documents}`)
    }

    const funnel: SourceFunnelValue = {
      name: o.name, documents, bytes, steps,
      ...(quality === undefined ? {} : { classifier: quality }),
      ...(threshold === undefined ? {} : { threshold: { minScore: threshold.minScore, ...(Object.keys(threshold.byLanguage).length === 0 ? {} : { byLanguage: threshold.byLanguage }) } })
    }
    const classified = model !== undefined || threshold !== undefined
    return { name: o.name, inputs: current.inputs, textKey: current.textKey, ...(classified ? { unclassified } : {}), funnel } satisfies CuratedSource
  })

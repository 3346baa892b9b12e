/**
 * `OUT/report.json`: the full run's machine-readable record, one Schema from which `report.html` is rendered (and
 * re-rendered by `programs/report.ts`). What ran (the config echo, seed, adapter, time per phase), the data funnel
 * per source (documents and bytes in, kept and dropped per filter and reason, the classifier's quality and the
 * threshold), the tokenizer, then one entry per curriculum stage: its mixture, tokens and steps, the loss curve, the
 * evaluation, and the policy decision that produced the next stage's mixture. Field names follow the run config's
 * (`stages`, `mixture`, `policy`), so a person reads the same words in the config, on the command line and here.
 *
 * Counts are what the run measured; shares that follow from them (a filter's drop rate, the dedup rate, the
 * threshold's kept share) are computed by the reader (`funnel.ts`), so the file cannot disagree with itself.
 */
import { Effect, Exit, FileSystem, Schema, SchemaIssue } from "effect"
import { Fraction, Name, NonNegativeInt, NonNegativeNumber, optional, PositiveInt, required, Score } from "../config-field.ts"
import { formatConfigPath } from "../load-config.ts"

/** Bumped when a field changes meaning, so an old report is refused rather than misread. */
export const REPORT_VERSION = 1

const Count = NonNegativeInt
const Seconds = NonNegativeNumber

/** Mixture weights as token shares over source names (normalized: they sum to 1). */
export const MixtureWeights = Schema.Record(Name, NonNegativeNumber).annotate({ title: "mixture weights" })

// ── the run ────────────────────────────────────────────────────────────────────────────────────────────────────

export const PhaseTime = Schema.Struct({
  phase: required(Schema.String, "curation, tokenizer, `train <stage>`, `eval <stage>`, sft, dpo, …"),
  seconds: required(Seconds, "Wall-clock seconds spent in it.")
})

export const RunSettings = Schema.Struct({
  title: required(Schema.String, "The report's heading (the config's `report.title`, or the config file's name)."),
  command: optional(Schema.String, "The command line that started the run."),
  startedAt: required(Schema.String, "When the run started (ISO 8601)."),
  seconds: required(Seconds, "Wall-clock seconds of the whole run (a resumed run: the sum of its sessions)."),
  phases: required(Schema.Array(PhaseTime), "Time per phase, in the order the phases ran."),
  seed: required(NonNegativeInt, "The run's seed (config `seed`)."),
  adapter: required(Schema.String, "The GPU adapter training ran on, as `describeAdapter` names it."),
  config: required(Schema.Record(Schema.String, Schema.Unknown), "The run config with its defaults filled in, as a config file would write it.")
})

// ── curation ───────────────────────────────────────────────────────────────────────────────────────────────────

export const DropReason = Schema.Struct({
  reason: required(Schema.String, "The filter's reason, as in `metadata.filter_reason` and stats.json's `dropped_<reason>`."),
  documents: required(Count, "Documents dropped for it.")
})

export const FunnelStep = Schema.Struct({
  name: required(Schema.String, "A filter (gopher_repetition, …), the dedup method (minhash, exact) or `threshold`."),
  kind: required(Schema.Literals(["filter", "dedup", "threshold"]), "What the step is: a heuristic filter, deduplication, or the classifier-score threshold."),
  documentsIn: required(Count, "Documents the step read."),
  documentsKept: required(Count, "Documents it passed on."),
  bytesIn: optional(Count, "UTF-8 bytes of the text it read, when counted."),
  bytesKept: optional(Count, "UTF-8 bytes of the text it passed on, when counted."),
  dropped: required(Schema.Array(DropReason), "Dropped documents per reason; they add up to documentsIn − documentsKept.")
}).pipe(Schema.check(Schema.makeFilter((s) =>
  s.documentsKept > s.documentsIn
    ? { path: ["documentsKept"], issue: `${s.documentsKept} kept of ${s.documentsIn} read: a step cannot keep more than it reads` }
    : undefined
)))

export const BinaryQuality = Schema.Struct({
  threshold: required(Score, "Positive = int_score ≥ this, against label ≥ this (the threshold the source keeps by)."),
  precision: required(Fraction, "Binary precision."),
  recall: required(Fraction, "Binary recall."),
  f1: required(Fraction, "Binary F1 (FineWeb-Edu's classifier card: 82% at 3).")
})

/** As `src/classify/metrics.ts` computes it on the held-out labels. */
export const ClassifierQuality = Schema.Struct({
  kind: required(Schema.Literals(["ngram", "encoder"]), "The classifier's kind (config `classifier.train.kind`)."),
  model: required(Schema.String, "Its folder."),
  documents: required(Count, "Held-out labelled documents it was judged on."),
  accuracy: required(Fraction, "Share of documents whose rounded score equals the label."),
  macroF1: required(Fraction, "Macro F1 over the 0–5 classes (scikit-learn's, zero_division=0)."),
  mse: required(NonNegativeNumber, "Mean squared error of the raw score against the label."),
  binary: required(BinaryQuality, "The keep/drop view at the threshold."),
  confusion: required(
    Schema.Array(Schema.Array(Count)).pipe(Schema.check(Schema.makeFilter((rows) =>
      rows.length === 6 && rows.every((r) => r.length === 6) ? undefined : "a 6 × 6 matrix (labels 0–5 by predictions 0–5)"
    ))),
    "`confusion[label][prediction]`, 6 × 6: rows are the annotated scores, columns the classifier's int_score."
  )
})

export const ThresholdSettings = Schema.Struct({
  minScore: required(Score, "Documents with int_score ≥ this were kept (config `threshold.minScore`)."),
  byLanguage: optional(Schema.Record(Schema.String, Score), "Per-language minimums (config `threshold.byLanguage`).")
})

export const SourceFunnel = Schema.Struct({
  name: required(Name, "The source's name in the config."),
  documents: required(Count, "Documents read."),
  bytes: required(Count, "UTF-8 bytes of their text."),
  steps: required(Schema.Array(FunnelStep), "The curation steps in the order they ran: filters, dedup, threshold."),
  classifier: optional(ClassifierQuality, "The quality classifier that scored the source, when one did."),
  threshold: optional(ThresholdSettings, "The score threshold, when the source was thresholded.")
})

// ── tokenizer ──────────────────────────────────────────────────────────────────────────────────────────────────

export const SourceTokens = Schema.Struct({
  source: required(Name, "A source's name."),
  documents: required(Count, "Curated documents tokenized."),
  tokens: required(Count, "Tokens they came to.")
})

export const TokenizerReport = Schema.Struct({
  kind: required(Schema.Literals(["trained", "file"]), "Trained on the curated sources, or read from a file."),
  path: required(Schema.String, "The tokenizer.json used."),
  vocabSize: required(PositiveInt, "Vocabulary size, special tokens included."),
  sources: required(Schema.Array(SourceTokens), "Tokens per source, as the shards hold them.")
})

// ── stages ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** One logged training step (trainer `StepMetrics`); `step` and `tokens` count from the start of the run. */
export const LossPoint = Schema.Struct({
  step: required(Count, "The optimizer step, counted from the start of the run."),
  tokens: required(Count, "Tokens trained when the step ended, counted from the start of the run."),
  loss: required(Schema.Finite, "Training loss (mean cross-entropy, nats per token)."),
  lr: required(NonNegativeNumber, "The learning rate of the step."),
  gradNorm: optional(NonNegativeNumber, "Global gradient norm before clipping."),
  tokensPerSecond: optional(NonNegativeNumber, "Training throughput at the step.")
})

export const MetricValue = Schema.Struct({
  name: required(Schema.String, "As lighteval names it: acc, acc_norm, qem, pass@1."),
  value: required(Schema.Finite, "The metric, usually a 0–1 share."),
  stderr: optional(NonNegativeNumber, "Its standard error.")
})

/** One task's results (the eval's `TaskResult`); the first metric is the task's main one, charted and used by the policy. */
export const TaskEvaluation = Schema.Struct({
  task: required(Schema.String, "The task's name."),
  samples: required(Count, "Examples scored."),
  metrics: required(Schema.Array(MetricValue).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one metric" }))), "Its metrics, the main one first."),
  seconds: optional(Seconds, "Time the task took.")
})

export const PolicyInput = Schema.Struct({
  name: required(Schema.String, "What was measured: a domain's score (`math: gsm8k, arithmetic`), a task's metric."),
  value: required(Schema.Finite, "Its value after this stage."),
  previous: optional(Schema.Finite, "Its value after the previous stage, when there was one."),
  note: optional(Schema.String, "What the rule made of it (`lags: gain 0.004 < minGain 0.01`).")
})

/** How the next stage's mixture was chosen after this stage's evaluation. */
export const PolicyDecision = Schema.Struct({
  policy: required(Schema.Literals(["fixed", "rule", "manual", "custom"]), "The config's `policy.kind`, or `custom` for a policy a program passed to `fullRun`."),
  rule: required(Schema.String, "The rule that decided (`keep`, `raise-lagging-domains`, `edited-by-hand`, …)."),
  nextStage: required(Name, "The stage whose mixture this decided."),
  inputs: required(Schema.Array(PolicyInput), "The figures the rule read."),
  before: required(MixtureWeights, "The next stage's mixture as the config gave it."),
  after: required(MixtureWeights, "The mixture it trained on."),
  reason: required(Schema.String, "Why, in a sentence a person reads.")
})

export const StageReport = Schema.Struct({
  name: required(Name, "The stage's name in the config."),
  mixture: required(MixtureWeights, "The mixture it trained on, as token shares."),
  tokens: required(Count, "Tokens trained in this stage."),
  steps: required(Count, "Optimizer steps in this stage."),
  seconds: required(Seconds, "Training time of the stage."),
  loss: required(Schema.Array(LossPoint), "The loss curve: one point every `report.logEvery` steps."),
  evaluation: required(Schema.Array(TaskEvaluation), "The evaluation run on the stage's last checkpoint."),
  decision: optional(PolicyDecision, "The policy decision that produced the next stage's mixture (absent after the last stage).")
})

export const PostTrainingReport = Schema.Struct({
  name: required(Schema.Literals(["sft", "dpo"]), "Supervised fine-tuning or preference tuning."),
  steps: required(Count, "Optimizer steps."),
  seconds: required(Seconds, "Training time."),
  loss: required(Schema.Array(LossPoint), "Its loss curve (steps from its own start)."),
  evaluation: required(Schema.Array(TaskEvaluation), "The evaluation after it.")
})

// ── the classifier ablation ────────────────────────────────────────────────────────────────────────────────────

export const HeldOutLoss = Schema.Struct({
  documents: required(Count, "Documents scored."),
  tokens: required(Count, "Tokens predicted."),
  bytes: required(Count, "UTF-8 bytes of the text those tokens spell."),
  lossPerToken: required(NonNegativeNumber, "Mean negative log-likelihood per predicted token, in nats."),
  bitsPerByte: required(NonNegativeNumber, "Total negative log-likelihood in bits over the bytes: comparable across tokenizers.")
})

export const AblationArm = Schema.Struct({
  arm: required(Schema.Literals(["classified", "unclassified"]), "`classified`: the source's curated documents; `unclassified`: the same source without its classifier and threshold."),
  documents: required(Count, "Documents the arm's data holds."),
  dataTokens: required(Count, "Tokens the arm's data holds (a smaller set is repeated more often within the same budget)."),
  tokens: required(Count, "Tokens trained."),
  steps: required(Count, "Optimizer steps."),
  seconds: required(Seconds, "Training time."),
  loss: required(Schema.Array(LossPoint), "The loss curve."),
  evaluation: required(Schema.Array(TaskEvaluation), "The evaluation of the arm's last checkpoint."),
  heldOut: optional(HeldOutLoss, "Its loss on the held-out documents (config `ablation.heldOut`).")
})

export const AblationReport = Schema.Struct({
  source: required(Name, "The source whose classifier was ablated."),
  tokens: required(Count, "Tokens each arm trained on."),
  arms: required(Schema.Array(AblationArm), "The two arms, classified first."),
  verdict: required(Schema.String, "What the comparison shows, in a sentence a person reads.")
})

// ── the report ─────────────────────────────────────────────────────────────────────────────────────────────────

const linkedDecisions = Schema.makeFilter<{ readonly stages: ReadonlyArray<typeof StageReport.Type> }>((r) =>
  r.stages.flatMap((stage, i) => {
    const next = r.stages[i + 1]
    if (stage.decision === undefined) return []
    if (next === undefined) return [{ path: ["stages", i, "decision"], issue: "the last stage has no next stage to decide for" }]
    return stage.decision.nextStage === next.name
      ? []
      : [{ path: ["stages", i, "decision", "nextStage"], issue: `"${stage.decision.nextStage}" is not the next stage ("${next.name}")` }]
  })
)

export const RunReport = Schema.Struct({
  version: required(Schema.Literal(REPORT_VERSION), "The report format's version."),
  run: required(RunSettings, "What ran, with which settings, for how long."),
  data: required(Schema.Struct({ sources: required(Schema.Array(SourceFunnel), "One funnel per source.") }), "Curation: the data funnel per source."),
  tokenizer: required(TokenizerReport, "The tokenizer and the tokens per source."),
  stages: required(Schema.Array(StageReport).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one stage" }))), "The curriculum's stages, in order."),
  ablation: optional(AblationReport, "The classifier ablation, when the config asked for one."),
  postTraining: optional(Schema.Array(PostTrainingReport), "SFT and DPO, when they ran."),
  finalModel: required(Schema.String, "The final model, a Hugging Face folder (OUT/final).")
}).pipe(Schema.check(linkedDecisions)).annotate({ title: "run report" })

export type RunReport = typeof RunReport.Type
export type SourceFunnel = typeof SourceFunnel.Type
export type FunnelStep = typeof FunnelStep.Type
export type StageReport = typeof StageReport.Type
export type LossPoint = typeof LossPoint.Type
export type TaskEvaluation = typeof TaskEvaluation.Type
export type PolicyDecision = typeof PolicyDecision.Type
export type AblationReport = typeof AblationReport.Type
export type AblationArm = typeof AblationArm.Type
export type PhaseTime = typeof PhaseTime.Type
export type PostTrainingReport = typeof PostTrainingReport.Type

// ── reading ────────────────────────────────────────────────────────────────────────────────────────────────────

/** A report.json that cannot be read or does not decode; each line of the message names a field (`stages[1].loss[3].lr: …`). */
export class RunReportError extends Schema.TaggedError<RunReportError>()("RunReportError", {
  file: Schema.optionalKey(Schema.String),
  problems: Schema.Array(Schema.String),
  message: Schema.String
}) {}

const makeError = (file: string | undefined, problems: ReadonlyArray<string>): RunReportError => {
  const where = file === undefined ? "" : `${file}: `
  return new RunReportError({
    ...(file === undefined ? {} : { file }),
    problems,
    message: problems.length === 1 ? `${where}${problems[0]}` : `${where}${problems.length} problems in the run report:\n${problems.map((p) => `  ${p}`).join("\n")}`
  })
}

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => issue._tag === "UnexpectedKey" ? "unknown field" : SchemaIssue.defaultLeafHook(issue)
})

/** Decodes a parsed report.json; unknown fields are errors, so a misspelt field is not silently ignored. */
export const decodeRunReport = (tree: unknown, file?: string): Effect.Effect<RunReport, RunReportError> => {
  const exit = Schema.decodeUnknownExit(RunReport)(tree, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (failure === undefined || failure._tag !== "Fail") return Effect.die(exit.cause)
  const problems = issueFormatter(failure.error.issue).issues.map((i) => {
    const path = formatConfigPath((i.path ?? []).map((k) => (typeof k === "object" && k !== null && "key" in k ? k.key : k) as PropertyKey))
    return path === "" ? i.message : `${path}: ${i.message}`
  })
  return Effect.fail(makeError(file, problems))
}

/** Reads and decodes `file`. */
export const readRunReport = (file: string): Effect.Effect<RunReport, RunReportError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => makeError(file, [`cannot read the file: ${e.message}`])))
    let tree: unknown
    try {
      tree = JSON.parse(text)
    } catch (e) {
      return yield* makeError(file, [`not valid JSON: ${e instanceof Error ? e.message : String(e)}`])
    }
    return yield* decodeRunReport(tree, file)
  })

/** The report as report.json holds it: two-space indented, a newline at the end. */
export const encodeRunReport = (report: RunReport): string => JSON.stringify(Schema.encodeSync(RunReport)(report), null, 2) + "\n"

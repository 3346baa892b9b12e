/**
 * Figures the report derives from the counts in report.json: what a source kept overall, its dedup rate, the
 * threshold's kept share, a task's main metric, the mean score after a stage. Derived here rather than stored,
 * so report.json holds each measurement once.
 */
import { ratio } from "./format.ts"
import type { FunnelStep, RunReport, SourceFunnel, StageReport, TaskEvaluation } from "./schema.ts"

export interface SourceSummary {
  readonly name: string
  readonly documents: number
  readonly bytes: number
  readonly kept: number
  /** Bytes kept, when the last step counted them (or no step ran). */
  readonly keptBytes: number | undefined
  readonly keptShare: number | undefined
  /** Duplicates removed over documents reaching the dedup step. */
  readonly dedupRate: number | undefined
  /** Documents at or above the threshold over documents reaching it. */
  readonly thresholdKeptShare: number | undefined
  readonly classifierF1: number | undefined
}

const stepOf = (s: SourceFunnel, kind: FunnelStep["kind"]): FunnelStep | undefined => s.steps.find((step) => step.kind === kind)

const droppedShare = (step: FunnelStep | undefined): number | undefined =>
  step === undefined ? undefined : ratio(step.documentsIn - step.documentsKept, step.documentsIn)

export const sourceSummary = (s: SourceFunnel): SourceSummary => {
  const last = s.steps.at(-1)
  const kept = last?.documentsKept ?? s.documents
  const threshold = stepOf(s, "threshold")
  return {
    name: s.name,
    documents: s.documents,
    bytes: s.bytes,
    kept,
    keptBytes: last === undefined ? s.bytes : last.bytesKept,
    keptShare: ratio(kept, s.documents),
    dedupRate: droppedShare(stepOf(s, "dedup")),
    thresholdKeptShare: threshold === undefined ? undefined : ratio(threshold.documentsKept, threshold.documentsIn),
    classifierF1: s.classifier?.binary.f1
  }
}

/** The metric charted and used by the policy: the task's first. */
export const mainMetric = (t: TaskEvaluation) => t.metrics[0]!

/** Every task evaluated in any stage, in order of first appearance. */
export const taskNames = (stages: ReadonlyArray<{ readonly evaluation: ReadonlyArray<TaskEvaluation> }>): Array<string> =>
  [...new Set(stages.flatMap((s) => s.evaluation.map((t) => t.task)))]

/** Every source named in any stage's mixture or the tokenizer, in order of first appearance. */
export const sourceNames = (r: RunReport): Array<string> =>
  [...new Set([...r.data.sources.map((s) => s.name), ...r.stages.flatMap((s) => Object.keys(s.mixture))])]

/** The mean main metric over a stage's tasks. */
export const meanScore = (s: { readonly evaluation: ReadonlyArray<TaskEvaluation> }): number | undefined =>
  s.evaluation.length === 0 ? undefined : s.evaluation.reduce((sum, t) => sum + mainMetric(t).value, 0) / s.evaluation.length

/** Weights as shares summing to 1 (report.json stores them normalized, but a hand-edited one may not be). */
export const normalized = (weights: Readonly<Record<string, number>>): Record<string, number> => {
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  return Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, total === 0 ? 0 : v / total]))
}

/** Where each stage starts and ends, in tokens and steps from the start of the run. */
export const stageBounds = (stages: ReadonlyArray<StageReport>): Array<{ readonly name: string; readonly startTokens: number; readonly endTokens: number; readonly startStep: number; readonly endStep: number }> => {
  let tokens = 0
  let steps = 0
  return stages.map((s) => {
    const bound = { name: s.name, startTokens: tokens, endTokens: tokens + s.tokens, startStep: steps, endStep: steps + s.steps }
    tokens += s.tokens
    steps += s.steps
    return bound
  })
}

/** The last logged loss of the run's pretraining. */
export const finalLoss = (r: RunReport): number | undefined => r.stages.flatMap((s) => s.loss).at(-1)?.loss

/**
 * How a quality classifier is judged, as FineWeb-Edu's training script judges it (`compute_metrics` in
 * huggingface/smollm `text/data/fineweb-edu/train_edu_bert.py`): raw regression outputs are rounded and clipped to
 * the integer classes 0–5 (`np.round(logits).clip(0, 5)`), then scikit-learn's `classification_report`, accuracy,
 * macro precision / recall / F1 and the confusion matrix; plus the binary view the model card reports (F1 82% at
 * threshold 3: positive = int_score ≥ 3 against label ≥ 3).
 *
 * Conventions, exactly:
 * - `intScore(x) = roundHalfEven(clamp(x, 0, 5))`. numpy's `np.round` and Python's `round` both round half to
 *   even (2.5 → 2, 3.5 → 4); `Math.round` would not. NaN scores become 0.
 * - Labels go through the same `intScore` (the script rounds them too; annotations are integers anyway).
 * - `mse` is the mean squared difference between the raw scores and the labels as given (the trainer's eval loss).
 * - Macro precision / recall / F1 follow `precision_recall_fscore_support(y_true, y_pred, average="macro",
 *   zero_division=0)`: the classes averaged over are the sorted union of the classes present in the labels or the
 *   predictions; a class's precision is tp / (tp + fp), 0 when it was never predicted; recall tp / (tp + fn), 0 when
 *   it never occurs in the labels; F1 = 2·tp / (2·tp + fp + fn), 0 when that is 0/0; each macro figure is the
 *   unweighted mean of the per-class figures (so macro F1 is not the F1 of macro P and macro R).
 * - The confusion matrix is always 6 × 6, `confusion[label][prediction]` (rows true, columns predicted);
 *   sklearn's `confusion_matrix` would drop classes absent from both.
 * - Binary metrics at threshold t: positive prediction = int_score ≥ t, positive label = label ≥ t; precision,
 *   recall and F1 with the same zero_division=0 rule.
 */

import { Schema } from "effect"

/** Labels, scores and groups of different lengths: a caller's bug, named with both lengths. */
export class MetricsInputError extends Schema.TaggedError<MetricsInputError>()("MetricsInputError", {
  message: Schema.String
}) {}

export const SCORE_MIN = 0
export const SCORE_MAX = 5
const CLASSES = SCORE_MAX - SCORE_MIN + 1

/** Round half to even, as numpy's `np.round` and Python's `round`. */
export const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** The released `int_score`: `int(round(max(0, min(score, 5))))`. */
export const intScore = (score: number): number =>
  Number.isNaN(score) ? SCORE_MIN : roundHalfEven(Math.min(SCORE_MAX, Math.max(SCORE_MIN, score)))

export interface ClassMetrics {
  readonly label: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
  /** How many documents carry this label. */
  readonly support: number
}

export interface BinaryMetrics {
  readonly threshold: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
  readonly truePositives: number
  readonly falsePositives: number
  readonly falseNegatives: number
  readonly trueNegatives: number
}

export interface ClassifierMetrics {
  readonly count: number
  readonly mse: number
  readonly accuracy: number
  readonly macroPrecision: number
  readonly macroRecall: number
  readonly macroF1: number
  /** One entry per class in the union of labels and predictions, ascending. */
  readonly perClass: ReadonlyArray<ClassMetrics>
  /** `confusion[label][prediction]`, 6 × 6. */
  readonly confusion: ReadonlyArray<ReadonlyArray<number>>
  readonly binary: BinaryMetrics
}

export interface EvaluateOptions {
  /** Binary threshold on int_score and label; default 3 (FineWeb-Edu, Stack-Edu; Java uses 2). */
  readonly threshold?: number
}

const ratio = (num: number, den: number): number => den === 0 ? 0 : num / den

/** Scores `scores` (raw classifier outputs) against `labels` (annotated 0–5 scores), in the same order. */
export const evaluateScores = (
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  options: EvaluateOptions = {}
): ClassifierMetrics => {
  if (labels.length !== scores.length) {
    throw new MetricsInputError({ message: `evaluateScores: ${labels.length} labels but ${scores.length} scores` })
  }
  const threshold = options.threshold ?? 3
  const n = labels.length
  const confusion = Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0))
  let squared = 0
  let correct = 0
  let tp = 0
  let fp = 0
  let fn = 0
  let tn = 0
  for (let i = 0; i < n; i++) {
    const y = intScore(labels[i]!)
    const p = intScore(scores[i]!)
    confusion[y - SCORE_MIN]![p - SCORE_MIN]!++
    const diff = scores[i]! - labels[i]!
    squared += diff * diff
    if (y === p) correct++
    const truePos = y >= threshold
    const predPos = p >= threshold
    if (truePos && predPos) tp++
    else if (predPos) fp++
    else if (truePos) fn++
    else tn++
  }
  const perClass: Array<ClassMetrics> = []
  for (let c = 0; c < CLASSES; c++) {
    const support = confusion[c]!.reduce((s, v) => s + v, 0)
    const predicted = confusion.reduce((s, row) => s + row[c]!, 0)
    if (support === 0 && predicted === 0) continue
    const hit = confusion[c]![c]!
    perClass.push({
      label: c + SCORE_MIN,
      precision: ratio(hit, predicted),
      recall: ratio(hit, support),
      f1: ratio(2 * hit, support + predicted),
      support
    })
  }
  const mean = (f: (m: ClassMetrics) => number) => ratio(perClass.reduce((s, m) => s + f(m), 0), perClass.length)
  const precision = ratio(tp, tp + fp)
  const recall = ratio(tp, tp + fn)
  return {
    count: n,
    mse: ratio(squared, n),
    accuracy: ratio(correct, n),
    macroPrecision: mean((m) => m.precision),
    macroRecall: mean((m) => m.recall),
    macroF1: mean((m) => m.f1),
    perClass,
    confusion,
    binary: {
      threshold,
      precision,
      recall,
      f1: ratio(2 * tp, 2 * tp + fp + fn),
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      trueNegatives: tn
    }
  }
}

/**
 * Metrics overall and per group (a language for Stack-Edu, a source, a fold): `groups[i]` names document i's group.
 * Groups are listed in order of first appearance. A per-group figure uses the same threshold unless
 * `thresholds[group]` overrides it (Stack-Edu's Java uses 2).
 */
export const evaluateByGroup = (
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  groups: ReadonlyArray<string>,
  options: EvaluateOptions & { readonly thresholds?: Readonly<Record<string, number>> } = {}
): { readonly overall: ClassifierMetrics; readonly groups: ReadonlyMap<string, ClassifierMetrics> } => {
  if (groups.length !== labels.length) {
    throw new MetricsInputError({ message: `evaluateByGroup: ${labels.length} labels but ${groups.length} groups` })
  }
  const members = new Map<string, Array<number>>()
  groups.forEach((g, i) => {
    const list = members.get(g)
    if (list === undefined) members.set(g, [i])
    else list.push(i)
  })
  const byGroup = new Map<string, ClassifierMetrics>()
  for (const [g, idx] of members) {
    const threshold = options.thresholds?.[g] ?? options.threshold
    byGroup.set(g, evaluateScores(idx.map((i) => labels[i]!), idx.map((i) => scores[i]!), threshold === undefined ? {} : { threshold }))
  }
  return { overall: evaluateScores(labels, scores, options), groups: byGroup }
}

const f3 = (x: number): string => x.toFixed(3)

/**
 * A Markdown report: the headline figures, the per-class table (as `classification_report`) and the confusion
 * matrix, rows true and columns predicted.
 */
export const formatMetricsReport = (m: ClassifierMetrics, title = "Classifier evaluation"): string => {
  const b = m.binary
  const lines = [
    `### ${title}`,
    "",
    `| documents | MSE | accuracy | macro P | macro R | macro F1 | binary P (≥${b.threshold}) | binary R | binary F1 |`,
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${m.count} | ${f3(m.mse)} | ${f3(m.accuracy)} | ${f3(m.macroPrecision)} | ${f3(m.macroRecall)} | ${f3(m.macroF1)} | ${f3(b.precision)} | ${f3(b.recall)} | ${f3(b.f1)} |`,
    "",
    "| class | precision | recall | F1 | support |",
    "|---:|---:|---:|---:|---:|",
    ...m.perClass.map((c) => `| ${c.label} | ${f3(c.precision)} | ${f3(c.recall)} | ${f3(c.f1)} | ${c.support} |`),
    "",
    `Confusion matrix (rows: label, columns: predicted int_score); binary at ≥${b.threshold}: ` +
    `TP ${b.truePositives}, FP ${b.falsePositives}, FN ${b.falseNegatives}, TN ${b.trueNegatives}`,
    "",
    `| label \\ pred | ${Array.from({ length: CLASSES }, (_, c) => c + SCORE_MIN).join(" | ")} |`,
    `|---:|${"---:|".repeat(CLASSES)}`,
    ...m.confusion.map((row, r) => `| ${r + SCORE_MIN} | ${row.join(" | ")} |`)
  ]
  return lines.join("\n") + "\n"
}

/** The overall report, then one short row per group. */
export const formatGroupReport = (
  result: { readonly overall: ClassifierMetrics; readonly groups: ReadonlyMap<string, ClassifierMetrics> },
  title = "Classifier evaluation"
): string => {
  const rows = [...result.groups].map(([g, m]) =>
    `| ${g} | ${m.count} | ${f3(m.mse)} | ${f3(m.accuracy)} | ${f3(m.macroF1)} | ${m.binary.threshold} | ${f3(m.binary.precision)} | ${f3(m.binary.recall)} | ${f3(m.binary.f1)} |`
  )
  return [
    formatMetricsReport(result.overall, title),
    "| group | documents | MSE | accuracy | macro F1 | threshold | binary P | binary R | binary F1 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows
  ].join("\n") + "\n"
}

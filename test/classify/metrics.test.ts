import { describe, expect, it } from "vitest"
import {
  evaluateByGroup,
  evaluateScores,
  formatGroupReport,
  formatMetricsReport,
  intScore,
  MetricsInputError
} from "../../src/classify/metrics.ts"
import { stratifiedFolds, stratifiedSplit } from "../../src/classify/split.ts"

// Labels and raw scores whose int_scores (2.5 → 2 and 3.5 → 4, half to even) give this confusion matrix:
//            pred 0  1  2  3  4  5
const expectedConfusion = [
  [1, 1, 0, 0, 0, 0], // label 0
  [0, 2, 1, 0, 0, 0], // label 1
  [0, 0, 1, 0, 0, 0], // label 2
  [0, 0, 1, 0, 1, 0], // label 3
  [0, 0, 0, 0, 1, 0], // label 4
  [0, 0, 0, 0, 0, 1] //  label 5
]
// Every figure below was worked out by hand and cross-checked once, outside the suite, against scikit-learn 1.9
// (`precision_recall_fscore_support(average="macro", zero_division=0)`, `confusion_matrix`, `np.round(...).clip(0, 5)`).
const labels = [0, 0, 1, 1, 1, 2, 3, 3, 4, 5]
const scores = [0.2, 1.4, 1.0, 0.6, 2.5, 2.0, 3.5, 2.4, 4.0, 5.7]

describe("classifier metrics", () => {
  it("int_score rounds half to even after clamping to 0–5, as numpy and Python do", () => {
    expect([2.5, 3.5, 0.5, 4.5, 4.49, -1.2, 7, 5.5, Number.NaN].map(intScore)).toEqual([2, 4, 0, 4, 4, 0, 5, 5, 0])
  })

  it("reproduces a confusion matrix and its figures computed by hand", () => {
    const m = evaluateScores(labels, scores)
    expect(m.confusion).toEqual(expectedConfusion)
    expect(m.count).toBe(10)
    expect(m.accuracy).toBeCloseTo(0.6, 12)
    // Squared errors .04 + 1.96 + 0 + .16 + 2.25 + 0 + .25 + .36 + 0 + .49 = 5.51.
    expect(m.mse).toBeCloseTo(0.551, 12)
    // Per class (tp / predicted, tp / support, 2tp / (support + predicted)):
    // 0: 1/1, 1/2, 2/3   1: 2/3, 2/3, 2/3   2: 1/3, 1/1, 1/2   3: 0, 0, 0   4: 1/2, 1/1, 2/3   5: 1, 1, 1
    const f = (c: number) => m.perClass[c]!
    expect(m.perClass.map((c) => c.label)).toEqual([0, 1, 2, 3, 4, 5])
    expect(m.perClass.map((c) => c.support)).toEqual([2, 3, 1, 2, 1, 1])
    expect(f(0).precision).toBe(1)
    expect(f(0).recall).toBe(0.5)
    expect(f(2).precision).toBeCloseTo(1 / 3, 12)
    expect(f(2).f1).toBeCloseTo(0.5, 12)
    expect(f(3)).toMatchObject({ precision: 0, recall: 0, f1: 0 })
    expect(f(4).f1).toBeCloseTo(2 / 3, 12)
    expect(m.macroPrecision).toBeCloseTo(3.5 / 6, 12)
    expect(m.macroRecall).toBeCloseTo((3.5 + 2 / 3) / 6, 12)
    expect(m.macroF1).toBeCloseTo(3.5 / 6, 12)
    // Binary at 3: labels ≥ 3 at 6, 7, 8, 9; int_scores ≥ 3 at 6, 8, 9.
    expect(m.binary).toMatchObject({ threshold: 3, truePositives: 3, falsePositives: 0, falseNegatives: 1, trueNegatives: 6 })
    expect(m.binary.precision).toBe(1)
    expect(m.binary.recall).toBe(0.75)
    expect(m.binary.f1).toBeCloseTo(6 / 7, 12)
    // At threshold 2 the label-3 document predicted 2 becomes a true positive (so do the 2 → 2 one), and the
    // label-1 document predicted 2 a false positive.
    const at2 = evaluateScores(labels, scores, { threshold: 2 }).binary
    expect(at2).toMatchObject({ truePositives: 5, falsePositives: 1, falseNegatives: 0, trueNegatives: 4 })
  })

  it("averages over the union of classes in labels and predictions only (sklearn macro, zero_division=0)", () => {
    // Class 1 is only predicted (precision 0/1, recall 0/0 → 0); classes 3–5 appear nowhere and are not averaged.
    const m = evaluateScores([0, 0, 2], [0, 1, 2])
    expect(m.perClass.map((c) => c.label)).toEqual([0, 1, 2])
    expect(m.macroPrecision).toBeCloseTo((1 + 0 + 1) / 3, 12)
    expect(m.macroRecall).toBeCloseTo((0.5 + 0 + 1) / 3, 12)
    expect(m.macroF1).toBeCloseTo((2 / 3 + 0 + 1) / 3, 12)
    expect(m.binary).toMatchObject({ truePositives: 0, falsePositives: 0, falseNegatives: 0, precision: 0, recall: 0, f1: 0 })
  })

  it("breaks figures down per group, with a per-group threshold override", () => {
    const groups = ["python", "python", "java", "java", "java", "python", "java", "python", "java", "python"]
    const r = evaluateByGroup(labels, scores, groups, { thresholds: { java: 2 } })
    expect([...r.groups.keys()]).toEqual(["python", "java"])
    expect(r.overall.count).toBe(10)
    const java = r.groups.get("java")!
    expect(java.count).toBe(5)
    expect(java.binary.threshold).toBe(2)
    expect(r.groups.get("python")!.binary.threshold).toBe(3)
    // java: labels [1, 1, 1, 3, 4], int_scores [1, 1, 2, 4, 4].
    expect(java.accuracy).toBeCloseTo(3 / 5, 12)
    expect(java.binary).toMatchObject({ truePositives: 2, falsePositives: 1, falseNegatives: 0, trueNegatives: 2 })
    expect(() => evaluateByGroup(labels, scores, ["a"])).toThrow(MetricsInputError)
    expect(() => evaluateScores([1], [])).toThrow(MetricsInputError)
  })

  it("writes a Markdown report with the headline table, per-class table and confusion matrix", () => {
    const text = formatMetricsReport(evaluateScores(labels, scores), "Test set")
    expect(text).toContain("### Test set")
    expect(text).toContain("| 10 | 0.551 | 0.600 | 0.583 | 0.694 | 0.583 | 1.000 | 0.750 | 0.857 |")
    expect(text).toContain("| 3 | 0.000 | 0.000 | 0.000 | 2 |")
    expect(text).toContain("| 3 | 0 | 0 | 1 | 0 | 1 | 0 |")
    const grouped = formatGroupReport(evaluateByGroup(labels, scores, labels.map((l) => (l < 3 ? "low" : "high"))))
    expect(grouped).toMatch(/\| low \| 6 \|/)
  })
})

describe("stratified split", () => {
  // 200 documents: 100 of score 1, 60 of score 3, 30 of score 0, 9 of score 5, 1 of score 4.
  const items = Array.from({ length: 200 }, (_, i) => ({ id: i, score: i < 100 ? 1 : i < 160 ? 3 : i < 190 ? 0 : i < 199 ? 5 : 4 }))
  const countBy = (xs: ReadonlyArray<{ score: number }>) => {
    const c: Record<number, number> = {}
    for (const x of xs) c[x.score] = (c[x.score] ?? 0) + 1
    return c
  }

  it("holds out ceil(10%) of the documents, each score in proportion, the singleton in training", () => {
    const { train, test } = stratifiedSplit(items, (x) => x.score)
    expect(test.length).toBe(20)
    expect(train.length).toBe(180)
    expect(new Set([...train, ...test].map((x) => x.id)).size).toBe(200)
    // Shares 10, 6, 3, 0.9 → 1 by largest remainder, and 0 for the single score-4 document.
    expect(countBy(test)).toEqual({ 1: 10, 3: 6, 0: 3, 5: 1 })
  })

  it("is deterministic from its seed", () => {
    const ids = (seed: number) => stratifiedSplit(items, (x) => x.score, { seed }).test.map((x) => x.id)
    expect(ids(42)).toEqual(ids(42))
    expect(ids(42)).not.toEqual(ids(43))
  })

  it("deals stratified folds that partition the documents", () => {
    const folds = stratifiedFolds(items, (x) => x.score, 5, 0)
    expect(folds.map((f) => f.test.length)).toEqual([40, 40, 40, 40, 40])
    expect(new Set(folds.flatMap((f) => f.test.map((x) => x.id))).size).toBe(200)
    for (const f of folds) {
      expect(f.train.length + f.test.length).toBe(200)
      const c = countBy(f.test)
      expect(c[1]).toBe(20)
      expect(c[3]).toBe(12)
      expect(c[0]).toBe(6)
    }
  })
})

/**
 * The report's charts as Vega-Lite specs over rows built from report.json: the data funnel, the mixture per stage,
 * the loss and learning-rate curves across stages, and the evaluation per stage and task. Sources are coloured with
 * one palette and stages with another, so a colour means the same thing in every chart that shares it.
 */
import type { ChartSpec } from "./charts.ts"
import { mainMetric, normalized, stageBounds, taskNames } from "./figures.ts"
import type { AblationArm, LossPoint, SourceFunnel, StageReport, TaskEvaluation } from "./schema.ts"

/** Wide enough to read on a laptop, narrow enough to fit the page's column. */
const WIDTH = 820

// Stages come in order, so a sequential scheme (dark to light as the run goes on), distinct from the sources' hues.
const stageColors = () => ({ scheme: { name: "viridis" as const, extent: [0, 0.82] } })

// ── the data funnel ────────────────────────────────────────────────────────────────────────────────────────────

/** Per source, a bar per step: what reached it, split into what it kept and what it dropped. */
export const funnelChart = (sources: ReadonlyArray<SourceFunnel>): ChartSpec => {
  const rows = sources.flatMap((s) => {
    const steps = [
      { label: "read", kept: s.documents, dropped: 0 },
      ...s.steps.map((step, i) => ({ label: `${i + 1}. ${step.name}`, kept: step.documentsKept, dropped: step.documentsIn - step.documentsKept }))
    ]
    return steps.flatMap((step) => [
      { source: s.name, step: step.label, outcome: "kept", documents: step.kept, rank: 0 },
      { source: s.name, step: step.label, outcome: "dropped", documents: step.dropped, rank: 1 }
    ])
  })
  const labels = sources.flatMap((s) => ["read", ...s.steps.map((step, i) => `${i + 1}. ${step.name}`)])
  // An empty input would give the scale an empty domain (axis labels "NaN").
  const empty = rows.every((r) => r.documents === 0)
  return {
    data: { values: rows },
    facet: { row: { field: "source", type: "nominal", sort: sources.map((s) => s.name), header: { title: null, labelOrient: "top", labelAngle: 0, labelAlign: "left", labelAnchor: "start", labelFontSize: 13, labelPadding: 4 } } },
    spec: {
      width: WIDTH - 180,
      height: { step: 18 },
      mark: { type: "bar" },
      encoding: {
        y: { field: "step", type: "nominal", sort: labels, title: null, axis: { labelLimit: 200 } },
        x: { field: "documents", type: "quantitative", stack: "zero", title: "documents", axis: { format: "~s" }, ...(empty ? { scale: { domain: [0, 1] } } : {}) },
        color: { field: "outcome", type: "nominal", scale: { domain: ["kept", "dropped"], range: ["#4c78a8", "#e45756"] }, legend: { title: null, orient: "top" } },
        order: { field: "rank", type: "quantitative" }
      }
    },
    resolve: { scale: { y: "independent" } },
    spacing: 10
  }
}

// ── mixtures ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * A stacked bar per stage: each source's share of the tokens, labelled when the segment is wide enough. Segments are
 * placed here (start, end) rather than by Vega-Lite's stack, so the labels sit in their own segment.
 */
export const mixtureChart = (stages: ReadonlyArray<StageReport>, sources: ReadonlyArray<string>): ChartSpec => {
  const rows = stages.flatMap((s) => {
    const shares = normalized(s.mixture)
    let start = 0
    return sources.filter((name) => (shares[name] ?? 0) > 0).map((name) => {
      const row = { stage: s.name, source: name, share: shares[name]!, start, end: start + shares[name]!, middle: start + shares[name]! / 2 }
      start = row.end
      return row
    })
  })
  const y = { field: "stage", type: "nominal", sort: stages.map((s) => s.name), title: null, axis: { labelFontSize: 13, labelLimit: 200 } } as const
  return {
    data: { values: rows },
    width: WIDTH - 180,
    height: { step: 34 },
    encoding: { y },
    layer: [
      {
        mark: { type: "bar", stroke: "white", strokeWidth: 1 },
        encoding: {
          x: { field: "start", type: "quantitative", title: "share of the stage's tokens", axis: { format: "%" }, scale: { domain: [0, 1], nice: false } },
          x2: { field: "end" },
          color: { field: "source", type: "nominal", sort: [...sources], legend: { title: "source", orient: "right" } }
        }
      },
      {
        transform: [{ filter: "datum.share >= 0.06" }],
        mark: { type: "text", align: "center", color: "white", fontWeight: 600, fontSize: 12 },
        encoding: { x: { field: "middle", type: "quantitative" }, text: { field: "share", type: "quantitative", format: ".0%" } }
      }
    ]
  }
}

// ── training curves ────────────────────────────────────────────────────────────────────────────────────────────

/** Each stage's points, starting from the previous stage's last one so the curve is not broken at a boundary. */
const curveRows = (stages: ReadonlyArray<StageReport>) =>
  stages.flatMap((s, i) => {
    const joint = stages.slice(0, i).flatMap((p) => p.loss).at(-1)
    return [...(joint === undefined ? [] : [joint]), ...s.loss].map((p) => ({ stage: s.name, step: p.step, tokens: p.tokens, loss: p.loss, lr: p.lr }))
  })

/**
 * Loss over tokens with a coloured line per stage and a rule at each stage boundary, and below it the learning
 * rate on the same axis (the WSD schedule: warmup, stable, decay in the last stage).
 */
export const lossChart = (stages: ReadonlyArray<StageReport>): ChartSpec => {
  const bounds = stageBounds(stages)
  const names = stages.map((s) => s.name)
  const boundaries = bounds.slice(0, -1).map((b) => ({ tokens: b.endTokens, label: `end of ${b.name}` }))
  const starts = bounds.map((b) => ({ tokens: b.startTokens, label: b.name }))
  const x = { field: "tokens", type: "quantitative" as const, title: "tokens trained", axis: { format: "~s" }, scale: { domain: [0, bounds.at(-1)?.endTokens ?? 1], nice: false } }
  const color = { field: "stage", type: "nominal" as const, sort: names, scale: stageColors(), legend: { title: "stage", orient: "top" as const } }
  const rules = { data: { values: boundaries }, mark: { type: "rule" as const, strokeDash: [4, 3], color: "#666" }, encoding: { x: { field: "tokens", type: "quantitative" as const } } }
  return {
    data: { values: curveRows(stages) },
    vconcat: [
      {
        width: WIDTH - 80,
        height: 260,
        layer: [
          { mark: { type: "line", strokeWidth: 1.8, interpolate: "monotone" }, encoding: { x, y: { field: "loss", type: "quantitative", title: "training loss", scale: { zero: false } }, color } },
          rules,
          {
            data: { values: starts },
            mark: { type: "text", align: "left", baseline: "top", dx: 4, dy: 4, fontSize: 12, fontWeight: 600, color: "#444" },
            encoding: { x: { field: "tokens", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } }
          }
        ]
      },
      {
        width: WIDTH - 80,
        height: 110,
        layer: [
          { mark: { type: "line", strokeWidth: 1.8 }, encoding: { x, y: { field: "lr", type: "quantitative", title: "learning rate", axis: { format: ".1e", tickCount: 4 } }, color } },
          rules
        ]
      }
    ],
    resolve: { scale: { color: "shared" } }
  }
}

/** Post-training's loss over its own steps, a line per phase (sft, dpo). */
export const postTrainingLossChart = (phases: ReadonlyArray<{ readonly name: string; readonly loss: ReadonlyArray<LossPoint> }>): ChartSpec => ({
  data: { values: phases.flatMap((p) => p.loss.map((l) => ({ phase: p.name, step: l.step, loss: l.loss }))) },
  width: WIDTH - 80,
  height: 160,
  mark: { type: "line", point: true, strokeWidth: 1.8 },
  encoding: {
    x: { field: "step", type: "quantitative", title: "step" },
    y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
    color: { field: "phase", type: "nominal", legend: { title: null, orient: "top" } }
  }
})

// ── evaluation ─────────────────────────────────────────────────────────────────────────────────────────────────

/** A group of bars per task, one bar per stage (its main metric), with ± one standard error. */
export const evaluationChart = (stages: ReadonlyArray<{ readonly name: string; readonly evaluation: ReadonlyArray<TaskEvaluation> }>): ChartSpec => {
  const tasks = taskNames(stages)
  const labelOf = new Map<string, string>()
  const rows = stages.flatMap((s) =>
    s.evaluation.map((t) => {
      const m = mainMetric(t)
      const task = `${t.task} (${m.name})`
      labelOf.set(t.task, task)
      const stderr = m.stderr ?? 0
      return { stage: s.name, task, value: m.value, low: Math.max(0, m.value - stderr), high: m.value + stderr }
    })
  )
  const names = stages.map((s) => s.name)
  const x = { field: "task", type: "nominal", sort: tasks.map((t) => labelOf.get(t) ?? t), title: null, axis: { labelAngle: 0, labelFontSize: 12, labelLimit: 220 } } as const
  const xOffset = { field: "stage", type: "nominal", sort: names } as const
  return {
    data: { values: rows },
    width: WIDTH - 180,
    height: 260,
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          y: { field: "value", type: "quantitative", title: "score (main metric)", axis: { format: ".0%" } },
          color: { field: "stage", type: "nominal", sort: names, scale: stageColors(), legend: { title: "after stage", orient: "right" } }
        }
      },
      { mark: { type: "rule", color: "#333" }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } } }
    ]
  }
}

// ── the classifier ablation ────────────────────────────────────────────────────────────────────────────────────

export const ARM_LABELS = { classified: "with the classifier", unclassified: "without it" } as const

/**
 * Beside each other: the arms' held-out bits per byte (when measured; lower is better), and per task and metric (the
 * main one, and prob_correct where measured) a bar per arm with ± one standard error.
 */
export const ablationChart = (arms: ReadonlyArray<AblationArm>): ChartSpec => {
  const rows = arms.flatMap((a) =>
    a.evaluation.flatMap((t) => {
      const metrics = [mainMetric(t), ...t.metrics.filter((m) => m.name === "prob_correct" && m !== mainMetric(t))]
      return metrics.map((m) => {
        const stderr = m.stderr ?? 0
        return { arm: ARM_LABELS[a.arm], measure: `${t.task} (${m.name})`, value: m.value, low: Math.max(0, m.value - stderr), high: m.value + stderr }
      })
    })
  )
  const measures = [...new Set(rows.map((r) => r.measure))]
  const labels = arms.map((a) => ARM_LABELS[a.arm])
  const color = { field: "arm", type: "nominal", sort: labels, scale: { domain: labels, range: ["#4c78a8", "#bab0ac"] }, legend: { title: null, orient: "top" } } as const
  const heldOut = arms.flatMap((a) => (a.heldOut === undefined ? [] : [{ arm: ARM_LABELS[a.arm], bitsPerByte: a.heldOut.bitsPerByte }]))
  const tasks = {
    data: { values: rows },
    width: Math.max(160, 150 * measures.length),
    height: 220,
    encoding: {
      x: {
        field: "measure", type: "nominal", sort: measures, title: null,
        // "task (metric)" on two lines, so long task names are not cut.
        axis: { labelAngle: 0, labelFontSize: 11, labelLimit: 300, labelExpr: "[split(datum.label, ' (')[0], '(' + split(datum.label, ' (')[1]]" }
      },
      xOffset: { field: "arm", type: "nominal", sort: labels }
    },
    layer: [
      { mark: { type: "bar" }, encoding: { y: { field: "value", type: "quantitative", title: "score", axis: { format: ".0%" } }, color } },
      { mark: { type: "rule", color: "#333" }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } } }
    ]
  } satisfies ChartSpec
  if (heldOut.length === 0) return tasks
  return {
    hconcat: [
      {
        data: { values: heldOut },
        width: 110,
        height: 220,
        mark: { type: "bar" },
        encoding: {
          x: { field: "arm", type: "nominal", sort: labels, title: null, axis: { labels: false, ticks: false } },
          y: { field: "bitsPerByte", type: "quantitative", title: "held-out bits per byte" },
          color
        }
      },
      tasks
    ],
    spacing: 40
  }
}

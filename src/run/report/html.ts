/**
 * `OUT/report.html`: the full run as a person reads it, one self-contained page (inline SVG charts and CSS, no
 * script, nothing fetched). Top to bottom it follows the run: a summary, the data funnel, the classifiers' quality,
 * the tokenizer, the mixture per stage, the loss curve, the evaluation per stage, why the mixture changed at each
 * stage boundary, post-training, and the settings. Every table says the same figures as report.json, formatted once
 * (`format.ts`); charts are Vega-Lite (`chart-specs.ts`).
 */
import { Effect } from "effect"
import { type ChartRenderError, FONT, renderChart } from "./charts.ts"
import { ablationChart, ARM_LABELS, evaluationChart, funnelChart, lossChart, mixtureChart, postTrainingLossChart } from "./chart-specs.ts"
import { finalLoss, mainMetric, meanScore, normalized, sourceNames, sourceSummary, stageBounds, taskNames } from "./figures.ts"
import * as fmt from "./format.ts"
import type { PolicyDecision, RunReport, SourceFunnel, StageReport, TaskEvaluation } from "./schema.ts"

const esc = fmt.escapeHtml

/** A table: `head` cells, then rows; a cell is text (escaped) or `{ html }` (already markup). */
type Cell = string | { readonly html: string }
const cellHtml = (c: Cell): string => typeof c === "string" ? esc(c) : c.html
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>, className = ""): string =>
  `<table${className === "" ? "" : ` class="${className}"`}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
  `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${cellHtml(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`

const code = (text: string): Cell => ({ html: `<code>${esc(text)}</code>` })
const figure = (svg: string, caption: string): string => `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`
const section = (id: string, title: string, body: string): string => `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`

// ── summary ────────────────────────────────────────────────────────────────────────────────────────────────────

const summary = (r: RunReport): string => {
  const last = r.stages.at(-1)!
  const totalTokens = r.stages.reduce((s, st) => s + st.tokens, 0)
  const totalSteps = r.stages.reduce((s, st) => s + st.steps, 0)
  const sources = r.data.sources.map(sourceSummary)
  const read = sources.reduce((s, x) => s + x.documents, 0)
  const kept = sources.reduce((s, x) => s + x.kept, 0)
  const cards: Array<[string, string]> = [
    ["run time", fmt.duration(r.run.seconds)],
    ["tokens trained", fmt.tokens(totalTokens)],
    ["final loss", fmt.fixed(finalLoss(r), 3)],
    [`mean score after ${last.name}`, fmt.percent(meanScore(last))],
    [`of ${fmt.count(read)} documents kept`, fmt.percent(fmt.ratio(kept, read))]
  ]
  const scores = last.evaluation.map((t) => `${esc(t.task)} ${esc(fmt.percent(mainMetric(t).value))}`).join(", ")
  const sentence =
    `Curated ${fmt.count(read)} documents from ${r.data.sources.length} source${r.data.sources.length === 1 ? "" : "s"} ` +
    `(${fmt.count(kept)} kept), trained ${fmt.tokens(totalTokens)} tokens in ${fmt.count(totalSteps)} steps over ${r.stages.length} stage${r.stages.length === 1 ? "" : "s"} ` +
    `(${r.stages.map((s) => s.name).join(" → ")}) with the ${r.stages.find((s) => s.decision !== undefined)?.decision?.policy ?? "fixed"} mixture policy, ` +
    `in ${fmt.duration(r.run.seconds)} on ${r.run.adapter}.`
  return `<p class="lead">${esc(sentence)}</p>` +
    `<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="value">${esc(v)}</div><div class="key">${esc(k)}</div></div>`).join("")}</div>` +
    (scores === "" ? "" : `<p>Scores after the last stage (main metric): ${scores}.</p>`) +
    (r.ablation === undefined ? "" : `<p>Classifier ablation: ${esc(r.ablation.verdict)} <a href="#ablation">More</a>.</p>`) +
    `<p>Final model: <code>${esc(r.finalModel)}</code></p>`
}

// ── data ───────────────────────────────────────────────────────────────────────────────────────────────────────

const funnelTable = (s: SourceFunnel): string => {
  const rows: Array<Array<Cell>> = [["read", "", fmt.count(s.documents), fmt.bytes(s.bytes), "", "", "", ""]]
  s.steps.forEach((step, i) => {
    const dropped = step.documentsIn - step.documentsKept
    const reasons = [...step.dropped].sort((a, b) => b.documents - a.documents).map((d) => `${esc(d.reason)} ${esc(fmt.count(d.documents))}`).join("<br>")
    rows.push([
      `${i + 1}. ${step.name}`,
      step.kind,
      fmt.count(step.documentsIn),
      step.bytesIn === undefined ? "–" : fmt.bytes(step.bytesIn),
      fmt.count(step.documentsKept),
      fmt.count(dropped),
      fmt.percent(fmt.ratio(dropped, step.documentsIn)),
      { html: reasons === "" ? "–" : `<span class="reasons">${reasons}</span>` }
    ])
  })
  return table(["step", "kind", "documents in", "bytes in", "kept", "dropped", "dropped %", "dropped by reason"], rows, "num")
}

const dataSection = (r: RunReport, funnelSvg: string): string => {
  const summaries = r.data.sources.map(sourceSummary)
  const overview = table(
    ["source", "documents", "bytes", "kept", "kept %", "kept bytes", "dedup rate", "classifier F1", "threshold", "kept at threshold"],
    summaries.map((s, i) => {
      const source = r.data.sources[i]!
      const threshold = source.threshold === undefined
        ? "–"
        : `≥ ${source.threshold.minScore}${Object.entries(source.threshold.byLanguage ?? {}).map(([lang, v]) => `, ${lang} ≥ ${v}`).join("")}`
      return [s.name, fmt.count(s.documents), fmt.bytes(s.bytes), fmt.count(s.kept), fmt.percent(s.keptShare), fmt.bytes(s.keptBytes), fmt.percent(s.dedupRate), fmt.fixed(s.classifierF1), threshold, fmt.percent(s.thresholdKeptShare)]
    }),
    "num"
  )
  const perSource = r.data.sources.map((s) =>
    `<details${s.steps.length > 0 ? " open" : ""}><summary><strong>${esc(s.name)}</strong>: ${esc(fmt.count(s.documents))} read → ${esc(fmt.count(sourceSummary(s).kept))} kept` +
    `${s.steps.length === 0 ? " (no curation steps)" : ""}</summary>${s.steps.length === 0 ? "" : funnelTable(s)}</details>`
  ).join("")
  return section(
    "data",
    "Data funnel",
    `<p>Each source is read, filtered, deduplicated and thresholded in order; a dropped document is kept aside with its reason. The dedup rate is the share of documents reaching dedup that were duplicates; “kept at threshold” is the share of documents reaching the threshold whose classifier score met it.</p>` +
      overview +
      figure(funnelSvg, "Documents reaching each step, split into kept and dropped, per source.") +
      `<h3>Per source, step by step</h3>${perSource}`
  )
}

const confusionTable = (matrix: ReadonlyArray<ReadonlyArray<number>>): string => {
  const max = Math.max(1, ...matrix.flat())
  const head = `<tr><th class="corner">label ↓ · predicted →</th>${matrix.map((_, c) => `<th>${c}</th>`).join("")}</tr>`
  const body = matrix.map((row, r) =>
    `<tr><th>${r}</th>${row.map((v, c) => {
      // Shade by count; the diagonal (correct) in blue, errors in red, so misses stand out.
      const alpha = (0.08 + 0.72 * (v / max)).toFixed(2)
      const rgb = r === c ? "76,120,168" : "228,87,86"
      const style = v === 0 ? "" : ` style="background: rgba(${rgb},${alpha})${v / max > 0.55 ? "; color: white" : ""}"`
      return `<td${style}>${v}</td>`
    }).join("")}</tr>`
  ).join("")
  return `<table class="confusion num"><thead>${head}</thead><tbody>${body}</tbody></table>`
}

const classifierSection = (r: RunReport): string => {
  const scored = r.data.sources.filter((s) => s.classifier !== undefined)
  if (scored.length === 0) return section("classifier", "Quality classifiers", "<p>No source was scored by a classifier in this run.</p>")
  const blocks = scored.map((s) => {
    const c = s.classifier!
    const figures = table(
      ["kind", "held-out documents", "accuracy", "macro F1", "MSE", `binary precision (≥ ${c.binary.threshold})`, "binary recall", "binary F1"],
      [[c.kind, fmt.count(c.documents), fmt.fixed(c.accuracy), fmt.fixed(c.macroF1), fmt.fixed(c.mse), fmt.fixed(c.binary.precision), fmt.fixed(c.binary.recall), fmt.fixed(c.binary.f1)]],
      "num"
    )
    return `<h3>${esc(s.name)}</h3><p>Model <code>${esc(c.model)}</code>, judged on labels it did not train on.</p>${figures}` +
      `<div class="side"><div>${confusionTable(c.confusion)}</div><p class="note">Rows are the annotated scores, columns the classifier's rounded score. ` +
      `The diagonal is agreement; the binary figures count a document as positive at score ≥ ${c.binary.threshold}, the threshold the source keeps by.</p></div>`
  }).join("")
  return section("classifier", "Quality classifiers", blocks)
}

const tokenizerSection = (r: RunReport): string => {
  const t = r.tokenizer
  const total = t.sources.reduce((s, x) => s + x.tokens, 0)
  const rows = t.sources.map((s) => [s.source, fmt.count(s.documents), fmt.tokens(s.tokens), fmt.percent(fmt.ratio(s.tokens, total)), fmt.fixed(fmt.ratio(s.tokens, s.documents), 0)])
  rows.push(["all", fmt.count(t.sources.reduce((s, x) => s + x.documents, 0)), fmt.tokens(total), fmt.percent(total === 0 ? undefined : 1), fmt.fixed(fmt.ratio(total, t.sources.reduce((s, x) => s + x.documents, 0)), 0)])
  return section(
    "tokenizer",
    "Tokenizer",
    `<p>${t.kind === "trained" ? "Trained on the curated sources" : "Read from a file"}: <code>${esc(t.path)}</code>, ${esc(fmt.count(t.vocabSize))} tokens in the vocabulary.</p>` +
      table(["source", "documents", "tokens", "share", "tokens per document"], rows, "num")
  )
}

// ── stages ─────────────────────────────────────────────────────────────────────────────────────────────────────

const mixtureSection = (r: RunReport, svg: string): string => {
  const sources = sourceNames(r).filter((name) => r.stages.some((s) => (s.mixture[name] ?? 0) > 0))
  const rows = r.stages.map((s) => {
    const shares = normalized(s.mixture)
    return [s.name, ...sources.map((name) => shares[name] === undefined || shares[name] === 0 ? "–" : fmt.percent(shares[name], 0))]
  })
  return section("mixture", "Mixture per stage", figure(svg, "Each stage's mixture: the share of its tokens drawn from each source.") + table(["stage", ...sources], rows, "num"))
}

const trainingSection = (r: RunReport, svg: string | undefined): string => {
  const bounds = stageBounds(r.stages)
  const rows = r.stages.map((s, i) => {
    const b = bounds[i]!
    return [
      s.name,
      `${fmt.tokens(b.startTokens)} – ${fmt.tokens(b.endTokens)}`,
      fmt.tokens(s.tokens),
      `${fmt.count(b.startStep + 1)} – ${fmt.count(b.endStep)}`,
      fmt.duration(s.seconds),
      fmt.fixed(s.loss[0]?.loss, 3),
      fmt.fixed(s.loss.at(-1)?.loss, 3),
      fmt.small(s.loss.at(-1)?.lr)
    ]
  })
  return section(
    "training",
    "Loss across stages",
    (svg === undefined ? "<p>No training step was logged.</p>" : figure(svg, "Training loss over tokens (top) and the learning rate (bottom); dashed lines mark stage boundaries.")) +
      table(["stage", "tokens (from the start)", "tokens", "steps", "time", "first loss", "last loss", "last LR"], rows, "num")
  )
}

const metricCell = (t: TaskEvaluation | undefined): string => {
  if (t === undefined) return "–"
  const m = mainMetric(t)
  return `${fmt.percent(m.value)}${m.stderr === undefined ? "" : ` ± ${fmt.percent(m.stderr)}`}`
}

const evaluationTable = (stages: ReadonlyArray<{ readonly name: string; readonly evaluation: ReadonlyArray<TaskEvaluation> }>): string => {
  const tasks = taskNames(stages)
  const rows = tasks.map((task) => {
    const results = stages.map((s) => s.evaluation.find((t) => t.task === task))
    const first = results.find((t) => t !== undefined)!
    const last = [...results].reverse().find((t) => t !== undefined)!
    const others = first.metrics.slice(1).map((m) => m.name).join(", ")
    return [
      { html: `${esc(task)}${others === "" ? "" : `<br><span class="note">also in report.json: ${esc(others)}</span>`}` },
      mainMetric(first).name,
      fmt.count(first.samples),
      ...results.map(metricCell),
      results.length > 1 ? signed(mainMetric(last).value - mainMetric(first).value) : "–"
    ]
  })
  return table(["task", "metric", "samples", ...stages.map((s) => `after ${s.name}`), "change"], rows, "num")
}

const signed = (delta: number): string => `${delta >= 0 ? "+" : "−"}${(100 * Math.abs(delta)).toFixed(1)} pts`

const evaluationSection = (r: RunReport, svg: string | undefined): string =>
  section(
    "evaluation",
    "Evaluation per stage",
    svg === undefined
      ? "<p>No stage was evaluated.</p>"
      : figure(svg, "Each task's main metric after each stage; whiskers span ± one standard error.") + evaluationTable(r.stages)
  )

const weightsTable = (d: PolicyDecision): string => {
  const names = [...new Set([...Object.keys(d.before), ...Object.keys(d.after)])]
  const before = normalized(d.before)
  const after = normalized(d.after)
  return table(["source", "config", "trained on", "change"], names.map((n) => {
    const delta = (after[n] ?? 0) - (before[n] ?? 0)
    return [n, fmt.percent(before[n] ?? 0, 0), fmt.percent(after[n] ?? 0, 0), Math.abs(delta) < 1e-9 ? "–" : signed(delta)]
  }), "num")
}

const decisionBlock = (stage: StageReport, d: PolicyDecision): string => {
  const changed = Object.keys({ ...d.before, ...d.after }).some((k) => Math.abs((normalized(d.after)[k] ?? 0) - (normalized(d.before)[k] ?? 0)) > 1e-9)
  const inputs = d.inputs.length === 0
    ? ""
    : table(["input", "previous", "after this stage", "change", "verdict"], d.inputs.map((i) => [
      i.name,
      fmt.fixed(i.previous),
      fmt.fixed(i.value),
      i.previous === undefined ? "–" : signed(i.value - i.previous),
      i.note ?? ""
    ]), "num")
  return `<div class="decision"><h3>${esc(stage.name)} → ${esc(d.nextStage)}: ${changed ? "mixture changed" : "mixture kept"}</h3>` +
    `<p class="reason">${esc(d.reason)}</p><p class="note">Policy <code>${esc(d.policy)}</code>, rule <code>${esc(d.rule)}</code>.</p>` +
    `<div class="pair"><div>${weightsTable(d)}</div><div>${inputs}</div></div></div>`
}

const decisionsSection = (r: RunReport): string => {
  const blocks = r.stages.flatMap((s) => s.decision === undefined ? [] : [decisionBlock(s, s.decision)])
  return section(
    "policy",
    "Why the mixture changed",
    blocks.length === 0
      ? `<p>${r.stages.length === 1 ? "One stage: no mixture to revise." : "No decisions were recorded: each stage trained on the mixture the config gave it."}</p>`
      : blocks.join("")
  )
}

const ablationSection = (r: RunReport, svg: string | undefined): string => {
  const a = r.ablation
  if (a === undefined) return ""
  const tasks = taskNames(a.arms)
  const metricNames = (task: string) => {
    const t = a.arms[0]?.evaluation.find((e) => e.task === task)
    return t === undefined ? [] : [...new Set([mainMetric(t).name, ...t.metrics.filter((m) => m.name === "prob_correct").map((m) => m.name)])]
  }
  const columns = tasks.flatMap((task) => metricNames(task).map((metric) => ({ task, metric })))
  const heldOut = a.arms.some((arm) => arm.heldOut !== undefined)
  const rows = a.arms.map((arm) => [
    ARM_LABELS[arm.arm],
    fmt.count(arm.documents),
    fmt.tokens(arm.dataTokens),
    fmt.fixed(arm.tokens / Math.max(1, arm.dataTokens), 2),
    fmt.fixed(arm.loss.at(-1)?.loss, 3),
    ...(heldOut ? [fmt.fixed(arm.heldOut?.bitsPerByte, 4)] : []),
    ...columns.map(({ task, metric }) => {
      const m = arm.evaluation.find((e) => e.task === task)?.metrics.find((x) => x.name === metric)
      return m === undefined ? "–" : `${metric === "prob_correct" ? fmt.fixed(m.value, 3) : fmt.percent(m.value)}${m.stderr === undefined ? "" : ` ± ${metric === "prob_correct" ? fmt.fixed(m.stderr, 3) : fmt.percent(m.stderr)}`}`
    })
  ])
  return section(
    "ablation",
    `Does the ${a.source} classifier help? (ablation at ${fmt.tokens(a.tokens)} tokens)`,
    `<p class="lead">${esc(a.verdict)}</p>` +
      `<p class="note">Two models of the run's shape and seed, each trained on ${esc(fmt.tokens(a.tokens))} tokens: one on ${esc(a.source)}'s curated documents, ` +
      `the other on the same source after the heuristic filters and dedup only (FineWeb-Edu's ablation, [P] §3.2). ` +
      (heldOut ? `The held-out loss is each model's bits per byte on documents of the kind the classifier keeps, which neither trained on (lower is better). ` : "") +
      `<code>prob_correct</code> is the gold choice's probability among the choices (DataDecide's CORRECT PROB): small models move it before accuracy moves. ` +
      `The training losses are on different data and do not compare.</p>` +
      (svg === undefined ? "" : figure(svg, `${heldOut ? "Left: each arm's loss on the held-out documents. Right: " : ""}each arm's task scores; whiskers span ± one standard error.`)) +
      table(["arm", "documents", "data tokens", "epochs", "last training loss", ...(heldOut ? ["held-out bits/byte"] : []), ...columns.map((c) => `${c.task} ${c.metric}`)], rows, "num")
  )
}

const postTrainingSection = (r: RunReport, svg: string | undefined): string => {
  const phases = r.postTraining ?? []
  if (phases.length === 0) return ""
  const rows = phases.map((p) => [p.name, fmt.count(p.steps), fmt.duration(p.seconds), fmt.fixed(p.loss[0]?.loss, 3), fmt.fixed(p.loss.at(-1)?.loss, 3)])
  return section(
    "post-training",
    "Post-training",
    table(["phase", "steps", "time", "first loss", "last loss"], rows, "num") +
      (svg === undefined ? "" : figure(svg, "Post-training loss per step.")) +
      (phases.some((p) => p.evaluation.length > 0) ? `<h3>Evaluation after post-training</h3>${evaluationTable([{ name: r.stages.at(-1)!.name, evaluation: r.stages.at(-1)!.evaluation }, ...phases])}` : "")
  )
}

const settingsSection = (r: RunReport): string =>
  section(
    "settings",
    "Run settings",
    table(["setting", "value"], [
      ["started", r.run.startedAt],
      ...(r.run.command === undefined ? [] : [["command", code(r.run.command)] as Array<Cell>]),
      ["seed", String(r.run.seed)],
      ["adapter", r.run.adapter],
      ["run time", fmt.duration(r.run.seconds)],
      ["final model", code(r.finalModel)]
    ]) +
      `<h3>Time per phase</h3>` +
      table(["phase", "time", "share"], r.run.phases.map((p) => [p.phase, fmt.duration(p.seconds), fmt.percent(fmt.ratio(p.seconds, r.run.seconds))]), "num") +
      `<details><summary>The run config, defaults filled in</summary><pre>${esc(JSON.stringify(r.run.config, null, 2))}</pre></details>`
  )

// ── the page ───────────────────────────────────────────────────────────────────────────────────────────────────

const STYLE = `
:root { color-scheme: light; }
body { font-family: ${FONT}; color: #222; background: #fafafa; margin: 0; line-height: 1.45; font-size: 15px; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 64px; background: white; box-shadow: 0 0 0 1px #eee; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 2px solid #eee; }
h3 { font-size: 16px; margin: 22px 0 8px; }
nav { font-size: 14px; margin: 8px 0 16px; } nav a { margin-right: 14px; color: #2b5d8a; text-decoration: none; }
.lead { font-size: 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { flex: 1 1 160px; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 14px; background: #fcfcfc; }
.card .value { font-size: 22px; font-weight: 600; } .card .key { font-size: 13px; color: #666; }
table { border-collapse: collapse; margin: 10px 0 14px; font-size: 13.5px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #ddd; font-weight: 600; background: #f7f7f7; }
table.num td { font-variant-numeric: tabular-nums; }
table.confusion td { text-align: right; min-width: 34px; } table.confusion th { text-align: center; } table.confusion th.corner { font-weight: 400; color: #666; }
.reasons { font-size: 12.5px; color: #555; }
figure { margin: 12px 0 18px; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #666; margin-top: 4px; }
details { margin: 6px 0; } summary { cursor: pointer; }
pre { background: #f6f6f6; padding: 10px; overflow: auto; font-size: 12.5px; max-height: 480px; }
code { font-size: 13px; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
.note { font-size: 13px; color: #666; }
.side { display: flex; gap: 20px; align-items: flex-start; } .side p { max-width: 340px; }
.decision { border-left: 4px solid #66a61e; padding: 2px 0 2px 14px; margin: 14px 0 22px; }
.decision h3 { margin-top: 6px; } .reason { font-size: 15px; margin: 6px 0; }
.pair { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
footer { margin-top: 40px; font-size: 12.5px; color: #888; }
`

const SECTIONS: ReadonlyArray<[string, string]> = [
  ["data", "Data funnel"],
  ["classifier", "Classifiers"],
  ["tokenizer", "Tokenizer"],
  ["mixture", "Mixtures"],
  ["training", "Loss"],
  ["evaluation", "Evaluation"],
  ["policy", "Why the mixture changed"],
  ["ablation", "Ablation"],
  ["post-training", "Post-training"],
  ["settings", "Settings"]
]

/** The report page for `report`: deterministic, so the same report.json always gives the same page. */
export const renderReportHtml = (report: RunReport): Effect.Effect<string, ChartRenderError> =>
  Effect.gen(function*() {
    const evaluated = report.stages.some((s) => s.evaluation.length > 0)
    const postLoss = (report.postTraining ?? []).filter((p) => p.loss.length > 0)
    // One chart at a time: rendering is CPU work, and a fixed order keeps the page the same from run to run.
    const funnel = yield* renderChart("funnel", funnelChart(report.data.sources))
    const mixture = yield* renderChart("mixture", mixtureChart(report.stages, sourceNames(report)))
    const loss = report.stages.some((s) => s.loss.length > 0) ? yield* renderChart("loss", lossChart(report.stages)) : undefined
    const evaluation = evaluated ? yield* renderChart("evaluation", evaluationChart(report.stages.filter((s) => s.evaluation.length > 0))) : undefined
    const ablation = report.ablation === undefined ? undefined : yield* renderChart("ablation", ablationChart(report.ablation.arms))
    const post = postLoss.length > 0 ? yield* renderChart("post-training", postTrainingLossChart(postLoss)) : undefined
    const nav = SECTIONS.filter(([id]) => (id !== "post-training" || (report.postTraining ?? []).length > 0) && (id !== "ablation" || report.ablation !== undefined))
      .map(([id, title]) => `<a href="#${id}">${esc(title)}</a>`).join("")
    return [
      "<!doctype html>",
      `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
      `<title>${esc(report.run.title)}</title><style>${STYLE}</style></head><body><main>`,
      `<h1>${esc(report.run.title)}</h1><nav>${nav}</nav>`,
      summary(report),
      dataSection(report, funnel),
      classifierSection(report),
      tokenizerSection(report),
      mixtureSection(report, mixture),
      trainingSection(report, loss),
      evaluationSection(report, evaluation),
      decisionsSection(report),
      ablationSection(report, ablation),
      postTrainingSection(report, post),
      settingsSection(report),
      `<footer>Rendered from report.json (format version ${report.version}) by smol-pipeline; charts drawn with Vega-Lite.</footer>`,
      "</main></body></html>",
      ""
    ].join("\n")
  })

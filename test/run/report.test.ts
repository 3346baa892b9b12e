import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { renumberSvgIds } from "../../src/run/report/charts.ts"
import { sourceSummary } from "../../src/run/report/figures.ts"
import { renderReportHtml } from "../../src/run/report/html.ts"
import { decodeRunReport, encodeRunReport, readRunReport, type RunReport } from "../../src/run/report/schema.ts"
import { writeRunReport } from "../../src/run/report/write.ts"
import { makeFixtureReport } from "./report-fixture.ts"

const dir = mkdtempSync(path.join(tmpdir(), "run-report-"))

/** The fixture as the full run stores it: OUT/report.json. */
const storedFixture = (): string => {
  const file = path.join(dir, "report.json")
  writeFileSync(file, encodeRunReport(makeFixtureReport()))
  return file
}

const provide = <A, E>(self: Effect.Effect<A, E, NodeServices.NodeServices>) => self.pipe(Effect.provide(NodeServices.layer))

type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }
type Edit = { readonly path: ReadonlyArray<string | number>; readonly value?: Json }

/** The fixture's JSON tree with the value at each edit's path replaced, or removed when the edit has no value. */
const editedFixture = (...edits: ReadonlyArray<Edit>): Json => {
  const tree = JSON.parse(encodeRunReport(makeFixtureReport())) as Json
  for (const { path: at, value } of edits) {
    const parent = at.slice(0, -1).reduce<Json>((node, key) => (node as Record<string | number, Json>)[key]!, tree) as Record<string | number, Json>
    if (value === undefined) delete parent[at.at(-1)!]
    else parent[at.at(-1)!] = value
  }
  return tree
}

const problemsOf = (tree: unknown) => Effect.flip(decodeRunReport(tree, "report.json"))

const render = (report: RunReport) => renderReportHtml(report)

describe("the run report's Schema", () => {
  it.effect("a stored report.json decodes to the report that was written", () =>
    provide(Effect.gen(function*() {
      const report = yield* readRunReport(storedFixture())
      expect(report).toEqual(makeFixtureReport())
      expect(report.stages.map((s) => s.name)).toEqual(["stable-web", "stable-math", "decay"])
    })))

  it.effect("a field of the wrong type fails naming its path", () =>
    Effect.gen(function*() {
      const error = yield* problemsOf(editedFixture({ path: ["stages", 1, "loss", 3, "lr"], value: "fast" }))
      expect(error.problems).toEqual(["stages[1].loss[3].lr: Expected number"])
      expect(error.message).toBe("report.json: stages[1].loss[3].lr: Expected number")
    }))

  it.effect("a missing field, an unknown field and an impossible count are each named", () =>
    Effect.gen(function*() {
      const error = yield* problemsOf(editedFixture(
        { path: ["tokenizer", "vocabSize"] },
        { path: ["stages", 0, "tokenz"], value: 5 },
        { path: ["data", "sources", 0, "steps", 1, "documentsKept"], value: 1e6 }
      ))
      expect(error.problems).toHaveLength(3)
      expect(error.problems).toContainEqual("tokenizer.vocabSize: Missing key")
      expect(error.problems).toContainEqual("stages[0].tokenz: unknown field")
      expect(error.problems.find((p) => p.startsWith("data.sources[0].steps[1].documentsKept: "))).toMatch(/cannot keep more than it reads/)
    }))

  it.effect("a policy decision must name the stage that follows it", () =>
    Effect.gen(function*() {
      const error = yield* problemsOf(editedFixture({ path: ["stages", 0, "decision", "nextStage"], value: "decay" }))
      expect(error.problems).toEqual([`stages[0].decision.nextStage: "decay" is not the next stage ("stable-math")`])
    }))

  it.effect("a report of another format version is refused", () =>
    Effect.gen(function*() {
      const error = yield* problemsOf(editedFixture({ path: ["version"], value: 2 }))
      expect(error.problems[0]).toMatch(/^version: /)
    }))

  it("derives the funnel's shares from the counts", () => {
    const web = sourceSummary(makeFixtureReport().data.sources[0]!)
    expect(web.kept).toBe(3950)
    expect(web.dedupRate).toBeCloseTo(1090 / 8400, 10)
    expect(web.thresholdKeptShare).toBeCloseTo(3950 / 7310, 10)
    const chat = sourceSummary(makeFixtureReport().data.sources[3]!)
    expect(chat.kept).toBe(1500)
    expect(chat.dedupRate).toBeUndefined()
  })
})

describe("the report page", () => {
  it.effect("renders every section, stage and task, with a chart for each", () =>
    Effect.gen(function*() {
      const report = makeFixtureReport()
      const html = yield* render(report)
      for (const id of ["data", "classifier", "tokenizer", "mixture", "training", "evaluation", "policy", "ablation", "post-training", "settings"]) {
        expect(html).toContain(`<section id="${id}">`)
      }
      for (const heading of ["Data funnel", "Quality classifiers", "Mixture per stage", "Loss across stages", "Evaluation per stage", "Why the mixture changed"]) {
        expect(html).toContain(`<h2>${heading}</h2>`)
      }
      for (const stage of report.stages) expect(html).toContain(stage.name)
      for (const task of ["facts-mc", "arithmetic", "code-exec"]) expect(html).toContain(task)
      // funnel, mixture, loss + LR, evaluation, ablation, post-training loss
      expect(html.match(/<svg/g)).toHaveLength(6)
      expect(html).toContain(report.ablation!.verdict.replace(/,/g, ","))
      expect(html).toContain("<td>with the classifier</td><td>2,210</td>")
      expect(html).toContain("<th>held-out bits/byte</th>")
      expect(html).toContain("<td>0.9232</td>")
      expect(html).toContain("stable-web → stable-math: mixture changed")
      expect(html).toContain("stable-math → decay: mixture kept")
      expect(html).toContain(report.stages[0]!.decision!.reason)
      // The confusion matrix as a table: 6 rows of 6 counts.
      expect(html.match(/<table class="confusion num">[\s\S]*?<\/table>/)![0].match(/<tr>/g)).toHaveLength(7)
    }))

  it.effect("contains no NaN or undefined and fetches nothing", () =>
    Effect.gen(function*() {
      const html = yield* render(makeFixtureReport())
      const text = html.replace(/<[^>]*>/g, " ")
      expect(text).not.toMatch(/\bNaN\b/)
      expect(text).not.toMatch(/\bundefined\b/)
      expect(html).not.toMatch(/\bNaN\b|\bundefined\b/)
      // Self-contained: no scripts, stylesheets or images from elsewhere (SVG namespaces are names, not requests).
      expect(html).not.toMatch(/<script|<link|<img|src="http|@import/)
    }))

  it.effect("the same report gives the same page", () =>
    Effect.gen(function*() {
      const first = yield* render(makeFixtureReport())
      const second = yield* render(makeFixtureReport())
      expect(second).toBe(first)
    }))

  it.effect("renders a one-stage report with empty funnels, no evaluation and no post-training", () =>
    Effect.gen(function*() {
      const { postTraining: _, ...full } = makeFixtureReport()
      const { decision: _decision, ...first } = full.stages[0]!
      const report: RunReport = {
        ...full,
        data: { sources: [{ name: "web", documents: 0, bytes: 0, steps: [] }] },
        tokenizer: { ...full.tokenizer, sources: [{ source: "web", documents: 0, tokens: 0 }] },
        stages: [{ ...first, loss: [], evaluation: [] }]
      }
      const html = yield* render(yield* decodeRunReport(JSON.parse(encodeRunReport(report))))
      expect(html).not.toMatch(/\bNaN\b|\bundefined\b|Infinity/)
      expect(html).toContain("No stage was evaluated.")
      expect(html).toContain("One stage: no mixture to revise.")
      expect(html).not.toContain(`<section id="post-training">`)
    }))

  it("gives each chart's SVG ids of its own, numbered in order", () => {
    const svg = `<defs><clipPath id="clip17"><rect/></clipPath><clipPath id="clip3"/></defs><g clip-path="url(#clip17)"/><g clip-path="url(#clip3)"/>`
    expect(renumberSvgIds(svg, "chart-loss")).toBe(
      `<defs><clipPath id="chart-loss-1"><rect/></clipPath><clipPath id="chart-loss-2"/></defs><g clip-path="url(#chart-loss-1)"/><g clip-path="url(#chart-loss-2)"/>`
    )
  })

  it.effect("writes report.json and report.html atomically, and programs' reader reads them back", () =>
    provide(Effect.gen(function*() {
      const out = path.join(dir, "run")
      const report = makeFixtureReport()
      yield* writeRunReport(out, report)
      expect(yield* readRunReport(path.join(out, "report.json"))).toEqual(report)
      expect(readFileSync(path.join(out, "report.html"), "utf8")).toBe(yield* render(report))
    })))
})

/**
 * Charts as inline SVG, drawn by Vega-Lite (compiled to Vega, rendered headless: `View.toSVG()` needs no browser
 * and no canvas; text widths are estimated). One look for every chart of the report: the fonts and sizes of the page
 * around them, a colour per series from one palette.
 *
 * Two things make an SVG fit to inline next to others: Vega numbers its clip paths and gradients from a counter
 * global to the process, so the same chart would come out with different ids on a second render, and two charts
 * in one page could both define `clip1`. Each chart's ids are renumbered in order of appearance under the chart's
 * own prefix, which makes the page the same for the same report and every `url(#…)` point into its own chart.
 */
import { Effect, Schema } from "effect"
import { parse, View } from "vega"
import { compile, type Config, type TopLevelSpec } from "vega-lite"

export class ChartRenderError extends Schema.TaggedError<ChartRenderError>()("ChartRenderError", {
  chart: Schema.String,
  message: Schema.String
}) {}

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

/** The look shared by every chart: Vega-Lite `config`. */
const chartConfig: Config = {
  font: FONT,
  background: "white",
  view: { stroke: null },
  axis: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, labelColor: "#333", titleColor: "#222", gridColor: "#e6e6e6", domainColor: "#999", tickColor: "#999" },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12, labelFontWeight: 600 },
  title: { fontSize: 14, fontWeight: 600, anchor: "start", color: "#222" },
  range: { category: { scheme: "tableau10" } }
}

/** A Vega-Lite spec; its data is inline `values` (nothing is fetched) and its `config` is the report's. */
export type ChartSpec = TopLevelSpec

/** Ids Vega generates, renumbered `<prefix>-1`, `<prefix>-2`, … in order of first definition. */
export const renumberSvgIds = (svg: string, prefix: string): string => {
  const ids = new Map<string, string>()
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, `${prefix}-${ids.size + 1}`)
  return svg.replace(/(\bid="|url\(#|href="#)([^")]+)/g, (whole, lead: string, id: string) => {
    const renamed = ids.get(id)
    return renamed === undefined ? whole : `${lead}${renamed}`
  })
}

/** Renders `spec` to an SVG string; `id` names the chart in errors and prefixes its element ids. */
export const renderChart = (id: string, spec: ChartSpec): Effect.Effect<string, ChartRenderError> =>
  Effect.tryPromise({
    try: async () => {
      const compiled = compile({ ...spec, config: chartConfig }).spec
      const view = new View(parse(compiled), { renderer: "none" })
      try {
        return await view.toSVG()
      } finally {
        view.finalize()
      }
    },
    catch: (e) => new ChartRenderError({ chart: id, message: `chart "${id}" did not render: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.map((svg) => renumberSvgIds(svg, `chart-${id}`)))

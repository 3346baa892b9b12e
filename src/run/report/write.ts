/**
 * Writing the run's report: `OUT/report.json`, then `OUT/report.html` rendered from the same value, each file
 * atomically, so a run killed while reporting leaves the previous report or the new one, never half of one.
 */
import { Effect, type FileSystem } from "effect"
import type { WriteError } from "../../data/errors.ts"
import { writeFileAtomic } from "../../data/io/atomic.ts"
import type { ChartRenderError } from "./charts.ts"
import { renderReportHtml } from "./html.ts"
import { encodeRunReport, type RunReport } from "./schema.ts"

/** Renders `report` and writes it to `file` (report.html). */
export const writeReportHtml = (file: string, report: RunReport): Effect.Effect<void, ChartRenderError | WriteError, FileSystem.FileSystem> =>
  renderReportHtml(report).pipe(Effect.flatMap((html) => writeFileAtomic(file, html)))

/** `<dir>/report.json` and, unless `html` is false (config `report.html`), `<dir>/report.html`. */
export const writeRunReport = (
  dir: string,
  report: RunReport,
  options: { readonly html?: boolean } = {}
): Effect.Effect<void, ChartRenderError | WriteError, FileSystem.FileSystem> =>
  writeFileAtomic(`${dir}/report.json`, encodeRunReport(report)).pipe(
    Effect.andThen(options.html === false ? Effect.void : writeReportHtml(`${dir}/report.html`, report))
  )

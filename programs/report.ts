/**
 * Re-renders a stored run report as the page a person reads (the full run writes both itself; this serves a report
 * copied elsewhere, or one rendered again after the page's layout changed):
 *
 *   npx tsx programs/report.ts [--input runs/full-run/report.json] [--output runs/full-run/report.html]
 *
 * The input is checked against the report Schema first; a field that does not fit is named (`stages[1].loss[3].lr`).
 */
import * as nodePath from "node:path"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { defaulting, runMain } from "../src/cli/program.ts"
import { readRunReport } from "../src/run/report/schema.ts"
import { writeReportHtml } from "../src/run/report/write.ts"

const command = Command.make(
  "report",
  {
    input: Flag.String("input").pipe(defaulting("runs/full-run/report.json", "The run's report.json")),
    output: Flag.String("output").pipe(Flag.withDescription("The HTML page to write (default: report.html beside --input)"), Flag.optional)
  },
  (a) =>
    Effect.gen(function*() {
      const output = Option.getOrElse(a.output, () => nodePath.join(nodePath.dirname(a.input), "report.html"))
      const report = yield* readRunReport(a.input)
      yield* writeReportHtml(output, report)
      yield* Console.log(`${a.input} → ${output} (${report.stages.length} stages)`)
    })
).pipe(Command.withDescription("Render a run's report.json as a self-contained HTML page"))

runMain(command.pipe(Command.run({ version: "0.1.0" })))

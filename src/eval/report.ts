import { Effect, type FileSystem } from "effect"
import type { WriteError } from "../data/errors.ts"
import { writeFileAtomic } from "../data/io/atomic.ts"
import { groupAverages, type TaskResult } from "./evaluate.ts"

const fmt = (x: number) => x.toFixed(4)

/** All rows of a run: each task, its subtasks (MMLU subjects), then lighteval's `:_average` groups. */
export const allRows = (results: ReadonlyArray<TaskResult>): Array<TaskResult> => {
  const rows = results.flatMap((r) => [r, ...(r.subtasks ?? [])])
  return [...rows, ...groupAverages(rows.filter((r) => !r.task.endsWith(":_average")))]
}

/** lighteval's results table: one line per task and metric. */
export const markdownTable = (results: ReadonlyArray<TaskResult>): string => {
  const lines = ["| Task | Samples | Metric | Value | Stderr |", "|---|---:|---|---:|---:|"]
  for (const r of allRows(results)) {
    for (const m of r.metrics) {
      lines.push(`| ${r.task} | ${r.samples} | ${m.name} | ${fmt(m.value)} | ${m.stderr === undefined ? "" : `± ${fmt(m.stderr)}`} |`)
    }
  }
  return lines.join("\n") + "\n"
}

/** `{"results": {"<task>": {"acc": …, "acc_stderr": …}}, "config": {...}}`, lighteval's key spelling. */
export const resultsJson = (results: ReadonlyArray<TaskResult>, config: Record<string, unknown>): string => {
  const out: Record<string, Record<string, number>> = {}
  for (const r of allRows(results)) {
    const entry: Record<string, number> = {}
    for (const m of r.metrics) {
      entry[m.name] = m.value
      if (m.stderr !== undefined) entry[`${m.name}_stderr`] = m.stderr
    }
    out[r.task] = entry
  }
  const samples = Object.fromEntries(allRows(results).map((r) => [r.task, r.samples]))
  return JSON.stringify({ results: out, samples, config }, null, 2) + "\n"
}

/**
 * `output` (lighteval-style results.json) and the Markdown table beside it (`.json` → `.md`), each written
 * atomically so a killed run never leaves a half report that looks whole.
 */
export const writeReport = (
  output: string,
  results: ReadonlyArray<TaskResult>,
  config: Record<string, unknown>
): Effect.Effect<void, WriteError, FileSystem.FileSystem> =>
  writeFileAtomic(output, resultsJson(results, config)).pipe(
    Effect.andThen(writeFileAtomic(output.replace(/\.json$/, "") + ".md", markdownTable(results)))
  )

/**
 * A filter run's report for a person (OUTPUT/report.md): what ran, how fast, how many documents each stage kept
 * and dropped (with a bar per stage), why they were dropped, and a few dropped documents per reason to judge the
 * decisions by. stats.json stays the machine-readable record; this only reads it.
 */
import { createReadStream, existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { createGunzip } from "node:zlib"
import type { FilterRunConfig } from "./fineweb.ts"
import type { Stats } from "./stats.ts"

export interface DroppedExample {
  readonly id: string
  readonly text: string
}

export interface FilterRunReportInput {
  readonly config: FilterRunConfig
  readonly stats: Stats
  readonly seconds: number
  /** Bytes of the inputs when known (plain JSONL). */
  readonly inputBytes?: number | undefined
  /** Dropped documents by `${stage}/${reason}`. */
  readonly examples?: ReadonlyMap<string, ReadonlyArray<DroppedExample>> | undefined
}

/** The stages of a run in order: its filters, then its dedup. */
export const runStages = (c: FilterRunConfig): Array<string> => [...c.filters, ...(c.dedup === "none" ? [] : [c.dedup])]

const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${((100 * part) / whole).toFixed(1)}%`)
const bar = (part: number, whole: number, width = 24) => {
  const filled = whole === 0 ? 0 : Math.round((width * part) / whole)
  return "█".repeat(filled) + "░".repeat(width - filled)
}
/** One line of text for a Markdown table or quote: no pipes breaking cells, newlines shown as ⏎. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ⏎ ").replace(/[\t\f\v]/g, " ")

export const filterRunReport = (r: FilterRunReportInput): string => {
  const c = r.config
  const read = r.stats["reader"]?.["documents"] ?? 0
  const out: Array<string> = []
  out.push("# Filter run report", "")
  out.push(`- inputs: ${c.inputs.map((i) => `\`${i}\``).join(", ")}`)
  out.push(`- output: \`${c.output}\` (kept in \`kept/\`, dropped in \`${path.relative(c.output, c.exclusions) || c.exclusions}/<stage>/\`)`)
  out.push(`- filters: ${c.filters.join(" → ") || "none"}${c.filters.includes("c4_quality") ? ` (C4 filter_no_terminal_punct=${c.c4TerminalPunct})` : ""}`)
  out.push(`- dedup: ${c.dedup}${c.dedup === "minhash" ? ` (${c.minhashHash}${c.minhashIndex === undefined ? "" : `, against the index in \`${c.minhashIndex}\``})` : ""}`)
  out.push(`- tasks: ${c.tasks}, workers: ${c.workers}`)
  const rate = r.seconds > 0 ? `${(read / r.seconds).toFixed(0)} documents/s` : "–"
  const mbs = r.inputBytes !== undefined && r.seconds > 0 ? `, ${(r.inputBytes / 1e6 / r.seconds).toFixed(2)} MB/s` : ""
  out.push(`- time: ${r.seconds.toFixed(1)} s for ${read} documents (${rate}${mbs}, all stages, wall clock)`)
  out.push("")
  // Said first: an empty input is most often a wrong path or --glob, and every table below would be zeros.
  if (read === 0) out.push("**The input had no documents**: nothing was kept or dropped.", "")

  out.push("## Funnel", "")
  out.push("| stage | in | kept | dropped | dropped % | kept of input |")
  out.push("|---|---:|---:|---:|---:|---|")
  const stages = runStages(c)
  for (const s of stages) {
    const block = r.stats[s] ?? {}
    const total = block["total"] ?? 0
    const kept = block["forwarded"] ?? 0
    const dropped = block["dropped"] ?? total - kept
    out.push(`| ${s} | ${total} | ${kept} | ${dropped} | ${percent(dropped, total)} | \`${bar(kept, read)}\` ${percent(kept, read)} |`)
  }
  const final = stages.length === 0 ? read : (r.stats[stages.at(-1)!]?.["forwarded"] ?? 0)
  out.push("", `Kept ${final} of ${read} documents (${percent(final, read)}).`, "")

  const reasons: Array<[string, string, number, number]> = []
  for (const s of stages) {
    const block = r.stats[s] ?? {}
    for (const [k, v] of Object.entries(block)) {
      if (k.startsWith("dropped_")) reasons.push([s, k.slice("dropped_".length), v, block["total"] ?? 0])
    }
  }
  out.push("## Why documents were dropped", "")
  if (reasons.length === 0) out.push("No document was dropped.", "")
  else {
    out.push("| stage | reason | documents | of stage input | of all input |")
    out.push("|---|---|---:|---:|---:|")
    for (const [s, reason, n, total] of reasons.sort((a, b) => stages.indexOf(a[0]) - stages.indexOf(b[0]) || b[2] - a[2])) {
      out.push(`| ${s} | \`${reason}\` | ${n} | ${percent(n, total)} | ${percent(n, read)} |`)
    }
    out.push("")
  }

  if (r.examples !== undefined && r.examples.size > 0) {
    out.push("## Dropped documents, a few per reason", "")
    for (const [s, reason] of reasons.map(([s, reason]) => [s, reason] as const)) {
      const list = r.examples.get(`${s}/${reason}`)
      if (list === undefined || list.length === 0) continue
      out.push(`### ${s}: \`${reason}\``, "")
      for (const e of list) out.push(`> **${cell(e.id)}** — ${cell(e.text)}`, "")
    }
  }
  return out.join("\n")
}

/**
 * Up to `perReason` dropped documents for each `${stage}/${reason}`, the text cut to `maxChars`, read from the
 * JSONL(.gz) files under `exclusions/<stage>/` (other formats give none). Stops reading a stage once every reason
 * of it has its examples, so it reads little of a large run.
 */
export const dropExamples = async (
  exclusions: string,
  stats: Stats,
  stages: ReadonlyArray<string>,
  perReason = 2,
  maxChars = 300
): Promise<Map<string, Array<DroppedExample>>> => {
  const out = new Map<string, Array<DroppedExample>>()
  for (const stage of stages) {
    const wanted = Object.keys(stats[stage] ?? {}).filter((k) => k.startsWith("dropped_")).map((k) => k.slice(8))
    const dir = path.join(exclusions, stage)
    if (wanted.length === 0 || !existsSync(dir)) continue
    const missing = new Set(wanted)
    const files = readdirSync(dir).filter((f) => /\.jsonl(\.gz)?$/.test(f)).sort()
    for (const f of files) {
      if (missing.size === 0) break
      const file = path.join(dir, f)
      const raw = createReadStream(file)
      const lines = createInterface({ input: f.endsWith(".gz") ? raw.pipe(createGunzip()) : raw, crlfDelay: Infinity })
      try {
        for await (const line of lines) {
          if (line.trim() === "") continue
          let doc: { id?: unknown; text?: unknown; metadata?: { filter_reason?: unknown } }
          try {
            doc = JSON.parse(line)
          } catch {
            continue
          }
          const reason = String(doc.metadata?.filter_reason ?? "")
          if (!missing.has(reason)) continue
          const key = `${stage}/${reason}`
          const list = out.get(key) ?? []
          const text = String(doc.text ?? "")
          list.push({ id: String(doc.id ?? ""), text: text.length > maxChars ? text.slice(0, maxChars) + "…" : text })
          out.set(key, list)
          if (list.length >= perReason) missing.delete(reason)
          if (missing.size === 0) break
        }
      } finally {
        lines.close()
        raw.destroy()
      }
    }
  }
  return out
}

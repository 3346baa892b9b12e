/**
 * The text of one progress line, shared by every long-running stage (see Progress.ts for when lines are written):
 *
 *   hellaswag: 12,288/40,168 requests (30.6%) · 412 req/s · ETA 1:08
 *   filter: 3/4 tasks (~61.2%) · ETA 0:02 · 120,443 docs · 40,148 docs/s · 310.2 MB · 103 MB/s
 *   train: 120/1,000 steps (12.0%) · ETA 7:43 · loss 3.2141 · lr 3.00e-03 · grad norm 0.812 · 8,100 tok/s
 *
 * Counts and percentage, the main rate, the time left (or taken, once finished), then extra counters with their
 * rates and free fields: what a person looks for first stays at the start, where a narrow terminal does not cut.
 */

/** Rates read better with the short unit ("412 req/s"). */
const shortUnits: Readonly<Record<string, string>> = { requests: "req", tokens: "tok" }

export const rateUnitOf = (unit: string): string => shortUnits[unit] ?? unit

/** `12,345`; a fractional count (megabytes) keeps one decimal. */
export const formatCount = (n: number): string =>
  n.toLocaleString("en-US", Number.isInteger(n) ? {} : { minimumFractionDigits: 1, maximumFractionDigits: 1 })

/** Whole numbers from 100 (`412`), one decimal below (`2.3`), two below 1 (`0.35`): enough digits to compare. */
export const formatRate = (perSecond: number): string =>
  perSecond >= 100 ? Math.round(perSecond).toLocaleString("en-US") : perSecond.toFixed(perSecond >= 1 ? 1 : 2)

/** `m:ss`, or `h:mm:ss` from an hour. */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`
}

const eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]

/** `[██████▌       ]`: `width` cells, each split in eighths so that slow work still visibly moves. */
export const formatBar = (fraction: number, width: number): string => {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const eighthsDone = Math.round(f * width * 8)
  const full = Math.floor(eighthsDone / 8)
  const part = eighths[eighthsDone % 8]!
  return `[${"█".repeat(full)}${part}${" ".repeat(width - full - (part === "" ? 0 : 1))}]`
}

/** A counter shown beside the main count, with its rate when one was measured: `120,443 docs · 40,148 docs/s`. */
export interface CounterReading {
  readonly name: string
  readonly value: number
  readonly rate?: number | undefined
}

export interface ProgressLineParts {
  readonly task: string
  /** What `done` counts ("requests", "steps"). */
  readonly unit: string
  readonly done: number
  /** Unknown totals show the count alone, without percentage, bar or ETA. */
  readonly total?: number | undefined
  /**
   * How far along, when the producer knows better than done/total (the filter's bytes read out of its inputs'
   * size while tasks complete a few at a time). Shown with `~`, as it is an estimate.
   */
  readonly fraction?: number | undefined
  /** `done` per second, undefined until something was measured. */
  readonly rate?: number | undefined
  /** The rate's unit (default: the short form of `unit`); null shows no main rate. */
  readonly rateUnit?: string | null | undefined
  readonly counters?: ReadonlyArray<CounterReading> | undefined
  /** Shown as they are ("loss 3.2141"). */
  readonly fields?: ReadonlyArray<string> | undefined
  /** Seconds since the task started. */
  readonly elapsed: number
  /** Seconds left; by default the rest of `total` at `rate`. */
  readonly eta?: number | undefined
  /** Finished lines show the time taken instead of the time left (default: done ≥ total). */
  readonly finished?: boolean | undefined
  /** Cells of a bar drawn before the counts (terminals only); 0 or undefined draws none. */
  readonly barWidth?: number | undefined
}

/** The fraction behind the percentage, the bar and the ETA. */
export const fractionOf = (p: Pick<ProgressLineParts, "done" | "total" | "fraction">): number | undefined =>
  p.fraction ?? (p.total === undefined ? undefined : p.total === 0 ? 1 : p.done / p.total)

/** One progress line, without a line ending. */
export const progressLine = (p: ProgressLineParts): string => {
  const fraction = fractionOf(p)
  const finished = p.finished ?? (p.total !== undefined && p.done >= p.total)
  const bar = fraction !== undefined && p.barWidth !== undefined && p.barWidth > 0 ? `${formatBar(fraction, p.barWidth)} ` : ""
  const counts = p.total === undefined ? formatCount(p.done) : `${formatCount(p.done)}/${formatCount(p.total)}`
  const pct = fraction === undefined ? "" : ` (${p.fraction === undefined ? "" : "~"}${(100 * fraction).toFixed(1)}%)`
  const parts = [`${p.task}: ${bar}${counts} ${p.unit}${pct}`]
  const rateUnit = p.rateUnit === undefined ? rateUnitOf(p.unit) : p.rateUnit
  if (p.rate !== undefined && rateUnit !== null) parts.push(`${formatRate(p.rate)} ${rateUnit}/s`)
  if (finished) parts.push(`${formatDuration(p.elapsed)} elapsed`)
  else {
    const eta = p.eta ?? (p.total !== undefined && p.rate !== undefined && p.rate > 0 ? (p.total - p.done) / p.rate : undefined)
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`)
  }
  for (const c of p.counters ?? []) {
    parts.push(`${formatCount(c.value)} ${c.name}`)
    if (c.rate !== undefined) parts.push(`${formatRate(c.rate)} ${rateUnitOf(c.name)}/s`)
  }
  parts.push(...(p.fields ?? []))
  return parts.join(" · ")
}

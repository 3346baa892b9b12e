import { Effect } from "effect"

/**
 * A throttled progress line for long evaluations, meant for stderr so stdout keeps only the results table:
 *
 *   hellaswag: 12,288/40,168 requests (30.6%) · 412.5 req/s · ETA 1:07
 *   hellaswag: 40,168/40,168 requests (100.0%) · 415.0 req/s · 1:36 elapsed
 *
 * On a terminal the line is rewritten in place (`\r`, cleared to the end) at most every `intervalMs` (0.5 s);
 * elsewhere (a log file, CI) plain lines are written, at most every `intervalMs` (5 s by default). A task's
 * first report (0 done, sent before its first batch) starts its clock; its last report (done = total) is
 * always written and ends the line.
 */
export interface ProgressSink {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean | undefined
}

export interface ProgressOptions {
  readonly sink?: ProgressSink
  readonly intervalMs?: number
  /** Milliseconds; `performance.now` unless a test supplies a clock. */
  readonly now?: () => number
  /** What is being counted ("requests"; code tasks count programs run). */
  readonly unit?: (task: string) => string
}

const count = (n: number) => n.toLocaleString("en-US")

/** `m:ss`, or `h:mm:ss` from an hour. */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`
}

/** One progress line (no line ending). `rate` is per second; undefined until something was measured. */
export const progressLine = (task: string, unit: string, done: number, total: number, rate: number | undefined, elapsed: number): string => {
  const pct = total === 0 ? 100 : (100 * done) / total
  const parts = [`${task}: ${count(done)}/${count(total)} ${unit} (${pct.toFixed(1)}%)`]
  if (rate !== undefined) parts.push(`${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} ${unit === "requests" ? "req" : unit}/s`)
  if (done >= total) parts.push(`${formatDuration(elapsed)} elapsed`)
  else if (rate !== undefined && rate > 0) parts.push(`ETA ${formatDuration((total - done) / rate)}`)
  return parts.join(" · ")
}

interface TaskClock {
  readonly started: number
  readonly baseDone: number
  lastWrite: number
  finished: boolean
}

/** An `onProgress(task, done, total)` callback for `evaluateTask` / `runEvaluation` that reports to `sink`. */
export const progressReporter = (options: ProgressOptions = {}) => {
  const sink = options.sink ?? process.stderr
  const tty = sink.isTTY === true
  const interval = options.intervalMs ?? (tty ? 500 : 5000)
  const now = options.now ?? (() => performance.now())
  const clocks = new Map<string, TaskClock>()
  return (task: string, done: number, total: number): Effect.Effect<void> =>
    Effect.sync(() => {
      const t = now()
      let clock = clocks.get(task)
      if (clock === undefined || (clock.finished && done < total)) {
        clock = { started: t, baseDone: done, lastWrite: -Infinity, finished: false }
        clocks.set(task, clock)
      }
      const last = done >= total
      if (clock.finished) return
      if (!last && t - clock.lastWrite < interval) return
      const elapsed = (t - clock.started) / 1000
      const measured = done - clock.baseDone
      const rate = elapsed > 0 && measured > 0 ? measured / elapsed : undefined
      const line = progressLine(task, options.unit?.(task) ?? "requests", done, total, rate, elapsed)
      clock.lastWrite = t
      if (last) clock.finished = true
      sink.write(tty ? `\r${line}\x1b[K${last ? "\n" : ""}` : `${line}\n`)
    })
}

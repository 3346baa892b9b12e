import { Effect } from "effect"
import { type CounterReading, fractionOf, progressLine } from "./format.ts"

/**
 * Progress of long work, one way for the whole toolkit (evaluation requests, filter jobs, training steps), on
 * stderr so that stdout keeps only results:
 *
 *   hellaswag: [██████▏             ] 12,288/40,168 requests (30.6%) · 412 req/s · ETA 1:08     (a terminal)
 *   hellaswag: 12,288/40,168 requests (30.6%) · 412 req/s · ETA 1:08                          (a log file, CI)
 *
 * On a terminal every running task has a line with a bar, rewritten in place at most every `intervalMs` (0.5 s);
 * elsewhere plain lines are written, at most one per task every `intervalMs` (5 s), so a log stays readable.
 * A task's clock starts at its first report (rates and the ETA are measured from there, so a resumed run's
 * earlier steps do not count); `finish` is always written, with the exact counts it is given, and ends the line.
 */
export interface ProgressSink {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean | undefined
  /** A terminal's width: longer lines are cut, as a wrapped line could not be rewritten in place. */
  readonly columns?: number | undefined
}

export interface ProgressOptions {
  /** Default `process.stderr`. */
  readonly sink?: ProgressSink
  readonly intervalMs?: number
  /** Milliseconds; `performance.now` unless a test supplies a clock. */
  readonly now?: () => number
  /** Cells of the bar on a terminal (default 20). */
  readonly barWidth?: number
}

/** What a task counts. */
export interface TaskSpec {
  /** What `done` counts ("requests", "steps", "tasks"). */
  readonly unit: string
  /** The main rate's unit (default: the short form of `unit`, "req" for requests); null shows no main rate. */
  readonly rateUnit?: string | null
}

/** One report of a task's state; every count is cumulative since the work began. */
export interface Report {
  readonly done: number
  readonly total?: number | undefined
  /** The producer's own estimate of how far along it is, when done/total is too coarse (see format.ts). */
  readonly fraction?: number | undefined
  /** Further counts shown with their rates, in this order: `{ docs: 120443, MB: 310.2 }`. */
  readonly counters?: Readonly<Record<string, number>> | undefined
  /** Shown as they are: `["loss 3.2141", "lr 3.00e-3"]`. */
  readonly fields?: ReadonlyArray<string> | undefined
  /**
   * Seconds since the work began, for a producer that measures it itself (the executor's workers run for a
   * while before its first report); rates are then counts over this time, from zero.
   */
  readonly elapsed?: number | undefined
}

export interface ProgressTask {
  /** Throttled; after `finish` it starts the task over (a new clock and a new line). */
  readonly update: (report: Report) => void
  /** Always written; later `finish` calls are ignored until an `update` starts the task over. */
  readonly finish: (report: Report) => void
}

export interface Progress {
  /** A new task with its own line and clock. */
  readonly task: (name: string, spec: TaskSpec) => ProgressTask
  /** A line that stays (a checkpoint saved, a warning), written above the tasks' lines. */
  readonly log: (line: string) => void
}

interface TaskState {
  readonly name: string
  readonly spec: TaskSpec
  /** The first report of this run of the task, and when it came. */
  start: { readonly at: number; readonly report: Report } | undefined
  last: { readonly at: number; readonly report: Report } | undefined
  lastWrite: number
  /** The plain line written last, so that a finish repeating the last update is not written twice. */
  lastLine: string
  finished: boolean
}

const ERASE_TO_END_OF_LINE = "\x1b[K"
const ERASE_TO_END_OF_SCREEN = "\x1b[J"
const cursorUp = (rows: number) => (rows > 0 ? `\x1b[${rows}A` : "")

/** A rate over `seconds`, undefined until something was measured. */
const rateOf = (measured: number, seconds: number) => (seconds > 0 && measured > 0 ? measured / seconds : undefined)

export const makeProgress = (options: ProgressOptions = {}): Progress => {
  const sink = options.sink ?? process.stderr
  const tty = sink.isTTY === true
  const interval = options.intervalMs ?? (tty ? 500 : 5000)
  const now = options.now ?? (() => performance.now())
  const barWidth = tty ? options.barWidth ?? 20 : 0
  /** Tasks whose line is on screen (terminal) and not finished, in the order they appeared. */
  const live: Array<TaskState> = []
  /** Rows of live lines on the terminal; the cursor sits at the end of the last one. */
  let shown = 0

  const render = (s: TaskState, finishing: boolean): string => {
    const { at, report } = s.last!
    const finished = finishing || (report.total !== undefined && report.done >= report.total)
    const start = s.start!
    const own = report.elapsed !== undefined
    const elapsed = own ? report.elapsed! : (at - start.at) / 1000
    const since = (value: number, base: number | undefined) => rateOf(value - (own ? 0 : base ?? 0), elapsed)
    const counters: Array<CounterReading> = Object.entries(report.counters ?? {}).map(([name, value]) => ({
      name,
      value,
      rate: since(value, start.report.counters?.[name])
    }))
    const fraction = fractionOf(report)
    const startFraction = own ? 0 : fractionOf(start.report) ?? 0
    // An estimated fraction moves unevenly against `done` (tasks finish in bursts): time left follows it instead.
    const eta = report.fraction !== undefined && fraction !== undefined && fraction > startFraction && elapsed > 0
      ? (elapsed * (1 - fraction)) / (fraction - startFraction)
      : undefined
    const line = progressLine({
      task: s.name,
      unit: s.spec.unit,
      rateUnit: s.spec.rateUnit,
      done: report.done,
      total: report.total,
      // A finished task is all done, whatever the producer's estimate said.
      fraction: finished ? undefined : report.fraction,
      rate: since(report.done, start.report.done),
      counters,
      fields: report.fields,
      elapsed,
      eta,
      finished,
      barWidth
    })
    const width = sink.columns
    return tty && width !== undefined && width > 1 && line.length >= width ? line.slice(0, width - 1) : line
  }

  /** Rewrites the live block: `stay` lines first (they scroll up and remain), then every live task's line. */
  const redraw = (stay: ReadonlyArray<string>) => {
    let out = `\r${cursorUp(shown - 1)}`
    for (const line of stay) out += `${line}${ERASE_TO_END_OF_LINE}\n`
    out += live.map((s) => `${render(s, false)}${ERASE_TO_END_OF_LINE}`).join("\n")
    if (stay.length + live.length < shown) out += ERASE_TO_END_OF_SCREEN
    shown = live.length
    sink.write(out)
  }

  const log = (line: string) => {
    if (tty) redraw([line])
    else sink.write(`${line}\n`)
  }

  const task = (name: string, spec: TaskSpec): ProgressTask => {
    const s: TaskState = { name, spec, start: undefined, last: undefined, lastWrite: -Infinity, lastLine: "", finished: false }
    const record = (report: Report) => {
      const at = now()
      if (s.start === undefined || s.finished) {
        s.start = { at, report }
        s.lastWrite = -Infinity
        s.lastLine = ""
        s.finished = false
      }
      s.last = { at, report }
      return at
    }
    return {
      update: (report) => {
        const at = record(report)
        if (at - s.lastWrite < interval) return
        s.lastWrite = at
        if (tty) {
          if (!live.includes(s)) live.push(s)
          redraw([])
        } else {
          s.lastLine = render(s, false)
          sink.write(`${s.lastLine}\n`)
        }
      },
      finish: (report) => {
        if (s.finished) return
        const at = record(report)
        s.lastWrite = at
        s.finished = true
        const line = render(s, true)
        const i = live.indexOf(s)
        if (i >= 0) live.splice(i, 1)
        if (tty || line !== s.lastLine) log(line)
      }
    }
  }

  return { task, log }
}

/**
 * An `onProgress(task, done, total)` callback (evaluateTask, runEvaluation, scoreCompletions): a line per task,
 * finished when done reaches total; a task reported again after that starts over.
 */
export const doneOfTotalReporter = (options: ProgressOptions & {
  /** What is being counted per task (default "requests"; code tasks count programs run). */
  readonly unit?: (task: string) => string
} = {}) => {
  const progress = makeProgress(options)
  const tasks = new Map<string, ProgressTask>()
  return (name: string, done: number, total: number): Effect.Effect<void> =>
    Effect.sync(() => {
      let t = tasks.get(name)
      if (t === undefined) {
        t = progress.task(name, { unit: options.unit?.(name) ?? "requests" })
        tasks.set(name, t)
      }
      if (done >= total) t.finish({ done, total })
      else t.update({ done, total })
    })
}

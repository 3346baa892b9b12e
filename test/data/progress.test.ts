import { describe, expect, it } from "vitest"
import { formatBar, formatRate, progressLine } from "../../src/data/progress/format.ts"
import { makeProgress, type ProgressSink } from "../../src/data/progress/Progress.ts"

/** A sink that records what is written, and a clock the test moves. */
const recorder = (sink: Omit<ProgressSink, "write">) => {
  const written: Array<string> = []
  let t = 0
  return {
    written,
    at: (ms: number) => {
      t = ms
    },
    progress: (intervalMs?: number) =>
      makeProgress({ sink: { ...sink, write: (s: string) => written.push(s) }, now: () => t, ...(intervalMs === undefined ? {} : { intervalMs }) })
  }
}

/** What a terminal shows after `written`: enough of VT100 for \r, \n, cursor up, erase line and erase below. */
const screen = (written: ReadonlyArray<string>): Array<string> => {
  const rows: Array<string> = [""]
  let row = 0
  let col = 0
  const text = written.join("")
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\r") col = 0
    else if (c === "\n") {
      row++
      col = 0
      if (rows.length <= row) rows.push("")
    } else if (c === "\x1b") {
      const m = /^\x1b\[(\d*)([AKJ])/.exec(text.slice(i))!
      if (m[2] === "A") row = Math.max(0, row - Number(m[1] || 1))
      else if (m[2] === "K") rows[row] = rows[row]!.slice(0, col)
      else {
        rows.length = row + 1
        rows[row] = rows[row]!.slice(0, col)
      }
      i += m[0].length - 1
    } else {
      rows[row] = rows[row]!.slice(0, col).padEnd(col) + c + rows[row]!.slice(col + 1)
      col++
    }
  }
  return rows
}

describe("progress reporter", () => {
  it("shows counters with their rates, free fields, and an estimated fraction with ~", () => {
    expect(progressLine({
      task: "filter",
      unit: "tasks",
      rateUnit: null,
      done: 3,
      total: 4,
      fraction: 0.612,
      counters: [{ name: "docs", value: 120443, rate: 40147.7 }, { name: "MB", value: 310.24, rate: 103.4 }],
      elapsed: 3,
      eta: 1.9
    })).toBe("filter: 3/4 tasks (~61.2%) · ETA 0:02 · 120,443 docs · 40,148 docs/s · 310.2 MB · 103 MB/s")
    expect(progressLine({ task: "train", unit: "steps", done: 120, total: 1000, rate: 0.35, fields: ["loss 3.2141"], elapsed: 340 }))
      .toBe("train: 120/1,000 steps (12.0%) · 0.35 steps/s · ETA 41:54 · loss 3.2141")
    expect(progressLine({ task: "read", unit: "docs", done: 5000, rate: 2500, elapsed: 2 })).toBe("read: 5,000 docs · 2,500 docs/s")
    expect(formatRate(2.25)).toBe("2.3")
    expect(formatBar(0, 4)).toBe("[    ]")
    expect(formatBar(0.5, 4)).toBe("[██  ]")
    expect(formatBar(0.3, 4)).toBe("[█▎  ]") // 9.6 eighths of a cell round to 10
    expect(formatBar(1, 4)).toBe("[████]")
  })

  it("measures counters' rates from the task's first report, and the time left from an estimated fraction", () => {
    const r = recorder({ isTTY: false })
    const filter = r.progress().task("filter", { unit: "tasks", rateUnit: null })
    r.at(1000)
    filter.update({ done: 0, total: 4, fraction: 0.1, counters: { docs: 1000 } })
    r.at(6000)
    filter.update({ done: 2, total: 4, fraction: 0.6, counters: { docs: 11000 } })
    expect(r.written).toEqual([
      "filter: 0/4 tasks (~10.0%) · 1,000 docs\n",
      // 10,000 docs in 5 s; half the work in 5 s leaves 4 s for the last 40%.
      "filter: 2/4 tasks (~60.0%) · ETA 0:04 · 11,000 docs · 2,000 docs/s\n"
    ])
  })

  it("takes the producer's own elapsed time when given: rates from zero", () => {
    const r = recorder({ isTTY: false })
    const job = r.progress().task("minhash", { unit: "tasks", rateUnit: null })
    r.at(500)
    job.update({ done: 1, total: 4, fraction: 0.25, counters: { docs: 4000 }, elapsed: 2 })
    expect(r.written).toEqual(["minhash: 1/4 tasks (~25.0%) · ETA 0:06 · 4,000 docs · 2,000 docs/s\n"])
  })

  it("always writes the final report with its exact counts, once, and starts over on a later update", () => {
    const r = recorder({ isTTY: false })
    const t = r.progress().task("train", { unit: "steps" })
    r.at(0)
    t.update({ done: 1, total: 3, fields: ["loss 4.0000"] })
    r.at(1000)
    t.update({ done: 2, total: 3, fields: ["loss 3.5000"] }) // throttled
    r.at(2000)
    t.finish({ done: 3, total: 3, fields: ["loss 3.0000"] }) // within the interval, written all the same
    t.finish({ done: 3, total: 3, fields: ["loss 3.0000"] }) // already finished
    r.at(3000)
    t.update({ done: 0, total: 2 })
    expect(r.written).toEqual([
      "train: 1/3 steps (33.3%) · loss 4.0000\n",
      "train: 3/3 steps (100.0%) · 1.0 steps/s · 0:02 elapsed · loss 3.0000\n",
      "train: 0/2 steps (0.0%)\n"
    ])
  })

  it("ends a finished line at 100% even when the producer's estimate fell short", () => {
    const r = recorder({ isTTY: false })
    const t = r.progress().task("filter", { unit: "tasks", rateUnit: null })
    r.at(0)
    t.update({ done: 0, total: 2, fraction: 0, counters: { docs: 0 } })
    r.at(4000)
    t.finish({ done: 2, total: 2, fraction: 0.93, counters: { docs: 10000 } })
    expect(r.written.at(-1)).toBe("filter: 2/2 tasks (100.0%) · 0:04 elapsed · 10,000 docs · 2,500 docs/s\n")
  })

  it("elsewhere: an update that reaches the total reads as done, and a finish repeating it is not written twice", () => {
    const r = recorder({ isTTY: false })
    const t = r.progress().task("minhash_buckets", { unit: "tasks", rateUnit: null })
    r.at(0)
    t.update({ done: 0, total: 14, elapsed: 0.5 })
    r.at(6000)
    t.update({ done: 14, total: 14, elapsed: 6 })
    t.finish({ done: 14, total: 14, elapsed: 6 })
    expect(r.written).toEqual(["minhash_buckets: 0/14 tasks (0.0%)\n", "minhash_buckets: 14/14 tasks (100.0%) · 0:06 elapsed\n"])
  })

  it("on a terminal: running tasks share a block of lines rewritten in place; finished lines stay above it", () => {
    const r = recorder({ isTTY: true })
    const progress = r.progress(0)
    const a = progress.task("a", { unit: "requests" })
    const b = progress.task("b", { unit: "requests" })
    r.at(0)
    a.update({ done: 0, total: 10 })
    b.update({ done: 0, total: 4 })
    r.at(1000)
    a.update({ done: 5, total: 10 })
    expect(r.written.at(-1)).toBe(
      "\r\x1b[1A" +
        "a: [██████████          ] 5/10 requests (50.0%) · 5.0 req/s · ETA 0:01\x1b[K\n" +
        "b: [                    ] 0/4 requests (0.0%)\x1b[K"
    )
    progress.log("saved checkpoint step-5")
    r.at(2000)
    b.finish({ done: 4, total: 4 })
    a.update({ done: 8, total: 10 })
    expect(screen(r.written)).toEqual([
      "saved checkpoint step-5",
      "b: [████████████████████] 4/4 requests (100.0%) · 2.0 req/s · 0:02 elapsed",
      "a: [████████████████    ] 8/10 requests (80.0%) · 4.0 req/s · ETA 0:01"
    ])
    r.at(2500)
    a.finish({ done: 10, total: 10 })
    expect(screen(r.written)).toEqual([
      "saved checkpoint step-5",
      "b: [████████████████████] 4/4 requests (100.0%) · 2.0 req/s · 0:02 elapsed",
      "a: [████████████████████] 10/10 requests (100.0%) · 4.0 req/s · 0:03 elapsed",
      ""
    ])
  })

  it("on a terminal: cuts a line to the width, as a wrapped line could not be rewritten in place", () => {
    const r = recorder({ isTTY: true, columns: 30 })
    const t = r.progress().task("hellaswag", { unit: "requests" })
    t.update({ done: 1, total: 40168 })
    expect(r.written).toEqual(["\rhellaswag: [                 \x1b[K"]) // 29 characters
  })

  it("elsewhere: a log line is a plain line", () => {
    const r = recorder({ isTTY: false })
    r.progress().log("saved checkpoint step-5")
    expect(r.written).toEqual(["saved checkpoint step-5\n"])
  })
})

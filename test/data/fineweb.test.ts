import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { TaskContext } from "../../src/data/executor/task.ts"
import { type FilterRunConfig, planJobs, runStage, type StageName, summaryTable } from "../../src/data/fineweb.ts"
import { mergeStats, type Stats, StatsCollector } from "../../src/data/stats.ts"

const lcg = (seed: number) => () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0)
/** 80 words with two stop words, distinct enough to pass Gopher quality and to share no 5-gram with another seed. */
const page = (seed: number) => {
  const rnd = lcg(seed)
  return ["the", "and", ...Array.from({ length: 78 }, () => "word" + (rnd() % 100000).toString(36))].join(" ") + "."
}
const readIds = (dir: string): Array<{ id: string; metadata: Record<string, unknown> }> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .flatMap((e) => readFileSync(path.join(e.parentPath, e.name), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)))

describe("FineWeb run stages (in process)", () => {
  it.effect("filter → MinHash dedup: every input document is kept or dropped exactly once, under its id", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(path.join(tmpdir(), "smol-fineweb-"))
      mkdirSync(path.join(dir, "in"))
      const rows = [
        [{ id: "a", text: page(1) }, { id: "short", text: "the and too short" }, { id: "b", text: page(2) }],
        [{ id: "a-copy", text: "  " + page(1).replace(".", "!") }, { id: "c", text: page(3) }]
      ]
      rows.forEach((r, i) => writeFileSync(path.join(dir, "in", `${i}.jsonl`), r.map((x) => JSON.stringify(x)).join("\n") + "\n"))
      const config: FilterRunConfig = {
        inputs: [path.join(dir, "in")],
        output: path.join(dir, "out"),
        exclusions: path.join(dir, "out", "dropped"),
        format: "jsonl",
        gzip: false,
        filters: ["gopher_quality"],
        c4TerminalPunct: false,
        dedup: "minhash",
        minhashHash: "xxhash",
        tasks: 2,
        workers: 1,
        textKey: "text",
        idKey: "id"
      }
      const jobs = planJobs(config, "programs/filter.ts", "config.json")
      expect(jobs.map((j) => [j.stage, j.tasks, j.depends?.name])).toEqual([
        ["filter", 2, undefined],
        ["minhash_buckets", 14, "filter"],
        ["minhash_cluster", 1, "minhash_buckets"],
        ["dedup_filter", 2, "minhash_cluster"]
      ])
      const all: Array<Stats> = []
      for (const job of jobs) {
        for (let rank = 0; rank < job.tasks; rank++) {
          const stats = new StatsCollector()
          const ctx: TaskContext = { rank, worldSize: job.tasks, loggingDir: job.loggingDir, stats, log: () => {}, progress: () => {} }
          yield* runStage(config, job.stage as StageName, ctx)
          all.push(stats.toJSON())
        }
      }
      const kept = readIds(path.join(dir, "out", "kept"))
      const dropped = readIds(path.join(dir, "out", "dropped"))
      expect(kept.map((d) => d.id).sort()).toEqual(["a", "b", "c"])
      expect(dropped.map((d) => [d.id, d.metadata["filter_reason"], d.metadata["duplicate_of"]]).sort()).toEqual([
        ["a-copy", "minhash_duplicate", "a"],
        ["short", "gopher_short_doc", undefined]
      ])
      const table = summaryTable(config, mergeStats(all))
      expect(table).toMatch(/gopher_quality\s+gopher_short_doc\s+1/)
      expect(table).toMatch(/minhash\s+minhash_duplicate\s+1/)
      expect(table).toMatch(/minhash\s+kept\s+3/)
    }))
})

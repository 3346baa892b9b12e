/**
 * The FineWeb-style filtering run as executor jobs: the filter chain (default order as datatrove's
 * examples/fineweb.py: Gopher repetition → Gopher quality → C4 quality with filter_no_terminal_punct=False →
 * FineWeb quality), then optionally MinHash or exact dedup. Each stage is a job of the local (or Slurm) executor
 * whose tasks run `programs/filter.ts task` with the run's config.json; this file says what a task of each stage
 * does and how the stages depend on each other.
 *
 * Layout under OUTPUT: kept/ (the surviving documents), logs/<stage>/ (markers, per-task logs, stats),
 * stats.json (all stages merged), .work/ (intermediate files of dedup). Dropped documents go to
 * EXCLUSIONS/<filter>/ (default OUTPUT/dropped) with metadata.filter_reason (and duplicate_of for dedup).
 * With dedup, the filter stage writes survivors to .work/filtered/<rank>.jsonl and computes their signatures in
 * the same pass; the last stage reads that file back, so index n in the signature files is line n there.
 *
 * MinHash indexes (dedup/minhash-index.ts): `minhashIndex` dedups against the `*.minhash.index` files of an index
 * folder (datatrove's index_folder; documents matching it are dropped with duplicate_of `index:<name>`), also
 * within the input unless `minhashIndexOnly` (datatrove's only_dedup_in_index). `minhashBuildIndex` names an
 * index of this run's signatures: written into the `minhashIndex` folder by the buckets stage when there is one
 * (create_index_name: only signatures no index had yet), else into OUTPUT/index by a MinhashBuildIndex job.
 */
import { Effect, Schema, Stream } from "effect"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { dedupFilter } from "./dedup/filter.ts"
import { exactDedupFind, exactDedupSignatures } from "./dedup/exact.ts"
import { defaultMinhashConfig, type MinhashConfig, minhashBuckets, minhashCluster, minhashSignatures } from "./dedup/minhash.ts"
import { minhashBuildIndex } from "./dedup/minhash-index.ts"
import type { Document } from "./Document.ts"
import { DataConfigError } from "./errors.ts"
import { mergeStatsFiles, type TaskContext } from "./executor/task.ts"
import type { Job } from "./executor/local.ts"
import { C4QualityFilter } from "./filters/c4-quality.ts"
import { applyFilters, type DocFilter } from "./filters/Filter.ts"
import { FineWebQualityFilter } from "./filters/fineweb-quality.ts"
import { GopherQualityFilter } from "./filters/gopher-quality.ts"
import { GopherRepetitionFilter } from "./filters/gopher-repetition.ts"
import { readDocuments } from "./io/readers.ts"
import { makeWriter } from "./io/writers.ts"
import { mergeStats, type Stats } from "./stats.ts"
import { readFileSync } from "node:fs"
import { writeFileAtomicSync } from "./io/atomic.ts"

export const FilterName = Schema.Literals(["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"])
export type FilterName = typeof FilterName.Type
export const FINEWEB_FILTERS: ReadonlyArray<FilterName> = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]

export const FilterRunConfig = Schema.Struct({
  inputs: Schema.Array(Schema.String),
  output: Schema.String,
  exclusions: Schema.String,
  format: Schema.Literals(["jsonl", "parquet", "arrow"]),
  gzip: Schema.Boolean,
  filters: Schema.Array(FilterName),
  c4TerminalPunct: Schema.Boolean,
  dedup: Schema.Literals(["none", "minhash", "exact"]),
  minhashHash: Schema.Literals(["xxhash", "sha1"]),
  /** Index folder to dedup against (MinHash only). */
  minhashIndex: Schema.optional(Schema.String),
  /** With minhashIndex: drop only matches with the index, not duplicates inside the input. */
  minhashIndexOnly: Schema.optional(Schema.Boolean),
  /** Name of an index of this run's signatures to write (MinHash only). */
  minhashBuildIndex: Schema.optional(Schema.String),
  tasks: Schema.Number,
  workers: Schema.Number,
  textKey: Schema.String,
  idKey: Schema.String,
  glob: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.Number)
})
export type FilterRunConfig = typeof FilterRunConfig.Type

export type StageName = "filter" | "minhash_build_index" | "minhash_buckets" | "minhash_cluster" | "exact_find" | "dedup_filter"
export const STAGE_NAMES: ReadonlyArray<StageName> = ["filter", "minhash_build_index", "minhash_buckets", "minhash_cluster", "exact_find", "dedup_filter"]

const work = (c: FilterRunConfig, ...p: Array<string>) => path.join(c.output, ".work", ...p)
export const stageLogDir = (c: FilterRunConfig, stage: StageName) => path.join(c.output, "logs", stage)
const minhashConfig = (c: FilterRunConfig): MinhashConfig => ({ ...defaultMinhashConfig, hashFc: c.minhashHash })
/**
 * Where `minhashBuildIndex` goes: the index folder deduped against (bucket_<b>/<name>_<worker>.minhash.index,
 * written by the buckets stage), or OUTPUT/index (bucket_<b>/<name>.minhash.index, by the build-index job).
 */
export const indexOutputFolder = (c: FilterRunConfig): string | undefined =>
  c.minhashBuildIndex === undefined ? undefined : c.minhashIndex ?? path.join(c.output, "index")

const makeFilter = (name: FilterName, c: FilterRunConfig): DocFilter => {
  switch (name) {
    case "gopher_repetition":
      return GopherRepetitionFilter()
    case "gopher_quality":
      return GopherQualityFilter()
    case "c4_quality":
      return C4QualityFilter({ filterNoTerminalPunct: c.c4TerminalPunct })
    case "fineweb_quality":
      return FineWebQualityFilter()
  }
}

/** The jobs of a run, each depending on the previous one; the last one is what the caller runs. */
export const planJobs = (c: FilterRunConfig, script: string, configFile: string): Array<Job & { stage: StageName }> => {
  const job = (stage: StageName, tasks: number, outputs: Array<string>, ranksPerProcess = 1): Job & { stage: StageName } => ({
    stage,
    name: stage,
    loggingDir: stageLogDir(c, stage),
    tasks,
    workers: c.workers,
    script,
    args: ["task", "--config", configFile, "--stage", stage],
    outputs,
    ranksPerProcess
  })
  const dropped = c.exclusions
  const jobs = [job("filter", c.tasks, [path.join(c.output, "kept"), dropped, work(c)])]
  if (c.dedup === "minhash") {
    const buckets = defaultMinhashConfig.numBuckets
    const perProcess = Math.ceil(buckets / Math.max(1, c.workers))
    const indexOut = indexOutputFolder(c)
    if (indexOut !== undefined && c.minhashIndex === undefined) jobs.push(job("minhash_build_index", buckets, [indexOut], perProcess))
    jobs.push(job("minhash_buckets", buckets, [work(c), ...(indexOut !== undefined && c.minhashIndex !== undefined ? [indexOut] : [])], perProcess))
    jobs.push(job("minhash_cluster", 1, [work(c)]))
  } else if (c.dedup === "exact") jobs.push(job("exact_find", 1, [work(c)]))
  if (c.dedup !== "none") jobs.push(job("dedup_filter", c.tasks, [path.join(c.output, "kept"), dropped]))
  const chained: Array<Job & { stage: StageName }> = []
  for (const j of jobs) chained.push(chained.length === 0 ? j : { ...j, depends: chained.at(-1)! })
  return chained
}

/** What one task of `stage` does. */
export const runStage = (c: FilterRunConfig, stage: StageName, ctx: TaskContext) =>
  Effect.scoped(Effect.gen(function*() {
    const { rank, stats } = ctx
    const format = c.format
    const compression = c.gzip ? ("gzip" as const) : null
    const writer = (folder: string) => makeWriter({ folder, format, compression, rank })
    let docs = 0
    let bytes = 0
    // Counted a chunk at a time (the readers hand documents one by one; one Effect step per chunk, not per document).
    const counted = <E, R>(s: Stream.Stream<Document, E, R>) =>
      s.pipe(
        Stream.rechunk(256),
        Stream.mapArray((chunk) => {
          docs += chunk.length
          for (const d of chunk) bytes += Buffer.byteLength(d.text)
          ctx.progress(docs, bytes)
          return chunk
        })
      )
    const writeAll = <E, R>(s: Stream.Stream<Document, E, R>, folder: string, fixedName?: string) =>
      Effect.gen(function*() {
        const w = yield* (fixedName === undefined ? writer(folder) : makeWriter({ folder, format: "jsonl", rank, template: fixedName }))
        yield* s.pipe(Stream.chunks, Stream.runForEach((chunk) => w.write(chunk)))
      })
    switch (stage) {
      case "filter": {
        const chain = []
        for (const name of c.filters) {
          const filter = makeFilter(name, c)
          chain.push({ filter, exclusion: yield* writer(path.join(c.exclusions, filter.id)) })
        }
        const survivors = readDocuments(c.inputs, {
          rank,
          worldSize: ctx.worldSize,
          textKey: c.textKey,
          idKey: c.idKey,
          ...(c.glob === undefined ? {} : { glob: c.glob }),
          // A limit applies to the whole run: each task reads its share of files, so it is per task here.
          ...(c.limit === undefined ? {} : { limit: c.limit })
        }).pipe(
          counted,
          Stream.mapArray((chunk) => {
            stats.add("reader", "documents", chunk.length)
            return chunk
          }),
          applyFilters(chain, stats)
        )
        if (c.dedup === "none") return yield* writeAll(survivors, path.join(c.output, "kept"))
        const signed = c.dedup === "minhash"
          ? survivors.pipe(minhashSignatures({ folder: work(c, "signatures"), rank, config: minhashConfig(c), stats }))
          : survivors.pipe(exactDedupSignatures({ folder: work(c, "signatures"), rank, stats }))
        return yield* writeAll(signed, work(c, "filtered"), "${rank}.jsonl")
      }
      case "minhash_build_index":
        return yield* minhashBuildIndex({
          input: work(c, "signatures"),
          output: indexOutputFolder(c)!,
          indexName: c.minhashBuildIndex!,
          rank,
          worldSize: ctx.worldSize,
          config: minhashConfig(c),
          stats
        })
      case "minhash_buckets":
        return yield* minhashBuckets({
          input: work(c, "signatures"),
          output: work(c, "buckets"),
          rank,
          worldSize: ctx.worldSize,
          config: minhashConfig(c),
          stats,
          indexFolder: c.minhashIndex,
          // The program dedups within its input too unless told otherwise (datatrove's default is only the index).
          onlyDedupInIndex: c.minhashIndexOnly ?? false,
          createIndexName: c.minhashIndex === undefined ? undefined : c.minhashBuildIndex
        })
      case "minhash_cluster":
        return yield* minhashCluster({ input: work(c, "buckets"), signatures: work(c, "signatures"), output: work(c, "remove"), config: minhashConfig(c), stats })
      case "exact_find":
        return yield* exactDedupFind({ input: work(c, "signatures"), output: work(c, "remove"), stats })
      case "dedup_filter": {
        const id = c.dedup === "minhash" ? "minhash" : "exact"
        const file = path.join(work(c, "filtered"), `${String(rank).padStart(5, "0")}.jsonl`)
        const input = existsSync(file) ? readDocuments([file]) : Stream.empty
        const kept = input.pipe(
          counted,
          dedupFilter({
            folder: work(c, "remove"),
            rank,
            id,
            reason: `${id}_duplicate`,
            stats,
            exclusion: yield* writer(path.join(c.exclusions, id))
          })
        )
        return yield* writeAll(kept, path.join(c.output, "kept"))
      }
    }
  }))

export const loadConfig = (file: string): Effect.Effect<FilterRunConfig, DataConfigError> =>
  Effect.try({
    try: () => Schema.decodeUnknownSync(FilterRunConfig)(JSON.parse(readFileSync(file, "utf8"))),
    catch: (e) => new DataConfigError({ message: `${file}: ${(e as Error).message}` })
  })

/** OUTPUT/stats.json: every stage's merged stats in one file. */
export const mergeRunStats = (c: FilterRunConfig, jobs: ReadonlyArray<Job>): Stats => {
  const merged = mergeStats(jobs.map((j) => mergeStatsFiles(j.loggingDir, j.tasks)))
  writeFileAtomicSync(path.join(c.output, "stats.json"), JSON.stringify(merged, null, 2) + "\n")
  return merged
}

/** Kept / dropped per filter and reason, as a plain text table. */
export const summaryTable = (c: FilterRunConfig, stats: Stats): string => {
  const rows: Array<[string, string, string]> = [["stage", "reason", "documents"]]
  rows.push(["reader", "read", String(stats["reader"]?.["documents"] ?? 0)])
  const stages = [...c.filters, ...(c.dedup === "none" ? [] : [c.dedup])]
  for (const s of stages) {
    const block = stats[s] ?? {}
    for (const [k, v] of Object.entries(block)) if (k.startsWith("dropped_")) rows.push([s, k.slice("dropped_".length), String(v)])
    rows.push([s, "kept", String(block["forwarded"] ?? 0)])
  }
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r, i) => {
    const line = `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padStart(w[2]!)}`
    return i === 0 ? `${line}\n${"-".repeat(line.length)}` : line
  }).join("\n")
}

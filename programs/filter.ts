/**
 * FineWeb-style filtering (and optional dedup) of JSONL / Parquet / Arrow documents, run as sharded tasks.
 *
 *   npx tsx programs/filter.ts --input data/ --output out/ [--exclusions out/dropped] [--tasks 8 --workers 4]
 *       [--filters gopher_repetition,gopher_quality,c4_quality,fineweb_quality] [--c4-terminal-punct]
 *       [--dedup minhash|exact] [--format jsonl|parquet|arrow] [--gzip]
 *       [--dedup-index INDEX_DIR [--dedup-index-only]] [--build-index NAME]     (with --dedup minhash)
 *
 * Kept documents go to OUT/kept/, dropped ones to EXCLUSIONS/<filter>/ with metadata.filter_reason (dedup adds
 * duplicate_of), stats to OUT/stats.json, a report for a person to OUT/report.md (funnel, reasons, dropped
 * examples), per-task logs to OUT/logs/<stage>/. Every input document ends up in exactly one of them, under its
 * original id. Rerunning the same command resumes: finished tasks are skipped.
 * The `task` subcommand is what the executor's worker processes run.
 *
 * MinHash indexes (datatrove's format): --dedup-index also drops documents whose bucket signature is in an index
 * of INDEX_DIR (duplicate_of `index:<name>`); --dedup-index-only keeps duplicates inside the input (datatrove's
 * only_dedup_in_index). --build-index NAME writes an index of this input's signatures: into INDEX_DIR when deduping
 * against one (only the signatures it lacked, as NAME_<worker>.minhash.index), else into OUT/index/.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { existsSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkIndexName } from "../src/data/dedup/minhash.ts"
import { DataConfigError } from "../src/data/errors.ts"
import { runLocal } from "../src/data/executor/local.ts"
import { runAssignedTasks, taskEnvironment } from "../src/data/executor/task.ts"
import {
  FINEWEB_FILTERS,
  type FilterName,
  type FilterRunConfig,
  indexOutputFolder,
  loadConfig,
  mergeRunStats,
  planJobs,
  runStage,
  STAGE_NAMES,
  type StageName,
  summaryTable
} from "../src/data/fineweb.ts"
import { resolveInputs } from "../src/data/io/readers.ts"
import { writeFileAtomicSync } from "../src/data/io/atomic.ts"
import { dropExamples, filterRunReport, runStages } from "../src/data/run-report.ts"

const script = fileURLToPath(import.meta.url)

const run = Command.make(
  "filter",
  {
    input: Flag.String("input").pipe(Flag.withDescription("Input file, folder or hf://datasets/... path (repeatable)"), Flag.atLeast(1)),
    output: Flag.String("output").pipe(Flag.withDescription("Output folder: kept/, logs/, stats.json")),
    exclusions: Flag.String("exclusions").pipe(Flag.withDescription("Dropped documents, one folder per filter (default OUTPUT/dropped)"), Flag.optional),
    filters: Flag.String("filters").pipe(Flag.withDescription("Comma-separated, applied in this order"), Flag.withDefault(FINEWEB_FILTERS.join(","))),
    c4TerminalPunct: Flag.Boolean("c4-terminal-punct").pipe(Flag.withDescription("C4: drop lines without terminal punctuation (FineWeb: off)"), Flag.withDefault(false)),
    dedup: Flag.Literals("dedup", ["none", "minhash", "exact"]).pipe(Flag.withDefault("none" as const)),
    minhashHash: Flag.Literals("minhash-hash", ["xxhash", "sha1"]).pipe(Flag.withDescription("Shingle hash (datatrove default xxhash; examples/fineweb.py used sha1)"), Flag.withDefault("xxhash" as const)),
    dedupIndex: Flag.String("dedup-index").pipe(
      Flag.withDescription("MinHash: also drop documents matching an index in this folder (bucket_XXX/*.minhash.index)"),
      Flag.optional
    ),
    dedupIndexOnly: Flag.Boolean("dedup-index-only").pipe(
      Flag.withDescription("With --dedup-index: drop only matches with the index, keep duplicates inside the input"),
      Flag.withDefault(false)
    ),
    buildIndex: Flag.String("build-index").pipe(
      Flag.withDescription("MinHash: write an index NAME of this input (into --dedup-index's folder if given, else OUTPUT/index)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["jsonl", "parquet", "arrow"]).pipe(Flag.withDefault("jsonl" as const)),
    gzip: Flag.Boolean("gzip").pipe(Flag.withDescription("Gzip JSONL outputs"), Flag.withDefault(false)),
    tasks: Flag.Int("tasks").pipe(Flag.withDefault(1)),
    workers: Flag.Int("workers").pipe(Flag.withDefault(1)),
    textKey: Flag.String("text-key").pipe(Flag.withDefault("text")),
    idKey: Flag.String("id-key").pipe(Flag.withDefault("id")),
    glob: Flag.String("glob").pipe(Flag.optional),
    limit: Flag.Int("limit").pipe(Flag.withDescription("At most this many documents per task"), Flag.optional)
  },
  (a) =>
    Effect.gen(function*() {
      const filters = a.filters.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
      const unknown = filters.filter((f) => !(FINEWEB_FILTERS as ReadonlyArray<string>).includes(f))
      if (unknown.length > 0) return yield* new DataConfigError({ message: `unknown filter(s) ${unknown.join(", ")}; known: ${FINEWEB_FILTERS.join(", ")}` })
      if (a.tasks < 1 || a.workers < 1) return yield* new DataConfigError({ message: "--tasks and --workers must be ≥ 1" })
      if (a.dedup !== "minhash" && (Option.isSome(a.dedupIndex) || Option.isSome(a.buildIndex) || a.dedupIndexOnly)) {
        return yield* new DataConfigError({ message: "--dedup-index, --dedup-index-only and --build-index need --dedup minhash" })
      }
      if (a.dedupIndexOnly && Option.isNone(a.dedupIndex)) return yield* new DataConfigError({ message: "--dedup-index-only needs --dedup-index" })
      if (Option.isSome(a.buildIndex)) {
        const bad = checkIndexName(a.buildIndex.value, "--build-index")
        if (bad !== undefined) return yield* bad
      }
      // A missing index folder would silently dedup against nothing; it may only be new when this run starts it.
      if (Option.isSome(a.dedupIndex) && Option.isNone(a.buildIndex) && !existsSync(a.dedupIndex.value)) {
        return yield* new DataConfigError({ message: `--dedup-index ${a.dedupIndex.value}: no such folder` })
      }
      const output = path.resolve(a.output)
      const config: FilterRunConfig = {
        inputs: a.input.map((i) => (i.startsWith("hf://") ? i : path.resolve(i))),
        output,
        exclusions: Option.isSome(a.exclusions) ? path.resolve(a.exclusions.value) : path.join(output, "dropped"),
        format: a.format,
        gzip: a.gzip,
        filters: filters as Array<FilterName>,
        c4TerminalPunct: a.c4TerminalPunct,
        dedup: a.dedup,
        minhashHash: a.minhashHash,
        ...(Option.isSome(a.dedupIndex) ? { minhashIndex: path.resolve(a.dedupIndex.value) } : {}),
        ...(a.dedupIndexOnly ? { minhashIndexOnly: true } : {}),
        ...(Option.isSome(a.buildIndex) ? { minhashBuildIndex: a.buildIndex.value } : {}),
        tasks: a.tasks,
        workers: a.workers,
        textKey: a.textKey,
        idKey: a.idKey,
        ...(Option.isSome(a.glob) ? { glob: a.glob.value } : {}),
        ...(Option.isSome(a.limit) ? { limit: a.limit.value } : {})
      }
      const configFile = path.join(output, "logs", "config.json")
      writeFileAtomicSync(configFile, JSON.stringify(config, null, 2) + "\n")
      // ETA is known when the inputs are plain JSONL: their size bounds the text the filter stage will read.
      const files = yield* Effect.tryPromise({
        try: () => resolveInputs(config.inputs, { ...(config.glob === undefined ? {} : { glob: config.glob }) }),
        catch: (e) => new DataConfigError({ message: `cannot list inputs: ${(e as Error).message}` })
      })
      const plainBytes = files.every((f) => /\.(jsonl|ndjson)$/i.test(f)) ? files.reduce((s, f) => s + statSync(f).size, 0) : undefined
      const jobs = planJobs(config, script, configFile)
      const started = performance.now()
      yield* runLocal(jobs.at(-1)!, {
        onProgress: (p) => {
          const rate = p.docs / Math.max(p.seconds, 1e-9)
          const mbs = p.bytes / 1e6 / Math.max(p.seconds, 1e-9)
          const fraction = p.job === "filter" && plainBytes !== undefined && plainBytes > 0
            ? Math.min(1, p.bytes / plainBytes)
            : p.completed / p.tasks
          const eta = fraction > 0 && fraction < 1 ? `ETA ~${((p.seconds / fraction) * (1 - fraction)).toFixed(0)} s` : "ETA ?"
          process.stderr.write(
            `[${p.job}] tasks ${p.completed}/${p.tasks}  ${p.docs} docs  ${rate.toFixed(0)} docs/s  ${mbs.toFixed(2)} MB/s  ${eta}\n`
          )
        }
      })
      const stats = mergeRunStats(config, jobs)
      const seconds = (performance.now() - started) / 1000
      yield* Console.log(summaryTable(config, stats))
      // The report a person reads: funnel, reasons, and a few dropped documents per reason.
      const examples = yield* Effect.promise(() => dropExamples(config.exclusions, stats, runStages(config)))
      const reportFile = path.join(output, "report.md")
      writeFileAtomicSync(reportFile, filterRunReport({ config, stats, seconds, inputBytes: plainBytes, examples }) + "\n")
      const indexOut = indexOutputFolder(config)
      yield* Console.log(
        `\nDone in ${seconds.toFixed(1)} s: kept → ${path.join(output, "kept")}, dropped → ${config.exclusions}, stats → ${path.join(output, "stats.json")}, report → ${reportFile}` +
          (indexOut === undefined ? "" : `, index ${config.minhashBuildIndex} → ${indexOut}`)
      )
    })
).pipe(Command.withDescription("Filter documents with the FineWeb heuristic chain, optionally deduplicate"))

const task = Command.make(
  "task",
  {
    config: Flag.String("config"),
    stage: Flag.Literals("stage", STAGE_NAMES)
  },
  (a) =>
    Effect.gen(function*() {
      const env = taskEnvironment()
      if (env === undefined) return yield* new DataConfigError({ message: "`task` is run by the executor (SMOL_RANKS etc. are not set)" })
      const config = yield* loadConfig(a.config)
      yield* runAssignedTasks(env, (ctx) => runStage(config, a.stage as StageName, ctx))
    })
).pipe(Command.withDescription("Run this process's ranks of one stage (started by the executor)"))

run.pipe(
  Command.withSubcommands([task]),
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)

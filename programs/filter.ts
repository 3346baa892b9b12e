/**
 * FineWeb-style filtering (and optional dedup) of JSONL / Parquet / Arrow documents, run as sharded tasks.
 *
 *   npx tsx programs/filter.ts --input data/ --output out/ [--exclusions out/dropped] [--tasks 8 --workers 4]
 *       [--filters gopher_repetition,gopher_quality,c4_quality,fineweb_quality] [--c4-terminal-punct]
 *       [--dedup minhash|exact] [--format jsonl|parquet|arrow] [--gzip]
 *       [--dedup-index INDEX_DIR [--dedup-index-only]] [--build-index NAME]     (with --dedup minhash)
 *       [--executor slurm [--wait] [--partition P --time T --cpus-per-task C --mem-per-cpu M --qos Q --account A
 *        --sbatch KEY=VALUE … --env-command CMD]]          (each stage a Slurm job array; README: "Running on a Slurm cluster")
 *
 * Kept documents go to OUT/kept/, dropped ones to EXCLUSIONS/<filter>/ with metadata.filter_reason (dedup adds
 * duplicate_of), stats to OUT/stats.json, a report for a person to OUT/report.md (funnel, reasons, dropped
 * examples), per-task logs to OUT/logs/<stage>/. Every input document ends up in exactly one of them, under its
 * original id. Rerunning the same command resumes: finished tasks are skipped.
 * An input without documents (an empty file, a folder without data files) is not an error: the run says so and
 * leaves the empty outputs the next step expects. A bad record fails the run with the file and line that hold it.
 * (The unlisted `task` subcommand is what the executor's worker processes run.)
 *
 * MinHash indexes (datatrove's format): --dedup-index also drops documents whose bucket signature is in an index
 * of INDEX_DIR (duplicate_of `index:<name>`); --dedup-index-only keeps duplicates inside the input (datatrove's
 * only_dedup_in_index). --build-index NAME writes an index of this input's signatures: into INDEX_DIR when deduping
 * against one (only the signatures it lacked, as NAME_<worker>.minhash.index), else into OUT/index/.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { executorFlags, executorFromFlags } from "../src/cli/executor-flags.ts"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkIndexName } from "../src/data/dedup/minhash.ts"
import { DataConfigError, ReadError } from "../src/data/errors.ts"
import { fractionOfBytes, jobReport, runJobChain } from "../src/data/executor/run-chain.ts"
import { describeSubmission } from "../src/data/executor/slurm.ts"
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
import { tryWrite, writeFileAtomicSync } from "../src/data/io/atomic.ts"
import { resolveInputs } from "../src/data/io/readers.ts"
import { dropExamples, filterRunReport, runStages } from "../src/data/run-report.ts"

const script = fileURLToPath(import.meta.url)



const filterNames = (list: string) => list.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
const unknownFilters = (list: string) => filterNames(list).filter((f) => !(FINEWEB_FILTERS as ReadonlyArray<string>).includes(f))

/**
 * A rerun resumes: finished tasks are skipped. That is only right for the same run, so an output folder started
 * with other settings (inputs, filters, dedup, tasks, …; the worker count may change) is refused rather than mixed.
 */
const refuseOtherRun = (configFile: string, config: FilterRunConfig) =>
  Effect.suspend(() => {
    if (!existsSync(configFile)) return Effect.void
    let earlier: Record<string, unknown>
    try {
      earlier = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>
    } catch {
      return Effect.void
    }
    const now = config as unknown as Record<string, unknown>
    const differ = [...new Set([...Object.keys(earlier), ...Object.keys(now)])]
      .filter((k) => k !== "workers" && JSON.stringify(earlier[k]) !== JSON.stringify(now[k]))
    if (differ.length === 0) return Effect.void
    return Effect.fail(new DataConfigError({
      message: `${config.output} holds a run started with other settings (${differ.map((k) => `${k}: ${JSON.stringify(earlier[k])} then, ` +
        `${JSON.stringify(now[k])} now`).join("; ")}); rerun with the same settings to resume it, or give another --output`
    }))
  })

const run = Command.make(
  "filter",
  {
    input: Flag.String("input").pipe(Flag.withDescription("Input file, folder or hf://datasets/... path (repeatable; required)"), Flag.atLeast(1)),
    output: Flag.String("output").pipe(Flag.withDescription("Output folder: kept/, logs/, stats.json, report.md (required)")),
    exclusions: Flag.String("exclusions").pipe(Flag.withDescription("Dropped documents, one folder per filter (default: OUTPUT/dropped)"), Flag.optional),
    filters: Flag.String("filters").pipe(
      Flag.filter((list) => unknownFilters(list).length === 0, (list) => `filter names among ${FINEWEB_FILTERS.join(", ")} (unknown: ${unknownFilters(list).join(", ")})`),
      defaulting(FINEWEB_FILTERS.join(","), "Comma-separated, applied in this order")
    ),
    c4TerminalPunct: Flag.Boolean("c4-terminal-punct").pipe(defaulting(false, "C4: drop lines that do not end in terminal punctuation (FineWeb keeps them)", "off")),
    dedup: Flag.Literals("dedup", ["none", "minhash", "exact"]).pipe(defaulting("none" as const, "Deduplicate the filtered documents")),
    minhashHash: Flag.Literals("minhash-hash", ["xxhash", "sha1"]).pipe(
      defaulting("xxhash" as const, "MinHash shingle hash (datatrove's default; its examples/fineweb.py used sha1)")
    ),
    dedupIndex: Flag.String("dedup-index").pipe(
      Flag.withDescription("MinHash: also drop documents matching an index in this folder (bucket_XXX/*.minhash.index; default: none)"),
      Flag.optional
    ),
    dedupIndexOnly: Flag.Boolean("dedup-index-only").pipe(
      defaulting(false, "With --dedup-index: drop only matches with the index, keep duplicates inside the input", "off")
    ),
    buildIndex: Flag.String("build-index").pipe(
      Flag.filter((name) => checkIndexName(name, "--build-index") === undefined, () => "a name usable as a file name (no / or \\, not . or ..)"),
      Flag.withDescription("MinHash: write an index NAME of this input (into --dedup-index's folder if given, else OUTPUT/index; default: none)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["jsonl", "parquet", "arrow"]).pipe(defaulting("jsonl" as const, "Format of the kept and dropped documents")),
    gzip: Flag.Boolean("gzip").pipe(defaulting(false, "Gzip JSONL outputs", "off")),
    tasks: Flag.Int("tasks").pipe(atLeast(1), defaulting(1, "Shards of the input; each input file goes to one task")),
    workers: Flag.Int("workers").pipe(
      atLeast(1),
      Flag.withDescription("Tasks run at the same time, each in its own process (default: 1; with --executor slurm: all of them)"),
      Flag.optional
    ),
    textKey: Flag.String("text-key").pipe(defaulting("text", "The input field holding a document's text")),
    idKey: Flag.String("id-key").pipe(defaulting("id", "The input field holding a document's id (missing: FILE/INDEX)")),
    glob: Flag.String("glob").pipe(Flag.withDescription("Only files of an input folder whose relative path matches, e.g. '**/*.jsonl.gz' (default: all)"), Flag.optional),
    limit: Flag.Int("limit").pipe(atLeast(1), Flag.withDescription("At most this many documents per task (default: all)"), Flag.optional),
    ...executorFlags
  },
  (a) =>
    Effect.gen(function*() {
      if (a.dedup !== "minhash" && (Option.isSome(a.dedupIndex) || Option.isSome(a.buildIndex) || a.dedupIndexOnly)) {
        return yield* new DataConfigError({ message: "--dedup-index, --dedup-index-only and --build-index need --dedup minhash" })
      }
      const executor = yield* executorFromFlags(a)
      if (a.dedupIndexOnly && Option.isNone(a.dedupIndex)) return yield* new DataConfigError({ message: "--dedup-index-only needs --dedup-index" })
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
        filters: filterNames(a.filters) as Array<FilterName>,
        c4TerminalPunct: a.c4TerminalPunct,
        dedup: a.dedup,
        minhashHash: a.minhashHash,
        ...(Option.isSome(a.dedupIndex) ? { minhashIndex: path.resolve(a.dedupIndex.value) } : {}),
        ...(a.dedupIndexOnly ? { minhashIndexOnly: true } : {}),
        ...(Option.isSome(a.buildIndex) ? { minhashBuildIndex: a.buildIndex.value } : {}),
        tasks: a.tasks,
        // Under Slurm the workers are the array's throttle (%N): no limit unless asked for.
        workers: Option.getOrElse(a.workers, () => (executor._tag === "slurm" ? a.tasks : 1)),
        textKey: a.textKey,
        idKey: a.idKey,
        ...(Option.isSome(a.glob) ? { glob: a.glob.value } : {}),
        ...(Option.isSome(a.limit) ? { limit: a.limit.value } : {})
      }
      // Listed before anything is written, so that a wrong --input fails without leaving an output folder.
      const files = yield* Effect.tryPromise({
        try: () => resolveInputs(config.inputs, { ...(config.glob === undefined ? {} : { glob: config.glob }) }),
        catch: (e) => new DataConfigError({ message: `--input: cannot list ${config.inputs.join(", ")}: ${e instanceof Error ? e.message : String(e)}` })
      })
      if (files.length === 0) {
        yield* Console.error(
          `warning: no input files in ${config.inputs.join(", ")}${config.glob === undefined ? "" : ` matching --glob ${config.glob}`} ` +
            "(looked for .jsonl[.gz], .ndjson, .json, .parquet, .arrow); the outputs will be empty"
        )
      }
      const configFile = path.join(output, "logs", "config.json")
      yield* refuseOtherRun(configFile, config)
      yield* tryWrite(configFile, () => writeFileAtomicSync(configFile, JSON.stringify(config, null, 2) + "\n"))
      // ETA is known when the inputs are plain JSONL: their size bounds the text the filter stage will read.
      const plainBytes = files.every((f) => /\.(jsonl|ndjson)$/i.test(f)) ? files.reduce((s, f) => s + statSync(f).size, 0) : undefined
      const jobs = planJobs(config, script, configFile)
      const started = performance.now()
      // A line per job: the filter, then dedup's stages.
      const outcome = yield* runJobChain(jobs, executor, {
        report: (p) => ({ ...jobReport(p), fraction: p.job === "filter" ? fractionOfBytes(p, plainBytes) : undefined })
      })
      // Submitted to Slurm and not waited for: the job ids and how to follow and resume them are the result.
      if (outcome._tag === "Submitted") return yield* Console.log(describeSubmission(outcome.stages, outcome.following))
      const stats = mergeRunStats(config, jobs)
      const seconds = (performance.now() - started) / 1000
      const kept = path.join(output, "kept")
      // The next step reads these folders: they exist even when nothing was kept or dropped.
      yield* tryWrite(kept, () => {
        mkdirSync(kept, { recursive: true })
        mkdirSync(config.exclusions, { recursive: true })
      })
      yield* Console.log(summaryTable(config, stats))
      // The report a person reads: funnel, reasons, and a few dropped documents per reason.
      const examples = yield* Effect.tryPromise({
        try: () => dropExamples(config.exclusions, stats, runStages(config)),
        catch: (e) => new ReadError({ file: config.exclusions, location: "file", message: `cannot read dropped documents for the report: ${e instanceof Error ? e.message : String(e)}` })
      })
      const reportFile = path.join(output, "report.md")
      yield* tryWrite(reportFile, () => writeFileAtomicSync(reportFile, filterRunReport({ config, stats, seconds, inputBytes: plainBytes, examples }) + "\n"))
      const indexOut = indexOutputFolder(config)
      yield* Console.log(
        `\nDone in ${seconds.toFixed(1)} s: kept → ${kept}, dropped → ${config.exclusions}, stats → ${path.join(output, "stats.json")}, report → ${reportFile}` +
          (indexOut === undefined ? "" : `, index ${config.minhashBuildIndex} → ${indexOut}`)
      )
      if ((stats["reader"]?.["documents"] ?? 0) === 0 && files.length > 0) {
        yield* Console.error(
          `warning: the input had no documents (${files.length === 1 ? `${files[0]} is empty` : `${files.length} files, all empty`}); ` +
            "kept/ and the dropped folders are empty"
        )
      }
    })
).pipe(Command.withDescription("Filter documents with the FineWeb heuristic chain, optionally deduplicate"))

/** What the executor's worker processes run: not for people, so not listed in --help. */
const task = Command.make(
  "task",
  {
    config: Flag.String("config").pipe(Flag.withDescription("The run's logs/config.json")),
    stage: Flag.Literals("stage", STAGE_NAMES).pipe(Flag.withDescription("The stage whose ranks to run"))
  },
  (a) =>
    Effect.gen(function*() {
      const env = taskEnvironment()
      if (env === undefined) return yield* new DataConfigError({ message: "`task` is run by the executor (SMOL_RANKS etc. are not set)" })
      const config = yield* loadConfig(a.config)
      yield* runAssignedTasks(env, (ctx) => runStage(config, a.stage as StageName, ctx))
    })
).pipe(Command.withDescription("Run this process's ranks of one stage (started by the executor)"), Command.unlisted)

run.pipe(
  Command.withSubcommands([task]),
  Command.run({ version: "0.1.0" }),
  runMain
)

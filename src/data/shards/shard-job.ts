/**
 * Token shards as sharded executor jobs, the way programs/filter.ts runs its stages: a `tokenize` job of `tasks`
 * ranks (datatrove's DocumentTokenizer), then optionally a one-task `merge` job that waits for it (datatrove's
 * DocumentTokenizerMerger). Worker processes run `programs/tokenizer.ts task --config FILE --job NAME`, here or
 * as Slurm arrays (data/executor/run-job.ts), and a rank's completion marker is written after its files, so a
 * rerun redoes exactly the unfinished ranks.
 *
 * Rank r of N reads `files[r::N]` of the listed inputs (folders sorted, as datatrove's readers shard them): a file
 * goes to one rank, in input order; ranks past the number of files have nothing to read and write no shard (as
 * datatrove's, which warn "No files found"). Each rank tokenizes its documents into OUT with datatrove's names for
 * its rank (`RANK_unshuffled.ds`, or with a seed `RANK_SUB_doc_shuffled.ds`); with a seed every rank shuffles its
 * own documents by the first permutation of `default_rng(seed)`, as each datatrove task runs a fresh copy of the
 * step. Layout:
 *   OUT/00000_….ds (+ .index, .metadata)        the ranks' shards
 *   OUT/merged/000_NAME.ds …, NAME.ds.metadata   with a merge: every shard of OUT, interleaved (seeded with --seed)
 *   OUT/logs/config.json, OUT/logs/tokenize/, OUT/logs/merge/   settings, markers, stats, per-task logs
 */
import { Effect, Schema, Stream } from "effect"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { DataConfigError, ReadError, type WriteError } from "../errors.ts"
import type { Job } from "../executor/local.ts"
import { pad5, statsPath } from "../executor/rank-files.ts"
import { fractionOfBytes, jobReport, runJobChain } from "../executor/run-chain.ts"
import type { Executor, JobOutcome } from "../executor/run-job.ts"
import type { TaskContext } from "../executor/task.ts"
import { tryWrite, writeFileAtomicSync } from "../io/atomic.ts"
import { readDocuments, resolveInputs } from "../io/readers.ts"
import type { Stats } from "../stats.ts"
import { loadTokenizer } from "../tokenizer/Tokenizer.ts"
import { listTokenShards } from "./reader.ts"
import { mergeTokenShards, tokenizeToShards } from "./writer.ts"

export const ShardMergeConfig = Schema.Struct({
  /** Output files are `000_NAME.ds`, `001_NAME.ds`, … and `NAME.ds.metadata`. */
  name: Schema.String,
  maxTokensPerFile: Schema.Number
})

export const ShardRunConfig = Schema.Struct({
  inputs: Schema.Array(Schema.String),
  glob: Schema.optional(Schema.String),
  textKey: Schema.String,
  /** OUT: the ranks' shards; merged/ and logs/ inside it. */
  output: Schema.String,
  /** The tokenizer.json every task loads (absolute). */
  tokenizer: Schema.String,
  /** Written into each `.metadata` (as given on the command line: datatrove writes the name or path it loaded). */
  tokenizerName: Schema.String,
  eosToken: Schema.String,
  /** Shuffles each rank's documents, and the merge's interleaving; input order without it. */
  seed: Schema.optional(Schema.Number),
  maxTokensPerFile: Schema.optional(Schema.Number),
  batchSize: Schema.Number,
  tasks: Schema.Number,
  /** How fast, not what: these two may change between a run and its resumption. */
  workers: Schema.Number,
  threads: Schema.Number,
  merge: Schema.optional(ShardMergeConfig)
})
export type ShardRunConfig = typeof ShardRunConfig.Type

export type ShardJobName = "tokenize" | "merge"
export const SHARD_JOB_NAMES: ReadonlyArray<ShardJobName> = ["tokenize", "merge"]

/** Stats blocks (datatrove's vocabulary: one block per step) of the two jobs. */
export const TOKENIZE_STATS = "tokenize"
export const MERGE_STATS = "merge"

export const shardJobDir = (config: ShardRunConfig, job: ShardJobName) => path.join(config.output, "logs", job)
export const shardConfigPath = (output: string) => path.join(output, "logs", "config.json")
/** Where a merge writes, fixed so that a rerun finds it. */
export const mergedFolder = (config: ShardRunConfig) => path.join(config.output, "merged")

/** The executor's jobs, chained: tokenize, then the merge when asked for; the last is the one to run. */
export const planShardJobs = (config: ShardRunConfig, configFile: string, script: string): Array<Job> => {
  const job = (name: ShardJobName, tasks: number, outputs: ReadonlyArray<string>): Job => ({
    name,
    loggingDir: shardJobDir(config, name),
    tasks,
    workers: Math.min(config.workers, tasks),
    script,
    args: ["task", "--config", configFile, "--job", name],
    outputs
  })
  const tokenize = job("tokenize", config.tasks, [config.output])
  if (config.merge === undefined) return [tokenize]
  return [tokenize, { ...job("merge", 1, [mergedFolder(config)]), depends: tokenize }]
}

/** Settings that change what is written; workers and threads only change how fast. */
const meaningful = (c: Record<string, unknown>) => {
  const { merge: _merge, threads: _threads, workers: _workers, ...rest } = c
  return rest
}

/**
 * Writes OUT/logs/config.json. A rerun resumes (finished ranks are skipped), which is only right for the same
 * run: an output folder started with other settings is refused, naming what differs, rather than mixed. A run
 * started without a merge may gain one; a merge once asked for keeps its settings.
 */
export const writeShardConfig = (config: ShardRunConfig): Effect.Effect<string, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const file = shardConfigPath(config.output)
    const earlier = readEarlier(file)
    if (earlier !== undefined) {
      const before = meaningful(earlier)
      const now = meaningful(config as unknown as Record<string, unknown>)
      const shown = (v: unknown) => JSON.stringify(v) ?? "none"
      const differ = [...new Set([...Object.keys(before), ...Object.keys(now)])]
        .filter((k) => shown(before[k]) !== shown(now[k]))
        .map((k) => `${k}: ${shown(before[k])} then, ${shown(now[k])} now`)
      if (earlier["merge"] !== undefined && shown(earlier["merge"]) !== shown(config.merge)) {
        differ.push(`merge: ${shown(earlier["merge"])} then, ${shown(config.merge)} now`)
      }
      if (differ.length > 0) {
        return yield* new DataConfigError({
          message: `${config.output} holds a run started with other settings (${differ.join("; ")}); ` +
            "rerun with the same settings to resume it, or give another --output"
        })
      }
    }
    yield* tryWrite(file, () => writeFileAtomicSync(file, JSON.stringify(config, null, 2) + "\n"))
    return file
  })

const readEarlier = (file: string): Record<string, unknown> | undefined => {
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
  } catch {
    return undefined
  }
}

export const loadShardConfig = (file: string): Effect.Effect<ShardRunConfig, DataConfigError> =>
  Effect.try({
    try: () => Schema.decodeUnknownSync(ShardRunConfig)(JSON.parse(readFileSync(file, "utf8"))),
    catch: (e) => new DataConfigError({ message: `${file}: not a shard run's config: ${(e as Error).message}` })
  })

/**
 * Removes the files of `folder` whose names match `own`: what an earlier, killed attempt at the same rank
 * committed before it died (its temporary files are the executor's to clear), so that a rerun's folder holds only
 * what the rerun writes.
 */
const removeOwnFiles = (folder: string, own: RegExp) =>
  tryWrite(folder, () => {
    if (!existsSync(folder)) return
    for (const name of readdirSync(folder)) if (own.test(name)) rmSync(path.join(folder, name), { force: true })
  })

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** One task of job `name` (run by the executor's worker processes). */
export const runShardTask = (config: ShardRunConfig, name: string, ctx: TaskContext) =>
  Effect.scoped(Effect.gen(function*() {
    if (name === "tokenize") {
      const { rank, worldSize } = ctx
      const files = yield* Effect.tryPromise({
        try: () => resolveInputs(config.inputs, { rank, worldSize, ...(config.glob === undefined ? {} : { glob: config.glob }) }),
        catch: (e) => new ReadError({ file: config.inputs.join(", "), location: "file", message: `cannot list the inputs: ${e instanceof Error ? e.message : String(e)}` })
      })
      yield* removeOwnFiles(config.output, new RegExp(`^${pad5(rank)}_.*\\.ds(\\.index|\\.metadata)?$`))
      if (files.length === 0) return ctx.log(`no input file for rank ${rank} of ${worldSize}: nothing to tokenize`)
      const tokenizer = yield* loadTokenizer(config.tokenizer, { threads: config.threads, name: config.tokenizerName })
      let docs = 0
      let bytes = 0
      const texts = readDocuments(files, { textKey: config.textKey }).pipe(Stream.map((d) => {
        docs++
        bytes += Buffer.byteLength(d.text)
        ctx.progress(docs, bytes)
        return d.text
      }))
      const summary = yield* tokenizeToShards(texts, tokenizer, {
        outputDir: config.output,
        eosToken: config.eosToken,
        batchSize: config.batchSize,
        rank,
        ...(config.seed === undefined ? {} : { shuffleSeed: config.seed }),
        ...(config.maxTokensPerFile === undefined ? {} : { maxTokensPerFile: config.maxTokensPerFile })
      })
      ctx.stats.add(TOKENIZE_STATS, "input_files", files.length)
      ctx.stats.add(TOKENIZE_STATS, "documents", summary.documents)
      ctx.stats.add(TOKENIZE_STATS, "tokens", summary.tokens)
      ctx.stats.add(TOKENIZE_STATS, "files", summary.files.length)
      ctx.stats.add(TOKENIZE_STATS, "text_bytes", bytes)
      return ctx.log(`${files.length} input file(s) → ${summary.documents} documents, ${summary.tokens} tokens in ${summary.files.length} file(s)`)
    }
    if (name === "merge" && config.merge !== undefined) {
      const merge = config.merge
      const folder = mergedFolder(config)
      yield* removeOwnFiles(folder, new RegExp(`^(\\d{3,}_${escapeRegExp(merge.name)}\\.ds(\\.index|\\.metadata)?|${escapeRegExp(merge.name)}\\.ds\\.metadata)$`))
      const inputs = yield* listTokenShards(config.output)
      if (inputs.length === 0) return ctx.log(`no shards in ${config.output}: nothing to merge`)
      const summary = yield* mergeTokenShards(inputs, folder, {
        saveFilename: merge.name,
        maxTokensPerFile: merge.maxTokensPerFile,
        ...(config.seed === undefined ? {} : { shuffleSeed: config.seed })
      })
      ctx.progress(summary.documents, 0)
      ctx.stats.add(MERGE_STATS, "input_files", inputs.length)
      ctx.stats.add(MERGE_STATS, "documents", summary.documents)
      ctx.stats.add(MERGE_STATS, "tokens", summary.tokens)
      ctx.stats.add(MERGE_STATS, "files", summary.files.length)
      return ctx.log(`${inputs.length} shard(s) → ${summary.documents} documents, ${summary.tokens} tokens in ${summary.files.length} file(s) in ${folder}`)
    }
    return yield* new DataConfigError({ message: `no job "${name}" in this shard run (${config.merge === undefined ? "tokenize" : "tokenize, merge"})` })
  }))

export type ShardOutcome =
  /** Every rank of every job is complete: each job's merged stats. */
  | { readonly _tag: "Complete"; readonly stats: ReadonlyMap<string, Stats> }
  /** Submitted to Slurm and not waited for. */
  | Extract<JobOutcome, { readonly _tag: "Submitted" }>

/**
 * Runs the jobs on `executor` with a progress line each (stderr): tasks done, documents and MB of text read (and
 * how far through the input, when `inputBytes` bounds it); once complete, every job's merged stats.
 */
export const runShardJobs = (
  jobs: ReadonlyArray<Job>,
  executor: Executor,
  options: { readonly inputBytes?: number | undefined; readonly progress?: boolean } = {}
) =>
  runJobChain(jobs, executor, {
    progress: options.progress ?? true,
    // The merge reads no text: it counts only the documents it wrote.
    report: (p) =>
      p.job === "tokenize"
        ? { ...jobReport(p), fraction: fractionOfBytes(p, options.inputBytes) }
        : { ...jobReport(p), counters: { docs: p.docs } }
  })

/** Tokens written by these ranks of the tokenize job (their stats files), e.g. the ranks a rerun had left to do. */
export const tokensOfRanks = (config: ShardRunConfig, ranks: ReadonlyArray<number>): number => {
  let tokens = 0
  for (const r of ranks) {
    try {
      const s = JSON.parse(readFileSync(statsPath(shardJobDir(config, "tokenize"), r), "utf8")) as Stats
      tokens += s[TOKENIZE_STATS]?.["tokens"] ?? 0
    } catch {
      // a rank with no stats wrote nothing
    }
  }
  return tokens
}

const count = (n: number) => n.toLocaleString("en-US")

/** What a person reads once every job is complete: documents, tokens and files of each job, and where they are. */
export const shardSummary = (config: ShardRunConfig, stats: ReadonlyMap<string, Stats>, tokenSize: 2 | 4): string => {
  const t = stats.get("tokenize")?.[TOKENIZE_STATS] ?? {}
  const lines = [
    `tokenize: ${count(t["documents"] ?? 0)} documents → ${count(t["tokens"] ?? 0)} tokens (${tokenSize}-byte ids) in ` +
    `${count(t["files"] ?? 0)} file(s) from ${count(t["input_files"] ?? 0)} input file(s) by ${config.tasks} task(s) → ${config.output}`
  ]
  if (config.merge !== undefined) {
    const m = stats.get("merge")?.[MERGE_STATS] ?? {}
    lines.push(
      `merge:    ${count(m["documents"] ?? 0)} documents, ${count(m["tokens"] ?? 0)} tokens from ${count(m["input_files"] ?? 0)} shard(s) → ` +
        `${count(m["files"] ?? 0)} file(s) ${path.join(mergedFolder(config), `000_${config.merge.name}.ds`)} …`
    )
  }
  return lines.join("\n")
}

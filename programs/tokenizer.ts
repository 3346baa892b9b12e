/**
 * Tokenization from the command line: HF-exact byte-level BPE, BPE training, and datatrove token shards.
 *
 *   npx tsx programs/tokenizer.ts encode --tokenizer tokenizer.json --input in.jsonl --output out.jsonl [--threads N]
 *   npx tsx programs/tokenizer.ts decode --tokenizer tokenizer.json --input ids.jsonl --output text.jsonl [--skip-special-tokens]
 *   npx tsx programs/tokenizer.ts train --input a.jsonl [--input b.jsonl] --vocab-size 49152 --output tokenizer.json
 *   npx tsx programs/tokenizer.ts shard --tokenizer tokenizer.json --input a.jsonl [--input …] --output OUT [--seed S]
 *       [--max-tokens-per-file N] [--tasks N --workers W] [--merge NAME [--merge-max-tokens-per-file N]]
 *       [--executor slurm [--wait] [--partition P --time T …]]     (README: "Running on a Slurm cluster")
 *   npx tsx programs/tokenizer.ts merge --input DIR --output DIR --name NAME [--seed S]
 *
 * JSONL inputs hold one document per line: {"text": …} (encode, train, shard) or {"ids": […]} (decode). A line
 * that is not JSON or lacks the field stops the run with the file and line number; outputs keep input order and
 * are written through a temporary file, so a failed run leaves none.
 *
 * shard runs as sharded tasks (src/data/shards/shard-job.ts): task r of N tokenizes files[r::N] of the listed
 * inputs into OUT with datatrove's names for rank r, here in worker processes or as a Slurm job array; --merge
 * adds a one-task job after it writing OUT/merged/. Rerunning the same command resumes (finished tasks are
 * skipped); an OUT started with other settings is refused. (The unlisted `task` subcommand is what the
 * executor's worker processes run.)
 */
import { Console, Effect, Option, Schema, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { executorFlags, executorFromFlags } from "../src/cli/executor-flags.ts"
import { atLeast, defaulting, runMain } from "../src/cli/program.ts"
import { DataConfigError } from "../src/data/errors.ts"
import { describeSubmission } from "../src/data/executor/slurm.ts"
import { incompleteRanks, runAssignedTasks, taskEnvironment } from "../src/data/executor/task.ts"
import { resolveInputs } from "../src/data/io/readers.ts"
import { shardError, tokenSizeFor } from "../src/data/shards/format.ts"
import { listTokenShards } from "../src/data/shards/reader.ts"
import {
  loadShardConfig,
  planShardJobs,
  runShardJobs,
  runShardTask,
  SHARD_JOB_NAMES,
  shardJobDir,
  type ShardRunConfig,
  shardSummary,
  tokensOfRanks,
  writeShardConfig
} from "../src/data/shards/shard-job.ts"
import { mergeTokenShards } from "../src/data/shards/writer.ts"
import { tokenizerError } from "../src/data/tokenizer/errors.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"
import { IdsLine, readJsonl, writeLinesAtomic } from "../src/data/io/jsonl.ts"
import { loadTokenizer } from "../src/data/tokenizer/Tokenizer.ts"
import { trainBpe, WordCounter } from "../src/data/tokenizer/train.ts"

const script = fileURLToPath(import.meta.url)

const TextLine = Schema.Struct({ text: Schema.String })

const tokenizerFlag = Flag.String("tokenizer").pipe(Flag.withDescription("A Hugging Face tokenizer.json (byte-level BPE)"))
const threadsFlag = Flag.Int("threads").pipe(Flag.withDescription("Worker threads for encoding"), Flag.withDefault(1))
const batchFlag = Flag.Int("batch-size").pipe(Flag.withDescription("Documents per encoding batch"), Flag.withDefault(1000))

const texts = (inputs: ReadonlyArray<string>) => Stream.fromIterable(inputs).pipe(Stream.flatMap((path) => readJsonl(path, TextLine)), Stream.map((l) => l.value.text))

const encode = Command.make(
  "encode",
  {
    tokenizer: tokenizerFlag,
    input: Flag.String("input").pipe(Flag.withDescription("JSONL with a \"text\" field per line")),
    output: Flag.String("output").pipe(Flag.withDescription("JSONL with an \"ids\" array per line, same order")),
    threads: threadsFlag,
    batchSize: batchFlag
  },
  ({ tokenizer, input, output, threads, batchSize }) =>
    Effect.gen(function*() {
      const t = yield* loadTokenizer(tokenizer, { threads })
      const started = performance.now()
      let bytes = 0
      const lines = texts([input]).pipe(
        Stream.tap((text) => Effect.sync(() => (bytes += Buffer.byteLength(text)))),
        Stream.grouped(batchSize),
        Stream.mapEffect((batch) => t.encodeBatch(batch)),
        Stream.flatMap((encoded) => Stream.fromIterable(encoded)),
        Stream.map((ids) => JSON.stringify({ ids: Array.from(ids) }))
      )
      const count = yield* writeLinesAtomic(output, lines)
      const seconds = (performance.now() - started) / 1000
      yield* Console.error(`${count} documents, ${(bytes / 1e6).toFixed(2)} MB in ${seconds.toFixed(2)} s (${(bytes / 1e6 / seconds).toFixed(2)} MB/s) → ${output}`)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Encode {\"text\"} lines to {\"ids\"} lines with HF-identical ids"))

const decode = Command.make(
  "decode",
  {
    tokenizer: tokenizerFlag,
    input: Flag.String("input").pipe(Flag.withDescription("JSONL with an \"ids\" array per line")),
    output: Flag.String("output").pipe(Flag.withDescription("JSONL with a \"text\" field per line, same order")),
    skipSpecialTokens: Flag.Boolean("skip-special-tokens").pipe(Flag.withDescription("Leave special tokens out of the text"), Flag.withDefault(false))
  },
  ({ tokenizer, input, output, skipSpecialTokens }) =>
    Effect.gen(function*() {
      const t = yield* loadTokenizer(tokenizer)
      const lines = readJsonl(input, IdsLine).pipe(
        Stream.mapEffect((l) => t.decode(l.value.ids, { skipSpecialTokens })),
        Stream.map((text) => JSON.stringify({ text }))
      )
      const count = yield* writeLinesAtomic(output, lines)
      yield* Console.error(`${count} documents decoded → ${output}`)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Decode {\"ids\"} lines to {\"text\"} lines"))

const train = Command.make(
  "train",
  {
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("JSONL files with a \"text\" field per line (repeatable)")),
    vocabSize: Flag.Int("vocab-size").pipe(Flag.withDescription("Vocabulary size including special tokens (SmolLM2: 49152)")),
    output: Flag.String("output").pipe(Flag.withDescription("Where to write tokenizer.json")),
    specialTokens: Flag.String("special-tokens").pipe(
      Flag.withDescription("Comma-separated special tokens, ids 0, 1, … in this order"),
      Flag.withDefault("<|endoftext|>,<|im_start|>,<|im_end|>")
    ),
    minFrequency: Flag.Int("min-frequency").pipe(Flag.withDescription("Never merge pairs seen fewer times"), Flag.withDefault(2))
  },
  ({ input, vocabSize, output, specialTokens, minFrequency }) =>
    Effect.gen(function*() {
      const counter = new WordCounter()
      let documents = 0
      yield* Stream.runForEach(texts(input), (text) => Effect.sync(() => (counter.add(text), documents++)))
      // A tokenizer of the byte alphabet alone would train "successfully" and then encode everything byte by byte.
      if (documents === 0) return yield* tokenizerError("Train", `no documents to train on in ${input.join(", ")}`)
      const json = yield* Effect.try({
        try: () => trainBpe(counter, { vocabSize, specialTokens: specialTokens.split(",").filter((s) => s.length > 0), minFrequency }),
        catch: (e) => tokenizerError("Train", (e as Error).message, e)
      })
      const merges = (json["model"] as { merges: ReadonlyArray<unknown> }).merges.length
      yield* writeFileAtomic(output, JSON.stringify(json, null, 2))
      yield* Console.error(`${documents} documents, ${counter.counts.size} distinct words → ${merges} merges → ${output}`)
    })
).pipe(Command.withDescription("Train a byte-level BPE with SmolLM2's pre-tokenization"))

/** A name usable in a file name: what `--merge` calls the merged files. */
const fileNameSafe = (name: string) => name.length > 0 && !/[/\\]/.test(name) && name !== "." && name !== ".."

const shard = Command.make(
  "shard",
  {
    tokenizer: tokenizerFlag,
    input: Flag.String("input").pipe(
      Flag.atLeast(1),
      Flag.withDescription("JSONL / Parquet / Arrow files, folders or hf:// paths with a text field (repeatable; required)")
    ),
    output: Flag.String("output").pipe(Flag.withDescription("OUT: the ranks' .ds / .ds.index / .ds.metadata files, merged/, logs/ (required)")),
    seed: Flag.Int("seed").pipe(
      Flag.withDescription("Shuffle each task's documents with this seed, every task the same way as datatrove's (default: input order)"),
      Flag.optional
    ),
    maxTokensPerFile: Flag.Int("max-tokens-per-file").pipe(atLeast(1), Flag.withDescription("Roll over to a new file past this many tokens (default: one file per task)"), Flag.optional),
    eosToken: Flag.String("eos-token").pipe(defaulting("<|endoftext|>", "Appended after every document")),
    tasks: Flag.Int("tasks").pipe(
      atLeast(1),
      defaulting(1, "Shards of the input: task r of N tokenizes files[r::N] of the listed inputs (folders sorted); a task without a file writes nothing")
    ),
    workers: Flag.Int("workers").pipe(
      atLeast(1),
      Flag.withDescription("Tasks run at the same time, each in its own process (default: 1; with --executor slurm: all of them)"),
      Flag.optional
    ),
    merge: Flag.String("merge").pipe(
      Flag.filter(fileNameSafe, () => "a name usable as a file name (no / or \\, not . or ..)"),
      Flag.withDescription("Then merge every task's shards into OUT/merged/000_NAME.ds, … (datatrove's DocumentTokenizerMerger, interleaved with --seed) (default: none)"),
      Flag.optional
    ),
    mergeMaxTokensPerFile: Flag.Int("merge-max-tokens-per-file").pipe(
      atLeast(1),
      Flag.withDescription("With --merge: start a new merged file once one holds this many tokens (default: 100e9, datatrove's)"),
      Flag.optional
    ),
    textKey: Flag.String("text-key").pipe(defaulting("text", "The input field holding a document's text")),
    glob: Flag.String("glob").pipe(Flag.withDescription("Only files of an input folder whose relative path matches, e.g. '**/*.jsonl.gz' (default: all)"), Flag.optional),
    threads: threadsFlag,
    batchSize: batchFlag,
    ...executorFlags
  },
  (a) =>
    Effect.gen(function*() {
      const executor = yield* executorFromFlags(a)
      if (Option.isNone(a.merge) && Option.isSome(a.mergeMaxTokensPerFile)) return yield* new DataConfigError({ message: "--merge-max-tokens-per-file needs --merge" })
      // Loaded here too, so that a wrong --tokenizer or --eos-token fails at once rather than in every task.
      const t = yield* loadTokenizer(a.tokenizer)
      if (t.tokenToId(a.eosToken) === undefined) return yield* shardError("Input", `EOS token ${JSON.stringify(a.eosToken)} is not in tokenizer ${a.tokenizer}`)
      const inputs = a.input.map((i) => (i.startsWith("hf://") ? i : path.resolve(i)))
      const glob = Option.getOrUndefined(a.glob)
      // Listed before anything is written, so that a wrong --input fails without leaving an output folder.
      const files = yield* Effect.tryPromise({
        try: () => resolveInputs(inputs, glob === undefined ? {} : { glob }),
        catch: (e) => new DataConfigError({ message: `--input: cannot list ${inputs.join(", ")}: ${e instanceof Error ? e.message : String(e)}` })
      })
      if (files.length === 0) {
        yield* Console.error(`warning: no input files in ${inputs.join(", ")}${glob === undefined ? "" : ` matching --glob ${glob}`} (looked for .jsonl[.gz], .parquet, .arrow); nothing will be written`)
      } else if (a.tasks > files.length) {
        const idle = a.tasks - files.length === 1 ? `task ${files.length} has` : `tasks ${files.length}–${a.tasks - 1} have`
        yield* Console.error(`warning: --tasks ${a.tasks} over ${files.length} input file(s): each file goes to one task, so ${idle} nothing to do`)
      }
      const output = path.resolve(a.output)
      const config: ShardRunConfig = {
        inputs,
        ...(glob === undefined ? {} : { glob }),
        textKey: a.textKey,
        output,
        tokenizer: path.resolve(a.tokenizer),
        tokenizerName: a.tokenizer,
        eosToken: a.eosToken,
        ...(Option.isSome(a.seed) ? { seed: a.seed.value } : {}),
        ...(Option.isSome(a.maxTokensPerFile) ? { maxTokensPerFile: a.maxTokensPerFile.value } : {}),
        batchSize: a.batchSize,
        tasks: a.tasks,
        // Under Slurm the workers are the array's throttle (%N): no limit unless asked for.
        workers: Option.getOrElse(a.workers, () => (executor._tag === "slurm" ? a.tasks : 1)),
        threads: a.threads,
        ...(Option.isSome(a.merge) ? { merge: { name: a.merge.value, maxTokensPerFile: Option.getOrElse(a.mergeMaxTokensPerFile, () => 100e9) } } : {})
      }
      const configFile = yield* writeShardConfig(config)
      // ETA is known when the inputs are plain JSONL: their size bounds the text the tasks will read.
      const inputBytes = files.length > 0 && files.every((f) => /\.(jsonl|ndjson)$/i.test(f)) ? files.reduce((s, f) => s + statSync(f).size, 0) : undefined
      const left = incompleteRanks(shardJobDir(config, "tokenize"), config.tasks)
      const started = performance.now()
      const outcome = yield* runShardJobs(planShardJobs(config, configFile, script), executor, { inputBytes })
      // Submitted to Slurm and not waited for: the job ids and how to follow and resume them are the result.
      if (outcome._tag === "Submitted") return yield* Console.log(describeSubmission(outcome.stages, outcome.following))
      const seconds = (performance.now() - started) / 1000
      yield* Console.log(shardSummary(config, outcome.stats, tokenSizeFor(t.vocabSize)))
      const tokens = tokensOfRanks(config, left)
      yield* Console.log(
        `\nDone in ${seconds.toFixed(1)} s: ` +
          (left.length === 0
            ? "every tokenize task was already complete, nothing tokenized now"
            : `${tokens.toLocaleString("en-US")} tokens by ${left.length} task(s) now, ${Math.round(tokens / Math.max(seconds, 1e-3)).toLocaleString("en-US")} tokens/s`) +
          `; stats → ${path.join(shardJobDir(config, "tokenize"), "stats.json")}`
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Tokenize documents into datatrove token shards, as sharded tasks (here or on Slurm), optionally merged"))

const merge = Command.make(
  "merge",
  {
    input: Flag.String("input").pipe(Flag.withDescription("Folder of .ds shards")),
    output: Flag.String("output").pipe(Flag.withDescription("Folder for the merged files")),
    name: Flag.String("name").pipe(Flag.withDescription("Output files are 000_NAME.ds, 001_NAME.ds, …")),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Interleave the input files in a shuffled order"), Flag.optional),
    maxTokensPerFile: Flag.Int("max-tokens-per-file").pipe(Flag.optional)
  },
  ({ input, output, name, seed, maxTokensPerFile }) =>
    Effect.gen(function*() {
      const inputs = yield* listTokenShards(input)
      const summary = yield* mergeTokenShards(inputs, output, {
        saveFilename: name,
        ...(Option.isSome(seed) ? { shuffleSeed: seed.value } : {}),
        ...(Option.isSome(maxTokensPerFile) ? { maxTokensPerFile: maxTokensPerFile.value } : {})
      })
      for (const f of summary.files) yield* Console.log(`${f.path}\t${f.documents} documents\t${f.tokens} tokens`)
    })
).pipe(Command.withDescription("Merge the shards of many tasks into numbered files (datatrove's DocumentTokenizerMerger)"))

/** What the executor's worker processes run: not for people, so not listed in --help. */
const task = Command.make(
  "task",
  {
    config: Flag.String("config").pipe(Flag.withDescription("The shard run's logs/config.json")),
    job: Flag.Literals("job", SHARD_JOB_NAMES).pipe(Flag.withDescription("The job whose ranks to run"))
  },
  (a) =>
    Effect.gen(function*() {
      const env = taskEnvironment()
      if (env === undefined) return yield* new DataConfigError({ message: "`task` is run by the executor (SMOL_RANKS etc. are not set)" })
      const config = yield* loadShardConfig(a.config)
      yield* runAssignedTasks(env, (ctx) => runShardTask(config, a.job, ctx))
    })
).pipe(Command.withDescription("Run this process's ranks of one shard job (started by the executor)"), Command.unlisted)

Command.make("tokenizer").pipe(
  Command.withDescription("HF-exact byte-level BPE: encode, decode, train, and datatrove token shards"),
  Command.withSubcommands([encode, decode, train, shard, merge, task]),
  Command.run({ version: "0.1.0" }),
  runMain
)

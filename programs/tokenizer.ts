/**
 * Tokenization from the command line: HF-exact byte-level BPE, BPE training, and datatrove token shards.
 *
 *   npx tsx programs/tokenizer.ts encode --tokenizer tokenizer.json --input in.jsonl --output out.jsonl [--threads N]
 *   npx tsx programs/tokenizer.ts decode --tokenizer tokenizer.json --input ids.jsonl --output text.jsonl [--skip-special-tokens]
 *   npx tsx programs/tokenizer.ts train --input a.jsonl [--input b.jsonl] --vocab-size 49152 --output tokenizer.json
 *   npx tsx programs/tokenizer.ts shard --tokenizer tokenizer.json --input a.jsonl [--input …] --output DIR [--seed S]
 *   npx tsx programs/tokenizer.ts merge --input DIR --output DIR --name NAME [--seed S]
 *
 * JSONL inputs hold one document per line: {"text": …} (encode, train, shard) or {"ids": […]} (decode). A line
 * that is not JSON or lacks the field stops the run with the file and line number; outputs keep input order and
 * are written through a temporary file, so a failed run leaves none.
 */
import { Console, Effect, Option, Schema, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { runMain } from "../src/cli/program.ts"
import { listTokenShards } from "../src/data/shards/reader.ts"
import { mergeTokenShards, tokenizeToShards } from "../src/data/shards/writer.ts"
import { tokenizerError } from "../src/data/tokenizer/errors.ts"
import { writeFileAtomic } from "../src/data/io/atomic.ts"
import { IdsLine, readJsonl, writeLinesAtomic } from "../src/data/io/jsonl.ts"
import { loadTokenizer } from "../src/data/tokenizer/Tokenizer.ts"
import { trainBpe, WordCounter } from "../src/data/tokenizer/train.ts"

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

const shard = Command.make(
  "shard",
  {
    tokenizer: tokenizerFlag,
    input: Flag.String("input").pipe(Flag.atLeast(1), Flag.withDescription("JSONL files with a \"text\" field per line (repeatable)")),
    output: Flag.String("output").pipe(Flag.withDescription("Folder for the .ds / .ds.index / .ds.metadata files")),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Shuffle documents with this seed (input order without it)"), Flag.optional),
    maxTokensPerFile: Flag.Int("max-tokens-per-file").pipe(Flag.withDescription("Roll over to a new file past this many tokens"), Flag.optional),
    eosToken: Flag.String("eos-token").pipe(Flag.withDescription("Appended after every document"), Flag.withDefault("<|endoftext|>")),
    rank: Flag.Int("rank").pipe(Flag.withDescription("Task rank in the file names"), Flag.withDefault(0)),
    threads: threadsFlag,
    batchSize: batchFlag
  },
  ({ tokenizer, input, output, seed, maxTokensPerFile, eosToken, rank, threads, batchSize }) =>
    Effect.gen(function*() {
      const t = yield* loadTokenizer(tokenizer, { threads })
      const summary = yield* tokenizeToShards(texts(input), t, {
        outputDir: output,
        eosToken,
        batchSize,
        rank,
        ...(Option.isSome(seed) ? { shuffleSeed: seed.value } : {}),
        ...(Option.isSome(maxTokensPerFile) ? { maxTokensPerFile: maxTokensPerFile.value } : {})
      })
      for (const f of summary.files) yield* Console.log(`${f.path}\t${f.documents} documents\t${f.tokens} tokens`)
      yield* Console.error(`${summary.documents} documents, ${summary.tokens} tokens (${summary.tokenSize}-byte ids) in ${summary.files.length} file(s)`)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Tokenize JSONL documents into datatrove token shards"))

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

Command.make("tokenizer").pipe(
  Command.withDescription("HF-exact byte-level BPE: encode, decode, train, and datatrove token shards"),
  Command.withSubcommands([encode, decode, train, shard, merge]),
  Command.run({ version: "0.1.0" }),
  runMain
)

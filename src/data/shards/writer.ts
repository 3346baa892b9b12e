/**
 * Writing token shards the way datatrove's `DocumentTokenizer` does: documents are appended to an unshuffled file,
 * then (with a seed) copied in a shuffled document order into `doc_shuffled` files that roll over once they pass
 * `maxTokensPerFile`. Every file is written under a temporary name and renamed when complete, index and metadata
 * first and the `.ds` last, so a reader that sees a `.ds` sees a whole shard; a failed run leaves no shard behind.
 * Shuffles draw from numpy's `default_rng(seed)` (../random/numpy-rng.ts), so a seed gives datatrove's order.
 */
import { Effect, FileSystem, type Scope, Stream } from "effect"
import type { WriteError } from "../errors.ts"
import { openFileAtomic, writeFileAtomic } from "../io/atomic.ts"
import { defaultRng } from "../random/numpy-rng.ts"
import type { TokenizerShape } from "../tokenizer/Tokenizer.ts"
import type { TokenizerError } from "../tokenizer/errors.ts"
import { indexBytes, metadataText, shardError, type ShardError, shardFileName, tokenBytes, tokenSizeFor } from "./format.ts"
import { openTokenShard } from "./reader.ts"

export interface ShardFileSummary {
  readonly path: string
  readonly tokens: number
  readonly documents: number
}

export interface ShardWriteSummary {
  readonly files: ReadonlyArray<ShardFileSummary>
  readonly tokens: number
  readonly documents: number
  readonly tokenSize: 2 | 4
}

export interface ShardWriteOptions {
  readonly outputDir: string
  /** Written into `.metadata` (datatrove writes the name or path the tokenizer was loaded from). */
  readonly tokenizerName: string
  /** Decides uint16 or uint32 tokens. */
  readonly vocabSize: number
  /** Appended after every document (datatrove's `eos_token`); none when absent. */
  readonly eosId?: number
  /**
   * Shuffle the documents with this seed (datatrove's `shuffle_documents`); keep input order when absent. The order
   * is datatrove's: `np.random.default_rng(seed).permutation(documents)`, the same for every rank (datatrove's
   * executors give each rank a fresh copy of the step, so each task draws the first permutation of that seed).
   */
  readonly shuffleSeed?: number | bigint
  /** Start a new file after one passes this many tokens (datatrove's `max_tokens_per_file`). */
  readonly maxTokensPerFile?: number
  /** Task rank in the file names (datatrove's `rank`). */
  readonly rank?: number
  /** Optional prefix of the file names (datatrove's `save_filename`). */
  readonly saveFilename?: string
}

const io = (path: string) => (e: { readonly message: string }) => shardError("Io", `${path}: ${e.message}`, e)
const writeFailed = (e: WriteError) => shardError("Io", `${e.file}: ${e.message}`, e)

/** numpy's `default_rng(seed)`; a seed numpy refuses (negative, fractional) fails as an input error. */
const shuffleRng = (seed: number | bigint) =>
  Effect.try({ try: () => defaultRng(seed), catch: (e) => shardError("Input", `shuffle seed ${seed}: ${e instanceof Error ? e.message : String(e)}`) })

/** Buffer size between flushes: large sequential writes, bounded memory. */
const FLUSH_BYTES = 4 << 20

interface TokenFile {
  readonly path: string
  readonly tokens: () => number
  readonly documents: () => number
  /** Appends one document, or several with `docEnds` relative to the start of `ids`. */
  readonly append: (ids: ArrayLike<number>, docEnds?: ReadonlyArray<number>) => Effect.Effect<void, ShardError>
  readonly close: Effect.Effect<ShardFileSummary, ShardError>
}

/** datatrove's `TokenizedFile`. Temporary files are removed if the scope ends before `close`. */
export const createTokenFile = (
  dir: string,
  name: string,
  tokenSize: 2 | 4,
  tokenizerName: string
): Effect.Effect<TokenFile, ShardError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = `${dir}/${name}`
    const file = yield* openFileAtomic(path).pipe(Effect.mapError(writeFailed))
    const docEnds: number[] = []
    let written = 0
    let buffered: Uint8Array[] = []
    let bufferedBytes = 0
    const flush = Effect.suspend(() => {
      if (bufferedBytes === 0) return Effect.void
      const chunk = new Uint8Array(bufferedBytes)
      let at = 0
      for (const b of buffered) chunk.set(b, at), at += b.length
      buffered = []
      bufferedBytes = 0
      return file.write(chunk).pipe(Effect.mapError(writeFailed))
    })
    const limit = tokenSize === 2 ? 0xffff : 0xffffffff
    return {
      path,
      tokens: () => written,
      documents: () => docEnds.length,
      append: (ids, ends) =>
        Effect.suspend(() => {
          for (let i = 0; i < ids.length; i++) {
            if (ids[i]! > limit) return Effect.fail(shardError("Input", `${path}: token id ${ids[i]} does not fit in ${tokenSize} bytes`))
          }
          const bytes = tokenBytes(ids, tokenSize)
          if (ends === undefined) docEnds.push(written + ids.length)
          else for (const e of ends) docEnds.push(written + e)
          written += ids.length
          buffered.push(bytes)
          bufferedBytes += bytes.length
          return bufferedBytes >= FLUSH_BYTES ? flush : Effect.void
        }),
      close: Effect.gen(function*() {
        yield* flush
        // The .ds file goes last: its presence says the index and metadata beside it are complete.
        yield* writeFileAtomic(`${path}.index`, indexBytes(docEnds)).pipe(Effect.mapError(writeFailed))
        yield* writeFileAtomic(`${path}.metadata`, metadataText(tokenizerName, tokenSize, written)).pipe(Effect.mapError(writeFailed))
        yield* file.commit.pipe(Effect.mapError(writeFailed))
        return { path, tokens: written, documents: docEnds.length }
      }).pipe(Effect.provideService(FileSystem.FileSystem, fs))
    }
  })

/** A sequence of files named by `nameOf(subRank)` that rolls over once the current one is past `maxTokens`. */
const rollingFiles = (
  dir: string,
  nameOf: (subRank: number) => string,
  tokenSize: 2 | 4,
  tokenizerName: string,
  maxTokens: number | undefined
) =>
  Effect.gen(function*() {
    const files: ShardFileSummary[] = []
    let sub = 0
    let current = yield* createTokenFile(dir, nameOf(sub), tokenSize, tokenizerName)
    return {
      append: (ids: ArrayLike<number>) =>
        Effect.gen(function*() {
          yield* current.append(ids)
          // datatrove's `TokenizedFile.copy`: roll over after the document that crossed the limit.
          if (maxTokens !== undefined && current.tokens() > maxTokens) {
            files.push(yield* current.close)
            current = yield* createTokenFile(dir, nameOf(++sub), tokenSize, tokenizerName)
          }
        }),
      finish: Effect.gen(function*() {
        if (current.documents() > 0 || files.length === 0) files.push(yield* current.close)
        return files
      })
    }
  })

/**
 * Writes documents (token ids, one array per document) as token shards. Shuffling needs the whole input once, so
 * it goes through an unshuffled file in the output folder, which is deleted afterwards (as datatrove does).
 */
export const writeTokenShards = <E, R>(
  documents: Stream.Stream<ArrayLike<number>, E, R>,
  options: ShardWriteOptions
): Effect.Effect<ShardWriteSummary, ShardError | E, FileSystem.FileSystem | R> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const rng = options.shuffleSeed === undefined ? undefined : yield* shuffleRng(options.shuffleSeed)
    yield* fs.makeDirectory(options.outputDir, { recursive: true }).pipe(Effect.mapError(io(options.outputDir)))
    const tokenSize = tokenSizeFor(options.vocabSize)
    const rank = options.rank ?? 0
    const eos = options.eosId === undefined ? undefined : Uint32Array.of(options.eosId)
    const withEos = (ids: ArrayLike<number>): ArrayLike<number> => {
      if (eos === undefined) return ids
      const out = new Uint32Array(ids.length + 1)
      out.set(ids as ArrayLike<number>)
      out[ids.length] = eos[0]!
      return out
    }

    if (rng === undefined) {
      const sink = yield* rollingFiles(
        options.outputDir,
        (sub) => shardFileName(options.saveFilename, rank, "unshuffled", options.maxTokensPerFile === undefined ? undefined : sub),
        tokenSize,
        options.tokenizerName,
        options.maxTokensPerFile
      )
      yield* Stream.runForEach(documents, (ids) => sink.append(withEos(ids)))
      return summarize(yield* sink.finish, tokenSize)
    }

    const unshuffled = yield* createTokenFile(options.outputDir, shardFileName(options.saveFilename, rank, "unshuffled"), tokenSize, options.tokenizerName)
    yield* Stream.runForEach(documents, (ids) => unshuffled.append(withEos(ids)))
    const staged = yield* unshuffled.close
    const source = yield* openTokenShard(staged.path, { tokenSize })
    // datatrove: `self.rand = default_rng(seed)` in __init__, then `self.rand.permutation(len(doc_ends))`.
    const order = rng.permutation(source.documents)
    const sink = yield* rollingFiles(
      options.outputDir,
      (sub) => shardFileName(options.saveFilename, rank, "doc_shuffled", sub),
      tokenSize,
      options.tokenizerName,
      options.maxTokensPerFile
    )
    for (const doc of order) yield* sink.append(yield* source.readDocument(doc))
    const files = yield* sink.finish
    yield* Effect.forEach([staged.path, `${staged.path}.index`, `${staged.path}.metadata`], (p) => fs.remove(p).pipe(Effect.mapError(io(p))), {
      discard: true
    })
    return summarize(files, tokenSize)
  }))

const summarize = (files: ReadonlyArray<ShardFileSummary>, tokenSize: 2 | 4): ShardWriteSummary => ({
  files,
  tokens: files.reduce((n, f) => n + f.tokens, 0),
  documents: files.reduce((n, f) => n + f.documents, 0),
  tokenSize
})

/**
 * Tokenizes texts into shards: batches of `batchSize` texts go through `encodeBatch` (worker threads when the
 * tokenizer has them), and `eosToken` (default `<|endoftext|>`, when the vocabulary has it) ends each document.
 */
export const tokenizeToShards = <E, R>(
  texts: Stream.Stream<string, E, R>,
  tokenizer: TokenizerShape,
  options: Omit<ShardWriteOptions, "tokenizerName" | "vocabSize" | "eosId"> & {
    readonly eosToken?: string | null
    readonly batchSize?: number
  }
): Effect.Effect<ShardWriteSummary, ShardError | TokenizerError | E, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const eosToken = options.eosToken === undefined ? "<|endoftext|>" : options.eosToken
    const eosId = eosToken === null ? undefined : tokenizer.tokenToId(eosToken)
    if (eosToken !== null && eosId === undefined) {
      return yield* shardError("Input", `EOS token ${JSON.stringify(eosToken)} is not in tokenizer ${tokenizer.name}`)
    }
    const ids = texts.pipe(
      Stream.grouped(options.batchSize ?? 1000),
      Stream.mapEffect((batch) => tokenizer.encodeBatch(batch)),
      Stream.flatMap((encoded) => Stream.fromIterable(encoded))
    )
    return yield* writeTokenShards(ids, {
      ...options,
      tokenizerName: tokenizer.name,
      vocabSize: tokenizer.vocabSize,
      ...(eosId === undefined ? {} : { eosId })
    })
  })

export interface MergeOptions {
  readonly saveFilename: string
  /** datatrove's default is 100e9. */
  readonly maxTokensPerFile?: number
  /** Stop after this many tokens (datatrove's `max_tokens`). */
  readonly maxTokens?: number
  /**
   * Interleave the input files in a shuffled order; keep file-by-file order when absent. The order is datatrove's:
   * `np.random.default_rng(seed).permutation(doc_ids)`, doc_ids holding each input's index once per document.
   */
  readonly shuffleSeed?: number | bigint
}

/**
 * datatrove's `DocumentTokenizerMerger`: documents of every input file, each file read in its own order, with the
 * file picked per document from a (seeded-shuffled) list; output `000_NAME.ds`, `001_NAME.ds`, … rolling over
 * before a document once the current file holds `maxTokensPerFile`, plus a total `NAME.ds.metadata`.
 */
export const mergeTokenShards = (
  inputs: ReadonlyArray<string>,
  outputDir: string,
  options: MergeOptions
): Effect.Effect<ShardWriteSummary, ShardError, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (inputs.length === 0) return yield* shardError("Input", "merge: no input .ds files")
    const rng = options.shuffleSeed === undefined ? undefined : yield* shuffleRng(options.shuffleSeed)
    yield* fs.makeDirectory(outputDir, { recursive: true }).pipe(Effect.mapError(io(outputDir)))
    const shards = yield* Effect.forEach(inputs, (p) => openTokenShard(p))
    const tokenSize = shards[0]!.tokenSize
    const tokenizerName = shards[0]!.tokenizerName ?? `Unknown Tokenizer`
    const mismatch = shards.find((s) => s.tokenSize !== tokenSize)
    if (mismatch !== undefined) return yield* shardError("Input", `merge: ${mismatch.path} has ${mismatch.tokenSize}-byte tokens, ${shards[0]!.path} has ${tokenSize}`)
    const ordering: number[] = []
    shards.forEach((s, i) => {
      for (let d = 0; d < s.documents; d++) ordering.push(i)
    })
    rng?.shuffle(ordering)
    const maxPerFile = options.maxTokensPerFile ?? 100e9
    const maxTokens = options.maxTokens ?? -1
    const next = shards.map(() => 0)
    const files: ShardFileSummary[] = []
    let count = 0
    let total = 0
    let current = yield* createTokenFile(outputDir, `${String(count).padStart(3, "0")}_${options.saveFilename}.ds`, tokenSize, tokenizerName)
    for (const i of ordering) {
      if (maxTokens > 0 && total >= maxTokens) break
      if (maxPerFile > 0 && current.tokens() >= maxPerFile) {
        files.push(yield* current.close)
        count++
        current = yield* createTokenFile(outputDir, `${String(count).padStart(3, "0")}_${options.saveFilename}.ds`, tokenSize, tokenizerName)
      }
      const ids = yield* shards[i]!.readDocument(next[i]!++)
      yield* current.append(ids)
      total += ids.length
    }
    files.push(yield* current.close)
    const metaPath = `${outputDir}/${options.saveFilename}.ds.metadata`
    yield* writeFileAtomic(metaPath, metadataText(tokenizerName, tokenSize, total)).pipe(Effect.mapError(writeFailed))
    return summarize(files, tokenSize)
  }))


/**
 * MinHash near-deduplication as datatrove's four stages (src/datatrove/pipeline/dedup/minhash.py at
 * huggingface/datatrove a649de7), with the same files between stages:
 *
 *   1. signatures  (N tasks)  bucket_<b:03d>/<rank:05d>.minhash.sig — records `<8Q I` (8 min-hashes, doc index),
 *                             sorted; documents with fewer than n_grams words get none (datatrove skips them)
 *   2. buckets     (buckets × workers_per_bucket tasks)  <bucket:05d>_<worker:02d>.dups — `<4I` pairs of
 *                             (task, doc) whose bucket signatures are equal, adjacent in sorted order; with an
 *                             index folder, (SENTINEL, SENTINEL, task, doc) for a match with an index entry
 *                             (minhash-index.ts builds indexes and describes their format)
 *   3. cluster     (1 task)   union-find over the pairs; <task:06d>.remove — `<I` indices of every document that
 *                             is not its cluster's root (datatrove's union by size, same tie-breaking)
 *   4. filter      (N tasks)  drops those documents (dedup/filter.ts)
 *
 * FineWeb's parameters are MinhashConfig's defaults: 5-word shingles of `simplify_text(text)` split by the
 * language's word tokenizer (spaCy English), 14 buckets × 8 hashes, 64-bit hashes (xxhash64 of the shingle;
 * examples/fineweb.py switched to sha1 — `hashFc: "sha1"`), permutations (h·a + b) mod 2^64 mod (2^61 − 1) with
 * a, b from numpy RandomState(1). The uint64 product wraps because numpy multiplies in uint64; that wrap is part
 * of the hash family and is reproduced exactly.
 *
 * Additions: stage 1 also writes ids/<rank:05d>.jsonl so stage 3 can name the document each removed one duplicates;
 * with an index, stage 2 writes <bucket:05d>_<worker:02d>.index_matches.jsonl so it can name the index matched.
 */
import { Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import type { Document } from "../Document.ts"
import { DataConfigError, type WriteError } from "../errors.ts"
import type { StatsCollector } from "../stats.ts"
import { DEFAULT_TEXT_NORM, simplifyText, type TextNormConfig } from "../text/datatrove-text.ts"
import { wordTokenize } from "../text/spacy-en/index.ts"
import { AtomicFileSync, tryWrite } from "../io/atomic.ts"
import { idTablePath, pad, type Removal, resolveIds, wrapConfig, writeRemovals } from "./files.ts"
import { ReaderHeap, RecordReader } from "./merge.ts"
import { MT19937 } from "../random/mt19937.ts"
import { type MinhashKernel, minhashKernel } from "./minhash-wasm.ts"
import { type WordBuffer, writeWords } from "./shingle-words.ts"

export interface MinhashConfig {
  readonly nGrams: number
  readonly numBuckets: number
  readonly hashesPerBucket: number
  readonly seed: number
  readonly norm: TextNormConfig
  readonly hashFc: "xxhash" | "sha1"
}

/** datatrove MinhashConfig() defaults = FineWeb's values. */
export const defaultMinhashConfig: MinhashConfig = {
  nGrams: 5,
  numBuckets: 14,
  hashesPerBucket: 8,
  seed: 1,
  norm: DEFAULT_TEXT_NORM,
  hashFc: "xxhash"
}

export const MERSENNE_PRIME = (1n << 61n) - 1n

export interface MinhashParameters {
  readonly a: ReadonlyArray<bigint>
  readonly b: ReadonlyArray<bigint>
  readonly aLo: Uint32Array
  readonly aHi: Uint32Array
  readonly bLo: Uint32Array
  readonly bHi: Uint32Array
}

/** `gen = RandomState(seed); a = gen.randint(1, p, size=n); b = gen.randint(0, p, size=n)` (uint64). */
export const minhashParameters = (config: MinhashConfig = defaultMinhashConfig): MinhashParameters => {
  const n = config.numBuckets * config.hashesPerBucket
  const gen = new MT19937(config.seed)
  const a = gen.randintUint64(1n, MERSENNE_PRIME, n)
  const b = gen.randintUint64(0n, MERSENNE_PRIME, n)
  const lo = (xs: ReadonlyArray<bigint>) => Uint32Array.from(xs, (x) => Number(x & 0xffffffffn))
  const hi = (xs: ReadonlyArray<bigint>) => Uint32Array.from(xs, (x) => Number(x >> 32n))
  return { a, b, aLo: lo(a), aHi: hi(a), bLo: lo(b), bHi: hi(b) }
}

/** The n-gram strings datatrove hashes: `" ".join(x) for x in ngrams(word_tokenize(simplify_text(text)), n)`. */
export const shingleTexts = (text: string, config: MinhashConfig = defaultMinhashConfig): Array<string> => {
  const words = wordTokenize(simplifyText(text, config.norm))
  const out: Array<string> = []
  for (let i = 0; i + config.nGrams <= words.length; i++) out.push(words.slice(i, i + config.nGrams).join(" "))
  return out
}

const INV32 = 1 / 4294967296

/**
 * Signatures of documents, reusing buffers across calls. The words are written by shingle-words.ts straight into
 * the memory of a small WebAssembly module (minhash-wasm.ts), which hashes each shingle's byte range with XXH64 and
 * takes, for each of the 112 (a, b), the minimum over shingles h of ((h·a + b) mod 2^64) mod (2^61 − 1) in native
 * i64 arithmetic. No string, Buffer or BigInt is made per shingle.
 */
export class MinhashSignatures {
  readonly params: MinhashParameters
  readonly numHashes: number
  private readonly kernel: MinhashKernel
  private readonly aPtr: number
  private readonly bPtr: number
  private readonly outPtr: number
  private readonly dynPtr: number
  private capacity = 0
  private buf!: WordBuffer
  private hashesPtr = 0
  private u32!: Uint32Array

  constructor(readonly config: MinhashConfig = defaultMinhashConfig) {
    this.params = minhashParameters(config)
    this.numHashes = config.numBuckets * config.hashesPerBucket
    this.kernel = minhashKernel()
    this.aPtr = 64
    this.bPtr = this.aPtr + 8 * this.numHashes
    this.outPtr = this.bPtr + 8 * this.numHashes
    this.dynPtr = this.outPtr + 8 * this.numHashes
    this.layout(1 << 16)
    const params = new BigUint64Array(this.kernel.memory.buffer)
    for (let j = 0; j < this.numHashes; j++) {
      params[this.aPtr / 8 + j] = this.params.a[j]!
      params[this.bPtr / 8 + j] = this.params.b[j]!
    }
  }

  /** Places the word offsets, shingle hashes and text of a document of up to `capacity` text bytes. */
  private layout(capacity: number): void {
    const maxWords = (capacity >> 1) + 8
    const startsPtr = this.dynPtr
    const endsPtr = startsPtr + 4 * maxWords
    this.hashesPtr = endsPtr + 4 * maxWords
    const textPtr = this.hashesPtr + 8 * maxWords
    const need = textPtr + capacity
    const memory = this.kernel.memory
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536))
    this.capacity = capacity
    this.u32 = new Uint32Array(memory.buffer)
    this.buf = {
      u8: new Uint8Array(memory.buffer),
      u32: this.u32,
      startsIdx: startsPtr / 4,
      endsIdx: endsPtr / 4,
      textBase: textPtr,
      textLimit: textPtr + capacity,
      maxWords
    }
  }

  /** Words of `text` into the module's memory; returns how many. */
  private writeWords(text: string): number {
    if (2 * text.length + 64 > this.capacity) this.layout(Math.max(2 * text.length + 64, 2 * this.capacity))
    for (;;) {
      const n = writeWords(text, this.config.norm, this.buf)
      if (n >= 0) return n
      this.layout(2 * this.capacity)
    }
  }

  /**
   * Writes the signature into `out` as (lo, hi) word pairs, hash j at out[2j], out[2j+1]; returns false when the
   * document has no shingle (fewer words than n_grams), which datatrove skips.
   */
  signature(text: string, out: Uint32Array): boolean {
    const words = this.writeWords(text)
    const g = this.config.nGrams
    const n = words - g + 1
    if (n <= 0) return false
    const { startsIdx, endsIdx, u8 } = this.buf
    const k = this.kernel
    if (this.config.hashFc === "xxhash") k.hashShingles(n, g, startsIdx * 4, endsIdx * 4, this.hashesPtr)
    else {
      // sha1_hash64: struct.unpack("<Q", sha1(utf8).digest()[:8])
      for (let i = 0; i < n; i++) {
        const d = createHash("sha1").update(u8.subarray(this.u32[startsIdx + i]!, this.u32[endsIdx + i + g - 1]!)).digest()
        u8.set(d.subarray(0, 8), this.hashesPtr + 8 * i)
      }
    }
    const nh = this.numHashes
    const exactNeeded = nh % 4 !== 0 || k.minPermFlag4(this.hashesPtr, n, nh, this.aPtr, this.bPtr, this.outPtr) !== 0
    if (exactNeeded) k.minPerm1(this.hashesPtr, n, nh, this.aPtr, this.bPtr, this.outPtr)
    out.set(this.u32.subarray(this.outPtr / 4, this.outPtr / 4 + 2 * nh))
    return true
  }
}

/**
 * The permutation loop in JavaScript on 32-bit halves: no longer on the signature path (minhash-wasm.ts is), kept
 * as an independent implementation that the tests compare with BigInt arithmetic on arbitrary 64-bit inputs.
 */
export const minOfPermutations = (
  shLo: Uint32Array,
  shHi: Uint32Array,
  n: number,
  p: MinhashParameters,
  out: Uint32Array
): void => {
  const numHashes = p.aLo.length
  for (let j = 0; j < numHashes; j++) {
    const aL = p.aLo[j]!, aH = p.aHi[j]!, bL = p.bLo[j]!, bH = p.bHi[j]!
    let mH = 0xffffffff, mL = 0xffffffff
    for (let i = 0; i < n; i++) {
      const sL = shLo[i]!, sH = shHi[i]!
      // h·a mod 2^64: low word exact from imul; high word of sL·aL from the double product (within 2^11 of
      // the truth, so rounding the corrected quotient is exact), plus the cross terms mod 2^32.
      const pl = Math.imul(sL, aL) >>> 0
      const ph = Math.round((sL * aL - pl) * INV32) + Math.imul(sL, aH) + Math.imul(sH, aL)
      // + b mod 2^64
      let lo = pl + bL
      let hi = ph + bH
      if (lo > 0xffffffff) {
        lo -= 4294967296
        hi += 1
      }
      hi >>>= 0
      // mod 2^61 − 1: x = (x >> 61) + (x & p), then one conditional subtraction.
      lo += hi >>> 29
      hi &= 0x1fffffff
      if (lo > 0xffffffff) {
        lo -= 4294967296
        hi += 1
      }
      if (hi > 0x1fffffff || (hi === 0x1fffffff && lo === 0xffffffff)) {
        // r − p = r − 2^61 + 1
        lo += 1
        if (lo > 0xffffffff) {
          lo -= 4294967296
          hi += 1
        }
        hi -= 0x20000000
      }
      if (hi < mH || (hi === mH && lo < mL)) {
        mH = hi
        mL = lo
      }
    }
    out[2 * j] = mL
    out[2 * j + 1] = mH
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stage 1: signatures
// ---------------------------------------------------------------------------------------------------------------

/** Order of bucket signatures stored as (lo, hi) word pairs per hash, at offsets into two record buffers. */
export const bucketSignatureOrder = (hashesPerBucket: number) =>
(da: Uint32Array, oa: number, db: Uint32Array, ob: number): number => {
  for (let k = 0; k < hashesPerBucket; k++) {
    const ha = da[oa + 2 * k + 1]!, hb = db[ob + 2 * k + 1]!
    if (ha !== hb) return ha < hb ? -1 : 1
    const la = da[oa + 2 * k]!, lb = db[ob + 2 * k]!
    if (la !== lb) return la < lb ? -1 : 1
  }
  return 0
}

export const sigPath = (folder: string, bucket: number, rank: number) =>
  path.join(folder, `bucket_${pad(bucket, 3)}`, `${pad(rank, 5)}.minhash.sig`)

export interface MinhashSignatureOptions {
  readonly folder: string
  readonly rank: number
  readonly config?: MinhashConfig
  readonly stats: StatsCollector
}

/** Lexicographic order of records of `words` uint32 words: hashes as (hi, lo), then the trailing document index. */
const sortRecords = (data: Uint32Array, words: number, hashes: number): Uint32Array => {
  const n = data.length / words
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  const sorted = Array.from(order).sort((x, y) => {
    const a = x * words, b = y * words
    for (let k = 0; k < hashes; k++) {
      const ha = data[a + 2 * k + 1]!, hb = data[b + 2 * k + 1]!
      if (ha !== hb) return ha - hb
      const la = data[a + 2 * k]!, lb = data[b + 2 * k]!
      if (la !== lb) return la - lb
    }
    return data[a + words - 1]! - data[b + words - 1]!
  })
  const out = new Uint32Array(data.length)
  for (let i = 0; i < n; i++) out.set(data.subarray(sorted[i]! * words, sorted[i]! * words + words), i * words)
  return out
}

/**
 * Stage 1 as a pass-through Stream transformer: documents flow on unchanged (so a filter chain can write its
 * output and the signatures in one pass); each bucket's records are spilled to a temporary file and sorted when
 * the stream ends (datatrove sorts them the same way, with numpy, before stage 2 merges them).
 */
export const minhashSignatures = (o: MinhashSignatureOptions) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | WriteError, R> => {
  const config = o.config ?? defaultMinhashConfig
  const words = config.hashesPerBucket * 2 + 1
  return Stream.unwrap(Effect.gen(function*() {
    const state = yield* Effect.acquireRelease(
      tryWrite(o.folder, () => ({
        signer: new MinhashSignatures(config),
        spills: Array.from({ length: config.numBuckets }, (_, b) => new AtomicFileSync(`${sigPath(o.folder, b, o.rank)}.unsorted`)),
        ids: new AtomicFileSync(idTablePath(o.folder, o.rank)),
        index: 0,
        done: false
      })),
      (s) => Effect.sync(() => {
        if (s.done) return
        // A failed or interrupted task leaves no signature file that stage 2 could mistake for complete.
        for (const f of s.spills) f.abort()
        s.ids.abort()
      })
    )
    const sig = new Uint32Array(state.signer.numHashes * 2)
    const record = new Uint32Array(words)
    const write = (chunk: ReadonlyArray<Document>) =>
      tryWrite(o.folder, () => {
        const bufs = state.spills.map(() => new Uint32Array(chunk.length * words))
        let rows = 0
        let ids = ""
        for (const doc of chunk) {
          const index = state.index++
          ids += JSON.stringify(doc.id) + "\n"
          o.stats.add("minhash_signatures", "total")
          if (!state.signer.signature(doc.text, sig)) {
            o.stats.add("minhash_signatures", "no_shingles")
            continue
          }
          for (let b = 0; b < config.numBuckets; b++) {
            record.set(sig.subarray(b * config.hashesPerBucket * 2, (b + 1) * config.hashesPerBucket * 2))
            record[words - 1] = index
            bufs[b]!.set(record, rows * words)
          }
          rows++
        }
        state.ids.write(ids)
        if (rows > 0) {
          for (let b = 0; b < config.numBuckets; b++) state.spills[b]!.write(new Uint8Array(bufs[b]!.buffer, 0, rows * words * 4))
        }
      })
    const finish = tryWrite(o.folder, () => {
      for (let b = 0; b < config.numBuckets; b++) {
        const spill = state.spills[b]!
        spill.commit()
        const bytes = readFileSync(spill.file)
        const data = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
        const out = new AtomicFileSync(sigPath(o.folder, b, o.rank))
        out.write(new Uint8Array(sortRecords(data.slice(), words, config.hashesPerBucket).buffer))
        out.commit()
        rmSync(spill.file, { force: true })
      }
      state.ids.commit()
      state.done = true
    })
    return self.pipe(
      Stream.chunks,
      Stream.tap(write),
      Stream.flattenIterable,
      Stream.concat(Stream.fromEffect(finish).pipe(Stream.drain))
    )
  }))
}

// ---------------------------------------------------------------------------------------------------------------
// Stage 2: buckets
// ---------------------------------------------------------------------------------------------------------------

/**
 * The file/doc pair datatrove writes for a match with an index entry: `(SENTINEL, SENTINEL, file, doc)` with
 * SENTINEL = 2^32 − 1 ("we can't actually write -1"). Stage 3 makes that node the root of its cluster.
 */
export const INDEX_SENTINEL = 0xffffffff

const INDEX_SUFFIX = ".minhash.index"

/** `bucket_<b:03d>/<name>.minhash.index`: sorted unique `<{hashesPerBucket}Q` bucket signatures, no document. */
export const indexPath = (folder: string, bucket: number, name: string) =>
  path.join(folder, `bucket_${pad(bucket, 3)}`, `${name}${INDEX_SUFFIX}`)

/** What names an index in `duplicate_of` and in the match side files: its file name less `.minhash.index`. */
export const indexFileName = (file: string) => path.basename(file).slice(0, -INDEX_SUFFIX.length)

/** An index name becomes part of a file name, so it may not name a folder. */
export const checkIndexName = (name: string, what: string): DataConfigError | undefined =>
  name.length === 0 || /[/\\]/.test(name) || name === "." || name === ".."
    ? new DataConfigError({ message: `${what}: ${JSON.stringify(name)} is not a usable index name` })
    : undefined

/**
 * Index files of one bucket (sorted by name), less the ones the running buckets stage writes itself
 * (datatrove: `bucket_XXX/<create_index_name>_\d{2}.minhash.index`, so a rerun never dedups against its own
 * earlier output). datatrove reads every file under the bucket folder; only `*.minhash.index` files are read here,
 * so a temporary file being written by another task is never mistaken for an index.
 */
export const listIndexFiles = (folder: string, bucket: number, ownName?: string): Array<string> => {
  const dir = path.join(folder, `bucket_${pad(bucket, 3)}`)
  if (!existsSync(dir)) return []
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const own = ownName === undefined ? undefined : new RegExp(`^${escape(ownName)}_\\d{2}\\.minhash\\.index$`)
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(INDEX_SUFFIX) && (own === undefined || !own.test(e.name)))
    .map((e) => e.name)
    .sort()
    .map((f) => path.join(dir, f))
}

/**
 * `<bucket:05d>_<worker:02d>.index_matches.jsonl` beside the `.dups` file (this toolkit's addition, like the id
 * tables): `[file, doc, index_name]` for each sentinel pair, so stage 3 can say which index a document matched.
 */
export const indexMatchesSuffix = ".index_matches.jsonl"

export interface MinhashBucketsOptions {
  /** Stage 1's folder. */
  readonly input: string
  readonly output: string
  readonly rank: number
  /** numBuckets × workers per bucket. */
  readonly worldSize: number
  readonly config?: MinhashConfig
  readonly stats: StatsCollector
  /**
   * datatrove `index_folder`: every `bucket_<b>/*.minhash.index` there is merged with the signatures, and a
   * document whose bucket signature equals an index entry is written as the pair (SENTINEL, SENTINEL, file, doc).
   */
  readonly indexFolder?: string | undefined
  /**
   * datatrove `only_dedup_in_index` (default true): with index files present, pairs of two input documents are
   * not written, only matches with the index. Without index files it has no effect.
   */
  readonly onlyDedupInIndex?: boolean | undefined
  /**
   * datatrove `create_index_name`: also write `indexFolder/bucket_<b>/<name>_<worker:02d>.minhash.index`, the
   * bucket signatures of this input that are in no index yet (sorted, unique). Needs `indexFolder`.
   */
  readonly createIndexName?: string | undefined
}

const SENTINEL_MAX = { hi: Number(MERSENNE_PRIME >> 32n), lo: Number(MERSENNE_PRIME & 0xffffffffn) }

interface SigSource {
  readonly reader: RecordReader
  /** true for an index file: records carry no document index, and sort before signatures equal to them. */
  readonly index: boolean
  /** The task number of a signature file (its name), or the index name. */
  readonly stem: number
  readonly name: string
}

/**
 * Stage 2 for one (bucket, worker): merge the bucket's sorted files (and index files) and write each equal
 * adjacent pair, as datatrove's MinhashDedupBuckets.run does.
 */
export const minhashBuckets = (o: MinhashBucketsOptions): Effect.Effect<void, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const config = o.config ?? defaultMinhashConfig
    if (o.worldSize % config.numBuckets !== 0) {
      return yield* new DataConfigError({ message: `bucket stage: tasks (${o.worldSize}) must be a multiple of num_buckets (${config.numBuckets})` })
    }
    if (o.createIndexName !== undefined) {
      if (o.indexFolder === undefined) return yield* new DataConfigError({ message: "bucket stage: createIndexName needs indexFolder (the index is written there)" })
      const bad = checkIndexName(o.createIndexName, "createIndexName")
      if (bad !== undefined) return yield* bad
    }
    const onlyDedupInIndex = o.onlyDedupInIndex ?? true
    const perBucket = o.worldSize / config.numBuckets
    const bucket = Math.floor(o.rank / perBucket)
    const worker = o.rank % perBucket
    const sigWords = config.hashesPerBucket * 2
    const words = sigWords + 1
    const dir = path.join(o.input, `bucket_${pad(bucket, 3)}`)
    const files = yield* wrapConfig(() =>
      existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.minhash\.sig$/.test(f)).sort().map((f) => path.join(dir, f)) : []
    )
    const indexFiles = o.indexFolder === undefined ? [] : yield* wrapConfig(() => listIndexFiles(o.indexFolder!, bucket, o.createIndexName))
    const sources: Array<SigSource> = []
    yield* wrapConfig(() => {
      try {
        for (const f of files) {
          sources.push({ reader: new RecordReader(f, words * 4), index: false, stem: Number(path.basename(f).replace(/\.minhash\.sig$/, "")), name: "" })
        }
        for (const f of indexFiles) sources.push({ reader: new RecordReader(f, sigWords * 4), index: true, stem: -1, name: indexFileName(f) })
      } catch (e) {
        for (const s of sources) s.reader.close()
        throw e
      }
    })
    const readers = sources.map((s) => s.reader)
    const outIndexFile = o.createIndexName === undefined
      ? undefined
      : path.join(o.indexFolder!, `bucket_${pad(bucket, 3)}`, `${o.createIndexName}_${pad(worker, 2)}${INDEX_SUFFIX}`)
    yield* tryWrite(o.output, () => {
      const dupsFile = path.join(o.output, `${pad(bucket, 5)}_${pad(worker, 2)}.dups`)
      const out = new AtomicFileSync(dupsFile)
      const matchesOut = indexFiles.length > 0 ? new AtomicFileSync(dupsFile.replace(/\.dups$/, indexMatchesSuffix)) : undefined
      const outIndex = outIndexFile === undefined ? undefined : new AtomicFileSync(outIndexFile)
      try {
        // datatrove get_worker_hash_range: workers of one bucket split it at the first hash of evenly spaced
        // lines of the bucket's first signature file; index files are read over the same range.
        let min = { hi: 0, lo: 0 }
        let max = SENTINEL_MAX
        if (perBucket > 1 && files.length > 0) {
          const first = readers[0]!
          const step = Math.floor(first.count / perBucket)
          if (first.count < perBucket) throw new DataConfigError({ message: `${perBucket} workers per bucket but only ${first.count} signatures` })
          if (worker > 0) min = { lo: first.word(step * worker, 0), hi: first.word(step * worker, 1) }
          if (worker + 1 < perBucket) max = { lo: first.word(step * (worker + 1), 0), hi: first.word(step * (worker + 1), 1) }
        }
        const below = (r: RecordReader, i: number, b: { hi: number; lo: number }) => {
          const hi = r.word(i, 1)
          return hi < b.hi || (hi === b.hi && r.word(i, 0) < b.lo)
        }
        for (const r of readers) {
          // seek_to_start: first record whose first hash is ≥ min (binary search).
          let lo = 0, hi = r.count
          while (lo < hi) {
            const mid = (lo + hi) >> 1
            if (below(r, mid, min)) lo = mid + 1
            else hi = mid
          }
          r.index = lo
        }
        const live = (i: number) => readers[i]!.index < readers[i]!.count && below(readers[i]!, readers[i]!.index, max)
        const cmpSig = bucketSignatureOrder(config.hashesPerBucket)
        const less = (x: number, y: number): boolean => {
          const a = sources[x]!, b = sources[y]!
          const c = cmpSig(a.reader.data(), a.reader.offset(), b.reader.data(), b.reader.offset())
          if (c !== 0) return c < 0
          // HashSig order after the signature: file_id (−1 for an index entry, else the reader's position), then
          // file_stem (index files are listed by name, so their position), then doc_id.
          if (a.index !== b.index) return a.index
          if (x !== y) return x < y
          return a.reader.data()[a.reader.offset() + words - 1]! < b.reader.data()[b.reader.offset() + words - 1]!
        }
        const heap = new ReaderHeap(less)
        for (let i = 0; i < readers.length; i++) if (live(i)) heap.push(i)
        const last = new Uint32Array(sigWords)
        let lastStem = -1
        let lastDoc = -1
        let lastFromIndex = false
        let lastName = ""
        let hasLast = false
        const pairs: Array<number> = []
        let matchLines = ""
        const indexSigs: Array<number> = []
        const flush = () => {
          out.write(new Uint8Array(Uint32Array.from(pairs).buffer))
          pairs.length = 0
          if (matchesOut !== undefined) matchesOut.write(matchLines)
          matchLines = ""
          if (outIndex !== undefined) outIndex.write(new Uint8Array(Uint32Array.from(indexSigs).buffer))
          indexSigs.length = 0
        }
        while (heap.size > 0) {
          const i = heap.pop()
          const s = sources[i]!
          const d = s.reader.data(), off = s.reader.offset()
          const c = hasLast ? cmpSig(d, off, last, 0) : 1
          if (c < 0) {
            throw new DataConfigError({
              message: `${s.reader.file}: hash order error at record ${s.reader.index} (a signature or index file is not sorted; rerun the stage that wrote it)`
            })
          }
          if (!s.index) {
            const doc = d[off + words - 1]!
            if (c === 0) {
              if (lastFromIndex) {
                pairs.push(INDEX_SENTINEL, INDEX_SENTINEL, s.stem, doc)
                matchLines += JSON.stringify([s.stem, doc, lastName]) + "\n"
                o.stats.add("minhash_buckets", "index_match")
                o.stats.add("minhash_buckets", "total_matches")
              } else if (indexFiles.length === 0 || !onlyDedupInIndex) {
                // Stage 3 reads (last, v); with an index, only when pairs inside the input are wanted too.
                pairs.push(lastStem, lastDoc, s.stem, doc)
                o.stats.add("minhash_buckets", "total_matches")
              }
            } else if (outIndex !== undefined) {
              // A signature that no index (and no earlier document) has: it goes into the new index.
              for (let k = 0; k < sigWords; k++) indexSigs.push(d[off + k]!)
            }
            lastStem = s.stem
            lastDoc = doc
          }
          // datatrove sets `last = v` for every record, index entries included: after index entry I and documents
          // A, B with I's signature, only A is paired with the index; B is paired with A.
          last.set(d.subarray(off, off + sigWords))
          lastFromIndex = s.index
          lastName = s.name
          hasLast = true
          if (pairs.length >= 4096 || indexSigs.length >= 65536) flush()
          s.reader.index++
          if (live(i)) heap.push(i)
        }
        flush()
        outIndex?.commit()
        matchesOut?.commit()
        // Last: stage 3 reads the .dups files, and a match side file is complete once its .dups file exists.
        out.commit()
      } catch (e) {
        out.abort()
        matchesOut?.abort()
        outIndex?.abort()
        throw e
      } finally {
        for (const r of readers) r.close()
      }
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// Stage 3: clusters
// ---------------------------------------------------------------------------------------------------------------

export interface MinhashClusterOptions {
  /** Stage 2's folder (*.dups). */
  readonly input: string
  /** Stage 1's folder, for the id tables. */
  readonly signatures: string
  readonly output: string
  readonly config?: MinhashConfig
  readonly stats: StatsCollector
  /** datatrove `ignore_index_matches`: skip the pairs whose first member is the index sentinel. */
  readonly ignoreIndexMatches?: boolean | undefined
}

/** `duplicate_of` of a document removed because it matches an index: `index:<name>[,<name>…]`. */
export const indexDuplicateOf = (names: Iterable<string>): string => {
  const sorted = [...new Set(names)].sort()
  return `index:${sorted.length === 0 ? "unknown" : sorted.join(",")}`
}

// (task, doc) as one number: task · 2^32 + doc orders like datatrove's tuples and stays exact below 2^53.
const key = (file: number, doc: number) => file * 4294967296 + doc
// The index node (SENTINEL, SENTINEL): 2^64 as a double, above every real (task, doc), last when sorted as in
// datatrove.
const INDEX_NODE = key(INDEX_SENTINEL, INDEX_SENTINEL)

export const minhashCluster = (o: MinhashClusterOptions): Effect.Effect<void, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const config = o.config ?? defaultMinhashConfig
    const dupFiles = yield* wrapConfig(() =>
      existsSync(o.input) ? readdirSync(o.input).filter((f) => f.endsWith(".dups")).sort() : []
    )
    if (dupFiles.length % config.numBuckets !== 0) {
      return yield* new DataConfigError({ message: `${o.input}: ${dupFiles.length} .dups files is not a multiple of ${config.numBuckets} buckets` })
    }
    const unionSet = new Map<number, number>()
    const setSize = new Map<number, number>()
    // datatrove's parent() with path compression, iteratively; a node seen for the first time becomes a root.
    const parent = (x: number): number => {
      let root = x
      for (;;) {
        const p = unionSet.get(root)
        if (p === undefined) {
          unionSet.set(root, root)
          break
        }
        if (p === root) break
        root = p
      }
      let cur = x
      while (cur !== root) {
        const next = unionSet.get(cur)!
        unionSet.set(cur, root)
        cur = next
      }
      return root
    }
    // Union by size; on equal sizes the first document of the pair's root wins (datatrove: root_b joins root_a).
    // The index node always stays the root, so every document joined to it is removed and the index is never kept.
    const union = (a: number, b: number) => {
      let ra = parent(a)
      let rb = parent(b)
      if (ra === rb) return
      const sa = setSize.get(ra) ?? 1
      const sb = setSize.get(rb) ?? 1
      if (rb === INDEX_NODE || (ra !== INDEX_NODE && sa < sb)) [ra, rb] = [rb, ra]
      unionSet.set(rb, ra)
      setSize.set(ra, sa + sb)
      setSize.delete(rb)
    }
    // Which index each directly matched document matched (stage 2's side files), for `duplicate_of`.
    const indexNames = new Map<number, Set<string>>()
    const allIndexNames = new Set<string>()
    yield* wrapConfig(() => {
      for (const f of dupFiles) {
        const bytes = readFileSync(path.join(o.input, f))
        if (bytes.byteLength % 16 !== 0) throw new DataConfigError({ message: `${f}: not a whole number of <4I records` })
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        for (let i = 0; i < bytes.byteLength; i += 16) {
          const f1 = v.getUint32(i, true), d1 = v.getUint32(i + 4, true)
          const fromIndex = f1 === INDEX_SENTINEL && d1 === INDEX_SENTINEL
          if (fromIndex && o.ignoreIndexMatches === true) continue
          union(fromIndex ? INDEX_NODE : key(f1, d1), key(v.getUint32(i + 8, true), v.getUint32(i + 12, true)))
        }
        const side = path.join(o.input, f.replace(/\.dups$/, indexMatchesSuffix))
        if (o.ignoreIndexMatches === true || !existsSync(side)) continue
        for (const line of readFileSync(side, "utf8").split("\n")) {
          if (line.length === 0) continue
          const [file, doc, name] = JSON.parse(line) as [number, number, string]
          const k = key(file, doc)
          let names = indexNames.get(k)
          if (names === undefined) indexNames.set(k, (names = new Set()))
          names.add(name)
          allIndexNames.add(name)
        }
      }
    })
    const nodes = Float64Array.from(unionSet.keys()).sort()
    const removals = new Map<number, Array<{ doc: number; root: number }>>()
    for (const node of nodes) {
      o.stats.add("minhash_cluster", "duplicates")
      const p = parent(node)
      if (node !== p) {
        const file = Math.floor(node / 4294967296)
        let list = removals.get(file)
        if (list === undefined) removals.set(file, (list = []))
        list.push({ doc: node % 4294967296, root: p })
        o.stats.add("minhash_cluster", "to_remove")
      } else {
        o.stats.add("minhash_cluster", "clusters")
        o.stats.add("minhash_cluster", "cluster_size", setSize.get(p) ?? 1)
      }
    }
    const wanted = new Map<number, Set<number>>()
    for (const list of removals.values()) {
      for (const { root } of list) {
        if (root === INDEX_NODE) continue
        const f = Math.floor(root / 4294967296)
        let s = wanted.get(f)
        if (s === undefined) wanted.set(f, (s = new Set()))
        s.add(root % 4294967296)
      }
    }
    const ids = yield* Effect.tryPromise({
      try: () => resolveIds(o.signatures, wanted),
      catch: (e) => e instanceof DataConfigError ? e : new DataConfigError({ message: String(e) })
    })
    yield* tryWrite(o.output, () => {
      for (const [file, list] of removals) {
        const named: Array<Removal> = list.map(({ doc, root }) => ({
          doc,
          // A document in the index's cluster names the index(es) it matched itself, or, when it only reached the
          // index through other documents of the input, every index matched in this run.
          duplicateOf: root === INDEX_NODE
            ? indexDuplicateOf(indexNames.get(key(file, doc)) ?? allIndexNames)
            : ids.get(Math.floor(root / 4294967296))!.get(root % 4294967296)!
        }))
        writeRemovals(o.output, file, named)
      }
    })
  })

/**
 * MinHash indexes (datatrove's MinhashBuildIndex, src/datatrove/pipeline/dedup/minhash.py at huggingface/datatrove
 * a649de7): the bucket signatures of a corpus, kept so that later corpora can be deduplicated against it.
 *
 *   build     (num_buckets tasks, task = bucket)  bucket_<b:03d>/<index_name>.minhash.index — the bucket's
 *             signatures from stage 1 (`<8Q I` records), merged, without the document index, each distinct
 *             signature once, in sorted order: `<8Q` records (64 bytes with the default 8 hashes per bucket).
 *   use       stage 2 (`minhashBuckets`) with `indexFolder` merges every `bucket_<b>/*.minhash.index` with the
 *             signatures: a document whose bucket signature equals an index entry becomes the pair
 *             (SENTINEL, SENTINEL, task, doc), SENTINEL = 2^32 − 1; with `onlyDedupInIndex` (datatrove's default)
 *             pairs of two input documents are not written. `createIndexName` writes, next to the index read,
 *             `<name>_<worker:02d>.minhash.index` with the signatures of the input that no index had.
 *   cluster   stage 3 keeps (SENTINEL, SENTINEL) as the root of its cluster, so every document joined to it is
 *             removed; its `duplicate_of` is `index:<index file name less .minhash.index>`.
 */
import { Effect } from "effect"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { DataConfigError, type WriteError } from "../errors.ts"
import type { StatsCollector } from "../stats.ts"
import { AtomicFileSync, tryWrite } from "../io/atomic.ts"
import { pad, wrapConfig } from "./files.ts"
import { ReaderHeap, RecordReader } from "./merge.ts"
import { bucketSignatureOrder, checkIndexName, defaultMinhashConfig, indexPath, type MinhashConfig } from "./minhash.ts"

export interface MinhashBuildIndexOptions {
  /** Stage 1's folder (bucket_<b>/<rank>.minhash.sig). */
  readonly input: string
  /** The index folder: bucket_<b>/<indexName>.minhash.index. */
  readonly output: string
  readonly indexName: string
  /** The bucket this task indexes. */
  readonly rank: number
  /** Must equal numBuckets: one task per bucket, as datatrove asserts. */
  readonly worldSize: number
  readonly config?: MinhashConfig
  readonly stats: StatsCollector
}

/** datatrove MinhashBuildIndex.run for one bucket. */
export const minhashBuildIndex = (o: MinhashBuildIndexOptions): Effect.Effect<void, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const config = o.config ?? defaultMinhashConfig
    if (o.worldSize !== config.numBuckets) {
      return yield* new DataConfigError({ message: `build index: run exactly one task per bucket (${config.numBuckets} tasks, not ${o.worldSize})` })
    }
    const bad = checkIndexName(o.indexName, "build index")
    if (bad !== undefined) return yield* bad
    const bucket = o.rank
    const sigWords = config.hashesPerBucket * 2
    const words = sigWords + 1
    const dir = path.join(o.input, `bucket_${pad(bucket, 3)}`)
    const readers = yield* wrapConfig(() => {
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.minhash\.sig$/.test(f)).sort() : []
      const out: Array<RecordReader> = []
      try {
        for (const f of files) out.push(new RecordReader(path.join(dir, f), words * 4))
      } catch (e) {
        for (const r of out) r.close()
        throw e
      }
      return out
    })
    const file = indexPath(o.output, bucket, o.indexName)
    yield* tryWrite(file, () => {
      const out = new AtomicFileSync(file)
      try {
        const cmpSig = bucketSignatureOrder(config.hashesPerBucket)
        // HashSig order: signature, then file_id (the reader's position), then doc_id.
        const heap = new ReaderHeap((x, y) => {
          const a = readers[x]!, b = readers[y]!
          const c = cmpSig(a.data(), a.offset(), b.data(), b.offset())
          if (c !== 0) return c < 0
          if (x !== y) return x < y
          return a.data()[a.offset() + sigWords]! < b.data()[b.offset() + sigWords]!
        })
        for (let i = 0; i < readers.length; i++) if (readers[i]!.count > 0) heap.push(i)
        const last = new Uint32Array(sigWords)
        let hasLast = false
        const buf: Array<number> = []
        while (heap.size > 0) {
          const i = heap.pop()
          const r = readers[i]!
          const d = r.data(), off = r.offset()
          o.stats.add("minhash_build_index", "signatures")
          const c = hasLast ? cmpSig(d, off, last, 0) : 1
          if (c < 0) throw new DataConfigError({ message: `${r.file}: hash order error at record ${r.index} (rerun the signature stage)` })
          if (c !== 0) {
            // `if not last or last.sig != v.sig`: each distinct signature once.
            for (let k = 0; k < sigWords; k++) buf.push(d[off + k]!)
            o.stats.add("minhash_build_index", "index_entries")
            if (buf.length >= 65536) {
              out.write(new Uint8Array(Uint32Array.from(buf).buffer))
              buf.length = 0
            }
            last.set(d.subarray(off, off + sigWords))
            hasLast = true
          }
          r.index++
          if (r.index < r.count) heap.push(i)
        }
        out.write(new Uint8Array(Uint32Array.from(buf).buffer))
        out.commit()
      } catch (e) {
        out.abort()
        throw e
      } finally {
        for (const r of readers) r.close()
      }
    })
  })

/** The signatures of an index file as BigInt tuples (for inspection and tests). */
export const readIndexFile = (bytes: Uint8Array, config: MinhashConfig = defaultMinhashConfig): Array<Array<bigint>> => {
  const size = config.hashesPerBucket * 8
  if (bytes.byteLength % size !== 0) throw new DataConfigError({ message: `index file of ${bytes.byteLength} bytes is not a whole number of ${size}-byte records` })
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<Array<bigint>> = []
  for (let i = 0; i < bytes.byteLength; i += size) {
    out.push(Array.from({ length: config.hashesPerBucket }, (_, k) => v.getBigUint64(i + 8 * k, true)))
  }
  return out
}

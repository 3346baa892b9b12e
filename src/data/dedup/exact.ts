/**
 * Exact deduplication on normalized text, datatrove's three stages (src/datatrove/pipeline/dedup/exact_dedup.py:
 * ExactDedupSignature → ExactFindDedups → ExactDedupFilter) with `content_getter = simplify_text(doc.text)` and
 * the default 64-bit xxhash. One difference, on purpose: datatrove breaks ties between equal hashes by
 * (priority, doc index) only, so which of two equal documents in different tasks survives depends on heap order;
 * here the first occurrence in (task, index) order is kept, which is what "keep the first" means to a user and is
 * the same on every run.
 *
 *   1. signatures (N tasks)  sigs/<rank:05d>.exact.sig — `<Q I` (hash, doc index), sorted; ids/<rank:05d>.jsonl
 *   2. find       (1 task)   <rank:06d>.remove + .duplicates.jsonl (the same files MinHash's cluster stage writes)
 *   3. filter     (N tasks)  dedup/filter.ts
 */
import { Effect, Stream } from "effect"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import type { Document } from "../Document.ts"
import { DataConfigError, type WriteError } from "../errors.ts"
import type { StatsCollector } from "../stats.ts"
import { DEFAULT_TEXT_NORM, simplifyText, type TextNormConfig } from "../text/datatrove-text.ts"
import { AtomicFileSync, tryWrite } from "../io/atomic.ts"
import { idTablePath, pad, type Removal, resolveIds, wrapConfig, writeRemovals } from "./files.ts"
import { ReaderHeap, RecordReader } from "./merge.ts"
import { xxh64Into } from "./xxhash64.ts"

const WORDS = 3 // hash lo, hash hi, doc index

export const exactSigPath = (folder: string, rank: number) => path.join(folder, "sigs", `${pad(rank, 5)}.exact.sig`)

export interface ExactSignatureOptions {
  readonly folder: string
  readonly rank: number
  readonly norm?: TextNormConfig
  readonly stats: StatsCollector
}

/** Stage 1 as a pass-through transformer: 12 bytes per document are kept in memory and sorted at the end. */
export const exactDedupSignatures = (o: ExactSignatureOptions) =>
<E, R>(self: Stream.Stream<Document, E, R>): Stream.Stream<Document, E | WriteError, R> =>
  Stream.unwrap(Effect.gen(function*() {
    const state = yield* Effect.acquireRelease(
      tryWrite(o.folder, () => ({ ids: new AtomicFileSync(idTablePath(o.folder, o.rank)), records: [] as Array<number>, done: false })),
      (s) => Effect.sync(() => {
        if (!s.done) s.ids.abort()
      })
    )
    const pair = new Uint32Array(2)
    const write = (chunk: ReadonlyArray<Document>) =>
      tryWrite(o.folder, () => {
        let ids = ""
        for (const doc of chunk) {
          const index = state.records.length / WORDS
          xxh64Into(simplifyText(doc.text, o.norm ?? DEFAULT_TEXT_NORM), pair)
          state.records.push(pair[0]!, pair[1]!, index)
          ids += JSON.stringify(doc.id) + "\n"
          o.stats.add("exact_signatures", "total")
        }
        state.ids.write(ids)
      })
    const finish = tryWrite(o.folder, () => {
      const r = state.records
      const n = r.length / WORDS
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) =>
        r[x * 3 + 1]! - r[y * 3 + 1]! || r[x * 3]! - r[y * 3]! || r[x * 3 + 2]! - r[y * 3 + 2]!
      )
      const out = new Uint32Array(r.length)
      order.forEach((i, k) => out.set(r.slice(i * 3, i * 3 + 3), k * 3))
      const f = new AtomicFileSync(exactSigPath(o.folder, o.rank))
      f.write(new Uint8Array(out.buffer))
      f.commit()
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

export interface ExactFindOptions {
  /** Stage 1's folder. */
  readonly input: string
  readonly output: string
  readonly stats: StatsCollector
}

/** Stage 2: merge every task's sorted hashes; within a run of equal hashes all but the first are removed. */
export const exactDedupFind = (o: ExactFindOptions): Effect.Effect<void, DataConfigError | WriteError> =>
  Effect.gen(function*() {
    const dir = path.join(o.input, "sigs")
    const files = yield* wrapConfig(() =>
      existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.exact\.sig$/.test(f)).sort().map((f) => path.join(dir, f)) : []
    )
    const ranks = files.map((f) => Number(path.basename(f).replace(/\.exact\.sig$/, "")))
    const readers = yield* wrapConfig(() => files.map((f) => new RecordReader(f, WORDS * 4)))
    const found = new Map<number, Array<{ doc: number; rank: number; first: number }>>()
    yield* wrapConfig(() => {
      try {
        const less = (x: number, y: number) => {
          const a = readers[x]!, b = readers[y]!
          const da = a.data(), oa = a.offset(), db = b.data(), ob = b.offset()
          if (da[oa + 1] !== db[ob + 1]) return da[oa + 1]! < db[ob + 1]!
          if (da[oa] !== db[ob]) return da[oa]! < db[ob]!
          // Files are in rank order and each is sorted by (hash, index): (hash, rank, index) is "first occurrence".
          if (x !== y) return x < y
          return da[oa + 2]! < db[ob + 2]!
        }
        const heap = new ReaderHeap(less)
        for (let i = 0; i < readers.length; i++) if (readers[i]!.count > 0) heap.push(i)
        let lastLo = -1, lastHi = -1, firstRank = -1, firstDoc = -1
        while (heap.size > 0) {
          const i = heap.pop()
          const r = readers[i]!
          const d = r.data(), off = r.offset()
          o.stats.add("exact_find", "total")
          if (d[off] === lastLo && d[off + 1] === lastHi) {
            let list = found.get(ranks[i]!)
            if (list === undefined) found.set(ranks[i]!, (list = []))
            list.push({ doc: d[off + 2]!, rank: firstRank, first: firstDoc })
            o.stats.add("exact_find", "duplicates")
          } else {
            lastLo = d[off]!, lastHi = d[off + 1]!, firstRank = ranks[i]!, firstDoc = d[off + 2]!
          }
          r.index++
          if (r.index < r.count) heap.push(i)
        }
      } finally {
        for (const r of readers) r.close()
      }
    })
    const wanted = new Map<number, Set<number>>()
    for (const list of found.values()) {
      for (const x of list) {
        let s = wanted.get(x.rank)
        if (s === undefined) wanted.set(x.rank, (s = new Set()))
        s.add(x.first)
      }
    }
    const ids = yield* Effect.tryPromise({
      try: () => resolveIds(o.input, wanted),
      catch: (e) => e instanceof DataConfigError ? e : new DataConfigError({ message: String(e) })
    })
    yield* tryWrite(o.output, () => {
      for (const [rank, list] of found) {
        const named: Array<Removal> = list.map((x) => ({ doc: x.doc, duplicateOf: ids.get(x.rank)!.get(x.first)! }))
        writeRemovals(o.output, rank, named)
      }
    })
  })

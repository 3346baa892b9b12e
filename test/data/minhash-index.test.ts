import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { type Document, makeDocument } from "../../src/data/Document.ts"
import { idTablePath } from "../../src/data/dedup/files.ts"
import { dedupFilter } from "../../src/data/dedup/filter.ts"
import {
  defaultMinhashConfig,
  INDEX_SENTINEL,
  indexPath,
  minhashBuckets,
  type MinhashBucketsOptions,
  minhashCluster,
  minhashSignatures,
  sigPath
} from "../../src/data/dedup/minhash.ts"
import { minhashBuildIndex, readIndexFile } from "../../src/data/dedup/minhash-index.ts"
import type { TaskContext } from "../../src/data/executor/task.ts"
import type { DocSink } from "../../src/data/filters/Filter.ts"
import { type FilterRunConfig, planJobs, runStage, type StageName } from "../../src/data/fineweb.ts"
import { StatsCollector } from "../../src/data/stats.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-mhindex-"))
// A small deterministic generator for test inputs (not under test).
const lcg = (seed: number) => () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0)
const words = (seed: number, n: number) => {
  const rnd = lcg(seed)
  return Array.from({ length: n }, () => "w" + (rnd() % 5000).toString(36))
}
const text = (seed: number, n = 300) => words(seed, n).join(" ")
/** One word changed: a near copy (5-gram Jaccard ≈ 0.97). */
const nearCopy = (seed: number, at: number) => {
  const w = words(seed, 300)
  w[at] = "changed"
  return w.join(" ")
}
const BUCKETS = defaultMinhashConfig.numBuckets
const SIG_BYTES = defaultMinhashConfig.hashesPerBucket * 8

// Corpus A (two tasks): a4-dup has a4's simplified text, so the index holds 4 distinct signatures per bucket.
const corpusA: Array<Array<Document>> = [
  [makeDocument("a1", text(11)), makeDocument("a2", text(12)), makeDocument("a3", text(13))],
  [makeDocument("a4", text(14)), makeDocument("a-short", "too short"), makeDocument("a4-dup", text(14).toUpperCase() + "!!")]
]
// Corpus B: near or exact copies of a1, a2, a3 (a3 twice, in both tasks), an internal near pair, unique documents.
const corpusB: Array<Array<Document>> = [
  [makeDocument("b-a1-near", nearCopy(11, 150)), makeDocument("b-u1", text(21)), makeDocument("b-short", "tiny doc"), makeDocument("b-a3-first", text(13))],
  [makeDocument("b-a2-copy", text(12).toUpperCase() + "!!!"), makeDocument("b-u1-near", nearCopy(21, 100)), makeDocument("b-u2", text(22, 250)), makeDocument("b-a3-second", "  " + text(13) + ".")]
]
const allIds = (corpus: Array<Array<Document>>) => corpus.flat().map((d) => d.id).sort()

const collectSink = (): DocSink & { docs: Array<Document> } => {
  const docs: Array<Document> = []
  return { docs, write: (d) => Effect.sync(() => void docs.push(...d)) }
}

const writeSignatures = (corpus: Array<Array<Document>>, folder: string, stats: StatsCollector) =>
  Effect.gen(function*() {
    for (let rank = 0; rank < corpus.length; rank++) {
      yield* Stream.runDrain(Stream.fromIterable(corpus[rank]!).pipe(minhashSignatures({ folder, rank, stats })))
    }
  })

const buildIndex = (corpus: Array<Array<Document>>, dir: string, indexFolder: string, name: string) =>
  Effect.gen(function*() {
    const stats = new StatsCollector()
    const sigs = path.join(dir, "sigs")
    yield* writeSignatures(corpus, sigs, stats)
    for (let rank = 0; rank < BUCKETS; rank++) {
      yield* minhashBuildIndex({ input: sigs, output: indexFolder, indexName: name, rank, worldSize: BUCKETS, stats })
    }
    return { sigs, stats: stats.toJSON() }
  })

type BucketOptions = Pick<MinhashBucketsOptions, "indexFolder" | "onlyDedupInIndex" | "createIndexName">

/** Stages 1–4 on `corpus` with the given index options; every document comes back kept or dropped. */
const dedup = (corpus: Array<Array<Document>>, dir: string, options: BucketOptions, bucketTasks = BUCKETS) =>
  Effect.gen(function*() {
    const stats = new StatsCollector()
    const sigs = path.join(dir, "sigs")
    yield* writeSignatures(corpus, sigs, stats)
    for (let rank = 0; rank < bucketTasks; rank++) {
      yield* minhashBuckets({ input: sigs, output: path.join(dir, "buckets"), rank, worldSize: bucketTasks, stats, ...options })
    }
    yield* minhashCluster({ input: path.join(dir, "buckets"), signatures: sigs, output: path.join(dir, "remove"), stats })
    const kept: Array<string> = []
    const sink = collectSink()
    for (let rank = 0; rank < corpus.length; rank++) {
      const out = yield* Stream.runCollect(Stream.fromIterable(corpus[rank]!).pipe(
        dedupFilter({ folder: path.join(dir, "remove"), rank, id: "minhash", reason: "minhash_duplicate", stats, exclusion: sink })
      ))
      kept.push(...out.map((d) => d.id))
    }
    const dropped = sink.docs.map((d) => [d.id, d.metadata["duplicate_of"], d.metadata["filter_reason"]] as const)
    // Every input document exactly once in kept ∪ dropped.
    expect([...kept, ...dropped.map((d) => d[0])].sort()).toEqual(allIds(corpus))
    return { kept: kept.sort(), dropped: [...dropped].sort((x, y) => (x[0] < y[0] ? -1 : 1)), stats: stats.toJSON() }
  })

/** Hex of each signature (hashes as big-endian-comparable fixed width): sorts like datatrove's tuples. */
const sigKeys = (bytes: Uint8Array, recordBytes: number): Array<string> => {
  const out: Array<string> = []
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < bytes.byteLength; i += recordBytes) {
    let k = ""
    for (let h = 0; h < SIG_BYTES; h += 8) k += v.getBigUint64(i + h, true).toString(16).padStart(16, "0")
    out.push(k)
  }
  return out
}
const indexKeys = (file: string) => {
  const bytes = readFileSync(file)
  expect(bytes.byteLength % SIG_BYTES).toBe(0)
  return sigKeys(bytes, SIG_BYTES)
}
/** Distinct signatures of a bucket's stage-1 files, sorted. */
const distinctSigs = (sigs: string, bucket: number, ranks: number) =>
  [...new Set(Array.from({ length: ranks }, (_, r) => sigKeys(readFileSync(sigPath(sigs, bucket, r)), SIG_BYTES + 4)).flat())].sort()
const expectSortedUnique = (keys: Array<string>) => {
  for (let i = 1; i < keys.length; i++) expect(keys[i - 1]! < keys[i]!).toBe(true)
}
const dupsRecords = (folder: string) =>
  readdirSync(folder).filter((f) => f.endsWith(".dups")).sort().flatMap((f) => {
    const b = readFileSync(path.join(folder, f))
    return Array.from({ length: b.length / 16 }, (_, i) => [0, 4, 8, 12].map((o) => b.readUInt32LE(i * 16 + o)))
  })

describe("MinHash index (datatrove MinhashBuildIndex, index_folder)", () => {
  it.effect("builds bucket_XXX/<name>.minhash.index: the distinct bucket signatures, sorted, 64-byte records", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const index = path.join(dir, "index")
      const { sigs, stats } = yield* buildIndex(corpusA, dir, index, "A")
      for (let b = 0; b < BUCKETS; b++) {
        const file = indexPath(index, b, "A")
        expect(path.relative(index, file)).toBe(path.join(`bucket_${String(b).padStart(3, "0")}`, "A.minhash.index"))
        const bytes = readFileSync(file)
        // 5 documents with shingles, a4 and a4-dup share every signature: 4 records of `<8Q`.
        expect(bytes.byteLength).toBe(4 * SIG_BYTES)
        const keys = indexKeys(file)
        expectSortedUnique(keys)
        expect(keys).toEqual(distinctSigs(sigs, b, corpusA.length))
        // readIndexFile gives the same uint64 tuples.
        expect(readIndexFile(bytes).map((s) => s.map((h) => h.toString(16).padStart(16, "0")).join(""))).toEqual(keys)
      }
      expect(stats["minhash_build_index"]).toEqual({ signatures: 5 * BUCKETS, index_entries: 4 * BUCKETS })
    }))

  it.effect("only_dedup_in_index (datatrove's default): B's copies of A are removed as index matches, B's own duplicates kept", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const index = path.join(dir, "index")
      yield* buildIndex(corpusA, path.join(dir, "a"), index, "A")
      const { dropped, kept, stats } = yield* dedup(corpusB, path.join(dir, "b"), { indexFolder: index })
      expect(dropped).toEqual([
        ["b-a1-near", "index:A", "minhash_duplicate"],
        ["b-a2-copy", "index:A", "minhash_duplicate"],
        ["b-a3-first", "index:A", "minhash_duplicate"]
      ])
      // b-a3-second has b-a3-first's signature in every bucket: datatrove pairs only the first document after an
      // index entry with the index (`last` moves on to b-a3-first), and with only_dedup_in_index drops the
      // document–document pair, so it survives.
      expect(kept).toEqual(["b-a3-second", "b-short", "b-u1", "b-u1-near", "b-u2"])
      // The .dups files hold (SENTINEL, SENTINEL, task, doc) pairs only.
      const records = dupsRecords(path.join(dir, "b", "buckets"))
      expect(records.length).toBeGreaterThan(0)
      for (const r of records) expect([r[0], r[1]]).toEqual([INDEX_SENTINEL, INDEX_SENTINEL])
      expect(new Set(records.map((r) => `${r[2]},${r[3]}`))).toEqual(new Set(["0,0", "0,3", "1,0"]))
      expect(stats["minhash_buckets"]?.["index_match"]).toBe(records.length)
      expect(stats["minhash_buckets"]?.["total_matches"]).toBe(records.length)
      // The index node is a root that is never removed: 3 removals, 4 nodes (index + 3).
      expect(stats["minhash_cluster"]).toMatchObject({ duplicates: 4, to_remove: 3, clusters: 1, cluster_size: 4 })
    }))

  it.effect("only_dedup_in_index=false: B's internal duplicates go too; a document joined to the index's cluster is removed", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const index = path.join(dir, "index")
      yield* buildIndex(corpusA, path.join(dir, "a"), index, "A")
      const { dropped, kept } = yield* dedup(corpusB, path.join(dir, "b"), { indexFolder: index, onlyDedupInIndex: false })
      expect(dropped).toEqual([
        ["b-a1-near", "index:A", "minhash_duplicate"],
        ["b-a2-copy", "index:A", "minhash_duplicate"],
        ["b-a3-first", "index:A", "minhash_duplicate"],
        // paired with b-a3-first only, whose cluster the index roots
        ["b-a3-second", "index:A", "minhash_duplicate"],
        ["b-u1-near", "b-u1", "minhash_duplicate"]
      ])
      expect(kept).toEqual(["b-short", "b-u1", "b-u2"])
    }))

  it.effect("an index folder without index files dedups the input as before, even with only_dedup_in_index", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const empty = path.join(dir, "empty-index")
      mkdirSync(empty)
      const withEmpty = yield* dedup(corpusB, path.join(dir, "x"), { indexFolder: empty })
      const plain = yield* dedup(corpusB, path.join(dir, "y"), {})
      expect(withEmpty).toEqual(plain)
      expect(plain.dropped).toEqual([
        ["b-a3-second", "b-a3-first", "minhash_duplicate"],
        ["b-u1-near", "b-u1", "minhash_duplicate"]
      ])
      expect(existsSync(path.join(dir, "y", "buckets", "00000_00.index_matches.jsonl"))).toBe(false)
    }))

  it.effect("create_index_name adds the input's new signatures to the index folder; a rerun ignores its own index", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const index = path.join(dir, "index")
      const a = yield* buildIndex(corpusA, path.join(dir, "a"), index, "A")
      const first = yield* dedup(corpusB, path.join(dir, "b"), { indexFolder: index, createIndexName: "B" })
      const bSigs = path.join(dir, "b", "sigs")
      for (let b = 0; b < BUCKETS; b++) {
        const aKeys = indexKeys(indexPath(index, b, "A"))
        const bKeys = indexKeys(indexPath(index, b, "B_00"))
        expectSortedUnique(bKeys)
        // only signatures no index had, and together the two indexes hold every distinct signature of A and B
        expect(bKeys.filter((k) => aKeys.includes(k))).toEqual([])
        expect([...aKeys, ...bKeys].sort()).toEqual([...new Set([...distinctSigs(a.sigs, b, 2), ...distinctSigs(bSigs, b, 2)])].sort())
      }
      const dupsBefore = dupsRecords(path.join(dir, "b", "buckets"))
      // Rerun stage 2 (a resumed task): B_00 is excluded, so B does not match its own signatures.
      for (let rank = 0; rank < BUCKETS; rank++) {
        yield* minhashBuckets({ input: bSigs, output: path.join(dir, "b", "buckets"), rank, worldSize: BUCKETS, stats: new StatsCollector(), indexFolder: index, createIndexName: "B" })
      }
      expect(dupsRecords(path.join(dir, "b", "buckets"))).toEqual(dupsBefore)
      expect(first.kept).toEqual(["b-a3-second", "b-short", "b-u1", "b-u1-near", "b-u2"])
      // A later corpus is deduped against both indexes and names the one it matched.
      const corpusC = [[makeDocument("c-u2", text(22, 250)), makeDocument("c-a4", text(14)), makeDocument("c-new", text(31))]]
      const c = yield* dedup(corpusC, path.join(dir, "c"), { indexFolder: index })
      expect(c.dropped).toEqual([
        ["c-a4", "index:A", "minhash_duplicate"],
        ["c-u2", "index:B_00", "minhash_duplicate"]
      ])
      expect(c.kept).toEqual(["c-new"])
    }))

  it.effect("two workers per bucket find the same pairs and write the same new index entries as one", () =>
    Effect.gen(function*() {
      const dir = tmp()
      yield* buildIndex(corpusA, path.join(dir, "a"), path.join(dir, "i1"), "A")
      cpSync(path.join(dir, "i1"), path.join(dir, "i2"), { recursive: true })
      const one = yield* dedup(corpusB, path.join(dir, "one"), { indexFolder: path.join(dir, "i1"), onlyDedupInIndex: false, createIndexName: "B" })
      const two = yield* dedup(corpusB, path.join(dir, "two"), { indexFolder: path.join(dir, "i2"), onlyDedupInIndex: false, createIndexName: "B" }, 2 * BUCKETS)
      expect(two.dropped).toEqual(one.dropped)
      const sorted = (folder: string) => dupsRecords(folder).map((r) => r.join(",")).sort()
      expect(sorted(path.join(dir, "two", "buckets"))).toEqual(sorted(path.join(dir, "one", "buckets")))
      for (let b = 0; b < BUCKETS; b++) {
        const split = [...indexKeys(indexPath(path.join(dir, "i2"), b, "B_00")), ...indexKeys(indexPath(path.join(dir, "i2"), b, "B_01"))]
        expectSortedUnique(split)
        expect(split).toEqual(indexKeys(indexPath(path.join(dir, "i1"), b, "B_00")))
      }
    }))

  it.effect("cluster: the index stays the root even of a larger set, names the matched index, ignore_index_matches", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const sigs = path.join(dir, "sigs")
      mkdirSync(path.join(sigs, "ids"), { recursive: true })
      writeFileSync(idTablePath(sigs, 0), '"t0d0"\n')
      writeFileSync(idTablePath(sigs, 1), '"t1d0"\n"t1d1"\n"t1d2"\n')
      const buckets = path.join(dir, "buckets")
      mkdirSync(buckets)
      const rec = (...xs: Array<number>) => Buffer.from(Uint32Array.from(xs).buffer)
      const S = INDEX_SENTINEL
      // Bucket 0: a set of 3 rooted at (1,0). Bucket 1: the index matches (1,2); by size (1,0) would stay the
      // root and survive, but datatrove keeps (SENTINEL, SENTINEL) as the root. Bucket 2: index B matches (0,0).
      writeFileSync(path.join(buckets, "00000_00.dups"), rec(1, 0, 1, 1, 1, 1, 1, 2))
      writeFileSync(path.join(buckets, "00001_00.dups"), rec(S, S, 1, 2))
      writeFileSync(path.join(buckets, "00001_00.index_matches.jsonl"), '[1,2,"A"]\n')
      writeFileSync(path.join(buckets, "00002_00.dups"), rec(S, S, 0, 0))
      writeFileSync(path.join(buckets, "00002_00.index_matches.jsonl"), '[0,0,"B"]\n')
      for (let b = 3; b < BUCKETS; b++) writeFileSync(path.join(buckets, `${String(b).padStart(5, "0")}_00.dups`), "")
      const removed = (folder: string, rank: number) => readFileSync(path.join(folder, `00000${rank}.duplicates.jsonl`), "utf8")
      const stats = new StatsCollector()
      yield* minhashCluster({ input: buckets, signatures: sigs, output: path.join(dir, "remove"), stats })
      expect(removed(path.join(dir, "remove"), 0)).toBe('[0,"index:B"]\n')
      // (1,2) matched A itself; (1,0) and (1,1) reached the index through it: every index matched in the run.
      expect(removed(path.join(dir, "remove"), 1)).toBe('[0,"index:A,B"]\n[1,"index:A,B"]\n[2,"index:A"]\n')
      const bin = readFileSync(path.join(dir, "remove", "000001.remove"))
      expect(Array.from(new Uint32Array(bin.buffer, bin.byteOffset, bin.length / 4))).toEqual([0, 1, 2])
      expect(stats.toJSON()["minhash_cluster"]).toEqual({ duplicates: 5, to_remove: 4, clusters: 1, cluster_size: 5 })
      // ignore_index_matches: the sentinel pairs are skipped, (1,0) is the root again.
      const ignored = new StatsCollector()
      yield* minhashCluster({ input: buckets, signatures: sigs, output: path.join(dir, "remove-ignored"), stats: ignored, ignoreIndexMatches: true })
      expect(existsSync(path.join(dir, "remove-ignored", "000000.remove"))).toBe(false)
      expect(removed(path.join(dir, "remove-ignored"), 1)).toBe('[1,"t1d0"]\n[2,"t1d0"]\n')
    }))

  it.effect("configuration errors are typed", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const stats = new StatsCollector()
      const e1 = yield* Effect.flip(minhashBuildIndex({ input: dir, output: dir, indexName: "A", rank: 0, worldSize: 7, stats }))
      expect(e1._tag).toBe("DataConfigError")
      const e2 = yield* Effect.flip(minhashBuildIndex({ input: dir, output: dir, indexName: "a/b", rank: 0, worldSize: BUCKETS, stats }))
      expect(e2._tag).toBe("DataConfigError")
      const e3 = yield* Effect.flip(minhashBuckets({ input: dir, output: dir, rank: 0, worldSize: BUCKETS, stats, createIndexName: "B" }))
      expect(e3._tag).toBe("DataConfigError")
    }))
})

describe("filter program: --build-index and --dedup-index", () => {
  const runAll = (config: FilterRunConfig) =>
    Effect.gen(function*() {
      const jobs = planJobs(config, "programs/filter.ts", "config.json")
      for (const job of jobs) {
        for (let rank = 0; rank < job.tasks; rank++) {
          const ctx: TaskContext = { rank, worldSize: job.tasks, loggingDir: job.loggingDir, stats: new StatsCollector(), log: () => {}, progress: () => {} }
          yield* runStage(config, job.stage as StageName, ctx)
        }
      }
      return jobs.map((j) => j.stage)
    })
  const readDocs = (dir: string): Array<{ id: string; metadata: Record<string, unknown> }> =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
      .flatMap((e) => readFileSync(path.join(e.parentPath, e.name), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)))
  const writeCorpus = (dir: string, corpus: Array<Array<Document>>) => {
    mkdirSync(dir, { recursive: true })
    corpus.forEach((docs, i) =>
      writeFileSync(path.join(dir, `${i}.jsonl`), docs.map((d) => JSON.stringify({ id: d.id, text: d.text })).join("\n") + "\n")
    )
  }
  const base = (dir: string, input: string, out: string): FilterRunConfig => ({
    inputs: [path.join(dir, input)],
    output: path.join(dir, out),
    exclusions: path.join(dir, out, "dropped"),
    format: "jsonl",
    gzip: false,
    filters: [],
    c4TerminalPunct: false,
    dedup: "minhash",
    minhashHash: "xxhash",
    tasks: 2,
    workers: 1,
    textKey: "text",
    idKey: "id"
  })

  it.effect("builds OUT/index from corpus A, then drops B's copies of A with duplicate_of index:A", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeCorpus(path.join(dir, "A"), corpusA)
      writeCorpus(path.join(dir, "B"), corpusB)
      const a = { ...base(dir, "A", "outA"), minhashBuildIndex: "A" }
      expect(yield* runAll(a)).toEqual(["filter", "minhash_build_index", "minhash_buckets", "minhash_cluster", "dedup_filter"])
      const index = path.join(dir, "outA", "index")
      for (let b = 0; b < BUCKETS; b++) expect(readFileSync(indexPath(index, b, "A")).byteLength).toBe(4 * SIG_BYTES)
      // A itself is deduped as before (a4-dup), and the index does not change that.
      expect(readDocs(path.join(dir, "outA", "dropped")).map((d) => [d.id, d.metadata["duplicate_of"]])).toEqual([["a4-dup", "a4"]])

      const b = { ...base(dir, "B", "outB"), minhashIndex: index }
      expect(yield* runAll(b)).toEqual(["filter", "minhash_buckets", "minhash_cluster", "dedup_filter"])
      const kept = readDocs(path.join(dir, "outB", "kept")).map((d) => d.id).sort()
      const dropped = readDocs(path.join(dir, "outB", "dropped")).map((d) => [d.id, d.metadata["duplicate_of"], d.metadata["filter_reason"]]).sort()
      expect(kept).toEqual(["b-short", "b-u1", "b-u2"])
      expect(dropped).toEqual([
        ["b-a1-near", "index:A", "minhash_duplicate"],
        ["b-a2-copy", "index:A", "minhash_duplicate"],
        ["b-a3-first", "index:A", "minhash_duplicate"],
        ["b-a3-second", "index:A", "minhash_duplicate"],
        ["b-u1-near", "b-u1", "minhash_duplicate"]
      ])
      expect([...kept, ...dropped.map((d) => d[0] as string)].sort()).toEqual(allIds(corpusB))

      // --dedup-index-only --build-index B: only index matches, and B's new signatures join the index folder.
      const bOnly = { ...base(dir, "B", "outB2"), minhashIndex: index, minhashIndexOnly: true, minhashBuildIndex: "B" }
      yield* runAll(bOnly)
      expect(readDocs(path.join(dir, "outB2", "kept")).map((d) => d.id).sort()).toEqual(["b-a3-second", "b-short", "b-u1", "b-u1-near", "b-u2"])
      expect(existsSync(indexPath(index, 0, "B_00"))).toBe(true)
      expect(existsSync(path.join(dir, "outB2", "index"))).toBe(false)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { type Document, makeDocument } from "../../src/data/Document.ts"
import { exactDedupFind, exactDedupSignatures } from "../../src/data/dedup/exact.ts"
import { idTablePath } from "../../src/data/dedup/files.ts"
import { dedupFilter } from "../../src/data/dedup/filter.ts"
import {
  MERSENNE_PRIME,
  minhashBuckets,
  minhashCluster,
  minhashParameters,
  MinhashSignatures,
  minhashSignatures,
  minOfPermutations,
  shingleTexts,
  sigPath
} from "../../src/data/dedup/minhash.ts"
import { xxh64, xxh64String } from "../../src/data/dedup/xxhash64.ts"
import type { DocSink } from "../../src/data/filters/Filter.ts"
import { StatsCollector } from "../../src/data/stats.ts"
import { xxh64Reference } from "./xxh64-reference.ts"

const tmp = () => mkdtempSync(path.join(tmpdir(), "smol-dedup-"))
// A small deterministic generator for test inputs (not under test).
const lcg = (seed: number) => () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0)

describe("xxh64", () => {
  it("matches the published seed-0 vectors", () => {
    expect(xxh64String("").toString(16)).toBe("ef46db3751d8e999")
    expect(xxh64String("a").toString(16)).toBe("d24ec4f1a98c6e5b")
    expect(xxh64String("abc").toString(16)).toBe("44bc2cf5ad770999")
    // python-xxhash README: xxh64('Nobody inspects the spammish repetition')
    expect(xxh64String("Nobody inspects the spammish repetition").toString(16)).toBe("fbcea83c8a378bf1")
  })
  it("equals a BigInt implementation of the spec on every length 0..200, and with a seed", () => {
    const rnd = lcg(7)
    const out = new Uint32Array(2)
    for (let len = 0; len <= 200; len++) {
      const b = Uint8Array.from({ length: len }, () => rnd() & 255)
      for (const seed of [0n, 0x9e3779b97f4a7c15n]) {
        xxh64(b, len, out, Number(seed >> 32n), Number(seed & 0xffffffffn))
        expect(((BigInt(out[1]!) << 32n) | BigInt(out[0]!)).toString(16), `len ${len}`).toBe(xxh64Reference(b, seed).toString(16))
      }
    }
  })
})

describe("MinHash signatures", () => {
  it("draws datatrove's permutation parameters (numpy RandomState(1).randint on uint64)", () => {
    const { a, b } = minhashParameters()
    expect(a.length).toBe(112)
    // Values printed by numpy 2.4.6: g = RandomState(1); g.randint(1, p, dtype=uint64, size=(1, 112)); then b.
    expect(a.slice(0, 4)).toEqual([775169054918279404n, 1758426461858698313n, 2109959069025162n, 965365488286768774n])
    expect(a[111]).toBe(223865076026037746n)
    expect(b.slice(0, 3)).toEqual([1062448801025099917n, 1324811268927594100n, 1217488311597731462n])
    expect(b[111]).toBe(1097409548522419201n)
  })

  it("the 32-bit-halves permutation loop equals (h·a mod 2^64 + b mod 2^64) mod (2^61 − 1) in BigInt", () => {
    const p = minhashParameters()
    const rnd = lcg(3)
    const n = 300
    const lo = new Uint32Array(n)
    const hi = new Uint32Array(n)
    for (let i = 0; i < n; i++) (lo[i] = rnd()), (hi[i] = rnd())
    // Extremes: 0, 2^64 − 1, p, p − 1.
    ;[[0, 0], [0xffffffff, 0xffffffff], [0xffffffff, 0x1fffffff], [0xfffffffe, 0x1fffffff]].forEach(([l, h], i) => ((lo[i] = l!), (hi[i] = h!)))
    const out = new Uint32Array(224)
    minOfPermutations(lo, hi, n, p, out)
    const M = (1n << 64n) - 1n
    for (let j = 0; j < 112; j++) {
      let min = M
      for (let i = 0; i < n; i++) {
        const h = (BigInt(hi[i]!) << 32n) | BigInt(lo[i]!)
        const v = ((((h * p.a[j]!) & M) + p.b[j]!) & M) % MERSENNE_PRIME
        if (v < min) min = v
      }
      expect((BigInt(out[2 * j + 1]!) << 32n) | BigInt(out[2 * j]!)).toBe(min)
    }
  })

  const text = "The Quick brown fox, born in 1999, jumps over the lazy dog. Café owners can't stop it; they cannot!"
  it("shingles are 5-grams of spaCy words of simplify_text", () => {
    const sh = shingleTexts(text)
    expect(sh[0]).toBe("the quick brown fox born")
    expect(sh).toContain("brown fox born in 0")
    expect(sh).toContain("over the lazy dog cafe")
    // spaCy's exception splits "cannot" into "can" "not"; the apostrophe became a space.
    expect(sh.at(-1)).toBe("stop it they can not")
    expect(sh.length).toBe(17)
    expect(shingleTexts("only four words here")).toEqual([])
    expect(new MinhashSignatures().signature("only four words here", new Uint32Array(224))).toBe(false)
  })

  it("gives the signature numpy computes from the same shingle hashes (first and last bucket)", () => {
    const out = new Uint32Array(224)
    expect(new MinhashSignatures().signature(text, out)).toBe(true)
    const sig = Array.from({ length: 112 }, (_, j) => ((BigInt(out[2 * j + 1]!) << 32n) | BigInt(out[2 * j]!)))
    // numpy: np.min((shingles * a + b) % p, axis=0) with shingles = xxh64 of the 17 shingles above.
    expect(sig.slice(0, 8)).toEqual([59742510320192906n, 84337767451152828n, 179653367486257449n, 223776558639230767n, 37672209738485472n, 90616091782377612n, 176852603081485686n, 231260037227233258n])
    expect(sig.slice(104)).toEqual([31029673122179745n, 73142028978652698n, 42576518267424544n, 70453881047365772n, 133766111619094277n, 135490121529214059n, 465256384567040958n, 3963570588256049n])
  })
})

const words = (seed: number, n: number) => {
  const rnd = lcg(seed)
  return Array.from({ length: n }, () => "w" + (rnd() % 5000).toString(36))
}
const collectSink = (): DocSink & { docs: Array<Document> } => {
  const docs: Array<Document> = []
  return { docs, write: (d) => Effect.sync(() => void docs.push(...d)) }
}

describe("MinHash dedup, four stages across tasks", () => {
  const base = words(1, 300)
  const near = [...base]
  near[150] = "changed"
  const other = words(2, 300).join(" ")
  const tasks: Array<Array<Document>> = [
    [makeDocument("a", base.join(" ")), makeDocument("short", "too short"), makeDocument("o", other)],
    [makeDocument("a-near", near.join(" ")), makeDocument("u", words(3, 200).join(" "))],
    [makeDocument("o-copy", other.toUpperCase() + "!!!")]
  ]

  const runAll = (dir: string, bucketTasks: number) =>
    Effect.gen(function*() {
      const stats = new StatsCollector()
      const sigs = path.join(dir, "sigs")
      for (let rank = 0; rank < tasks.length; rank++) {
        const passed = yield* Stream.runCollect(Stream.fromIterable(tasks[rank]!).pipe(minhashSignatures({ folder: sigs, rank, stats })))
        expect(passed).toEqual(tasks[rank])
      }
      for (let rank = 0; rank < bucketTasks; rank++) {
        yield* minhashBuckets({ input: sigs, output: path.join(dir, "buckets"), rank, worldSize: bucketTasks, stats })
      }
      yield* minhashCluster({ input: path.join(dir, "buckets"), signatures: sigs, output: path.join(dir, "remove"), stats })
      const kept: Array<Array<string>> = []
      const sink = collectSink()
      for (let rank = 0; rank < tasks.length; rank++) {
        const out = yield* Stream.runCollect(Stream.fromIterable(tasks[rank]!).pipe(
          dedupFilter({ folder: path.join(dir, "remove"), rank, id: "minhash", reason: "minhash_duplicate", stats, exclusion: sink })
        ))
        kept.push(out.map((d) => d.id))
      }
      return { kept, dropped: sink.docs, stats: stats.toJSON() }
    })

  it.effect("removes near and exact duplicates in other tasks and names the kept document", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const { dropped, kept, stats } = yield* runAll(dir, 14)
      expect(kept).toEqual([["a", "short", "o"], ["u"], []])
      expect(dropped.map((d) => [d.id, d.metadata["duplicate_of"], d.metadata["filter_reason"]])).toEqual([
        ["a-near", "a", "minhash_duplicate"],
        ["o-copy", "o", "minhash_duplicate"]
      ])
      // datatrove's files: one sorted `<8Q I` record per document with shingles, per bucket.
      expect(statSync(sigPath(path.join(dir, "sigs"), 0, 0)).size).toBe(2 * 68)
      expect(readdirSync(path.join(dir, "buckets")).filter((f) => f.endsWith(".dups")).length).toBe(14)
      expect(readFileSync(idTablePath(path.join(dir, "sigs"), 0), "utf8")).toBe('"a"\n"short"\n"o"\n')
      expect(stats["minhash_signatures"]).toEqual({ total: 6, no_shingles: 1 })
      expect(stats["minhash_cluster"]?.["to_remove"]).toBe(2)
    }))

  it.effect("two workers per bucket find the same pairs as one", () =>
    Effect.gen(function*() {
      const one = tmp()
      const two = tmp()
      yield* runAll(one, 14)
      const r = yield* runAll(two, 28)
      expect(r.dropped.map((d) => d.id)).toEqual(["a-near", "o-copy"])
      const pairs = (dir: string) =>
        readdirSync(path.join(dir, "buckets")).filter((f) => f.endsWith(".dups")).sort().flatMap((f) => {
          const b = readFileSync(path.join(dir, "buckets", f))
          return Array.from({ length: b.length / 16 }, (_, i) => [0, 4, 8, 12].map((o) => b.readUInt32LE(i * 16 + o)).join(","))
        }).sort()
      expect(pairs(two)).toEqual(pairs(one))
    }))

  it.effect("clusters with datatrove's union by size: the root of the larger set survives", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const sigs = path.join(dir, "sigs")
      mkdirSync(path.join(sigs, "ids"), { recursive: true })
      writeFileSync(idTablePath(sigs, 0), '"t0d0"\n"t0d1"\n')
      writeFileSync(idTablePath(sigs, 1), '"t1d0"\n"t1d1"\n')
      const buckets = path.join(dir, "buckets")
      mkdirSync(buckets)
      const rec = (...xs: Array<number>) => Buffer.from(Uint32Array.from(xs).buffer)
      // Bucket 0: (1,0)-(1,1) makes a set of 2 rooted at (1,0); bucket 1: (0,0)-(1,1) joins (0,0) to it. A naive
      // "keep the smallest (task, doc)" would keep t0d0; datatrove keeps the larger set's root, t1d0.
      writeFileSync(path.join(buckets, "00000_00.dups"), rec(1, 0, 1, 1))
      writeFileSync(path.join(buckets, "00001_00.dups"), rec(0, 0, 1, 1))
      for (let b = 2; b < 14; b++) writeFileSync(path.join(buckets, `${String(b).padStart(5, "0")}_00.dups`), "")
      const stats = new StatsCollector()
      yield* minhashCluster({ input: buckets, signatures: sigs, output: path.join(dir, "remove"), stats })
      const remove0 = readFileSync(path.join(dir, "remove", "000000.remove"))
      expect(Array.from(new Uint32Array(remove0.buffer, remove0.byteOffset, remove0.length / 4))).toEqual([0])
      expect(readFileSync(path.join(dir, "remove", "000000.duplicates.jsonl"), "utf8")).toBe('[0,"t1d0"]\n')
      expect(readFileSync(path.join(dir, "remove", "000001.duplicates.jsonl"), "utf8")).toBe('[1,"t1d0"]\n')
      expect(stats.toJSON()["minhash_cluster"]).toEqual({ duplicates: 3, to_remove: 2, clusters: 1, cluster_size: 3 })
    }))

  it.effect("a .dups count that is not a multiple of the buckets is a typed error", () =>
    Effect.gen(function*() {
      const dir = tmp()
      writeFileSync(path.join(dir, "00000_00.dups"), "")
      const e = yield* Effect.flip(minhashCluster({ input: dir, signatures: dir, output: dir, stats: new StatsCollector() }))
      expect(e._tag).toBe("DataConfigError")
    }))
})

describe("exact dedup on normalized text", () => {
  it.effect("keeps the first occurrence in (task, index) order and names it on the others", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const stats = new StatsCollector()
      const tasks = [
        [makeDocument("x", "Hello, World!"), makeDocument("y", "something else"), makeDocument("x2", "hello world")],
        [makeDocument("x3", "HELLO   world..."), makeDocument("z", "unique text")]
      ]
      for (let rank = 0; rank < tasks.length; rank++) {
        yield* Stream.runDrain(Stream.fromIterable(tasks[rank]!).pipe(exactDedupSignatures({ folder: path.join(dir, "sigs"), rank, stats })))
      }
      yield* exactDedupFind({ input: path.join(dir, "sigs"), output: path.join(dir, "remove"), stats })
      const sink = collectSink()
      const kept: Array<string> = []
      for (let rank = 0; rank < tasks.length; rank++) {
        const out = yield* Stream.runCollect(Stream.fromIterable(tasks[rank]!).pipe(
          dedupFilter({ folder: path.join(dir, "remove"), rank, id: "exact", reason: "exact_duplicate", stats, exclusion: sink })
        ))
        kept.push(...out.map((d) => d.id))
      }
      expect(kept).toEqual(["x", "y", "z"])
      expect(sink.docs.map((d) => [d.id, d.metadata["duplicate_of"]])).toEqual([["x2", "x"], ["x3", "x"]])
      expect(stats.toJSON()["exact"]).toEqual({ total: 5, forwarded: 3, dropped: 2, dropped_exact_duplicate: 2 })
    }))
})

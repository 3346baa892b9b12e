import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FileSystem, Stream } from "effect"
import { humanizeTokens, ShardError } from "../../../src/data/shards/format.ts"
import { listTokenShards, openTokenShard } from "../../../src/data/shards/reader.ts"
import { mergeTokenShards, tokenizeToShards, writeTokenShards } from "../../../src/data/shards/writer.ts"
import { byteTokenizer } from "../../../src/data/tokenizer/Tokenizer.ts"

const docsOf = (n: number, seed = 1): Array<Array<number>> => {
  let s = seed
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296)
  return Array.from({ length: n }, (_, i) => Array.from({ length: 1 + Math.floor(r() * 30) }, () => 1 + ((i * 31 + Math.floor(r() * 1000)) % 60000)))
}

const tempDir = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  return yield* fs.makeTempDirectoryScoped()
})

const readAllDocs = (paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: number[][] = []
    for (const p of paths) {
      const shard = yield* openTokenShard(p)
      for (let d = 0; d < shard.documents; d++) out.push(Array.from(yield* shard.readDocument(d)))
    }
    return out
  })

describe("token shards (datatrove layout)", () => {
  it.effect("writes uint16 tokens, uint64 document ends and datatrove's metadata text, byte for byte", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const summary = yield* writeTokenShards(Stream.make([1, 2, 3], [4, 300]), { outputDir: dir, tokenizerName: "HuggingFaceTB/cosmo2-tokenizer", vocabSize: 49152, eosId: 0 })
      expect(summary.files.map((f) => f.path)).toEqual([`${dir}/00000_unshuffled.ds`])
      const ds = yield* fs.readFile(`${dir}/00000_unshuffled.ds`)
      expect(Array.from(ds)).toEqual([1, 0, 2, 0, 3, 0, 0, 0, 4, 0, 44, 1, 0, 0])
      const index = yield* fs.readFile(`${dir}/00000_unshuffled.ds.index`)
      expect(Array.from(index)).toEqual([4, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0])
      expect(yield* fs.readFileString(`${dir}/00000_unshuffled.ds.metadata`)).toBe("HuggingFaceTB/cosmo2-tokenizer|2\n7\n7.00 T")
      expect([humanizeTokens(1500), humanizeTokens(220), humanizeTokens(1234567), humanizeTokens(0)]).toEqual(["1.50 kT", "220 T", "1.23 MT", "0.00 T"])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("uses uint32 tokens when the vocabulary does not fit in 16 bits, and refuses ids that do not fit", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const big = yield* writeTokenShards(Stream.make([70000, 1]), { outputDir: dir, tokenizerName: "t", vocabSize: 100_000 })
      expect(big.tokenSize).toBe(4)
      const shard = yield* openTokenShard(big.files[0]!.path)
      expect(Array.from(yield* shard.readDocument(0))).toEqual([70000, 1])
      const exit = yield* Effect.exit(writeTokenShards(Stream.make([70000]), { outputDir: `${dir}/small`, tokenizerName: "t", vocabSize: 50_000 }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(exit)).toContain("does not fit in 2 bytes")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("shuffles documents with a seed, rolls files over past max_tokens_per_file, and leaves no staging files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const docs = docsOf(200)
      const write = (dir: string, seed: number) =>
        writeTokenShards(Stream.fromIterable(docs), { outputDir: dir, tokenizerName: "t", vocabSize: 65536, eosId: 0, shuffleSeed: seed, maxTokensPerFile: 500 })
      const dir = yield* tempDir
      const a = yield* write(`${dir}/a`, 7)
      const b = yield* write(`${dir}/b`, 7)
      const c = yield* write(`${dir}/c`, 8)
      expect(a.files.length).toBeGreaterThan(3)
      expect(a.files[0]!.path).toBe(`${dir}/a/00000_00000_doc_shuffled.ds`)
      expect(a.files[1]!.path).toBe(`${dir}/a/00000_00001_doc_shuffled.ds`)
      // Each file stops at the first document that takes it past the limit.
      for (const f of a.files.slice(0, -1)) expect(f.tokens).toBeGreaterThan(500)
      for (const f of a.files.slice(0, -1)) expect(f.tokens).toBeLessThanOrEqual(500 + 31)
      expect(yield* listTokenShards(`${dir}/a`)).toEqual(a.files.map((f) => f.path))
      expect((yield* fs.readDirectory(`${dir}/a`)).filter((n) => n.includes("unshuffled") || n.includes(".tmp-"))).toEqual([])

      const got = yield* readAllDocs(a.files.map((f) => f.path))
      const want = docs.map((d) => [...d, 0])
      expect(got).not.toEqual(want)
      expect([...got].sort()).toEqual([...want].sort())
      expect(yield* readAllDocs(b.files.map((f) => f.path))).toEqual(got)
      expect(yield* readAllDocs(c.files.map((f) => f.path))).not.toEqual(got)
      expect(a.tokens).toBe(want.reduce((n, d) => n + d.length, 0))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("reads any token range across document boundaries, and refuses ranges outside the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const docs = docsOf(50, 3)
      const summary = yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: dir, tokenizerName: "t", vocabSize: 65536 })
      const shard = yield* openTokenShard(summary.files[0]!.path)
      const flat = docs.flat()
      expect(shard.tokens).toBe(flat.length)
      expect(shard.documents).toBe(50)
      for (const [s, e] of [[0, 1], [3, 97], [flat.length - 10, flat.length], [17, 17]] as const) {
        expect(Array.from(yield* shard.readTokens(s, e))).toEqual(flat.slice(s, e))
      }
      expect(Array.from(yield* shard.readDocument(49))).toEqual(docs[49])
      const outside = yield* Effect.exit(shard.readTokens(0, flat.length + 1))
      expect(Exit.isFailure(outside) && Exit.isFailure(outside) ? String(outside.cause) : "").toContain("outside")
      const badDoc = yield* Effect.flip(shard.readDocument(50))
      expect(badDoc).toBeInstanceOf(ShardError)
      expect(badDoc.reason).toBe("Range")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("merges shards of several tasks into numbered files with a total metadata file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const parts = [docsOf(40, 1), docsOf(30, 2), docsOf(50, 3)]
      for (const [rank, docs] of parts.entries()) {
        yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: `${dir}/in`, tokenizerName: "tok", vocabSize: 65536, rank, eosId: 0 })
      }
      const inputs = yield* listTokenShards(`${dir}/in`)
      expect(inputs.length).toBe(3)
      const merged = yield* mergeTokenShards(inputs, `${dir}/out`, { saveFilename: "merged", maxTokensPerFile: 800, shuffleSeed: 3 })
      expect(merged.files[0]!.path).toBe(`${dir}/out/000_merged.ds`)
      expect(merged.files[1]!.path).toBe(`${dir}/out/001_merged.ds`)
      for (const f of merged.files.slice(0, -1)) expect(f.tokens).toBeGreaterThanOrEqual(800)
      const got = yield* readAllDocs(merged.files.map((f) => f.path))
      const want = parts.flat().map((d) => [...d, 0])
      expect([...got].sort()).toEqual([...want].sort())
      expect(got).not.toEqual(want)
      const total = want.reduce((n, d) => n + d.length, 0)
      expect((yield* fs.readFileString(`${dir}/out/merged.ds.metadata`)).split("\n").slice(0, 2)).toEqual(["tok|2", String(total)])
      // Without a seed, files are taken one after the other, each in its own order.
      const plain = yield* mergeTokenShards(inputs, `${dir}/plain`, { saveFilename: "m" })
      expect(yield* readAllDocs(plain.files.map((f) => f.path))).toEqual(want)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("shuffles in datatrove's order: numpy default_rng(seed).permutation, the same for every rank", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      // Document i is the single token i + 1, so the output spells the order.
      const docs = Array.from({ length: 30 }, (_, i) => [i + 1])
      const orderOf = (rank: number) =>
        Effect.gen(function*() {
          const summary = yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: `${dir}/r${rank}`, tokenizerName: "t", vocabSize: 65536, shuffleSeed: 42, rank })
          return (yield* readAllDocs(summary.files.map((f) => f.path))).map((d) => d[0]! - 1)
        })
      // python3 -c "import numpy as np; print(np.random.default_rng(42).permutation(30).tolist())"
      const numpy = [29, 16, 7, 25, 24, 22, 5, 21, 26, 10, 19, 20, 9, 6, 18, 3, 0, 15, 17, 23, 12, 11, 14, 28, 2, 4, 27, 1, 13, 8]
      expect(yield* orderOf(0)).toEqual(numpy)
      expect(yield* orderOf(2)).toEqual(numpy)
      const negative = yield* Effect.flip(writeTokenShards(Stream.fromIterable(docs), { outputDir: `${dir}/neg`, tokenizerName: "t", vocabSize: 65536, shuffleSeed: -1 }))
      expect(negative.reason).toBe("Input")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("merges in datatrove's order: numpy default_rng(seed).permutation of the per-document file ids", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const sizes = [4, 3, 5]
      const inputs: Array<string> = []
      for (const [f, n] of sizes.entries()) {
        const docs = Array.from({ length: n }, (_, d) => [100 * f + d + 1])
        inputs.push((yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: `${dir}/in${f}`, tokenizerName: "t", vocabSize: 65536 })).files[0]!.path)
      }
      const merged = yield* mergeTokenShards(inputs, `${dir}/out`, { saveFilename: "m", shuffleSeed: 3 })
      const got = (yield* readAllDocs(merged.files.map((f) => f.path))).map((d) => d[0]!)
      // python3 -c "import numpy as np; print(np.random.default_rng(3).permutation(
      //   np.concatenate([np.ones(n, dtype=int) * i for i, n in enumerate([4, 3, 5])])).tolist())"
      const fileIds = [2, 2, 0, 2, 0, 0, 1, 1, 2, 1, 0, 2]
      const next = sizes.map(() => 0)
      expect(got).toEqual(fileIds.map((f) => 100 * f + ++next[f]!))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("tokenizes a text stream into shards with EOS after every document", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const texts = ["héllo", "world", ""]
      const summary = yield* tokenizeToShards(Stream.fromIterable(texts), byteTokenizer, { outputDir: dir, batchSize: 2 })
      const shard = yield* openTokenShard(summary.files[0]!.path)
      expect(shard.tokenizerName).toBe("byte-tokenizer")
      expect(shard.documents).toBe(3)
      for (const [i, text] of texts.entries()) expect(yield* byteTokenizer.decode(yield* shard.readDocument(i))).toBe(`${text}<|endoftext|>`)
      const noEos = yield* Effect.flip(tokenizeToShards(Stream.make("x"), byteTokenizer, { outputDir: dir, eosToken: "</s>" }))
      expect(noEos.message).toContain("</s>")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("leaves no shard and no temporary file when the input fails midway", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const failing = Stream.concat(Stream.fromIterable(docsOf(10)), Stream.fail("input broke"))
      const exit = yield* Effect.exit(writeTokenShards(failing, { outputDir: `${dir}/x`, tokenizerName: "t", vocabSize: 65536, shuffleSeed: 1 }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* fs.readDirectory(`${dir}/x`)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})

import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem, Logger, Stream } from "effect"
import { decodeMixturePosition, makeMixture, type MixtureConfig, MixtureError } from "../../../src/data/mixture/Mixture.ts"
import { writeTokenShards } from "../../../src/data/shards/writer.ts"

/**
 * Sources whose every token is unique: document d of source s holds s*100000 + d*100 + k (k = 1..len), then EOS 0
 * is appended by the writer. Lengths vary so that sequences straddle document boundaries.
 */
const writeSource = (dir: string, source: number, documents: number, shards: number) =>
  Effect.gen(function*() {
    const paths: string[] = []
    for (let shard = 0; shard < shards; shard++) {
      const docs = Array.from({ length: documents }, (_, d) => {
        const id = shard * documents + d
        return Array.from({ length: 3 + ((id * 7) % 23) }, (_, k) => source * 100000 + id * 100 + k + 1)
      })
      const summary = yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: `${dir}/s${source}`, tokenizerName: "t", vocabSize: 1 << 20, eosId: 0, rank: shard })
      paths.push(...summary.files.map((f) => f.path))
    }
    return paths
  })

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped()
  const web = yield* writeSource(dir, 1, 40, 2)
  const code = yield* writeSource(dir, 2, 15, 1)
  const config: MixtureConfig = { seed: 42, seqLen: 16, batchSize: 4, sources: [{ name: "web", weight: 0.7, shards: web }, { name: "code", weight: 0.3, shards: code }] }
  return config
})

const take = (config: MixtureConfig, n: number, from?: Parameters<typeof makeMixture>[1]) =>
  Effect.gen(function*() {
    const sampler = yield* makeMixture(config, from)
    const batches = []
    for (let i = 0; i < n; i++) batches.push(yield* sampler.next)
    return { batches, sampler }
  }).pipe(Effect.scoped)

describe("mixture sampler", () => {
  it.effect("resumes from a saved position with exactly the batches an uninterrupted run gives next", () =>
    Effect.gen(function*() {
      const config = yield* setup
      const { batches: straight } = yield* take(config, 40)
      const { batches: first } = yield* take(config, 25)
      // The position goes through JSON, as it would through a checkpoint file.
      const saved = yield* decodeMixturePosition(JSON.parse(JSON.stringify(first[24]!.position)))
      const { batches: resumed } = yield* take(config, 15, saved)
      expect(resumed.map((b) => b.step)).toEqual(straight.slice(25).map((b) => b.step))
      resumed.forEach((b, i) => {
        expect(Array.from(b.tokens), `batch ${25 + i}`).toEqual(Array.from(straight[25 + i]!.tokens))
        expect(b.sources).toEqual(straight[25 + i]!.sources)
      })
      // 40 batches of 4 × 17 tokens run both sources past an epoch, so the resume also crossed epoch boundaries.
      expect(straight[39]!.position.sources["code"]!.epoch).toBeGreaterThan(0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("gives each source its weight's share of sequences and packs documents back to back across boundaries", () =>
    Effect.gen(function*() {
      const config = yield* setup
      const batches = yield* Effect.scoped(Effect.flatMap(makeMixture(config), (sampler) => Stream.runCollect(sampler.stream.pipe(Stream.take(25)))))
      const rows = batches.flatMap((b) => b.sources)
      expect(rows.length).toBe(100)
      expect(rows.filter((s) => s === "web").length).toBe(70)
      // Exact at every prefix, not only on average: after k rows the web count is within one of 0.7k.
      let web = 0
      rows.forEach((s, k) => {
        web += s === "web" ? 1 : 0
        expect(Math.abs(web - 0.7 * (k + 1))).toBeLessThanOrEqual(1)
      })
      // The web rows, concatenated, are web's documents (each followed by EOS 0) one after another, never cut apart
      // except at the start and the end: consecutive non-EOS tokens of a document are consecutive ids.
      const webTokens: number[] = []
      batches.forEach((b) => b.sources.forEach((s, r) => s === "web" && webTokens.push(...b.tokens.subarray(r * b.width, (r + 1) * b.width))))
      for (let i = 1; i < webTokens.length; i++) {
        const [a, b] = [webTokens[i - 1]!, webTokens[i]!]
        if (a !== 0 && b !== 0) expect(b, `position ${i}`).toBe(a + 1)
      }
      expect(webTokens.filter((t) => t === 0).length).toBeGreaterThan(10)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("counts tokens per source and warns when a source is repeated past one epoch", () =>
    Effect.gen(function*() {
      const config = yield* setup
      const warnings: string[] = []
      const capture = Logger.make((o) => {
        if (o.logLevel === "Warn") warnings.push(String(o.message))
      })
      const accounts = yield* Effect.gen(function*() {
        const sampler = yield* makeMixture(config)
        for (let i = 0; i < 40; i++) yield* sampler.next
        return yield* sampler.accounts
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))
      const code = accounts.find((a) => a.name === "code")!
      const web = accounts.find((a) => a.name === "web")!
      expect(code.tokensDrawn + web.tokensDrawn).toBe(40 * 4 * 17)
      expect(code.tokensDrawn).toBe(48 * 17)
      expect(code.epochs).toBeGreaterThan(1)
      expect(warnings.some((w) => w.includes("mixture source code starts epoch 2"))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("is deterministic from the seed, and refuses a position saved under another seed", () =>
    Effect.gen(function*() {
      const config = yield* setup
      const a = (yield* take(config, 5)).batches.map((b) => Array.from(b.tokens))
      const b = (yield* take(config, 5)).batches.map((b) => Array.from(b.tokens))
      const c = (yield* take({ ...config, seed: 43 }, 5)).batches.map((b) => Array.from(b.tokens))
      expect(b).toEqual(a)
      expect(c).not.toEqual(a)
      const position = (yield* take(config, 1)).batches[0]!.position
      const error = yield* Effect.flip(take({ ...config, seed: 43 }, 1, position))
      expect(error).toBeInstanceOf(MixtureError)
      expect(error.message).toContain("seed 42")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})

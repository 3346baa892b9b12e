import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { writeTokenShards } from "../../src/data/shards/writer.ts"
import { trainingBatches } from "../../src/train/data.ts"

describe("training batches", () => {
  it.effect("token shards made with a larger vocabulary fail naming the source and its folder, not each row's source", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-data-"))
      const docs = Array.from({ length: 20 }, (_, i) => Int32Array.from({ length: 30 }, (_, t) => (i * 31 + t * 7) % 900))
      const summary = yield* writeTokenShards(Stream.fromIterable(docs), { outputDir: join(dir, "shards"), tokenizerName: "big", vocabSize: 1000, eosId: 0 })
      const shards = summary.files.map((f) => f.path)
      const batches = yield* trainingBatches({ _tag: "Mixture", seed: 1, sources: [{ name: "web", weight: 1, shards }] }, 16, 4, 512, undefined)
      const error = yield* Effect.flip(Stream.runDrain(batches))
      expect(error.message).toContain("in source web (shards in ")
      expect(error.message).toContain(join(dir, "shards"))
      expect(error.message).toContain("outside the model's vocabulary of 512")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("an ids line that is not JSON fails with the file and line", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-data-"))
      writeFileSync(join(dir, "ids.jsonl"), '{"ids":[1,2,3]}\n{"ids":[1,2,\n')
      const batches = yield* trainingBatches({ _tag: "IdsJsonl", path: join(dir, "ids.jsonl") }, 2, 1, 10, 0)
      const error = yield* Effect.flip(Stream.runDrain(batches))
      expect(error.message).toContain(`${join(dir, "ids.jsonl")}:2: not JSON`)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})

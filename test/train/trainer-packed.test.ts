import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { smollm2AdamW } from "../../src/train/optimizer.ts"
import { type PackedRowLine, packedTokenBatch } from "../../src/train/packed-rows.ts"
import { train } from "../../src/train/trainer.ts"
import { expectClose } from "../support/compare.ts"
import { microConfig, tokenIds } from "../support/models.ts"

const services = Layer.mergeAll(Gpu.layer, NodeServices.layer)

describe("the training loop on packed SFT rows", () => {
  it.effect("a step's loss and gradient are the mean over the counted targets of all its micro-batches", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-train-packed-"))
      const config = microConfig(true)
      const [batch, seq, accum] = [2, 7, 2]
      // Micro-batches with very different numbers of counted targets: a per-micro-batch mean would weigh them alike.
      const rows: Array<PackedRowLine> = [
        { ids: tokenIds(8, 37, 1), mask: [0, 0, 0, 0, 0, 0, 1, 1], position_ids: [0, 1, 2, 3, 4, 5, 6, 7] },
        { ids: tokenIds(8, 37, 2), mask: [0, 0, 0, 1, 0, 0, 0, 1], position_ids: [0, 1, 2, 3, 0, 1, 2, 3] },
        { ids: tokenIds(8, 37, 3), mask: [1, 1, 1, 1, 1, 1, 1, 1], position_ids: [0, 1, 0, 1, 2, 3, 4, 5] },
        { ids: tokenIds(8, 37, 4) }
      ]
      writeFileSync(join(dir, "rows.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
      const metrics = yield* Stream.runCollect(train({
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 4 }, data: { _tag: "IdsJsonl", path: join(dir, "rows.jsonl") },
        seqLen: seq, batchSize: batch, gradAccum: accum, steps: 1,
        schedule: { kind: "cosine", peak: 1e-3, warmup: 0, totalSteps: 1, decayFraction: 0 },
        optimizer: { ...smollm2AdamW, clip: 0 }, saveEvery: 0, saveDtype: "float32", resume: false
      }))
      // The whole step as one batch of 4 rows on the CPU reference: its loss is the mean over all counted targets.
      const all = packedTokenBatch(rows, 4, seq)
      const want = llamaReference(config, initWeights(config, 4), all.inputs, all.targets, 4, seq, true, all)
      // Targets t + 1 = 1…7 counted per row: mask 1 and not a document start. Row 0: ids 6, 7; row 1: 3, 7; row 2: all
      // but 2 (a document start); row 3 (no fields): all 7.
      expect(metrics[0]!.targets).toBe(2 + 2 + 6 + 7)
      expectClose("step loss", [metrics[0]!.loss], [want.loss])
      const norm = Math.sqrt([...want.grads!.values()].reduce((t, g) => t + g.reduce((u, x) => u + x * x, 0), 0))
      expectClose("step gradient norm", [metrics[0]!.gradNorm], [norm])
    }).pipe(Effect.provide(services)))
})

import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import type { LlamaConfig } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { makeLlamaGpu } from "../../src/model/llama.gpu.ts"
import { initWeights, parameterSpecs, type Weights } from "../../src/model/parameters.ts"
import { countedTargets, type PackedRowLine, packedTokenBatch } from "../../src/train/packed-rows.ts"
import { expectClose } from "../support/compare.ts"
import { microConfig, tokenIds } from "../support/models.ts"

/** A document: its ids and a 0/1 loss mask per id. */
interface Doc {
  readonly ids: ReadonlyArray<number>
  readonly mask: ReadonlyArray<number>
}

const doc = (length: number, vocab: number, seed: number): Doc => ({
  ids: tokenIds(length, vocab, seed),
  // Some targets masked out, as an assistant-only loss does, but never all of them.
  mask: Array.from({ length }, (_, i) => (i === length - 1 || (i * 5 + seed) % 3 !== 0 ? 1 : 0))
})

/** Documents packed into one row of exactly `seq + 1` ids, with per-document position ids. */
const packRow = (docs: ReadonlyArray<Doc>): PackedRowLine => ({
  ids: docs.flatMap((d) => d.ids),
  mask: docs.flatMap((d) => d.mask) as Array<0 | 1>,
  position_ids: docs.flatMap((d) => d.ids.map((_, i) => i))
})

/** Counted targets of a document alone: next-token targets whose mask is 1. */
const countedIn = (d: Doc) => d.mask.slice(1).reduce((s, m) => s + m, 0)

/**
 * The loss and gradients of the documents run one by one (each its own sequence), combined as one step's mean over
 * all counted targets: a document's mean loss weighs by its share of the counted targets.
 */
const oneByOne = (config: LlamaConfig, weights: Weights, docs: ReadonlyArray<Doc>) => {
  const total = docs.reduce((s, d) => s + countedIn(d), 0)
  let loss = 0
  const grads = new Map(parameterSpecs(config).map((s) => [s.name, new Float64Array(weights.get(s.name)!.length)]))
  for (const d of docs) {
    const seq = d.ids.length - 1
    const r = llamaReference(config, weights, d.ids.slice(0, seq), d.ids.slice(1), 1, seq, true, { targetWeights: d.mask.slice(1) })
    const share = countedIn(d) / total
    loss += r.loss * share
    for (const [name, g] of r.grads!) grads.get(name)!.forEach((_, i, out) => { out[i]! += g[i]! * share })
  }
  return { loss, grads }
}

const config = microConfig(true)
const weights = initWeights(config, 5)
// Two rows of seq + 1 = 10 ids: documents of 4 + 3 + 3 and of 2 + 6 + 2 ids.
const seq = 9
const rowDocs = [
  [doc(4, config.vocabSize, 1), doc(3, config.vocabSize, 2), doc(3, config.vocabSize, 3)],
  [doc(2, config.vocabSize, 4), doc(6, config.vocabSize, 5), doc(2, config.vocabSize, 6)]
]

describe("packed rows on the CPU reference", () => {
  it("the loss and every gradient equal running the documents one by one", () => {
    const batch = packedTokenBatch(rowDocs.map(packRow), 2, seq)
    const packed = llamaReference(config, weights, batch.inputs, batch.targets, 2, seq, true, batch)
    const want = oneByOne(config, weights, rowDocs.flat())
    expectClose("loss", [packed.loss], [want.loss], 1e-12)
    for (const s of parameterSpecs(config)) expectClose(`gradient of ${s.name}`, packed.grads!.get(s.name)!, want.grads.get(s.name)!, 1e-10)
  })

  it("without position ids the documents see each other (the paper's packing), so the loss differs", () => {
    const rows = rowDocs.map((docs) => ({ ids: docs.flatMap((d) => d.ids), mask: docs.flatMap((d) => d.mask) as Array<0 | 1> }))
    const batch = packedTokenBatch(rows, 2, seq)
    expect(batch.positions).toBeUndefined()
    const packed = llamaReference(config, weights, batch.inputs, batch.targets, 2, seq, false, batch)
    expect(Math.abs(packed.loss - oneByOne(config, weights, rowDocs.flat()).loss)).toBeGreaterThan(1e-6)
  })

  it("a mask makes the loss the mean over the counted targets, and masked targets have no gradient", () => {
    // One row of 5 ids: inputs a b c d, targets b c d e; the mask counts c and e (targets at positions 1 and 3).
    const ids = [3, 8, 1, 30, 12]
    const row: PackedRowLine = { ids, mask: [0, 0, 1, 0, 1] }
    const batch = packedTokenBatch([row], 1, 4)
    expect(Array.from(batch.targetWeights!)).toEqual([0, 1, 0, 1])
    const plain = llamaReference(config, weights, batch.inputs, batch.targets, 1, 4, false)
    const masked = llamaReference(config, weights, batch.inputs, batch.targets, 1, 4, true, batch)
    expect(masked.loss).toBeCloseTo((plain.losses[1]! + plain.losses[3]!) / 2, 12)
    // Changing a target that does not count changes neither the loss nor any gradient.
    const otherTargets = Int32Array.from(batch.targets)
    otherTargets[0] = 17
    otherTargets[2] = 5
    const changed = llamaReference(config, weights, batch.inputs, otherTargets, 1, 4, true, batch)
    expect(changed.loss).toBe(masked.loss)
    for (const s of parameterSpecs(config)) expect(Array.from(changed.grads!.get(s.name)!)).toEqual(Array.from(masked.grads!.get(s.name)!))
  })

  it("with position ids, a target that starts a document does not count", () => {
    const batch = packedTokenBatch([{ ids: [1, 2, 3, 4, 5], position_ids: [0, 1, 0, 1, 2] }], 1, 4)
    expect(Array.from(batch.targetWeights!)).toEqual([1, 0, 1, 1])
    expect(Array.from(batch.positions!)).toEqual([0, 1, 0, 1])
  })
})

layer(Gpu.layer)("packed rows on the GPU", (it) => {
  for (const maxBindingBytes of [undefined, 2048]) {
    it.effect(`loss and every gradient match the CPU reference and the documents one by one${maxBindingBytes === undefined ? "" : " (head in row chunks)"}`, () =>
      Effect.gen(function*() {
        const gpu = yield* Gpu
        const batch = packedTokenBatch(rowDocs.map(packRow), 2, seq)
        const model = yield* makeLlamaGpu(gpu, config, 2, seq, maxBindingBytes === undefined ? {} : { maxBindingBytes })
        yield* model.setWeights(weights)
        yield* model.setTokens(batch.inputs, batch.targets, batch)
        const counted = countedTargets(batch)
        yield* gpu.run([...model.zeroGrads, ...model.steps({ backward: true, gradScale: 1 / counted })])
        const losses = yield* gpu.readF32(model.losses)
        const want = llamaReference(config, weights, batch.inputs, batch.targets, 2, seq, true, batch)
        expectClose("per-position losses", losses, want.losses)
        const loss = losses.reduce((s, l, i) => s + l * batch.targetWeights![i]!, 0) / counted
        expectClose("loss vs the documents one by one", [loss], [oneByOne(config, weights, rowDocs.flat()).loss])
        const grads = yield* model.readGrads
        const byDoc = oneByOne(config, weights, rowDocs.flat()).grads
        for (const s of parameterSpecs(config)) {
          expectClose(`gradient of ${s.name}`, grads.get(s.name)!, want.grads!.get(s.name)!)
          expectClose(`gradient of ${s.name} vs the documents one by one`, grads.get(s.name)!, byDoc.get(s.name)!)
        }
        // The same model then runs a plain batch as the plain causal model.
        const plainInputs = tokenIds(2 * seq, config.vocabSize, 1)
        const plainTargets = tokenIds(2 * seq, config.vocabSize, 2)
        yield* model.setTokens(plainInputs, plainTargets)
        yield* gpu.run([...model.zeroGrads, ...model.steps({ backward: true, gradScale: 1 / (2 * seq) })])
        const plain = llamaReference(config, weights, plainInputs, plainTargets, 2, seq)
        expectClose("plain batch after a packed one: losses", yield* gpu.readF32(model.losses), plain.losses)
        const plainGrads = yield* model.readGrads
        for (const s of parameterSpecs(config)) expectClose(`plain batch: gradient of ${s.name}`, plainGrads.get(s.name)!, plain.grads!.get(s.name)!)
      }).pipe(Effect.scoped))
  }
})

import { expect, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { makeLlamaTokenModel, rowStats } from "../../src/eval/llama-token-model.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { expectClose } from "../support/compare.ts"
import { tokenIds } from "../support/models.ts"

const config = { ...presets["tiny-untied"], initializerRange: 0.2 }
const weights = initWeights(config, 21)

/** Reference logits of every position of `tokens` (f64). */
const referenceLogits = (tokens: ReadonlyArray<number>) => {
  const n = tokens.length
  const { logits } = llamaReference(config, weights, tokens, [...tokens.slice(1), 0], 1, n, false)
  return (t: number) => logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize)
}

const logSoftmaxAt = (row: Float64Array, id: number) => {
  const max = row.reduce((m, v) => Math.max(m, v), -Infinity)
  return row[id]! - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0))
}

const argmax = (row: Float64Array) => row.reduce((best, v, i) => (v > row[best]! ? i : best), 0)

layer(Gpu.layer)("the GPU Llama as the evaluation's TokenModel", (it) => {
  it.effect("scores continuations like the CPU reference, with the greedy flags lighteval reports", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const model = yield* makeLlamaTokenModel(gpu, { config, weights }, { name: "tiny", maxLength: 64, batchSize: 2 })
      const requests = [
        { tokens: tokenIds(20, config.vocabSize, 1), scoreFrom: 15 },
        { tokens: tokenIds(6, config.vocabSize, 2), scoreFrom: 1 },
        { tokens: tokenIds(33, config.vocabSize, 3), scoreFrom: 30 }
      ]
      // A continuation made of the model's own argmax tokens must be greedy at every position.
      const prompt = tokenIds(5, config.vocabSize, 4)
      const greedyTokens = [...prompt]
      for (let i = 0; i < 4; i++) greedyTokens.push(argmax(referenceLogits(greedyTokens)(greedyTokens.length - 1)))
      requests.push({ tokens: greedyTokens, scoreFrom: 5 })
      const scores = yield* model.scoreTokens(requests)
      requests.forEach(({ tokens, scoreFrom }, i) => {
        const logits = referenceLogits(tokens)
        const want = Array.from({ length: tokens.length - scoreFrom }, (_, j) => logSoftmaxAt(logits(scoreFrom + j - 1), tokens[scoreFrom + j]!))
        expectClose(`request ${i} log-probs`, scores[i]!.logProbs, want)
        expect(scores[i]!.greedy, `request ${i} greedy flags`).toEqual(
          Array.from({ length: tokens.length - scoreFrom }, (_, j) => argmax(logits(scoreFrom + j - 1)) === tokens[scoreFrom + j])
        )
      })
      expect(scores[3]!.greedy.every((g) => g)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("single-token continuations of a shared context: one forward per batch of contexts, same scores as the reference", () =>
    Effect.gen(function*() {
      const real = yield* Gpu
      let runs = 0
      const gpu = { ...real, run: (steps: Parameters<typeof real.run>[0]) => (runs++, real.run(steps)) }
      const model = yield* makeLlamaTokenModel(gpu, { config, weights }, { name: "tiny", maxLength: 64, batchSize: 4 })
      const V = config.vocabSize
      const ctxA = tokenIds(12, V, 5)
      const ctxB = tokenIds(30, V, 6)
      const best = argmax(referenceLogits(ctxA)(ctxA.length - 1))
      // MMLU-like letters after two contexts (one letter the reference argmax), plus requests that must stay on
      // the batched path: a multi-token continuation of ctxA, a lone single-token one, and a full 65-token window.
      const requests = [
        ...[best, 3, 7, (best + 1) % V].map((t) => ({ tokens: [...ctxA, t], scoreFrom: ctxA.length })),
        ...[1, 2, 3].map((t) => ({ tokens: [...ctxB, t], scoreFrom: ctxB.length })),
        { tokens: [...ctxA, 5, 6], scoreFrom: ctxA.length },
        { tokens: tokenIds(9, V, 7), scoreFrom: 8 },
        { tokens: tokenIds(65, V, 8), scoreFrom: 1 }
      ]
      const scores = yield* model.scoreTokens(requests)
      requests.forEach(({ tokens, scoreFrom }, i) => {
        const logits = referenceLogits(tokens)
        const want = Array.from({ length: tokens.length - scoreFrom }, (_, j) => logSoftmaxAt(logits(scoreFrom + j - 1), tokens[scoreFrom + j]!))
        expectClose(`request ${i} log-probs`, scores[i]!.logProbs, want)
        expect(scores[i]!.greedy, `request ${i} greedy flags`).toEqual(
          Array.from({ length: tokens.length - scoreFrom }, (_, j) => argmax(logits(scoreFrom + j - 1)) === tokens[scoreFrom + j])
        )
      })
      expect(scores[0]!.greedy).toEqual([true])
      // Both shared contexts in one forward; the other four requests in one batched pass.
      expect(runs).toBe(2)
    }).pipe(Effect.scoped))

  it("rowStats: log-sum-exp and np.argmax's first-index tie rule", () => {
    expect(rowStats([1, 3, 3, 2]).argmax).toBe(1)
    expect(rowStats([0, 0]).logSumExp).toBeCloseTo(Math.log(2), 12)
    expect(rowStats([1, Number.NaN, 5]).argmax).toBe(1)
  })

  it.effect("greedy generation follows the reference argmax token by token", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const model = yield* makeLlamaTokenModel(gpu, { config, weights }, { name: "tiny", maxLength: 64, batchSize: 1 })
      const prompt = tokenIds(7, config.vocabSize, 9)
      const generated = yield* Stream.runCollect(Stream.take(model.generateTokens(prompt, { temperature: 0, seed: 1 }), 6))
      const tokens = [...prompt]
      for (let i = 0; i < 6; i++) tokens.push(argmax(referenceLogits(tokens)(tokens.length - 1)))
      expect(generated).toEqual(tokens.slice(prompt.length))
      const error = yield* Effect.flip(model.scoreTokens([{ tokens: tokenIds(70, config.vocabSize, 1), scoreFrom: 1 }]))
      expect(error.message).toMatch(/70 tokens exceed the model's 64/)
    }).pipe(Effect.scoped))
})

import { describe, expect, it } from "@effect/vitest"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights, parameterSpecs } from "../../src/model/parameters.ts"
import { microConfig, tokenIds as tokens } from "../support/models.ts"

describe("the CPU reference model", () => {
  it("starts near ln(vocab) with small weights", () => {
    const config = { ...microConfig(true), initializerRange: 0.001 }
    const { loss } = llamaReference(config, initWeights(config, 1), tokens(10, 37, 1), tokens(10, 37, 2), 2, 5, false)
    expect(loss).toBeCloseTo(Math.log(37), 2)
  })

  for (const tie of [true, false]) {
    it(`matches finite differences for every tensor (${tie ? "tied" : "untied"} embeddings)`, () => {
      const config = microConfig(tie)
      const weights = initWeights(config, 3)
      const inputs = tokens(10, config.vocabSize, 3)
      const targets = tokens(10, config.vocabSize, 4)
      const { grads } = llamaReference(config, weights, inputs, targets, 2, 5)
      for (const spec of parameterSpecs(config)) {
        const w = weights.get(spec.name)!
        const g = grads!.get(spec.name)!
        const gmax = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
        // Probe the largest-gradient entry and a few others; the step is an exact f32 difference.
        const largest = g.reduce((best, v, i) => Math.abs(v) > Math.abs(g[best]!) ? i : best, 0)
        for (const i of [largest, 0, Math.floor(w.length / 2), w.length - 1]) {
          const original = w[i]!
          w[i] = Math.fround(original + 1e-3)
          const up = w[i]! - original
          const lossUp = llamaReference(config, weights, inputs, targets, 2, 5, false).loss
          w[i] = Math.fround(original - 1e-3)
          const down = original - w[i]!
          const lossDown = llamaReference(config, weights, inputs, targets, 2, 5, false).loss
          w[i] = original
          const numeric = (lossUp - lossDown) / (up + down)
          expect(Math.abs(numeric - g[i]!), `${spec.name}[${i}]: analytic ${g[i]}, numeric ${numeric}`).toBeLessThan(1e-4 * gmax + 1e-7)
        }
      }
    })
  }
})

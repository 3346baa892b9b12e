import { describe, expect, it } from "@effect/vitest"
import { learningRate, smollm2Schedule } from "../../src/train/schedule.ts"

describe("learning-rate schedules", () => {
  it("WSD: linear warmup from 0, constant peak, linear decay to 0 over the last 10% (SmolLM2-1.7B)", () => {
    const s = smollm2Schedule("1.7b", 5_240_000)
    expect(learningRate(s, 0)).toBe(0)
    expect(learningRate(s, 1000)).toBeCloseTo(2.5e-4, 12)
    expect(learningRate(s, 2000)).toBe(5e-4)
    // nanotron's config: decay starts at step 4,716,000 and lasts 524,000 steps.
    expect(learningRate(s, 4_715_999)).toBe(5e-4)
    expect(learningRate(s, 4_716_000)).toBe(5e-4)
    expect(learningRate(s, 4_716_000 + 262_000)).toBeCloseTo(2.5e-4, 12)
    expect(learningRate(s, 5_240_000)).toBe(0)
  })

  it("WSD for 135M decays over the last 20% from a 3e-3 peak", () => {
    const s = smollm2Schedule("135m", 2_000_000)
    expect(learningRate(s, 1_599_999)).toBe(3e-3)
    expect(learningRate(s, 1_800_000)).toBeCloseTo(1.5e-3, 12)
  })

  it("cosine goes from peak after warmup to the floor at the end", () => {
    const s = { kind: "cosine", peak: 1e-3, warmup: 10, totalSteps: 110, decayFraction: 0, minRatio: 0.1 } as const
    expect(learningRate(s, 5)).toBeCloseTo(5e-4, 12)
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12)
    expect(learningRate(s, 60)).toBeCloseTo(0.55e-3, 12)
    expect(learningRate(s, 110)).toBeCloseTo(1e-4, 12)
  })
})

import { describe, expect, it } from "@effect/vitest"
import { argmax, makeTokenSampler, samplingDistribution } from "../../src/eval/sampler.ts"

const close = (got: Float64Array, want: ReadonlyArray<number>) => {
  expect(got.length).toBe(want.length)
  want.forEach((w, i) => expect(got[i], `probability of id ${i}`).toBeCloseTo(w, 12))
}
const ln = Math.log

describe("the token sampler (transformers' temperature, top-k and top-p warpers)", () => {
  it("greedy is the argmax, the first of equal maxima", () => {
    expect(argmax([1, 3, 3, 2])).toBe(1)
    const sampler = makeTokenSampler({ temperature: 0, topK: 1, topP: 0.1, seed: 5 })
    expect([sampler.next([0.5, -1, 2, 2]), sampler.next([7, 7, 1])]).toEqual([2, 0])
    close(samplingDistribution([1, 3, 3, 2], { temperature: 0 }), [0, 1, 0, 0])
  })

  it("temperature divides the logits before the softmax", () => {
    close(samplingDistribution([0, ln(3)], { temperature: 1 }), [0.25, 0.75])
    // T = 2: weights 1 and e^(ln 3 / 2) = √3.
    close(samplingDistribution([0, ln(3)], { temperature: 2 }), [1 / (1 + Math.sqrt(3)), Math.sqrt(3) / (1 + Math.sqrt(3))])
    // T = 0.5: weights 1 and 9.
    close(samplingDistribution([0, ln(3)], { temperature: 0.5 }), [0.1, 0.9])
  })

  it("top-k keeps the k largest, and every token tied with the k-th", () => {
    close(samplingDistribution([1, 4, 2, 4, 3], { temperature: 1, topK: 2 }), [0, 0.5, 0, 0.5, 0])
    const e = Math.E
    close(samplingDistribution([1, 4, 2, 4, 3], { temperature: 1, topK: 3 }), [0, e / (2 * e + 1), 0, e / (2 * e + 1), 1 / (2 * e + 1)])
    // The 2nd largest is 2, held by ids 1 and 2: both stay (scores < kth are removed, not "all but k").
    close(samplingDistribution([5, 2, 2, 1].map((x) => ln(x)), { temperature: 1, topK: 2 }), [5 / 9, 2 / 9, 2 / 9, 0])
    // k = 0 is off; k past the vocabulary keeps everything.
    close(samplingDistribution([0, 0], { temperature: 1, topK: 0 }), [0.5, 0.5])
    close(samplingDistribution([0, 0], { temperature: 1, topK: 9 }), [0.5, 0.5])
  })

  it("top-p keeps the smallest most-likely set whose mass is ≥ p", () => {
    const logits = [0.5, 0.3, 0.15, 0.05].map(ln)
    // Ascending running sums 0.05, 0.2, 0.5, 1: p = 0.75 removes those ≤ 0.25 (0.05 and 0.15); 0.5 + 0.3 = 0.8 stays.
    close(samplingDistribution(logits, { temperature: 1, topP: 0.75 }), [0.625, 0.375, 0, 0])
    // p = 0.85 removes only the 0.05; {0.5, 0.3, 0.15} holds 0.95.
    close(samplingDistribution(logits, { temperature: 1, topP: 0.85 }), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])
    // A tiny p still keeps one token (min_tokens_to_keep); p = 1 keeps all.
    close(samplingDistribution(logits, { temperature: 1, topP: 0.01 }), [1, 0, 0, 0])
    close(samplingDistribution(logits, { temperature: 1, topP: 1 }), [0.5, 0.3, 0.15, 0.05])
  })

  it("top-p on equal logits drops the lower ids first (a stable ascending sort, as torch's)", () => {
    // Four at 0.25: p = 0.6 removes a running sum ≤ 0.4, i.e. one token, id 0.
    close(samplingDistribution([0, 0, 0, 0], { temperature: 1, topP: 0.6 }), [0, 1 / 3, 1 / 3, 1 / 3])
    // p = 0.3: ≤ 0.7 removes two, ids 0 and 1.
    close(samplingDistribution([0, 0, 0, 0], { temperature: 1, topP: 0.3 }), [0, 0, 0.5, 0.5])
  })

  it("top-p works on the temperature-scaled, top-k-filtered distribution", () => {
    // T = 0.5 squares the weights 4:2:1:1 → 16:4:1:1; top-k 3 keeps 16, 4 and the tied 1s (ids 2 and 3):
    // all four. top-p 0.9: running sums 1/22, 2/22, 6/22 from the bottom; ≤ 0.1 removes ids 2 and 3 (ties: 2 first).
    const logits = [4, 2, 1, 1].map(ln)
    close(samplingDistribution(logits, { temperature: 0.5, topK: 3, topP: 0.9 }), [0.8, 0.2, 0, 0])
    // top-k 2 first: 16:4 → 0.8, 0.2 and top-p 0.7 keeps only the 0.8.
    close(samplingDistribution(logits, { temperature: 0.5, topK: 2, topP: 0.7 }), [1, 0, 0, 0])
  })

  it("draws reproducibly from a seed, only among kept tokens, with the right frequencies", () => {
    const logits = [0.5, 0.3, 0.15, 0.05].map(ln)
    const draw = (seed: number, n: number) => {
      const s = makeTokenSampler({ temperature: 1, topP: 0.75, seed })
      return Array.from({ length: n }, () => s.next(logits))
    }
    expect(draw(3, 50)).toEqual(draw(3, 50))
    expect(draw(3, 50)).not.toEqual(draw(4, 50))
    const many = draw(11, 20000)
    expect(many.every((t) => t === 0 || t === 1)).toBe(true)
    expect(many.filter((t) => t === 0).length / many.length).toBeCloseTo(0.625, 1)
  })

  it("refuses settings transformers refuses", () => {
    expect(() => makeTokenSampler({ temperature: -1, seed: 0 })).toThrow(/temperature/)
    expect(() => makeTokenSampler({ temperature: 1, topP: 0, seed: 0 })).toThrow(/top-p/)
    expect(() => makeTokenSampler({ temperature: 1, topK: 1.5, seed: 0 })).toThrow(/top-k/)
  })
})

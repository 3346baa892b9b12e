import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { evaluateScores } from "../../src/classify/metrics.ts"
import { hashNgrams } from "../../src/classify/ngram/features.ts"
import { loadNgramClassifier, NgramModelError, saveNgramClassifier } from "../../src/classify/ngram/folder.ts"
import { referenceBucket, referenceNgrams, referenceScore } from "../../src/classify/ngram/reference.ts"
import { type LabeledText, NgramTrainError, trainNgramClassifier } from "../../src/classify/ngram/train.ts"
import { stratifiedSplit } from "../../src/classify/split.ts"
import { defaultRng } from "../../src/data/random/numpy-rng.ts"

/**
 * Planted signal: a document of 40–120 words whose label L (0–5) sets how many of its words come from 20 "lesson"
 * words (about L/10 of them, ±25%); the rest are drawn from 300 noise words, and the order is shuffled.
 */
const plantedCorpus = (n: number, seed: number): Array<LabeledText> => {
  const rng = defaultRng(seed)
  return Array.from({ length: n }, () => {
    const label = rng.integers(0, 6)
    const length = 40 + rng.integers(0, 81)
    const markers = Math.round(((label * length) / 10) * rng.uniform(0.75, 1.25))
    const words: Array<string> = []
    for (let i = 0; i < markers; i++) words.push(`lesson${rng.integers(0, 20)}`)
    while (words.length < length) words.push(`noise${rng.integers(0, 300)}`)
    rng.shuffle(words)
    return { text: words.join(" "), label }
  })
}

const corpus = plantedCorpus(2000, 1)
const { train, test } = stratifiedSplit(corpus, (e) => e.label, { testFraction: 0.25, seed: 7 })
const testTexts = test.map((e) => e.text)
const testLabels = test.map((e) => e.label)
const small = { buckets: 1 << 16, dim: 16 }
const regression = trainNgramClassifier(train, { mode: "regression", ...small, epochs: 5, learningRate: 0.1, seed: 3 })
const softmax = trainNgramClassifier(train, { mode: "softmax", ...small, epochs: 5, learningRate: 0.5, seed: 3 })

describe("n-gram features", () => {
  const texts = [
    "The Water Cycle: evaporation, condensation & precipitation!",
    "  leading spaces,,, and--dashes\nnew\tline  ",
    "Ünïcode café naïve — ÉCOLE 2024 x2 3.14",
    "emoji 🎉 between words 😀😀 and 𝒳 math-letters 𠀀 (an astral letter)",
    "",
    "...",
    "one"
  ]
  it("hashes the same unigrams and bigrams as the plain regex-split definition", () => {
    // 1000 takes the modulo path, 2^20 the mask path.
    for (const buckets of [1000, 1 << 20]) {
      for (const text of texts) {
        for (const n of [1, 2] as const) {
          const { ids, count } = hashNgrams(text, buckets, n, new Int32Array(1))
          const expected = referenceNgrams(text, n).map((g) => referenceBucket(g, buckets))
          expect(Array.from(ids.subarray(0, count)), `${JSON.stringify(text)} n=${n} buckets=${buckets}`).toEqual(expected)
        }
      }
    }
  })

  it("lowercases and splits on non-word characters", () => {
    expect(referenceNgrams("Hello, WORLD! it's 2024", 2)).toEqual([
      "hello", "world", "hello world", "it", "world it", "s", "it s", "2024", "s 2024"
    ])
  })
})

describe("n-gram classifier", () => {
  it("learns a planted signal in regression mode (binary F1 ≥ 0.9 on held-out documents)", () => {
    const m = evaluateScores(testLabels, regression.predict(testTexts))
    expect(m.binary.f1).toBeGreaterThanOrEqual(0.9)
    expect(m.mse).toBeLessThan(0.5)
  })

  it("learns a planted signal in softmax mode, scoring by the expected class", () => {
    const m = evaluateScores(testLabels, softmax.predict(testTexts))
    expect(m.binary.f1).toBeGreaterThanOrEqual(0.9)
    const probs = softmax.probabilities(testTexts.slice(0, 3))
    for (let i = 0; i < 3; i++) {
      const p = Array.from(probs.subarray(i * 6, i * 6 + 6))
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
      expect(p.reduce((s, pk, k) => s + k * pk, 0)).toBeCloseTo(softmax.predict([testTexts[i]!])[0]!, 12)
    }
  })

  it("the fast path agrees with the plain Map-and-strings reference", () => {
    for (const model of [regression, softmax]) {
      const fast = model.predict(testTexts.slice(0, 50))
      testTexts.slice(0, 50).forEach((t, i) => expect(Math.abs(fast[i]! - referenceScore(model, t))).toBeLessThan(1e-5))
    }
    expect(regression.predict([""])[0]).toBeCloseTo(regression.weights.outputBias[0]!, 6)
  })

  it("is deterministic from its seed, and another seed gives other weights", () => {
    const subset = train.slice(0, 300)
    const opts = { mode: "softmax" as const, buckets: 4096, dim: 8, epochs: 2, seed: 11 }
    const a = trainNgramClassifier(subset, opts)
    const b = trainNgramClassifier(subset, opts)
    const c = trainNgramClassifier(subset, { ...opts, seed: 12 })
    expect(Buffer.from(a.weights.embedding.buffer).equals(Buffer.from(b.weights.embedding.buffer))).toBe(true)
    expect(Array.from(a.predict(testTexts))).toEqual(Array.from(b.predict(testTexts)))
    expect(Buffer.from(a.weights.embedding.buffer).equals(Buffer.from(c.weights.embedding.buffer))).toBe(false)
  })

  it("refuses a softmax label outside the integer classes 0–5, no data, and a diverging run", () => {
    expect(() => trainNgramClassifier([{ text: "a", label: 2.5 }], { mode: "softmax", buckets: 16 })).toThrow(NgramTrainError)
    expect(() => trainNgramClassifier([], { mode: "regression", buckets: 16 })).toThrow(/no training examples/)
    const diverging = { mode: "regression" as const, buckets: 4096, dim: 8, epochs: 3, learningRate: 1000 }
    expect(() => trainNgramClassifier(train.slice(0, 200), diverging)).toThrow(/diverged/)
  })

  it.effect("saves to a folder and loads back with identical predictions", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      for (const model of [regression, softmax]) {
        yield* saveNgramClassifier(`${dir}/${model.config.mode}`, model)
        const loaded = yield* loadNgramClassifier(`${dir}/${model.config.mode}`)
        expect(loaded.config).toEqual(model.config)
        expect(Array.from(loaded.predict(testTexts))).toEqual(Array.from(model.predict(testTexts)))
      }
      expect((yield* fs.readDirectory(`${dir}/softmax`)).sort()).toEqual(["config.json", "model.safetensors"])
      const config = JSON.parse(yield* fs.readFileString(`${dir}/softmax/config.json`)) as Record<string, unknown>
      expect(config).toMatchObject({ model_type: "ngram-classifier", mode: "softmax", num_labels: 6, buckets: 1 << 16, dim: 16 })
      const missing = yield* Effect.flip(loadNgramClassifier(`${dir}/nothing-here`))
      expect(missing).toBeInstanceOf(NgramModelError)
      expect(missing.path).toContain("nothing-here/config.json")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})

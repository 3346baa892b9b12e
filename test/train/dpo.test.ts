import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { makeLlamaGpu } from "../../src/model/llama.gpu.ts"
import { initWeights, parameterSpecs } from "../../src/model/parameters.ts"
import { accumulateDpoGradients, dpoSeqLen, type DpoStepMetrics, referenceLogProbs, referenceName, trainDpo } from "../../src/train/dpo.ts"
import { defaultChatTemplate, SMOLLM2_DEFAULT_SYSTEM_PROMPT } from "../../src/data/tokenizer/chat-template.ts"
import { byteTokenizer } from "../../src/data/tokenizer/Tokenizer.ts"
import { type DpoExample, readPreferencePairs, tokenizePair, truncatePair } from "../../src/train/dpo-data.ts"
import { dpoSigmoidLoss } from "../../src/train/dpo-loss.ts"
import { sftAdamW } from "../../src/train/sft-defaults.ts"
import { expectClose } from "../support/compare.ts"
import { microConfig, tokenIds } from "../support/models.ts"

const services = Layer.mergeAll(Gpu.layer, NodeServices.layer)
const config = microConfig(false)

/** Pairs of different prompt and completion lengths over the micro model's vocabulary of 37. */
const pairs: Array<DpoExample> = [
  { prompt: tokenIds(3, 37, 1), chosen: tokenIds(4, 37, 2), rejected: tokenIds(2, 37, 3) },
  { prompt: tokenIds(5, 37, 4), chosen: tokenIds(2, 37, 5), rejected: tokenIds(3, 37, 6) },
  { prompt: tokenIds(2, 37, 7), chosen: tokenIds(3, 37, 8), rejected: tokenIds(5, 37, 9) },
  { prompt: tokenIds(4, 37, 10), chosen: tokenIds(3, 37, 11), rejected: tokenIds(3, 37, 12) }
]

/**
 * The plain CPU reference: each completion alone through the f64 model, its summed log-prob π and ∂π/∂θ (the
 * reference's loss over the completion's targets is the mean −log p, so ∂π/∂θ = −(count)·∂loss/∂θ).
 */
const completionOnCpu = (prompt: ReadonlyArray<number>, reply: ReadonlyArray<number>) => {
  const ids = [...prompt, ...reply]
  const seq = ids.length - 1
  const mask = Array.from({ length: seq }, (_, t) => (t + 1 >= prompt.length ? 1 : 0))
  const r = llamaReference(config, initWeights(config, 3), ids.slice(0, -1), ids.slice(1), 1, seq, true, { targetWeights: mask })
  const logProb = -r.losses.reduce((s, l, t) => s + l * mask[t]!, 0)
  const grads = new Map([...r.grads!].map(([name, g]) => [name, g.map((x) => -reply.length * x)]))
  return { logProb, grads }
}

describe("DPO", () => {
  it("computes the sigmoid loss and its derivatives of a case worked by hand", () => {
    // rewards: 0.5·(−10 + 11) = 0.5 and 0.5·(−12 + 11) = −0.5; z = 1; L = log(1 + e⁻¹); ∂L/∂π_c = −0.5·σ(−1).
    const l = dpoSigmoidLoss({ policyChosen: -10, policyRejected: -12, referenceChosen: -11, referenceRejected: -11 }, 0.5)
    expect(l.rewardChosen).toBeCloseTo(0.5, 12)
    expect(l.rewardRejected).toBeCloseTo(-0.5, 12)
    expect(l.loss).toBeCloseTo(0.31326168751822286, 12)
    expect(l.dPolicyChosen).toBeCloseTo(-0.13447071068499755, 12)
    expect(l.dPolicyRejected).toBeCloseTo(0.13447071068499755, 12)
    // Far from 0 it neither overflows nor loses the gradient.
    const far = dpoSigmoidLoss({ policyChosen: -2000, policyRejected: 0, referenceChosen: 0, referenceRejected: 0 }, 0.5)
    expect(far.loss).toBeCloseTo(1000, 9)
    expect(far.dPolicyChosen).toBeCloseTo(-0.5, 12)
  })

  it("truncates a long pair as TRL does: the prompt from the left, then the completions", () => {
    const e = { prompt: [1, 2, 3, 4, 5, 6], chosen: [7, 8, 9, 10], rejected: [11, 12] }
    expect(truncatePair(e, 10, 5)).toEqual(e)
    expect(truncatePair(e, 8, 4)).toEqual({ prompt: [3, 4, 5, 6], chosen: [7, 8, 9, 10], rejected: [11, 12] })
    expect(truncatePair(e, 6, 3)).toEqual({ prompt: [4, 5, 6], chosen: [7, 8, 9], rejected: [11, 12] })
  })

  it.effect("renders an UltraFeedback pair with the chat template: the prompt with the generation prompt, then each reply", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const user = { role: "user", content: "Name a color." }
      const e = yield* tokenizePair(template, byteTokenizer, {
        prompt: "Name a color.", chosen: [user, { role: "assistant", content: "Blue." }], rejected: [user, { role: "assistant", content: "No." }]
      })
      if (typeof e === "string") return expect.fail(e)
      const text = (ids: ReadonlyArray<number>) => new TextDecoder().decode(Uint8Array.from(ids))
      expect(text(e.prompt)).toBe(`<|im_start|>system\n${SMOLLM2_DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\n`)
      expect([text(e.chosen), text(e.rejected)]).toEqual(["Blue.<|im_end|>\n", "No.<|im_end|>\n"])
      // A plain-string reply answers the prompt; a list that does not end with the assistant's reply is refused.
      const plain = yield* tokenizePair(template, byteTokenizer, { prompt: "Name a color.", chosen: "Blue.", rejected: "No." })
      expect(plain).toEqual(e)
      expect(yield* tokenizePair(template, byteTokenizer, { chosen: [user], rejected: "No." })).toMatch(/not the assistant reply/)
    }))

  it.effect("reads a JSONL of pairs, and names the file and line of a bad record", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const file = join(mkdtempSync(join(tmpdir(), "smol-dpo-pairs-")), "pairs.jsonl")
      const good = { prompt: "Hi", chosen: "Hello!", rejected: "Go away." }
      writeFileSync(file, [good, good, { prompt: "Hi", chosen: [], rejected: "x" }].map((r) => JSON.stringify(r)).join("\n") + "\n")
      const error = yield* Effect.flip(readPreferencePairs(file, template, byteTokenizer, { maxLength: 64, maxPromptLength: 32 }))
      expect(error.message).toBe(`${file}:3: chosen: an empty messages list`)
      writeFileSync(file, [good, good].map((r) => JSON.stringify(r)).join("\n") + "\n")
      const read = yield* readPreferencePairs(file, template, byteTokenizer, { maxLength: 64, maxPromptLength: 32 })
      // The rendered prompt (system turn included) is cut to its last 32 bytes; the completions then fit.
      expect(read.map((p) => [p.prompt.length, p.chosen.length, p.rejected.length])).toEqual([[32, 17, 19], [32, 17, 19]])
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a step's loss and every parameter gradient equal the f64 reference, pair by pair", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const weights = initWeights(config, 3)
      const [perBatch, accum] = [2, 2]
      const model = yield* makeLlamaGpu(gpu, config, 2 * perBatch, dpoSeqLen(pairs))
      yield* model.setWeights(weights)
      const cpu = pairs.map((p) => ({ chosen: completionOnCpu(p.prompt, p.chosen), rejected: completionOnCpu(p.prompt, p.rejected) }))
      // Reference log-probs away from the policy's, so that every pair has a different, non-trivial weight.
      const refs = cpu.map((c, j) => ({ chosen: c.chosen.logProb + 0.7 * (j - 1.5), rejected: c.rejected.logProb - 0.4 * j }))
      const losses: Array<number> = []
      for (let i = 0; i < accum; i++) {
        const at = [i * perBatch, (i + 1) * perBatch]
        const micro = yield* accumulateDpoGradients(gpu, model, pairs.slice(at[0], at[1]), refs.slice(at[0], at[1]), {
          beta: 0.5, pairsPerStep: pairs.length, zeroFirst: i === 0
        })
        losses.push(...micro.losses.map((l) => l.loss))
        expectClose(`π of micro-batch ${i}`, micro.logProbs.flatMap((p) => [p.chosen, p.rejected]), cpu.slice(at[0], at[1]).flatMap((c) => [c.chosen.logProb, c.rejected.logProb]))
      }
      const want = pairs.map((_, j) =>
        dpoSigmoidLoss({ policyChosen: cpu[j]!.chosen.logProb, policyRejected: cpu[j]!.rejected.logProb, referenceChosen: refs[j]!.chosen, referenceRejected: refs[j]!.rejected }, 0.5))
      expectClose("pair losses", losses, want.map((l) => l.loss))
      const got = yield* model.readGrads
      for (const s of parameterSpecs(config)) {
        const expected = new Float64Array(got.get(s.name)!.length)
        want.forEach((l, j) => {
          const gc = cpu[j]!.chosen.grads.get(s.name)!
          const gr = cpu[j]!.rejected.grads.get(s.name)!
          for (let k = 0; k < expected.length; k++) expected[k] += (l.dPolicyChosen * gc[k]! + l.dPolicyRejected * gr[k]!) / pairs.length
        })
        expectClose(`∂L/∂${s.name}`, got.get(s.name)!, expected)
      }
    }).pipe(Effect.scoped, Effect.provide(services)))

  it.effect("a few steps raise the chosen-minus-rejected margin on the training pairs, and reuse the reference cache", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-dpo-"))
      const options = {
        out: join(dir, "run"), init: { _tag: "Config", config, seed: 3 } as const, pairs, pairsFile: "pairs.jsonl", beta: 0.5,
        pairsPerBatch: 2, gradAccum: 2, epochs: 6, seed: 1, lr: 1e-2, warmupRatio: 0, optimizer: sftAdamW, saveEvery: 3,
        saveDtype: "float32", resume: false
      } as const
      const metrics = Array.from(yield* Stream.runCollect(trainDpo(options)))
      expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6])
      // Step 1 sees the policy equal to the reference: every reward is 0 and the loss log 2.
      expect(Math.abs(metrics[0]!.rewardsMargins)).toBeLessThan(1e-5)
      expect(metrics[0]!.loss).toBeCloseTo(Math.log(2), 5)
      expect(metrics[5]!.rewardsMargins).toBeGreaterThan(0.5)
      expect(metrics[5]!.rewardsAccuracies).toBe(1)
      expect(metrics[5]!.loss).toBeLessThan(metrics[0]!.loss)
      const lines = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>)
      expect(Object.keys(lines[0]!)).toEqual(expect.arrayContaining(["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"]))
      expect(existsSync(join(dir, "run", "checkpoints", "step-00000003", "trainer_state.json"))).toBe(true)

      // The cache beside the run holds every pair; asked again, nothing runs through the model.
      const cacheFile = join(dir, "run", "reference-logps.jsonl")
      const cached = readFileSync(cacheFile, "utf8")
      expect(cached.trim().split("\n")).toHaveLength(pairs.length)
      const gpu = yield* Gpu
      const model = yield* makeLlamaGpu(gpu, config, 4, dpoSeqLen(pairs))
      let loads = 0
      const again = yield* referenceLogProbs(gpu, model, pairs, cacheFile, referenceName(options.init), Effect.sync(() => loads++))
      expect(again.computed).toBe(0)
      expect(loads).toBe(0)
      expect(readFileSync(cacheFile, "utf8")).toBe(cached)
      // A pair whose tokens changed is computed again (with the reference weights loaded once), the others reused.
      const changed = [...pairs.slice(0, 3), { ...pairs[3]!, chosen: [5, 6] }]
      const partial = yield* referenceLogProbs(gpu, model, changed, cacheFile, referenceName(options.init), model.setWeights(initWeights(config, 3)).pipe(Effect.tap(() => Effect.sync(() => loads++))))
      expect([partial.computed, loads]).toEqual([1, 1])
      expect(partial.values.slice(0, 3)).toEqual(again.values.slice(0, 3))

      // Resuming a finished run does nothing; a run cut after its step-3 checkpoint resumes into the same steps 4–6.
      expect(Array.from(yield* Stream.runCollect(trainDpo({ ...options, resume: true })))).toEqual([])
      const last = join(dir, "run", "checkpoints", "step-00000006")
      const finalWeights = readFileSync(join(last, "model.safetensors"))
      rmSync(last, { recursive: true })
      const resumed = Array.from(yield* Stream.runCollect(trainDpo({ ...options, resume: true })))
      const withoutTime = (m: DpoStepMetrics) => ({ ...m, seconds: 0 })
      expect(resumed.map(withoutTime)).toEqual(metrics.slice(3).map(withoutTime))
      expect(readFileSync(join(last, "model.safetensors")).equals(finalWeights)).toBe(true)
      expect(readFileSync(join(dir, "run", "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(6)
    }).pipe(Effect.scoped, Effect.provide(services)))
})

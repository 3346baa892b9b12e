import { NodeServices } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { saveHfModel } from "../../src/model/checkpoint.ts"
import { presets } from "../../src/model/config.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { makeScorer, perplexity, readScoreInput } from "../../src/model/scorer.ts"
import { expectClose } from "../support/compare.ts"
import { tokenIds } from "../support/models.ts"

/** log-softmax of the reference logits at each next token. */
const referenceLogprobs = (config: typeof presets["tiny-untied"], weights: ReturnType<typeof initWeights>, ids: ReadonlyArray<number>) => {
  const n = ids.length - 1
  const { losses } = llamaReference(config, weights, ids.slice(0, n), ids.slice(1), 1, n, false)
  return Float64Array.from(losses, (l) => -l)
}

layer(Layer.mergeAll(Gpu.layer, NodeServices.layer))("next-token log-probabilities (programs/score.ts)", (it) => {
  it.effect("match the CPU reference for sequences of different lengths batched together", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const config = presets["tiny-untied"]
      const weights = initWeights(config, 9)
      const sequences = [tokenIds(12, config.vocabSize, 1), tokenIds(5, config.vocabSize, 2), tokenIds(2, config.vocabSize, 3), tokenIds(9, config.vocabSize, 4)]
      const scorer = yield* makeScorer(gpu, { config, weights }, 12, 3)
      const got = yield* scorer.score(sequences)
      expect(got.map((g) => g.length)).toEqual([11, 4, 1, 8])
      sequences.forEach((ids, i) => expectClose(`sequence ${i}`, got[i]!, referenceLogprobs(config, weights, ids)))
    }).pipe(Effect.scoped))

  it.effect("the program writes one {\"logprobs\"} line per input line, in order", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "smol-score-"))
      const config = presets["tiny-untied"]
      const weights = initWeights(config, 2)
      yield* saveHfModel(join(dir, "model"), { config, weights })
      const sequences = [tokenIds(7, config.vocabSize, 5), tokenIds(3, config.vocabSize, 6)]
      writeFileSync(join(dir, "in.jsonl"), sequences.map((ids) => JSON.stringify({ ids })).join("\n") + "\n")
      const stdout = execFileSync(process.execPath, ["--import", "tsx", "programs/score.ts", "--model", join(dir, "model"), "--input", join(dir, "in.jsonl"), "--output", join(dir, "out.jsonl")], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      expect(stdout).toMatch(/2 sequences, 8 tokens scored, perplexity/)
      const lines = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { logprobs: Array<number> }).logprobs)
      sequences.forEach((ids, i) => expectClose(`line ${i + 1}`, lines[i]!, referenceLogprobs(config, weights, ids)))
    }), 60_000)
})

describe("the score program's input", () => {
  const config = presets["tiny-untied"]
  const input = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), "smol-score-in-")), "in.jsonl")
    writeFileSync(file, text)
    return file
  }

  it.effect("reads {\"ids\"} lines in order, skipping blank lines", () =>
    Effect.gen(function*() {
      const got = yield* readScoreInput(input(`{"ids": [1, 2, 3]}\n\n{"ids": [4]}\n`), config)
      expect(got).toEqual([[1, 2, 3], [4]])
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a line the model cannot score fails with its file and line, before anything is scored", () =>
    Effect.gen(function*() {
      const outside = input(`{"ids": [1, 2]}\n{"ids": [1, ${config.vocabSize}]}\n`)
      expect((yield* Effect.flip(readScoreInput(outside, config))).message).toBe(
        `${outside}:2: token id ${config.vocabSize} is outside the vocabulary of ${config.vocabSize}`
      )
      const long = input(JSON.stringify({ ids: Array.from({ length: config.maxPositionEmbeddings + 1 }, () => 1) }) + "\n")
      expect((yield* Effect.flip(readScoreInput(long, config))).message).toBe(
        `${long}:1: ${config.maxPositionEmbeddings + 1} tokens exceed max_position_embeddings ${config.maxPositionEmbeddings}`
      )
      const notIds = input(`{"ids": [1, -2]}\n`)
      expect((yield* Effect.flip(readScoreInput(notIds, config))).message).toMatch(new RegExp(`^${notIds}:1: `))
    }).pipe(Effect.provide(NodeServices.layer)))

  it("perplexity is exp of the mean negative log-probability over all scored tokens", () => {
    const { tokens, perplexity: ppl } = perplexity([Float32Array.of(-1, -3), Float32Array.of(-2)])
    expect(tokens).toBe(3)
    expect(ppl).toBeCloseTo(Math.exp(2), 12)
    expect(perplexity([]).perplexity).toBe(1)
  })
})

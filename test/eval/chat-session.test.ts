import { expect, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { BpeTokenizer } from "../../src/data/tokenizer/core.ts"
import { defaultChatTemplate } from "../../src/data/tokenizer/chat-template.ts"
import { makeChatSession } from "../../src/eval/chat-session.ts"
import type { GenerateTokensOptions, TokenModel } from "../../src/eval/LanguageModel.ts"
import { makeLlamaTokenModel } from "../../src/eval/llama-token-model.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { llamaReference } from "../../src/model/llama.cpu.ts"
import { initWeights } from "../../src/model/parameters.ts"
import { chatConfig } from "../support/chat-model.ts"
import { tokenIds } from "../support/models.ts"
import { trainedTokenizerJson } from "../data/tokenizer/reference.ts"

const tokenizer = BpeTokenizer.fromJson(trainedTokenizerJson())
const IM_END = tokenizer.tokenToId("<|im_end|>")!
const encode = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }))

/** A model that answers every prompt with `script` (then nothing), recording the prompts and options it was given. */
const scriptedModel = (script: ReadonlyArray<number>, maxLength = 4096) => {
  const prompts: Array<ReadonlyArray<number>> = []
  const options: Array<GenerateTokensOptions> = []
  const model: TokenModel = {
    name: "scripted",
    maxLength,
    scoreTokens: () => Effect.die("not used"),
    generateTokens: (prompt, o) => {
      prompts.push(prompt)
      options.push(o)
      return Stream.fromIterable(script)
    }
  }
  return { model, prompts, options }
}

const system = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"

layer(Gpu.layer)("a chat session", (it) => {
  it.effect("renders the history with the template, streams the reply UTF-8 safe, stops at <|im_end|>, resets", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const answer = "Ünï 🙂 ok"
      const { model, prompts, options } = scriptedModel([...encode(answer), IM_END, ...encode(" never shown")])
      const session = makeChatSession({
        template,
        tokenizer,
        model,
        sampling: { temperature: 0.7, topK: 5, topP: 0.9, seed: 40 },
        maxNewTokens: 100,
        stopIds: new Set([IM_END])
      })
      const pieces: Array<string> = []
      const onText = (t: string) => Effect.sync(() => void pieces.push(t))
      const first = yield* session.reply("Hi there", onText)
      expect(first).toMatchObject({ text: answer, stoppedBy: "stop", tokens: encode(answer).length })
      expect(pieces.join("")).toBe(answer)
      // A character cut between byte-level tokens is held back until complete, never printed as U+FFFD.
      expect(pieces.some((p) => p.includes("\uFFFD"))).toBe(false)
      expect(tokenizer.decode(prompts[0]!)).toBe(`${system}<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n`)

      yield* session.reply("And now?", onText)
      expect(tokenizer.decode(prompts[1]!)).toBe(
        `${system}<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n${answer}<|im_end|>\n` +
          `<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n`
      )
      session.reset()
      yield* session.reply("Fresh", onText)
      expect(tokenizer.decode(prompts[2]!)).toBe(`${system}<|im_start|>user\nFresh<|im_end|>\n<|im_start|>assistant\n`)
      // Sampling settings pass through; each turn has its own seed; the cache of the last turn may be reused.
      expect(options.map((o) => [o.temperature, o.topK, o.topP, o.seed, o.reuseCache])).toEqual([
        [0.7, 5, 0.9, 40, true],
        [0.7, 5, 0.9, 41, true],
        [0.7, 5, 0.9, 42, true]
      ])
    }))

  it.effect("stops at --max-new-tokens, keeps a given system prompt, and leaves out old turns that no longer fit", () =>
    Effect.gen(function*() {
      const template = yield* defaultChatTemplate()
      const words = encode(" one two three four five six seven eight")
      const { model, prompts } = scriptedModel(words, 60)
      const session = makeChatSession({
        template,
        tokenizer,
        model,
        system: "Be brief.",
        sampling: { temperature: 0, seed: 0 },
        maxNewTokens: 3,
        stopIds: new Set([IM_END])
      })
      const r = yield* session.reply("Count.", () => Effect.void)
      expect(r).toMatchObject({ tokens: 3, stoppedBy: "limit", text: tokenizer.decode(words.slice(0, 3)), droppedTurns: 0 })
      expect(tokenizer.decode(prompts[0]!)).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCount.<|im_end|>\n<|im_start|>assistant\n")
      // A 60-token context: after a few turns the oldest exchanges go, the system turn stays.
      let dropped = 0
      for (let i = 0; i < 4; i++) dropped += (yield* session.reply(`Again ${i}.`, () => Effect.void)).droppedTurns
      expect(dropped).toBeGreaterThan(0)
      for (const p of prompts) expect(p.length + 3).toBeLessThanOrEqual(60)
      expect(session.history()[0]).toEqual({ role: "system", content: "Be brief." })
      const tooLong = yield* Effect.flip(session.reply("word ".repeat(80), () => Effect.void))
      expect(tooLong.message).toMatch(/more than the model's context of 60/)
    }))

  it.effect("continuing from the KV cache gives the tokens a fresh prompt pass gives (the CPU reference's argmax)", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const config = chatConfig(301)
      const weights = initWeights(config, 21)
      const model = yield* makeLlamaTokenModel(gpu, { config, weights }, { name: "tiny", maxLength: 64, batchSize: 1 })
      const argmaxAfter = (tokens: ReadonlyArray<number>) => {
        const { logits } = llamaReference(config, weights, tokens, tokens.map(() => 0), 1, tokens.length, false)
        const row = logits.subarray((tokens.length - 1) * config.vocabSize, tokens.length * config.vocabSize)
        return row.reduce((best, v, i) => (v > row[best]! ? i : best), 0)
      }
      const greedy = (prompt: ReadonlyArray<number>, n: number) => {
        const t = [...prompt]
        for (let i = 0; i < n; i++) t.push(argmaxAfter(t))
        return t.slice(prompt.length)
      }
      const runs: Array<{ cached: number; computed: number }> = []
      const generate = (prompt: ReadonlyArray<number>, n: number, reuseCache: boolean) =>
        Stream.runCollect(Stream.take(model.generateTokens(prompt, { temperature: 0, seed: 0, reuseCache, onPrompt: (r) => runs.push(r) }), n))
      const p1 = tokenIds(9, config.vocabSize, 4)
      const g1 = yield* generate(p1, 5, true)
      expect(g1).toEqual(greedy(p1, 5))
      // The next turn: the prompt, four of the generated tokens (the fifth was never fed), a new message.
      const p2 = [...p1, ...g1.slice(0, 4), ...tokenIds(6, config.vocabSize, 8)]
      const g2 = yield* generate(p2, 4, true)
      expect(runs[1]).toEqual({ cached: 13, computed: 6 })
      expect(g2).toEqual(greedy(p2, 4))
      // A prompt that departs early keeps only the shared prefix; without reuse the prompt is recomputed.
      const p3 = [...p1.slice(0, 3), ...tokenIds(5, config.vocabSize, 9)]
      expect(yield* generate(p3, 3, true)).toEqual(greedy(p3, 3))
      expect(runs[2]).toEqual({ cached: 3, computed: 5 })
      expect(yield* generate(p3, 3, false)).toEqual(greedy(p3, 3))
      expect(runs[3]).toEqual({ cached: 0, computed: 8 })
    }).pipe(Effect.scoped))
})

import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FileSystem } from "effect"
import { Tokenizer as HfTokenizer } from "tokenizers"
import { BpeTokenizer } from "../../../src/data/tokenizer/core.ts"
import { TokenizerError } from "../../../src/data/tokenizer/errors.ts"
import { byteTokenizer, loadTokenizer, makeTokenizer, Tokenizer } from "../../../src/data/tokenizer/Tokenizer.ts"
import { toByteLevel } from "../../../src/data/tokenizer/byte-level.ts"
import { trainBpe, WordCounter } from "../../../src/data/tokenizer/train.ts"
import { smolSpecials, trainedTokenizerJson } from "./reference.ts"
import { proseText, rng, stressText } from "./stress.ts"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): TokenizerError => {
  expect(Exit.isFailure(exit), "expected a failure").toBe(true)
  if (!Exit.isFailure(exit)) throw new Error("unreachable")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  expect(reason, `expected a typed failure, got ${String(exit.cause)}`).toBeDefined()
  const error = (reason as { error: unknown }).error
  expect(error).toBeInstanceOf(TokenizerError)
  return error as TokenizerError
}

describe("Tokenizer service", () => {
  it.effect("loads tokenizer.json from a file and encodes, decodes and looks up tokens", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/tokenizer.json`
      yield* fs.writeFileString(path, trainedTokenizerJson())
      const t = yield* loadTokenizer(path)
      expect(t.name).toBe(path)
      expect(t.vocabSize).toBe(2000)
      expect(t.tokenToId("<|endoftext|>")).toBe(0)
      expect(t.idToToken(1)).toBe("<|im_start|>")
      const ids = yield* t.encode("hello world<|endoftext|>")
      expect(ids[ids.length - 1]).toBe(0)
      expect(yield* t.decode(ids)).toBe("hello world<|endoftext|>")
      expect(yield* t.decode(ids, { skipSpecialTokens: true })).toBe("hello world")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("encodes a batch over worker threads with exactly the single-thread ids, in input order", () =>
    Effect.gen(function*() {
      const json = trainedTokenizerJson()
      const random = rng(5)
      // Uneven lengths and tiny chunks so that workers finish out of order.
      const texts = Array.from({ length: 300 }, (_, i) => stressText(random, i % 7 === 0 ? 4000 : 1 + Math.floor(random() * 300)))
      const threaded = yield* makeTokenizer(json, { name: "t", threads: 2 })
      const single = BpeTokenizer.fromJson(json)
      const got = yield* threaded.encodeBatch(texts)
      expect(got.length).toBe(texts.length)
      texts.forEach((text, i) => expect(Array.from(got[i]!), `text ${i}`).toEqual(Array.from(single.encode(text))))
      const again = yield* threaded.encodeBatch(texts.slice(0, 10), { addSpecialTokens: false })
      expect(again.map((a) => a.length)).toEqual(texts.slice(0, 10).map((t) => single.encode(t, { addSpecialTokens: false }).length))
    }))

  it.effect("fails with a typed error naming the problem for broken or unsupported files", () =>
    Effect.gen(function*() {
      const base = JSON.parse(trainedTokenizerJson()) as Record<string, unknown>
      const attempt = (json: string) => Effect.exit(makeTokenizer(json, { name: "bad.json" }))

      const notJson = failureOf(yield* attempt("{ not json"))
      expect(notJson.reason).toBe("Parse")
      expect(notJson.message).toMatch(/^bad\.json: not JSON/)

      const unsupported = failureOf(yield* attempt(JSON.stringify({ ...base, normalizer: { type: "Precompiled", precompiled_charsmap: "" } })))
      expect(unsupported.reason).toBe("Unsupported")
      expect(unsupported.message).toContain("Precompiled")

      const model = base["model"] as Record<string, unknown>
      const badMerge = failureOf(yield* attempt(JSON.stringify({ ...base, model: { ...model, merges: [["Ġ", "zzz"]] } })))
      expect(badMerge.reason).toBe("Parse")
      expect(badMerge.message).toContain("\"zzz\" is not in the vocabulary")

      const wordPiece = failureOf(yield* attempt(JSON.stringify({ ...base, model: { ...model, type: "WordPiece" } })))
      expect(wordPiece.reason).toBe("Unsupported")

      const missing = failureOf(yield* Effect.exit(loadTokenizer("/nonexistent/tokenizer.json")))
      expect(missing.reason).toBe("Read")
      expect(missing.message).toContain("/nonexistent/tokenizer.json")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("has a byte-level test double for downstream stages", () =>
    Effect.gen(function*() {
      const t = yield* Tokenizer
      const ids = yield* t.encode("é<|endoftext|>")
      expect(Array.from(ids)).toEqual([0xc3, 0xa9, 256])
      expect(yield* t.decode(ids)).toBe("é<|endoftext|>")
      expect(t.vocabSize).toBe(257)
      expect(byteTokenizer.tokenToId("<|endoftext|>")).toBe(256)
    }).pipe(Effect.provide(Tokenizer.layerBytes)))
})

describe("BPE training", () => {
  const train = (vocabSize: number) => {
    const random = rng(21)
    const counter = new WordCounter()
    for (let i = 0; i < 60; i++) counter.add(proseText(random, 1500))
    return trainBpe(counter, { vocabSize, specialTokens: smolSpecials })
  }

  it("fills the vocabulary to the requested size: special tokens first, then the 256 bytes, then merges", () => {
    const json = train(600)
    const model = json["model"] as { vocab: Record<string, number>; merges: Array<[string, string]> }
    expect(Object.keys(model.vocab).length).toBe(600)
    smolSpecials.forEach((s, i) => expect(model.vocab[s]).toBe(i))
    expect(model.vocab["Ġ"]).toBeLessThan(smolSpecials.length + 256)
    expect(model.merges.length).toBe(600 - smolSpecials.length - 256)
  })

  it("merges first the adjacent pair that is most frequent over the counted words (checked by brute force)", () => {
    const random = rng(21)
    const counter = new WordCounter()
    for (let i = 0; i < 60; i++) counter.add(proseText(random, 1500))
    const pairs = new Map<string, number>()
    for (const [word, count] of counter.counts) {
      const chars = [...toByteLevel(word)]
      for (let i = 0; i + 1 < chars.length; i++) {
        const k = `${chars[i]} ${chars[i + 1]}`
        pairs.set(k, (pairs.get(k) ?? 0) + count)
      }
    }
    const best = Math.max(...pairs.values())
    const model = trainBpe(counter, { vocabSize: 300, specialTokens: [] })["model"] as { merges: Array<[string, string]> }
    expect(pairs.get(model.merges[0]!.join(" "))).toBe(best)
  })

  it("is deterministic and loads in HF tokenizers with identical ids", async () => {
    const a = JSON.stringify(train(700))
    expect(JSON.stringify(train(700))).toBe(a)
    const hf = HfTokenizer.fromString(a)
    const ours = BpeTokenizer.fromJson(a)
    const texts = Array.from({ length: 40 }, (_, i) => stressText(rng(100 + i), 800))
    const want = (await hf.encodeBatch(texts)).map((e) => e.getIds())
    expect(texts.map((t) => Array.from(ours.encode(t)))).toEqual(want)
    // Trained merges compress: fewer ids than bytes on text like the training data.
    const prose = proseText(rng(9), 3000)
    expect(ours.encode(prose).length).toBeLessThan(new TextEncoder().encode(prose).length / 2)
  })

  it("refuses a vocabulary smaller than the special tokens plus the byte alphabet", () => {
    expect(() => train(100)).toThrow(/smaller than the 5 special tokens plus the 256 byte characters/)
  })
})

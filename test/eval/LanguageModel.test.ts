import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { encodePair, fromTokenModel, type TextCodec, type TokenModel } from "../../src/eval/LanguageModel.ts"

/** One token per character (code unit + 1), id 0 is end-of-text; "ab" merges into one token (id 1000). */
const codec: TextCodec = {
  eosId: 0,
  encode: (text) => {
    const ids: Array<number> = []
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith("ab", i)) {
        ids.push(1000)
        i++
      } else ids.push(text.charCodeAt(i) + 1)
    }
    return ids
  },
  decode: (ids) => ids.map((id) => (id === 1000 ? "ab" : String.fromCharCode(id - 1))).join("")
}

/** log p(token) = -token/1000, greedy when the token is even; generation replays a fixed text then EOS. */
const fake = (maxLength: number, reply: string, seen: Array<ReadonlyArray<number>> = []): TokenModel => ({
  name: "fake",
  maxLength,
  scoreTokens: (requests) =>
    Effect.sync(() =>
      requests.map((r) => {
        seen.push(r.tokens)
        const scored = r.tokens.slice(r.scoreFrom)
        return { logProbs: scored.map((t) => -t / 1000), greedy: scored.map((t) => t % 2 === 0) }
      })),
  generateTokens: (prompt) => {
    seen.push(prompt)
    return Stream.fromIterable([...codec.encode(reply), 0, 66, 66])
  }
})

describe("lighteval's tokenization rules over a token model", () => {
  it("moves the context's trailing whitespace into the continuation and scores a merged boundary token", () => {
    expect(encodePair(codec, "Q: x ", "y")).toEqual({ context: codec.encode("Q: x"), continuation: codec.encode(" y") })
    // "a" + "b" merges into one token: the continuation takes the merged token, the context loses it.
    expect(encodePair(codec, "xa", "b")).toEqual({ context: codec.encode("x"), continuation: [1000] })
    expect(encodePair(codec, "", "hi")).toEqual({ context: [0], continuation: codec.encode("hi") })
  })

  it.effect("sums the continuation's log-probs, reports greedy only if every token was, left-truncates", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<number>> = []
      const lm = fromTokenModel(codec, fake(6, "", seen))
      const [r] = yield* lm.logLikelihood([{ context: "abcdefgh ", continuation: "z" }])
      const cont = codec.encode(" z")
      expect(r!.logProb).toBeCloseTo(cont.reduce((a, t) => a - t / 1000, 0), 12)
      expect(r!.isGreedy).toBe(cont.every((t) => t % 2 === 0))
      expect(seen[0]).toEqual([...codec.encode("abcdefgh"), ...cont].slice(-6))
    }))

  it.effect("generation stops at the first stop string (excluded) or end-of-text, and leaves room for max tokens", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<number>> = []
      const lm = fromTokenModel(codec, fake(20, " 42\n\nQuestion: next", seen))
      const cut = yield* lm.generate([{ prompt: "0123456789ABCDEFGHIJ", maxTokens: 15, stop: ["Question:", "\n\n"] }])
      expect(cut).toEqual([[" 42"]])
      expect(seen[0]).toEqual(codec.encode("FGHIJ")) // 20 − 15 tokens of room
      const eos = yield* fromTokenModel(codec, fake(100, "done")).generate([{ prompt: "p", maxTokens: 50, stop: ["zzz"], samples: 2 }])
      expect(eos).toEqual([["done", "done"]])
      // Three tokens are "ab", "c", "d".
      const short = yield* fromTokenModel(codec, fake(100, "abcdefg")).generate([{ prompt: "p", maxTokens: 3, stop: [] }])
      expect(short).toEqual([["abcd"]])
    }))
})

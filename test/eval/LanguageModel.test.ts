import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { encodePair, fromTokenModel, rollingWindows, type ScoreRequest, type TextCodec, type TokenModel } from "../../src/eval/LanguageModel.ts"
import { loadPredictions, predictionsModel, requestLines } from "../../src/eval/predictions.ts"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

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

describe("rolling log-likelihood (lighteval loglikelihood_rolling, harness windows)", () => {
  const w = (context: Array<number>, continuation: Array<number>) => ({ context, continuation })
  it("windows exactly as lm-evaluation-harness get_rolling_token_windows + make_disjoint_window", () => {
    // Expected lists printed by the harness's own functions (lm_eval/utils.py) for the same arguments.
    const one = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
    expect(rollingWindows(one(10), 0, 4)).toEqual([w([0], [1, 2, 3, 4]), w([4], [5, 6, 7, 8]), w([6, 7, 8], [9, 10])])
    expect(rollingWindows(one(4), 0, 4)).toEqual([w([0], [1, 2, 3, 4])])
    expect(rollingWindows(one(5), 0, 4)).toEqual([w([0], [1, 2, 3, 4]), w([1, 2, 3, 4], [5])])
    expect(rollingWindows(one(7), 0, 3)).toEqual([w([0], [1, 2, 3]), w([3], [4, 5, 6]), w([4, 5, 6], [7])])
    expect(rollingWindows(one(10), 0, 4, 2)).toEqual([w([0], [1, 2, 3, 4]), w([3, 4], [5, 6, 7]), w([6, 7], [8, 9, 10])])
    expect(rollingWindows([], 0, 4)).toEqual([])
  })

  it.effect("sums every token's log-prob over the windows, each scored after its own context", () =>
    Effect.gen(function*() {
      const seen: Array<ScoreRequest> = []
      // log p(t_i | …) = −(t_i + t_{i−1}/100 + i/10⁴): depends on the previous token and the position in the window.
      const lp = (tokens: ReadonlyArray<number>, i: number) => -(tokens[i]! + tokens[i - 1]! / 100 + i / 1e4)
      const model: TokenModel = {
        name: "known",
        maxLength: 4,
        scoreTokens: (requests) =>
          Effect.sync(() =>
            requests.map((r) => {
              seen.push(r)
              const logProbs = r.tokens.slice(r.scoreFrom).map((_, j) => lp(r.tokens, r.scoreFrom + j))
              return { logProbs, greedy: logProbs.map(() => false) }
            })),
        generateTokens: () => Stream.empty
      }
      const lm = fromTokenModel(codec, model)
      // "ABCDEFGHIJ" is ids 66..75 in the codec; "" has no tokens.
      const [long, short, empty] = yield* lm.logLikelihoodRolling(["ABCDEFGHIJ", "AB", ""])
      const ids = codec.encode("ABCDEFGHIJ")
      expect(seen.map((r) => [r.tokens, r.scoreFrom])).toEqual([
        [[0, ...ids.slice(0, 4)], 1],
        [ids.slice(3, 8), 1],
        [ids.slice(5, 10), 3],
        [[0, 66, 67], 1]
      ])
      const sum = (tokens: Array<number>, from: number) => tokens.slice(from).reduce((a, _, j) => a + lp(tokens, from + j), 0)
      expect(long!.tokens).toBe(10)
      expect(long!.logProb).toBeCloseTo(sum([0, ...ids.slice(0, 4)], 1) + sum(ids.slice(3, 8), 1) + sum(ids.slice(5, 10), 3), 12)
      expect(short).toEqual({ logProb: lp([0, 66, 67], 1) + lp([0, 66, 67], 2), tokens: 2 })
      expect(empty).toEqual({ logProb: 0, tokens: 0 })
    }))

  it.effect("a predictions file answers rolling requests by text; --dump-requests writes them", () =>
    Effect.gen(function*() {
      const file = path.join(mkdtempSync(path.join(tmpdir(), "smol-rolling-")), "p.jsonl")
      writeFileSync(file, JSON.stringify({ text: "some document", logprob: -42.5, tokens: 3 }) + "\n")
      const lm = predictionsModel("p", yield* loadPredictions(file))
      expect(yield* lm.logLikelihoodRolling(["some document"])).toEqual([{ logProb: -42.5, tokens: 3 }])
      const missing = yield* Effect.flip(lm.logLikelihoodRolling(["other"]))
      expect(missing.reason).toBe("MissingPrediction")
      expect(requestLines("wikitext", { rolling: ["some document"] })).toEqual([JSON.stringify({ task: "wikitext", text: "some document" })])
    }))
})

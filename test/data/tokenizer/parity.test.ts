import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { BpeTokenizer } from "../../../src/data/tokenizer/core.ts"
import { firstMismatch, pairFromJson, realOrTrained, realTexts, sharedData, trainedTokenizerJson } from "./reference.ts"
import { rng, stressText } from "./stress.ts"

const stressCorpus = (seed: number, docs: number, length: number): Array<string> => {
  const random = rng(seed)
  const texts = Array.from({ length: docs }, () => stressText(random, 1 + Math.floor(random() * length)))
  // Edge cases no generator should be trusted to hit.
  texts.push("", " ", "  ", "\n", "a", "1", "<|endoftext|>", "<|endoftext|><|endoftext|>", " ".repeat(3000), "\t\r\n".repeat(50), "9".repeat(500))
  texts.push("日本語".repeat(400), "👨‍👩‍👧‍👦".repeat(50), "e\u0301".repeat(100), "x'sy's 's 'S'T'RE", "\u0085\u0085 a\u0085b", "a\ufeff b\u200b c")
  return texts
}

type Mutate = (json: Record<string, unknown>) => void

/** Variants of the trained tokenizer that exercise every component the loader accepts, each checked against HF. */
const variants: ReadonlyArray<readonly [string, Mutate]> = [
  ["SmolLM2 layout (Digits + ByteLevel), as trained", () => {}],
  ["GPT-2 layout: ByteLevel with a prefix space, template adding BOS and EOS", (j) => {
    j["pre_tokenizer"] = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true }
    j["post_processor"] = {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|im_start|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<|im_end|>", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: {
        "<|im_start|>": { id: "<|im_start|>", ids: [1], tokens: ["<|im_start|>"] },
        "<|im_end|>": { id: "<|im_end|>", ids: [2], tokens: ["<|im_end|>"] }
      }
    }
  }],
  ["normalizers (NFKC, Lowercase, Replace, Prepend) and normalized / lstrip / rstrip / single-word added tokens", (j) => {
    j["normalizer"] = {
      type: "Sequence",
      normalizers: [{ type: "NFKC" }, { type: "Lowercase" }, { type: "Replace", pattern: { String: "\t" }, content: "    " }, {
        type: "Replace",
        pattern: { Regex: "\\s{3,}" },
        content: "  "
      }]
    }
    ;(j["added_tokens"] as Array<unknown>).push(
      { id: 2000, content: "<mask>", single_word: false, lstrip: true, rstrip: true, normalized: true, special: true },
      { id: 2001, content: "the", single_word: true, lstrip: false, rstrip: false, normalized: true, special: false },
      { id: 2002, content: "Tokenizer", single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }
    )
  }],
  ["Llama-3-style Split regex with (?i:…), ByteLevel without regex, ignore_merges", (j) => {
    j["pre_tokenizer"] = {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
          behavior: "Isolated",
          invert: false
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }
      ]
    }
    ;(j["model"] as Record<string, unknown>)["ignore_merges"] = true
  }],
  ["Split behaviours: MergedWithPrevious, MergedWithNext, Contiguous, Removed, inverted, WhitespaceSplit", (j) => {
    j["pre_tokenizer"] = {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { String: "," }, behavior: "MergedWithPrevious", invert: false },
        { type: "Split", pattern: { Regex: "\\d" }, behavior: "MergedWithNext", invert: false },
        { type: "Split", pattern: { Regex: "[aeiou]" }, behavior: "Contiguous", invert: true },
        { type: "Split", pattern: { String: "." }, behavior: "Removed", invert: false },
        { type: "Digits", individual_digits: false },
        { type: "WhitespaceSplit" },
        { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true }
      ]
    }
    j["post_processor"] = { type: "RobertaProcessing", sep: ["<|im_end|>", 2], cls: ["<|im_start|>", 1], trim_offsets: true, add_prefix_space: true }
  }]
]

describe("HF-exact byte-level BPE", () => {
  it("encodes stress text exactly as HF tokenizers does, with the real SmolLM2 and GPT-2 files when present", async () => {
    const { pairs, note } = realOrTrained()
    console.log(`tokenizer parity: ${note}`)
    const texts = [...stressCorpus(1, 250, 3000), ...realTexts(150_000)]
    for (const pair of pairs) {
      expect(await firstMismatch(pair, texts)).toBeUndefined()
      expect(await firstMismatch(pair, texts.slice(0, 50), false)).toBeUndefined()
    }
  })

  it("reproduces the transformers ids recorded for SmolLM2 and the tiktoken/HF ids for GPT-2 (or, without the files, round-trips)", async () => {
    const smol = resolve(sharedData, "tokenizer/smollm2/tokenizer.json")
    const gpt2 = resolve(sharedData, "tokenizer/gpt2/tokenizer.json")
    if (existsSync(smol)) {
      const t = BpeTokenizer.fromJson(readFileSync(smol, "utf8"))
      expect(Array.from(t.encode("Hello"))).toEqual([19556])
      expect(Array.from(t.encode("The capital of France is"))).toEqual([504, 3575, 282, 4649, 314])
      expect(Array.from(t.encode("def fibonacci(n):"))).toEqual([1604, 3987, 46477, 24, 94, 727])
    }
    if (existsSync(gpt2)) {
      const t = BpeTokenizer.fromJson(readFileSync(gpt2, "utf8"))
      const cases = (JSON.parse(readFileSync(resolve(sharedData, "tokenizer/gpt2/gpt2_hf_tik_testdata.json"), "utf8")) as {
        samples: Array<{ name: string; text: string; ids: number[] }>
      }).samples
      expect(cases.length).toBeGreaterThan(10)
      for (const c of cases) expect(Array.from(t.encode(c.text)), c.name).toEqual(c.ids)
    }
    // Always: the trained tokenizer decodes what it encodes.
    const t = BpeTokenizer.fromJson(trainedTokenizerJson())
    const text = (stressText(rng(3), 5000) as unknown as { toWellFormed(): string }).toWellFormed()
    expect(t.decode(t.encode(text))).toBe(text)
  })

  for (const [name, mutate] of variants) {
    it(`matches HF on a tokenizer built in the test: ${name}`, async () => {
      const json = JSON.parse(trainedTokenizerJson()) as Record<string, unknown>
      mutate(json)
      const pair = pairFromJson(name, JSON.stringify(json))
      expect(await firstMismatch(pair, stressCorpus(2, 120, 2000))).toBeUndefined()
    })
  }

  it("decodes like HF, including ids that cut UTF-8 characters and skipped special tokens", async () => {
    const { pairs } = realOrTrained()
    for (const pair of [...pairs, pairFromJson("trained", trainedTokenizerJson())]) {
      const random = rng(11)
      const vocab = pair.ours.vocabSize
      for (let k = 0; k < 60; k++) {
        const ids = Array.from({ length: 1 + Math.floor(random() * 40) }, () => (random() < 0.1 ? Math.floor(random() * 5) : Math.floor(random() * vocab)))
        for (const skip of [false, true]) expect(pair.ours.decode(ids, { skipSpecialTokens: skip }), `${pair.name} ${ids}`).toBe(await pair.hf.decode(ids, skip))
      }
    }
  })

  it("streams decoding: a character cut between two chunks of ids comes out whole once its last byte arrives", () => {
    const t = BpeTokenizer.fromJson(trainedTokenizerJson())
    const text = "naïve 日本語 👨‍👩‍👧 done"
    const ids = t.encode(text)
    const stream = t.streamingDecoder()
    let out = ""
    for (let i = 0; i < ids.length; i++) {
      const piece = stream.push([ids[i]!])
      expect(piece).not.toContain("\ufffd")
      out += piece
    }
    out += stream.end()
    expect(out).toBe(text)
    // One-shot decoding of a cut prefix marks the cut, as HF does.
    const bytesOfFirstCjk = Array.from(ids).findIndex((_, i) => t.decode(ids.subarray(0, i + 1)).endsWith("\ufffd"))
    expect(bytesOfFirstCjk).toBeGreaterThanOrEqual(0)
  })
})

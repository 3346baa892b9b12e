/**
 * WordPiece (BERT's tokenizer: BertNormalizer, BertPreTokenizer, WordPiece with `##`, `[CLS] … [SEP]`) against HF
 * `tokenizers` itself. The tokenizer.json files are built here, written the way HF writes bert-base-uncased's; the
 * vocabulary comes from the words HF's own normalizer and pre-tokenizer cut out of the stress text, with gaps left
 * on purpose so that some words have no segmentation and become `[UNK]`. A BERT tokenizer in the shared data
 * folder (`tokenizer/<name>/tokenizer.json` with a WordPiece model) is checked too when there is one.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FileSystem } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { bertNormalizer as hfBertNormalizer, bertPreTokenizer as hfBertPreTokenizer } from "tokenizers"
import { bertNormalizer } from "../../../src/data/tokenizer/bert-normalizer.ts"
import { bertPreTokenize } from "../../../src/data/tokenizer/bert-pretokenizer.ts"
import { TokenizerError } from "../../../src/data/tokenizer/errors.ts"
import { loadTokenizer, makeTokenizer } from "../../../src/data/tokenizer/Tokenizer.ts"
import { firstMismatch, pairFromJson, realTexts, sharedData } from "./reference.ts"
import { rng, stressText } from "./stress.ts"

const bertSpecials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const

/** The post-processor HF writes for BERT: `[CLS] $A [SEP]`, and `[CLS] $A [SEP] $B:1 [SEP]:1` for pairs. */
const bertTemplate = (cls: number, sep: number) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
  pair: [
    { SpecialToken: { id: "[CLS]", type_id: 0 } },
    { Sequence: { id: "A", type_id: 0 } },
    { SpecialToken: { id: "[SEP]", type_id: 0 } },
    { Sequence: { id: "B", type_id: 1 } },
    { SpecialToken: { id: "[SEP]", type_id: 1 } }
  ],
  special_tokens: {
    "[CLS]": { id: "[CLS]", ids: [cls], tokens: ["[CLS]"] },
    "[SEP]": { id: "[SEP]", ids: [sep], tokens: ["[SEP]"] }
  }
})

/** A whole tokenizer.json around `vocab` (token → id; the five specials must be in it). */
const bertTokenizerJson = (vocab: Readonly<Record<string, number>>, options?: { readonly lowercase?: boolean }): Record<string, unknown> => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: bertSpecials.map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: options?.lowercase ?? true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: bertTemplate(vocab["[CLS]"]!, vocab["[SEP]"]!),
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab }
})

/**
 * A vocabulary from the words of the stress text as HF cuts them (uncased or cased): most words whole, random
 * prefixes and `##` pieces, and nine in ten of the characters seen (word-initial and `##` forms), so that a word
 * containing one of the missing tenth cannot be segmented.
 */
const generatedVocab = (seed: number, lowercase: boolean): Record<string, number> => {
  const random = rng(seed)
  const normalize = hfBertNormalizer({ cleanText: true, handleChineseChars: true, lowercase })
  const split = hfBertPreTokenizer()
  const vocab: Record<string, number> = {}
  let next = 0
  const add = (token: string) => {
    if (token.length > 0 && vocab[token] === undefined) vocab[token] = next++
  }
  bertSpecials.forEach(add)
  for (let d = 0; d < 40; d++) {
    for (const [word] of split.preTokenizeString(normalize.normalizeString(stressText(random, 3000)))) {
      const chars = [...word]
      const r = random()
      if (r < 0.4) add(word)
      else if (r < 0.7) add(chars.slice(0, 1 + Math.floor(random() * chars.length)).join(""))
      const from = Math.floor(random() * chars.length)
      if (from > 0) add("##" + chars.slice(from, from + 1 + Math.floor(random() * 4)).join(""))
      for (const [i, c] of chars.entries()) {
        // Decided by the character, not by chance per occurrence, so a missing character stays missing.
        const keep = (c.codePointAt(0)! * 2654435761) % 10 !== 3
        if (keep) add(i === 0 ? c : "##" + c)
      }
    }
  }
  return vocab
}

/** BERT-style tokenizer.json files in the shared data folder (`tokenizer/<name>/tokenizer.json` with a WordPiece model). */
const sharedBertTokenizers = (): Array<{ readonly name: string; readonly json: string }> => {
  const dir = resolve(sharedData, "tokenizer")
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .map((name) => ({ name, path: resolve(dir, name, "tokenizer.json") }))
    .filter((f) => existsSync(f.path))
    .map((f) => ({ name: f.name, json: readFileSync(f.path, "utf8") }))
    .filter((f) => (JSON.parse(f.json) as { model?: { type?: string } }).model?.type === "WordPiece")
}

/** Texts no generator should be trusted to hit. */
const edgeCases = [
  "", " ", "\n", "\t\r\n", "a", ".", "...", "[CLS]", "[SEP] [MASK]", "the [MASK] sat", "x[UNK]y", "[cls]",
  "Héllo Wörld, ÇA VA? naïve café", "ÅNGSTRÖM Ǆ ǅ ǆ ß ẞ İstanbul ΟΔΟΣ Σ σς", "e\u0301 a\u0308\u0323 n\u0303 Z\u0351\u0352",
  "日本語のテキスト 中文分词，标点。 한국어 텍스트", "\u3400\u4dbf \u{20000}\u{2a6df} \u{2b820} \uf900\ufaff \u{2f800}",
  "a\u0000b\u0007c\u001bd\u007fe\u0085f\u00adg\u200bh\ufeffi\ufffdj\ue000k\u{e0001}l\u180em\u061cn\u08e2o",
  "tab\there\u00a0nbsp\u3000ideo\u2028line\u2029para\u000bvt\u000cff\u001cfs",
  "$5+3=8 <a|b> ^_^ `code` ~tilde~ {x} [y] (z) @me #tag %p &amp; *s* /s\\ \"q\" 'q'",
  "\u00a1Hola! \u00bfQu\u00e9? \u00abguillemets\u00bb \u2014dash\u2013 \u2026 \u201cquotes\u201d \u3001\u3002 \uff01",
  "new punctuation \u2e43\u2e4f\u2e52 \u{1e95e} \u{11a3f}", "emoji 😀👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️ 🥰 🫠",
  "Unicode 16 \u{105c9}\u{11383}\u{16d68} a\u{105e4}\u0301", "x".repeat(100), "x".repeat(101), "ab".repeat(50) + "c",
  "😀".repeat(100), "😀".repeat(101), "supercalifragilisticexpialidocious", "don't it's we're I'm O'Neil rock'n'roll",
  "lone \ud800 surrogate x\udfffy", "   leading and trailing   ", "The quick brown fox jumps over the lazy dog."
]

const stressCorpus = (seed: number, docs: number, length: number): Array<string> => {
  const random = rng(seed)
  return [...Array.from({ length: docs }, () => stressText(random, 1 + Math.floor(random() * length))), ...edgeCases]
}

type Mutate = (json: Record<string, unknown>) => void
const setModel = (json: Record<string, unknown>, key: string, value: unknown) => {
  ;(json["model"] as Record<string, unknown>)[key] = value
}

/** Every setting of the BERT components the loader accepts, each checked against HF. */
const variants: ReadonlyArray<readonly [string, boolean, Mutate]> = [
  ["bert-base-uncased layout (lowercase, accents stripped because strip_accents is null)", true, () => {}],
  ["bert-base-cased layout (no lowercase, accents kept)", false, () => {}],
  ["strip_accents true without lowercase, no clean_text, no CJK spacing", false, (j) => {
    j["normalizer"] = { type: "BertNormalizer", clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: false }
  }],
  ["lowercase with strip_accents false", true, (j) => {
    j["normalizer"] = { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: true }
  }],
  ["BertProcessing, max_input_chars_per_word 8, no decoder cleanup", true, (j) => {
    const vocab = (j["model"] as { vocab: Record<string, number> }).vocab
    j["post_processor"] = { type: "BertProcessing", sep: ["[SEP]", vocab["[SEP]"]], cls: ["[CLS]", vocab["[CLS]"]] }
    setModel(j, "max_input_chars_per_word", 8)
    j["decoder"] = { type: "WordPiece", prefix: "##", cleanup: false }
  }],
  ["no pre-tokenizer (the whole text is one word), a Sequence normalizer, no post-processor", true, (j) => {
    j["pre_tokenizer"] = null
    j["normalizer"] = { type: "Sequence", normalizers: [{ type: "NFKC" }, j["normalizer"]] }
    j["post_processor"] = null
    setModel(j, "max_input_chars_per_word", 1000)
  }],
  ["BertPreTokenizer inside a Sequence after a Digits split, specials normalized and single-word", true, (j) => {
    j["pre_tokenizer"] = { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, { type: "BertPreTokenizer" }] }
    for (const t of j["added_tokens"] as Array<Record<string, unknown>>) {
      t["normalized"] = true
      t["single_word"] = t["content"] === "[MASK]"
    }
  }]
]

/** The code points HF knows, in chunks, each character between two x's so that neighbours cannot interact. */
const codePointChunks = (size: number): Array<string> => {
  const chunks: string[] = []
  let chunk = ""
  let count = 0
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue
    chunk += "x" + String.fromCodePoint(cp)
    if (++count === size) {
      chunks.push(chunk + "x")
      chunk = ""
      count = 0
    }
  }
  if (chunk.length > 0) chunks.push(chunk + "x")
  return chunks
}

/** The first code point where two strings built from `codePointChunks` part, with some context. */
const firstDifference = (ours: string, theirs: string): string => {
  let k = 0
  while (k < ours.length && ours[k] === theirs[k]) k++
  const around = (s: string) => JSON.stringify(s.slice(Math.max(0, k - 6), k + 6))
  return `at U+${(theirs.codePointAt(k) ?? ours.codePointAt(k) ?? 0).toString(16)}: ours ${around(ours)}, HF ${around(theirs)}`
}

/** A vocabulary small enough to check by hand, in bert-base-uncased's shape (specials first). */
const handVocab: Record<string, number> = Object.fromEntries(
  [
    ...bertSpecials, "the", "quick", "brown", "fox", ".", ",", "!", "'", "un", "##aff", "##able", "play", "##ing", "##s",
    "cafe", "naive", "don", "t", "中", "文", "a", "##b", "##c", "jump", "##ed", "😀", "##😀", "$", "5"
  ].map((token, id) => [token, id])
)

/** Text → the tokens HF gives with the hand vocabulary (ids are their positions in `handVocab`). */
const handCases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["The quick brown fox.", ["[CLS]", "the", "quick", "brown", "fox", ".", "[SEP]"]],
  ["unaffable", ["[CLS]", "un", "##aff", "##able", "[SEP]"]],
  ["PLAYING plays", ["[CLS]", "play", "##ing", "play", "##s", "[SEP]"]],
  ["Café NAÏVE", ["[CLS]", "cafe", "naive", "[SEP]"]],
  ["中文", ["[CLS]", "中", "文", "[SEP]"]],
  ["don't!", ["[CLS]", "don", "'", "t", "!", "[SEP]"]],
  // No segmentation covers "d": the whole word is [UNK], not "a ##b ##c [UNK]".
  ["abcd abc", ["[CLS]", "[UNK]", "a", "##b", "##c", "[SEP]"]],
  ["the\tquick\u00a0brown\u3000fox\nthe", ["[CLS]", "the", "quick", "brown", "fox", "the", "[SEP]"]],
  // Controls are deleted, not turned into spaces: "the\u0000quick" is one word, "thequick", with no segmentation.
  ["the\u0000quick the\u200bfox", ["[CLS]", "[UNK]", "[UNK]", "[SEP]"]],
  ["$5", ["[CLS]", "$", "5", "[SEP]"]],
  ["😀😀", ["[CLS]", "😀", "##😀", "[SEP]"]],
  ["a" + "b".repeat(99), ["[CLS]", "a", ...Array.from({ length: 99 }, () => "##b"), "[SEP]"]],
  ["a" + "b".repeat(100), ["[CLS]", "[UNK]", "[SEP]"]],
  ["the [MASK] jumped", ["[CLS]", "the", "[MASK]", "jump", "##ed", "[SEP]"]],
  ["", ["[CLS]", "[SEP]"]]
]

describe("WordPiece (BERT) tokenizer, HF-exact", () => {
  it("gives the hand-checked ids for a small vocabulary, as HF does", async () => {
    const pair = pairFromJson("hand", JSON.stringify(bertTokenizerJson(handVocab)))
    for (const [text, tokens] of handCases) {
      const want = tokens.map((t) => handVocab[t]!)
      expect(Array.from(pair.ours.encode(text)), JSON.stringify(text)).toEqual(want)
      expect((await pair.hf.encode(text)).getIds(), JSON.stringify(text)).toEqual(want)
    }
    const ids = ["[CLS]", "the", "un", "##aff", "##able", "fox", ",", "don", "'", "t", "!", "[SEP]"].map((t) => handVocab[t]!)
    // HF's cleanup runs on each token by itself (" ,", " !" join), so " ' " never meets its pattern and "don ' t" stays.
    expect(pair.ours.decode(ids)).toBe("[CLS] the unaffable fox, don ' t! [SEP]")
    expect(pair.ours.decode(ids, { skipSpecialTokens: true })).toBe("the unaffable fox, don ' t!")
    expect(await pair.hf.decode(ids, false)).toBe("[CLS] the unaffable fox, don ' t! [SEP]")
    expect(await pair.hf.decode(ids, true)).toBe("the unaffable fox, don ' t!")
    const stream = pair.ours.streamingDecoder({ skipSpecialTokens: true })
    expect(ids.map((id) => stream.push([id])).join("") + stream.end()).toBe("the unaffable fox, don ' t!")
  })

  it("normalizes every code point as HF's BertNormalizer does (Unicode 8.0 controls and marks, CJK, final sigma)", () => {
    const chunks = codePointChunks(1 << 15)
    for (const options of [
      { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true },
      { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: false },
      { cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: true },
      { cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false }
    ]) {
      const hf = hfBertNormalizer({ ...options, stripAccents: options.stripAccents ?? options.lowercase })
      const ours = bertNormalizer(options)
      for (const chunk of chunks) {
        const [got, want] = [ours(chunk), hf.normalizeString(chunk)]
        if (got !== want) expect.fail(`${JSON.stringify(options)} ${firstDifference(got, want)}`)
      }
    }
  })

  it("pre-tokenizes every code point as HF's BertPreTokenizer does (ASCII and Unicode 8.0 punctuation, White_Space)", () => {
    const hf = hfBertPreTokenizer()
    for (const chunk of codePointChunks(1 << 15)) {
      const want = hf.preTokenizeString(chunk).map(([piece]) => piece)
      const got: string[] = []
      bertPreTokenize(chunk, got)
      if (got.join("\u0001") !== want.join("\u0001")) expect.fail(firstDifference(got.join("\u0001"), want.join("\u0001")))
    }
  })

  for (const [name, lowercase, mutate] of variants) {
    it(`encodes and decodes as HF tokenizers does: ${name}`, async () => {
      const json = bertTokenizerJson(generatedVocab(5, lowercase), { lowercase })
      mutate(json)
      const pair = pairFromJson(name, JSON.stringify(json))
      const texts = stressCorpus(9, 150, 1500)
      expect(await firstMismatch(pair, [...texts, ...realTexts(40_000)])).toBeUndefined()
      expect(await firstMismatch(pair, texts.slice(0, 40), false)).toBeUndefined()
      const random = rng(13)
      for (let k = 0; k < 40; k++) {
        const ids = Array.from({ length: Math.floor(random() * 30) }, () => Math.floor(random() * pair.ours.vocabSize))
        for (const skip of [false, true]) expect(pair.ours.decode(ids, { skipSpecialTokens: skip }), `${ids}`).toBe(await pair.hf.decode(ids, skip))
      }
      for (const text of texts.slice(0, 30)) {
        const ids = Array.from(pair.ours.encode(text))
        expect(pair.ours.decode(ids, { skipSpecialTokens: true })).toBe(await pair.hf.decode(ids, true))
      }
    })
  }

  it("truncates to a max length including [CLS] and [SEP] as HF's truncation does", async () => {
    const json = JSON.stringify(bertTokenizerJson(generatedVocab(5, true)))
    const pair = pairFromJson("truncation", json)
    const texts = stressCorpus(21, 60, 2000)
    for (const maxLength of [2, 3, 17, 512]) {
      pair.hf.setTruncation(maxLength)
      const want = await pair.hf.encodeBatch(texts)
      for (const [i, text] of texts.entries()) {
        const got = Array.from(pair.ours.encode(text, { maxLength }))
        expect(got, `maxLength ${maxLength}, text #${i}`).toEqual(want[i]!.getIds())
        expect(Array.from(pair.ours.truncate(pair.ours.encode(text), maxLength))).toEqual(got)
      }
    }
    pair.hf.setTruncation(5)
    const plain = await pair.hf.encode(texts[0]!, null, { addSpecialTokens: false })
    expect(Array.from(pair.ours.encode(texts[0]!, { addSpecialTokens: false, maxLength: 5 }))).toEqual(plain.getIds())
    expect(() => pair.ours.encode("text", { maxLength: 1 })).toThrow(RangeError)
  })

  it("matches HF on a BERT tokenizer.json from the shared data folder when there is one", async () => {
    const files = sharedBertTokenizers()
    console.log(files.length === 0 ? `no WordPiece tokenizer under ${sharedData}/tokenizer: nothing more to check` : `checked ${files.map((f) => f.name)}`)
    for (const f of files) {
      const pair = pairFromJson(f.name, f.json)
      expect(await firstMismatch(pair, [...stressCorpus(3, 100, 2000), ...realTexts(100_000)])).toBeUndefined()
    }
  })

  it.effect("loads through the Tokenizer service: truncation in encode and in worker-thread batches, lookups, decode", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/tokenizer.json`
      yield* fs.writeFileString(path, JSON.stringify(bertTokenizerJson(handVocab)))
      const t = yield* loadTokenizer(path, { threads: 2 })
      expect(t.vocabSize).toBe(Object.keys(handVocab).length)
      expect(t.tokenToId("[CLS]")).toBe(2)
      expect(t.idToToken(handVocab["##aff"]!)).toBe("##aff")
      const text = "The quick brown fox jumped."
      expect(Array.from(yield* t.encode(text, { maxLength: 4 }))).toEqual(["[CLS]", "the", "quick", "[SEP]"].map((x) => handVocab[x]!))
      const texts = [text, "unaffable", "", "the fox ".repeat(600)]
      const batch = yield* t.encodeBatch(texts, { maxLength: 512 })
      for (const [i, ids] of batch.entries()) expect(Array.from(ids)).toEqual(Array.from(yield* t.encode(texts[i]!, { maxLength: 512 })))
      expect(batch[3]!.length).toBe(512)
      expect(batch[3]![511]).toBe(handVocab["[SEP]"])
      expect(yield* t.decode(batch[0]!, { skipSpecialTokens: true })).toBe("the quick brown fox jumped.")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("refuses, with a typed Unsupported or Parse error, WordPiece setups it would not encode as HF does", () =>
    Effect.gen(function*() {
      const variant = (mutate: Mutate) => {
        const json = bertTokenizerJson(handVocab)
        mutate(json)
        return JSON.stringify(json)
      }
      const reasonOf = (json: string) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(makeTokenizer(json, { name: "bert.json" }))
          if (!Exit.isFailure(exit)) return "loaded"
          const fail = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: unknown } | undefined
          expect(fail?.error).toBeInstanceOf(TokenizerError)
          return `${(fail!.error as TokenizerError).reason}: ${(fail!.error as TokenizerError).message}`
        })
      expect(yield* reasonOf(variant((j) => {
        j["decoder"] = { type: "ByteLevel" }
      }))).toMatch(/^Unsupported: .*decoder "ByteLevel" with model "WordPiece"/)
      expect(yield* reasonOf(variant((j) => {
        j["pre_tokenizer"] = { type: "ByteLevel", add_prefix_space: false, use_regex: true }
      }))).toMatch(/^Unsupported: .*ByteLevel step/)
      expect(yield* reasonOf(variant((j) => {
        j["model"] = { type: "WordLevel", vocab: handVocab, unk_token: "[UNK]" }
      }))).toMatch(/^Unsupported: .*model "WordLevel"/)
      expect(yield* reasonOf(variant((j) => setModel(j, "unk_token", "<unk>")))).toMatch(/^Parse: .*unk_token "<unk>"/)
      expect(yield* reasonOf(variant((j) => {
        j["normalizer"] = { type: "BertNormalizer", strip_accents: "yes" }
      }))).toMatch(/^Parse: .*strip_accents/)
    }))
})

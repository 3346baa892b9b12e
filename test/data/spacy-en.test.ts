import { describe, expect, it } from "@effect/vitest"
import { C4_JAVASCRIPT, C4_LOREM_IPSUM, C4_PHRASE_HINTS, C4_POLICY_PHRASES } from "../../src/data/text/c4-phrases.ts"
import {
  countSentences,
  currentVocab,
  docTokens,
  pyRegexToJs,
  SPAN_C4_LOWER_HINT,
  SpacyTokenizer,
  spacyTokens,
  wordTokenize
} from "../../src/data/text/spacy-en/index.ts"

// Expected tokens are derived by hand from spaCy's English rules (prefix/suffix/infix lists, tokenizer
// exceptions, URL pattern) and match what spaCy documents for these constructions.
describe("spaCy English word tokenizer", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["Hello, world!", ["Hello", ",", "world", "!"]],
    // Contractions are tokenizer exceptions: "n't" is its own token, "can't" becomes "ca" + "n't".
    ["Don't stop, we can't.", ["Do", "n't", "stop", ",", "we", "ca", "n't", "."]],
    // The typographic apostrophe twins every exception.
    ["don’t", ["do", "n’t"]],
    ["I'm gonna go", ["I", "'m", "gon", "na", "go"]],
    // Abbreviations with periods are exceptions; a trailing "?" is still a suffix.
    ["the U.S. and the U.K.?", ["the", "U.S.", "and", "the", "U.K.", "?"]],
    ["Mr. Smith", ["Mr.", "Smith"]],
    // Brackets are prefixes/suffixes; "approx" keeps no period (the period after a lowercase letter is a suffix).
    ["(approx.)", ["(", "approx", ".", ")"]],
    // Hyphens between letters are infixes; between digits too (the [0-9] lookbehind rule).
    ["well-known 3-4", ["well", "-", "known", "3", "-", "4"]],
    // Units after a number and currency before it are split off.
    ["5km for $5.99", ["5", "km", "for", "$", "5.99"]],
    ["10a.m.", ["10", "a.m."]],
    // The URL pattern keeps a whole URL as one token.
    ["see https://example.com/a?b=1 now", ["see", "https://example.com/a?b=1", "now"]],
    // An emoticon split by the affix rules is put back together by the special-case pass.
    ["Hello:)", ["Hello", ":)"]],
    // "'s" is a suffix; "..." is a suffix (`\.\.+`).
    ["John's dog...", ["John", "'s", "dog", "..."]],
    // Whitespace runs other than one space are tokens, which word_tokenize strips away.
    ["a  b\n\nc", ["a", "b", "c"]]
  ]
  for (const [text, expected] of cases) {
    it(`tokenizes ${JSON.stringify(text)}`, () => {
      expect(wordTokenize(text)).toEqual(expected)
    })
  }

  it("keeps whitespace tokens and the one-space flag like spaCy's Doc", () => {
    expect(spacyTokens("a  b\n")).toEqual([
      { text: "a", space: true },
      { text: " ", space: false },
      { text: "b", space: false },
      { text: "\n", space: false }
    ])
  })

  it("translates Python regex escapes to JavaScript unicode-mode syntax", () => {
    expect(pyRegexToJs("\\'\\!\\U0001F600[\\w\\-]\\d")).toBe("'!\\u{1F600}[\\p{L}\\p{N}_\\-]\\p{Nd}")
  })
})

describe("spaCy sentencizer", () => {
  it("starts a sentence after a terminal punctuation token", () => {
    expect(countSentences("One. Two three! Four?")).toBe(3)
  })
  it("does not split after an abbreviation that is one token", () => {
    expect(countSentences("Mr. Smith left.")).toBe(1)
  })
  it("treats a run of punctuation tokens as one boundary", () => {
    expect(countSentences("Hi!!! Yes")).toBe(2)
  })
  it("does not split on an ellipsis token (not a sentencizer character)", () => {
    expect(countSentences("Wait... what")).toBe(1)
  })
  it("counts an empty text as one piece, as datatrove's split_into_sentences does", () => {
    expect(countSentences("")).toBe(1)
  })
})

describe("the tokenizer's state", () => {
  it("belongs to its instance: a tokenizer of its own fills its own Vocab generations, not the shared one's", () => {
    const shared = currentVocab()
    const own = new SpacyTokenizer(8)
    const first = own.currentVocab
    const texts = Array.from({ length: 40 }, (_, i) => `word${i} and (more${i}) don't stop.`)
    for (const text of texts) expect(own.wordTokenize(text)).toEqual(wordTokenize(text))
    expect(own.currentVocab).not.toBe(first)
    expect(own.currentVocab).not.toBe(shared)
    expect(currentVocab()).toBe(shared)
  })
})

describe("C4 phrase hints", () => {
  it("every C4 phrase contains a hint, and each hint is one word", () => {
    for (const phrase of [C4_LOREM_IPSUM, C4_JAVASCRIPT, ...C4_POLICY_PHRASES]) {
      expect(C4_PHRASE_HINTS.some((h) => phrase.includes(h)), phrase).toBe(true)
    }
    for (const hint of C4_PHRASE_HINTS) expect(hint).toMatch(/^[a-z]+$/)
  })
  it("marks a text whose runs hold a hint, in any case and inside split runs", () => {
    expect(docTokens("Read our Privacy Policy.").flags & SPAN_C4_LOWER_HINT).toBe(SPAN_C4_LOWER_HINT)
    expect(docTokens("(COOKIES!)").flags & SPAN_C4_LOWER_HINT).toBe(SPAN_C4_LOWER_HINT)
    expect(docTokens("Plain words, nothing more.").flags & SPAN_C4_LOWER_HINT).toBe(0)
  })
})

import { describe, expect, it } from "@effect/vitest"
import { C4QualityFilter } from "../../src/data/filters/c4-quality.ts"
import {
  allDuplicateChars,
  allDuplicateCharsOfInfos,
  allDuplicateCharsSlow,
  topDuplicateChars,
  topDuplicateCharsOfInfos,
  topDuplicateCharsSlow
} from "../../src/data/filters/gopher-repetition.ts"
import { setCheckRememberedWords, splitIntoWords } from "../../src/data/text/datatrove-text.ts"
import {
  countSentences,
  countSentencesReference,
  pieceInfo,
  spacyTokens,
  spacyTokensReference,
  wordTokenize,
  wordTokenizeReference
} from "../../src/data/text/spacy-en.ts"

// The filters run on a fast path (cached span pieces in flat arrays, hashed n-grams, words handed from C4 to the
// next filter); these tests hold it to the straightforward implementations on generated text full of the cases
// where the rules differ: URLs, emoticons, contractions, abbreviations, Unicode punctuation, numbers and units,
// special cases split by affixes, whitespace other than spaces, and characters outside the BMP.
const PIECES = [
  "the", "The", "of", "and", "to", "a", "in", "is", "it", "that", "this", "was", "there", "who", "what", "a.", "o.",
  "it's", "It's", "that's", "there’s", "don't", "can't", "won't", "I'm", "you're", "we'll", "they'd", "y'all",
  "gonna", "cannot", "Let's", "ma'am", "o'clock", "lovin'", "'cause", "'em", "doin'", "'s", "'", "’",
  "U.S.", "U.K.?", "Mr.", "Dr.", "e.g.", "i.e.,", "Ph.D.", "etc.", "vs.", "St.", "Calif.", "N.Y.", "a.m.", "10a.m.", "5pm",
  "https://example.com/a?b=1", "www.example.org", "http://x.co/y,", "user@example.com", "(see", "example.com)",
  ":)", ":-)", ";)", ":(", "(:", "=)", "<3", "</3", "^_^", "o_O", ":D", "xD", "¯\\(ツ)/¯", "(-_-)", "Hello:)", "(:Hi",
  "well-known", "3-4", "1,000", "5.99", "$5", "€10", "US$3", "5km", "10kg", "3.5GB", "20°C.", "°F.", "+1", "1+", "50%",
  "A.B.C.", "ABC.", "abc.", "x.Y", "a,b", "a/b", "a:b", "a<b", "a=b", "and/or", "w/o", "C++", "--", "—", "–", "~",
  "...", "…", "..", "!!!", "?!", "!", "?", ".", ",", ";", ":", "\"quoted\"", "“curly”", "‘single’", "«guillemets»",
  "(paren)", "[bracket]", "{brace}", "[1]", "[edit]", "[citation needed]", "#tag", "@user", "*star*", "_under_",
  "¿Qué?", "¡Hola!", "。", "！", "？", "，", "中文。", "日本語、", "Привет.", "é.", "Ä.", "ñandú", "İstanbul",
  "😀", "👍🏽.", "a😀b", "𝔘𝔫𝔦", "‼", "‽", "।", "؟", "\u00ad", "lorem", "ipsum", "javascript", "privacy", "policy",
  "\\n", "\\t", "<space>", "''", "'\")", "8)", "8-)", "(8", "=|", ":|", "]=", "=[", ">:(", ">.<", "v.v"
]
const SEPARATORS = [" ", " ", " ", " ", " ", "  ", "\t", "\u00a0", " \u3000", "\u2009", "\n", "\n\n", " \n", "\r\n", "\f"]

const generate = (seed0: number, count: number): Array<string> => {
  let seed = seed0
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rnd() * xs.length)]!
  return Array.from({ length: count }, () => {
    let text = rnd() < 0.1 ? pick(SEPARATORS) : ""
    const n = 5 + Math.floor(rnd() * 200)
    for (let i = 0; i < n; i++) {
      // Glue pieces together sometimes, so affixes and specials meet in one span.
      text += pick(PIECES) + (rnd() < 0.15 ? "" : pick(SEPARATORS))
    }
    return text
  })
}

const texts = [...generate(1, 400), ...generate(7, 400).map((t) => t.replace(/\n/g, " ")), "", " ", "\n", "a", "a ", " a"]

describe("spaCy tokenizer fast path", () => {
  it("gives the reference tokens, words and sentence counts on generated edge cases", () => {
    for (const text of texts) {
      expect(spacyTokens(text), JSON.stringify(text)).toEqual(spacyTokensReference(text))
      expect(wordTokenize(text)).toEqual(wordTokenizeReference(text))
      expect(countSentences(text)).toBe(countSentencesReference(text))
      for (const line of text.split("\n")) expect(countSentences(line)).toBe(countSentencesReference(line))
    }
  })
})

describe("GopherRepetition n-gram statistics", () => {
  const wordLists: Array<ReadonlyArray<string>> = [
    [],
    ["a"],
    // ""-joined n-grams can be equal with different word boundaries.
    ["ab", "c", "d", "e", "f", "a", "bc", "d", "e", "f", "abc", "d", "e", "f"],
    ["x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y"],
    ["a", "b", "a", "b", "c", "c", "c", "c", "a", "b"],
    // Surrogate pairs, and a pair that only forms when ""-joined.
    ["😀", "a", "😀", "a", "😀", "a", "\ud83d", "\ude00", "b", "\ud83d", "\ude00", "b", "😀", "b"]
  ]
  for (const text of texts.slice(0, 200)) wordLists.push(wordTokenizeReference(text))
  for (const text of generate(3, 100)) {
    // Heavy repetition: the same few words over and over.
    const ws = wordTokenizeReference(text).slice(0, 6)
    const rep: Array<string> = []
    for (let i = 0; i < 60; i++) rep.push(ws[(i * 7 + (i >> 3)) % Math.max(ws.length, 1)] ?? "w")
    wordLists.push(rep)
  }
  it("hashed statistics equal the string-building ones", () => {
    for (const words of wordLists) {
      const infos = words.map(pieceInfo)
      const plain = !words.some((w) => /[\ud800-\udfff ]/.test(w))
      for (const n of [1, 2, 3, 4]) {
        const expected = topDuplicateCharsSlow(words, n)
        expect(topDuplicateChars(words, n)).toBe(expected)
        if (plain) expect(topDuplicateCharsOfInfos(infos, n)).toBe(expected)
      }
      for (const n of [1, 2, 5, 6, 7, 8, 9, 10]) {
        const expected = allDuplicateCharsSlow(words, n)
        expect(allDuplicateChars(words, n)).toBe(expected)
        if (plain) expect(allDuplicateCharsOfInfos(infos, n)).toBe(expected)
      }
    }
  })
})

describe("C4QualityFilter hands its words on", () => {
  it("the words it remembers for the text it writes are wordTokenize's", () => {
    setCheckRememberedWords(true)
    try {
      const c4 = C4QualityFilter({ filterNoTerminalPunct: false, filterCurlyBracket: false, filterLoremIpsum: false, minNumSentences: 1 })
      let kept = 0
      for (const text of texts) {
        const r = c4.filter({ id: "x", text, metadata: {} })
        if (r._tag === "Keep") {
          kept++
          expect(splitIntoWords(r.doc.text)).toEqual(wordTokenizeReference(r.doc.text))
        }
      }
      expect(kept).toBeGreaterThan(100)
    } finally {
      setCheckRememberedWords(false)
    }
  })
})

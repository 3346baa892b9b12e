import { describe, expect, it } from "@effect/vitest"
import { C4QualityFilter, type C4QualityOptions } from "../../src/data/filters/c4-quality.ts"
import { gopherLineStats } from "../../src/data/filters/gopher-quality.ts"
import {
  allDuplicateCharsOfWords,
  findDuplicates,
  GopherRepetitionFilter,
  gopherRepetitionDefaults,
  topDuplicateCharsOfWords
} from "../../src/data/filters/gopher-repetition.ts"
import {
  allDuplicateCharsReference,
  findDuplicatesReference,
  gopherRepetitionReference,
  topDuplicateCharsReference
} from "../../src/data/filters/gopher-repetition.reference.ts"
import {
  forgetRecentTexts,
  setCheckRememberedWords,
  splitIntoWordIds,
  splitIntoWords
} from "../../src/data/text/datatrove-text.ts"
import { lstripStartsWith, pyLen, pySplitlines, pyStrip, rstripEndsWith } from "../../src/data/text/pytext.ts"
import {
  countSentences,
  countSentencesReference,
  currentVocab,
  docTokens,
  spacyTokens,
  setVocabLimit,
  spacyTokensReference,
  startNewVocab,
  WordBuffer,
  Words,
  wordTokenize,
  wordTokenizeReference
} from "../../src/data/text/spacy-en/index.ts"

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
  "\\n", "\\t", "<space>", "''", "'\")", "8)", "8-)", "(8", "=|", ":|", "]=", "=[", ">:(", ">.<", "v.v",
  // C4's lowercased phrases, in other cases, split by a citation, and with a Kelvin sign that lowercases to "k".
  "Lorem Ipsum", "JavaScript", "java[1]script", "Privacy Policy", "use cookies", "Use Coo\u212Aies", "terms of use",
  "cookie", "• item", "- item", "more...", "more…", "ΣΑΣ."
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

/** Words the fast n-gram statistics refuse: a space, or half a surrogate pair at an edge (joins could pair it). */
const spaceOrLoneEdge = (w: string) => w.includes(" ") || /^[\udc00-\udfff]|[\ud800-\udbff]$/.test(w)

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

describe("tokenizer cache generations", () => {
  it("tokenize and filter the same while generations fill and roll over (spans carried from the previous one)", () => {
    const chain = () => [GopherRepetitionFilter(), C4QualityFilter({ filterNoTerminalPunct: false, minNumSentences: 1 })]
    const run = () => {
      const filters = chain()
      return texts.slice(0, 300).map((text, i) => {
        let doc = { id: String(i), text, metadata: {} }
        for (const f of filters) {
          const r = f.filter(doc)
          if (r._tag === "Drop") return `drop ${r.reason}`
          doc = r.doc
        }
        return `keep ${doc.text}`
      })
    }
    forgetRecentTexts()
    const expected = run()
    try {
      // A generation fills every few texts; the memo still holds tokens of older generations.
      setVocabLimit(60)
      startNewVocab()
      forgetRecentTexts()
      let generations = new Set<unknown>()
      for (const text of texts) {
        expect(wordTokenize(text), JSON.stringify(text)).toEqual(wordTokenizeReference(text))
        generations.add(currentVocab())
      }
      expect(generations.size).toBeGreaterThan(20)
      expect(currentVocab().previous).not.toBeNull()
      expect(run()).toEqual(expected)
      generations = new Set()
      // Filters over documents tokenized in generations that are gone by the time the filter sees them.
      for (const text of texts.slice(0, 300)) splitIntoWordIds(text)
      expect(run()).toEqual(expected)
    } finally {
      setVocabLimit(500_000)
      startNewVocab()
      forgetRecentTexts()
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
  it("the top n-gram on ties is Counter.most_common's: the first inserted, not the first to reach the count", () => {
    // Python: Counter(["a b", "b q", "q xx", "xx yy", "yy r", "r xx", "xx yy", "yy s", "s a", "a b"]).most_common(1)
    // is [("a b", 2)] (inserted first), so find_top_duplicate returns len("a b") * 2 = 6, although "xx yy" got
    // its second occurrence earlier.
    const words = ["a", "b", "q", "xx", "yy", "r", "xx", "yy", "s", "a", "b"]
    expect(topDuplicateCharsReference(words, 2)).toBe(6)
    expect(topDuplicateCharsOfWords(Words.of(words), 2)).toBe(6)
  })

  it("numbered and glued statistics equal the string-building ones", () => {
    // Words with a space or a lone surrogate at an edge are the reference's own case (the filter runs it on them).
    for (const words of wordLists) {
      if (words.some(spaceOrLoneEdge)) continue
      const ids = Words.of(words)
      for (const n of [1, 2, 3, 4]) expect(topDuplicateCharsOfWords(ids, n)).toBe(topDuplicateCharsReference(words, n))
      for (const n of [1, 2, 5, 6, 7, 8, 9, 10]) {
        expect(allDuplicateCharsOfWords(ids, n)).toBe(allDuplicateCharsReference(words, n))
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

describe("DocTokens: a stripped line's words and sentences from the whole text's tokens", () => {
  it("equal tokenizing the line on its own", () => {
    for (const text of texts) {
      const dt = docTokens(text)
      const n = text.length
      let start = 0
      // pySplitlines boundaries as offsets, each line stripped.
      for (let i = 0; i <= n; i++) {
        const c = i < n ? text.charCodeAt(i) : -1
        if (!(c === -1 || [10, 13, 11, 12, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029].includes(c))) continue
        if (c === -1 && start >= n) break
        const end = i
        if (c === 13 && text.charCodeAt(i + 1) === 10) i++
        let a = start
        let b = end
        while (a < b && pyStrip(text[a]!) === "") a++
        while (b > a && pyStrip(text[b - 1]!) === "") b--
        start = i + 1
        const line = text.slice(a, b)
        const words = new WordBuffer()
        const sentences = dt.rangeWordsAndSentences(a, b, words)
        expect(words.words()!.texts(), JSON.stringify(line)).toEqual(wordTokenizeReference(line))
        expect(sentences).toBe(countSentencesReference(line))
      }
      expect(dt.words().texts()).toEqual(wordTokenizeReference(text))
    }
  })
})

describe("GopherRepetition numbered and windowed n-gram statistics", () => {
  it("equal the string-building ones", () => {
    const lists: Array<ReadonlyArray<string>> = [
      [],
      ["a"],
      ["ab", "c", "d", "e", "f", "a", "bc", "d", "e", "f", "abc", "d", "e", "f", "ab", "cd", "e", "f"],
      ["x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y"],
      // Long words: windows that end inside the first word, and equal n-grams far apart.
      ["internationalization", "of", "the", "internationalization", "of", "the", "world", "internationalization", "of"],
      // Astral characters: lengths in code points, windows and hashes in UTF-16 units.
      ["😀😀", "a", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "b", "c", "😀😀", "a", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "b", "c", "😀", "😀a", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "b", "c", "d"],
      Array.from({ length: 40 }, (_, i) => ["👍🏽", "x", "𝔘", "yy", "😀z"][i % 5]!)
    ]
    for (const text of texts.slice(0, 200)) lists.push(wordTokenizeReference(text))
    for (const words of lists) {
      if (words.some(spaceOrLoneEdge)) continue
      const ids = Words.of(words)
      for (const n of [1, 2, 3, 4, 5]) expect(topDuplicateCharsOfWords(ids, n)).toBe(topDuplicateCharsReference(words, n))
      for (const n of [1, 2, 3, 5, 6, 7, 8, 9, 10]) {
        expect(allDuplicateCharsOfWords(ids, n)).toBe(allDuplicateCharsReference(words, n))
      }
    }
  })
})

// datatrove's GopherRepetitionFilter.filter, straight from its definition (strings, sets, Counter-like maps), on the
// reference tokenizer's words.
const gopherReference = (text: string): string | null =>
  gopherRepetitionReference(text, wordTokenizeReference(text), gopherRepetitionDefaults)

describe("GopherRepetitionFilter against its straightforward definition", () => {
  it("decides the same on generated texts, repetitive ones, astral characters and lone surrogates", () => {
    const rnd = (() => {
      let seed = 11
      return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    })()
    const vocabulary = ["the", "cat", "sat", "on", "mat", "😀", "a😀b", "𝔘𝔫𝔦", "x\ud83d", "\ude00y", "ab", "c", "a", "bc", ".", ","]
    const cases: Array<string> = [...texts.slice(0, 200)]
    for (let k = 0; k < 300; k++) {
      // Short vocabularies repeat n-grams; lone halves of a pair meet across words when n-grams are glued.
      const v = vocabulary.slice(0, 3 + Math.floor(rnd() * vocabulary.length))
      const n = 20 + Math.floor(rnd() * 200)
      let t = ""
      for (let i = 0; i < n; i++) t += v[Math.floor(rnd() * v.length)]! + (rnd() < 0.1 ? "\n" : " ")
      cases.push(t)
    }
    const reasons = new Map<string, number>()
    for (const text of cases) {
      if (pyLen(text) === 0) continue
      const ours = GopherRepetitionFilter().filter({ id: "x", text, metadata: {} })
      const expected = gopherReference(text)
      expect(ours._tag === "Keep" ? null : ours.reason, JSON.stringify(text.slice(0, 200))).toBe(expected)
      reasons.set(String(expected), (reasons.get(String(expected)) ?? 0) + 1)
    }
    // A passage repeated after 63 filler words, with half a pair at the end of one word and the other half at the
    // start of the next: glued into n-grams they make one character, so the 5-gram share is just under its
    // threshold and the 6-gram rule is the one that drops (counting the halves apart would say 5).
    const passage = ["x\ud83d", "\ude00y", ...Array.from({ length: 28 }, (_, i) => "p" + i.toString(36))]
    const paired = [...passage, ...Array.from({ length: 63 }, (_, i) => "f" + i.toString(36)), ...passage].join(" ")
    expect(gopherReference(paired)).toBe("duplicated_6_n_grams")
    expect(GopherRepetitionFilter().filter({ id: "x", text: paired, metadata: {} })).toEqual({ _tag: "Drop", reason: "duplicated_6_n_grams" })
    // The cases reach the n-gram rules, not only the line rules.
    expect([...reasons.keys()].filter((r) => r.startsWith("top_") || r.startsWith("duplicated_")).length).toBeGreaterThan(2)
    expect(() => topDuplicateCharsOfWords(Words.of(["x\ud83d", "\ude00y"]), 1)).toThrow()
  })
})

describe("find_duplicates", () => {
  it("counts repeated elements and their characters as the plain set scan does", () => {
    const lists: Array<ReadonlyArray<string>> = [[], ["a"], ["ab", "ba", "ab", "c", "ab", "😀", "😀", "ba"]]
    for (const text of texts.slice(0, 300)) lists.push(text.split("\n"), text.split(" "))
    for (const xs of lists) expect(findDuplicates(xs)).toEqual(findDuplicatesReference(xs))
    // Lines as GopherRepetitionFilter cuts them (runs of "\n" are one break): a document of repeated lines drops.
    const doc = { id: "x", text: "one line here\n\n\ntwo\none line here\nthree\none line here\nfour", metadata: {} }
    expect(GopherRepetitionFilter().filter(doc)).toEqual({ _tag: "Drop", reason: "dup_line_frac" })
  })
})

describe("GopherQuality line statistics", () => {
  it("equal counting over splitlines", () => {
    for (const text of [...texts, "- a\n • b\n...\nc …  \n\r\n", "a..\n..\n.", "\u2028-x...\u2029\f"]) {
      const lines = pySplitlines(text)
      expect(gopherLineStats(text), JSON.stringify(text)).toEqual({
        lines: lines.length,
        bullets: lines.filter((l) => lstripStartsWith(l, "•") || lstripStartsWith(l, "-")).length,
        ellipses: lines.filter((l) => rstripEndsWith(l, "...") || rstripEndsWith(l, "…")).length
      })
    }
  })
})

// datatrove's C4QualityFilter, line by line, straight from its definition.
const c4Reference = (text: string, o: C4QualityOptions): { keep: boolean; text?: string; reason?: string } => {
  let numSentences = 0
  const kept: Array<string> = []
  for (const raw of pySplitlines(text)) {
    let line = pyStrip(raw)
    const words = line.split(/[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/).filter((w) => w.length > 0)
    if (o.maxWordLength !== -1 && words.some((w) => pyLen(w) > o.maxWordLength)) continue
    if (o.removeCitations) line = line.replace(/\[\d*]|\[edit]|\[citation needed]/g, "")
    if (o.filterNoTerminalPunct && (![".", "?", "!", "\"", "'"].some((p) => line.endsWith(p)) || line.endsWith("..."))) continue
    if (words.length < o.minWordsPerLine) continue
    const lower = line.toLowerCase()
    if (o.filterLoremIpsum && lower.includes("lorem ipsum")) return { keep: false, reason: "lorem_ipsum" }
    if (o.filterJavascript && lower.includes("javascript")) continue
    if (o.filterCurlyBracket && line.includes("{")) return { keep: false, reason: "curly_bracket" }
    if (o.filterPolicy && ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"].some((p) => lower.includes(p))) continue
    if (o.minNumSentences !== -1) numSentences += countSentencesReference(line)
    kept.push(line)
  }
  if (numSentences < o.minNumSentences) return { keep: false, reason: "too_few_sentences" }
  return { keep: true, text: pyStrip(kept.join("\n")) }
}

describe("C4QualityFilter on the document's tokens", () => {
  it("decides and rewrites as the line-by-line definition", () => {
    const base: C4QualityOptions = {
      splitParagraph: true, removeCitations: true, filterNoTerminalPunct: false, minNumSentences: 3, minWordsPerLine: 3,
      maxWordLength: 1000, filterLoremIpsum: true, filterJavascript: true, filterCurlyBracket: false, filterPolicy: true
    }
    const variants: Array<C4QualityOptions> = [
      base,
      { ...base, filterNoTerminalPunct: true, minNumSentences: 1 },
      { ...base, removeCitations: false, filterLoremIpsum: false, minWordsPerLine: 1, maxWordLength: 12 },
      { ...base, filterCurlyBracket: true, minNumSentences: 5 }
    ]
    let kept = 0
    let dropped = 0
    for (const o of variants) {
      const c4 = C4QualityFilter(o)
      for (const text of texts) {
        // Tokens of the whole text may already be memoized (as after Gopher) or not.
        if (text.length % 2 === 0) splitIntoWordIds(text)
        const r = c4.filter({ id: "x", text, metadata: {} })
        const ref = c4Reference(text, o)
        if (r._tag === "Keep") {
          kept++
          expect(ref, JSON.stringify(text)).toEqual({ keep: true, text: r.doc.text })
        } else {
          dropped++
          expect(ref, JSON.stringify(text)).toEqual({ keep: false, reason: r.reason })
        }
      }
    }
    expect(kept).toBeGreaterThan(100)
    expect(dropped).toBeGreaterThan(100)
  })
})

describe("the word memo", () => {
  it("connects the filters over more documents than datatrove's five, and forgets on request", () => {
    const docs = texts.slice(0, 100).map((text, i) => ({ id: String(i), text, metadata: {} }))
    const one = GopherRepetitionFilter()
    const verdicts = docs.map((d) => one.filter(d)._tag)
    forgetRecentTexts()
    // Stream-like: every document through the tokenizer first, then the filter over all of them.
    for (const d of docs) splitIntoWordIds(d.text)
    expect(docs.map((d) => GopherRepetitionFilter().filter(d)._tag)).toEqual(verdicts)
    for (const d of docs) expect(splitIntoWords(d.text)).toEqual(wordTokenizeReference(d.text))
  })
})

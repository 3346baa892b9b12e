import type { Document } from "../Document.ts"
import { countSentencesAndWords, rememberWords } from "../text/datatrove-text.ts"
import { isPySpaceCode, pyLen, pySplitlines, pyStrip } from "../text/pytext.ts"
import { type PieceInfo, sentenceStarts, spacyTokens } from "../text/spacy-en.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * C4's line and page heuristics (Raffel et al. 2020, https://jmlr.org/papers/volume21/20-074/20-074.pdf, and
 * tensorflow_datasets c4_utils.py), as datatrove's pipeline/filters/c4_filters.py C4QualityFilter applies them:
 * lines are judged one by one, a page needs `minNumSentences` sentences (spaCy sentencizer) in its kept lines,
 * and a kept page's text becomes its kept lines, stripped, joined with "\n". FineWeb runs it with
 * `filter_no_terminal_punct=False`.
 */
export interface C4QualityOptions {
  /** Split on lines (the C4 default); false judges sentences instead. */
  readonly splitParagraph: boolean
  readonly removeCitations: boolean
  readonly filterNoTerminalPunct: boolean
  /** -1 disables. */
  readonly minNumSentences: number
  readonly minWordsPerLine: number
  /** -1 disables. */
  readonly maxWordLength: number
  readonly filterLoremIpsum: boolean
  readonly filterJavascript: boolean
  readonly filterCurlyBracket: boolean
  readonly filterPolicy: boolean
}

export const c4QualityDefaults: C4QualityOptions = {
  splitParagraph: true,
  removeCitations: true,
  filterNoTerminalPunct: true,
  minNumSentences: 5,
  minWordsPerLine: 3,
  maxWordLength: 1000,
  filterLoremIpsum: true,
  filterJavascript: true,
  filterCurlyBracket: true,
  filterPolicy: true
}

const CITATION = /\[\d*]|\[edit]|\[citation needed]/g
const END_PUNCTUATION = [".", "?", "!", "\"", "'"]
const POLICY_SUBSTRINGS = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]

/** Sentence pieces for `split_paragraph=False`: spaCy sentence spans cut at their ends, as split_into_sentences. */
const splitIntoSentences = (text: string): Array<string> => {
  const tokens = spacyTokens(text)
  const starts = sentenceStarts(tokens)
  // Character offsets of sentence ends: the end of the last token of each sentence.
  const offsets: Array<number> = []
  let pos = 0
  const tokStart: Array<number> = []
  const tokEnd: Array<number> = []
  for (const t of tokens) {
    const at = text.indexOf(t.text, pos)
    tokStart.push(at)
    tokEnd.push(at + t.text.length)
    pos = at + t.text.length
  }
  for (let s = 0; s < starts.length; s++) {
    const lastTok = (s + 1 < starts.length ? starts[s + 1]! : tokens.length) - 1
    offsets.push(tokEnd[lastTok]!)
  }
  if (offsets.length === 0) return [text]
  const ends = [...offsets.slice(0, -1), text.length]
  const begins = [0, ...offsets.slice(0, -1)]
  return begins.map((b, i) => text.slice(b, ends[i]))
}

/**
 * `len(line.split())` and whether a word is longer than `maxLen` code points (-1: no limit), without building
 * the words.
 */
const countWords = (line: string, maxLen: number): { readonly count: number; readonly tooLong: boolean } => {
  let count = 0
  let tooLong = false
  let start = -1
  const n = line.length
  for (let i = 0; i <= n; i++) {
    const c = i < n ? line.charCodeAt(i) : 32
    const ws = c === 32 || (c < 128 ? (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) : isPySpaceCode(c))
    if (ws) {
      if (start >= 0) {
        count++
        // A word of more than maxLen code points has more than maxLen UTF-16 units.
        if (maxLen !== -1 && i - start > maxLen && pyLen(line.slice(start, i)) > maxLen) tooLong = true
        start = -1
      }
    } else if (start < 0) start = i
  }
  return { count, tooLong }
}

export const C4QualityFilter = (options: Partial<C4QualityOptions> = {}): DocFilter => {
  const o = { ...c4QualityDefaults, ...options }
  // With split_paragraph, the kept text is the kept lines joined with "\n": its words are the lines' words in
  // order (whitespace never belongs to a word, and no special-case pattern spans a whitespace token), so the
  // sentence counting pass also yields the words FineWebQualityFilter will ask for.
  const collectWords = o.splitParagraph && o.minNumSentences !== -1
  const decide = (doc: Document) => {
    const lines = o.splitParagraph ? pySplitlines(doc.text) : splitIntoSentences(doc.text)
    let numSentences = 0
    const kept: Array<string> = []
    const words: Array<PieceInfo> = []
    for (const raw of lines) {
      let line = pyStrip(raw)
      // Words are counted on the stripped line before citations are removed, as in datatrove.
      const w = countWords(line, o.maxWordLength)
      if (w.tooLong) continue
      if (o.removeCitations && line.includes("[")) line = line.replace(CITATION, "")
      if (o.filterNoTerminalPunct && (!END_PUNCTUATION.some((p) => line.endsWith(p)) || line.endsWith("..."))) continue
      if (w.count < o.minWordsPerLine) continue
      const lower = line.toLowerCase()
      if (o.filterLoremIpsum && lower.includes("lorem ipsum")) return drop("lorem_ipsum")
      if (o.filterJavascript && lower.includes("javascript")) continue
      if (o.filterCurlyBracket && line.includes("{")) return drop("curly_bracket")
      if (o.filterPolicy && POLICY_SUBSTRINGS.some((p) => lower.includes(p))) continue
      if (o.minNumSentences !== -1) numSentences += o.splitParagraph ? countSentencesAndWords(line, words) : 1
      kept.push(line)
    }
    if (numSentences < o.minNumSentences) return drop("too_few_sentences")
    const text = pyStrip(kept.join(o.splitParagraph ? "\n" : " "))
    if (collectWords) rememberWords(text, words)
    return keep({ ...doc, text })
  }
  return { id: "c4_quality", filter: decide }
}

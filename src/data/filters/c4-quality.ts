import type { Document } from "../Document.ts"
import { C4_JAVASCRIPT, C4_LOREM_IPSUM, C4_PHRASE_HINTS, C4_POLICY_PHRASES } from "../text/c4-phrases.ts"
import { countSentencesAndWords, documentTokens, memoizedTokens, rememberWords, textOnlyNewlineBreaks } from "../text/datatrove-text.ts"
import { isPySpaceCode, pyLen, pyLineEnd, pyNextLine, pyStrip } from "../text/pytext.ts"
import { type DocTokens, sentenceStarts, SPAN_C4_LOWER_HINT, spacyTokens, WordBuffer } from "../text/spacy-en/index.ts"
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
/**
 * Every lowercased phrase C4 looks for contains one of C4_PHRASE_HINTS. Where `text.toLowerCase()` contains one,
 * the text matches case-insensitively: the only characters that lowercase to ASCII letters are the letters
 * themselves, the Kelvin sign (k) and İ (i followed by U+0307, which no hint has after an i), and all of them fold
 * to that letter.
 */
const LOWER_HINTS = new RegExp(C4_PHRASE_HINTS.join("|"), "iu")

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
const countWords = (line: string, maxLen: number, enough: number): { readonly count: number; readonly tooLong: boolean } => {
  // When no word can be too long (the line itself is not), counting stops at `enough` words: the caller only
  // compares the count with it.
  const capped = maxLen === -1 || line.length <= maxLen
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
        if (capped && count >= enough) return { count, tooLong: false }
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
  // Reused from document to document (its words() is a copy).
  const lineWords = new WordBuffer()
  // With split_paragraph, each line is a stripped line of the document, so its words and sentence count come from
  // the document's tokens (DocTokens, shared with the filters before through the memo) unless removing
  // citations changed it.
  const judgeLine = (
    line: string,
    w: { readonly count: number; readonly tooLong: boolean },
    kept: Array<string>,
    lowerChecks: boolean
  ): "skip" | "keep" | "lorem_ipsum" | "curly_bracket" => {
    if (o.filterNoTerminalPunct && (!END_PUNCTUATION.some((p) => line.endsWith(p)) || line.endsWith("..."))) return "skip"
    if (w.count < o.minWordsPerLine) return "skip"
    const lower = lowerChecks ? line.toLowerCase() : ""
    if (lowerChecks && o.filterLoremIpsum && lower.includes(C4_LOREM_IPSUM)) return "lorem_ipsum"
    if (lowerChecks && o.filterJavascript && lower.includes(C4_JAVASCRIPT)) return "skip"
    if (o.filterCurlyBracket && line.includes("{")) return "curly_bracket"
    if (lowerChecks && o.filterPolicy && C4_POLICY_PHRASES.some((p) => lower.includes(p))) return "skip"
    kept.push(line)
    return "keep"
  }
  /**
   * Whether any line of `text` can hit a lowercased check. A line's toLowerCase is a piece of the text's (the one
   * context-dependent mapping, final sigma, gives σ or ς, never an ASCII letter of these words), and every
   * phrase contains one of LOWER_HINTS; only citation removal can join text into a new phrase, and it needs "[".
   */
  const lowerChecksFor = (text: string): boolean => {
    if (!(o.filterLoremIpsum || o.filterJavascript || o.filterPolicy)) return false
    if (text.includes("[")) return true
    // The tokens already know whether any run of the text has a phrase's first word (SPAN_C4_LOWER_HINT).
    const tokens = memoizedTokens(text)
    if (tokens !== null) return (tokens.flags & SPAN_C4_LOWER_HINT) !== 0
    return LOWER_HINTS.test(text)
  }
  const decideLines = (doc: Document) => {
    const text = doc.text
    const n = text.length
    let numSentences = 0
    const kept: Array<string> = []
    const words = lineWords
    words.clear()
    let tokens: DocTokens | null = null
    const lowerChecks = lowerChecksFor(text)
    const simple = textOnlyNewlineBreaks(text)
    // pySplitlines lines, each then pyStrip-ped as offsets [a, b).
    for (let start = 0, end = 0; start < n; start = pyNextLine(text, end)) {
      end = pyLineEnd(text, start, simple)
      let a = start
      let b = end
      while (a < b && isPySpaceCode(text.charCodeAt(a))) a++
      while (b > a && isPySpaceCode(text.charCodeAt(b - 1))) b--
      let line = a === 0 && b === n ? text : text.slice(a, b)
      // Words are counted on the stripped line before citations are removed, as in datatrove.
      const w = countWords(line, o.maxWordLength, o.minWordsPerLine)
      if (w.tooLong) continue
      const original = line
      if (o.removeCitations && line.includes("[")) line = line.replace(CITATION, "")
      const verdict = judgeLine(line, w, kept, lowerChecks)
      if (verdict === "skip") continue
      if (verdict !== "keep") return drop(verdict)
      if (o.minNumSentences !== -1) {
        if (line === original) {
          tokens ??= documentTokens(text)
          numSentences += tokens.rangeWordsAndSentences(a, b, words)
        } else numSentences += countSentencesAndWords(line, words)
      }
    }
    if (numSentences < o.minNumSentences) return drop("too_few_sentences")
    const out = pyStrip(kept.join("\n"))
    if (collectWords) {
      const collected = words.words()
      if (collected !== null) rememberWords(out, collected)
    }
    return keep({ ...doc, text: out })
  }
  const decide = (doc: Document) => {
    if (o.splitParagraph) return decideLines(doc)
    const lines = splitIntoSentences(doc.text)
    let numSentences = 0
    const kept: Array<string> = []
    for (const raw of lines) {
      let line = pyStrip(raw)
      // Words are counted on the stripped line before citations are removed, as in datatrove.
      const w = countWords(line, o.maxWordLength, o.minWordsPerLine)
      if (w.tooLong) continue
      if (o.removeCitations && line.includes("[")) line = line.replace(CITATION, "")
      const verdict = judgeLine(line, w, kept, true)
      if (verdict === "skip") continue
      if (verdict !== "keep") return drop(verdict)
      if (o.minNumSentences !== -1) numSentences += 1
    }
    if (numSentences < o.minNumSentences) return drop("too_few_sentences")
    return keep({ ...doc, text: pyStrip(kept.join(" ")) })
  }
  return { id: "c4_quality", filter: decide }
}

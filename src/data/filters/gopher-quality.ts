import type { Document } from "../Document.ts"
import { splitIntoWordIds, textOnlyNewlineBreaks } from "../text/datatrove-text.ts"
import { isPySpaceCode, onlyNewlineBreaks, pyCount, pyLineEnd, pyNextLine } from "../text/pytext.ts"
import { WORD_ALPHA, WORD_NON_PUNCT } from "../text/spacy-en/index.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * Gopher's quality rules (Rae et al. 2021, https://arxiv.org/pdf/2112.11446.pdf, appendix A1), with the defaults
 * and the order of checks of datatrove's pipeline/filters/gopher_quality_filter.py. A `null` threshold disables
 * its check, as `None` (or 0) does there.
 */
export interface GopherQualityOptions {
  readonly minDocWords: number | null
  readonly maxDocWords: number | null
  readonly minAvgWordLength: number | null
  readonly maxAvgWordLength: number | null
  readonly maxSymbolWordRatio: number | null
  readonly maxBulletLinesRatio: number | null
  readonly maxEllipsisLinesRatio: number | null
  readonly maxNonAlphaWordsRatio: number | null
  readonly minStopWords: number | null
  readonly stopWords: ReadonlyArray<string>
}

export const GOPHER_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]

export const gopherQualityDefaults: GopherQualityOptions = {
  minDocWords: 50,
  maxDocWords: 100_000,
  minAvgWordLength: 3,
  maxAvgWordLength: 10,
  maxSymbolWordRatio: 0.1,
  maxBulletLinesRatio: 0.9,
  maxEllipsisLinesRatio: 0.3,
  maxNonAlphaWordsRatio: 0.8,
  minStopWords: 2,
  stopWords: GOPHER_STOP_WORDS
}

/**
 * Over `text.splitlines()`: how many lines, how many start (after lstrip) with "•" or "-", and how many end
 * (before rstrip) with "..." or "…"; without building the lines.
 */
export const gopherLineStats = (
  text: string,
  simple = onlyNewlineBreaks(text)
): { lines: number; bullets: number; ellipses: number } => {
  let lines = 0
  let bullets = 0
  let ellipses = 0
  for (let start = 0; start < text.length;) {
    const end = pyLineEnd(text, start, simple)
    lines++
    let a = start
    while (a < end && isPySpaceCode(text.charCodeAt(a))) a++
    if (a < end) {
      const f = text.charCodeAt(a)
      if (f === 0x2022 || f === 45) bullets++
      let b = end
      while (b > a && isPySpaceCode(text.charCodeAt(b - 1))) b--
      const l = text.charCodeAt(b - 1)
      if (l === 0x2026 || (l === 46 && b - a >= 3 && text.charCodeAt(b - 2) === 46 && text.charCodeAt(b - 3) === 46)) ellipses++
    }
    start = pyNextLine(text, end)
  }
  return { lines, bullets, ellipses }
}

// Python truthiness: `if self.min_doc_words and …` skips a check set to None or 0.
const on = (x: number | null): x is number => x !== null && x !== 0

export const GopherQualityFilter = (options: Partial<GopherQualityOptions> = {}): DocFilter => {
  const o = { ...gopherQualityDefaults, ...options }
  const stopWords = new Set(o.stopWords)
  const decide = (doc: Document) => {
    const text = doc.text
    const words = splitIntoWordIds(text)
    const ids = words.ids
    const flags = words.vocab.flags
    const cps = words.vocab.cp
    const nWords = ids.length
    let nNonSymbol = 0
    let totalLen = 0
    // Words with a letter, counted in the same pass (the alpha check below only reads the count).
    let alpha = 0
    for (let k = 0; k < nWords; k++) {
      const id = ids[k]!
      const f = flags[id]!
      if ((f & WORD_NON_PUNCT) !== 0) {
        nNonSymbol++
        totalLen += cps[id]!
      }
      if ((f & WORD_ALPHA) !== 0) alpha++
    }
    if (on(o.minDocWords) && nNonSymbol < o.minDocWords) return drop("gopher_short_doc")
    if (on(o.maxDocWords) && nNonSymbol > o.maxDocWords) return drop("gopher_long_doc")
    // np.mean of an empty list is NaN, and NaN fails both comparisons.
    const avg = nNonSymbol === 0 ? NaN : totalLen / nNonSymbol
    if (on(o.minAvgWordLength) && avg < o.minAvgWordLength) return drop("gopher_below_avg_threshold")
    if (on(o.maxAvgWordLength) && avg > o.maxAvgWordLength) return drop("gopher_above_avg_threshold")
    // datatrove divides by n_words unguarded (ZeroDivisionError); only reachable with min_doc_words disabled.
    const perWord = (n: number) => (nWords === 0 ? (n === 0 ? 0 : Infinity) : n / nWords)
    if (on(o.maxSymbolWordRatio) && perWord(pyCount(text, "#")) > o.maxSymbolWordRatio) return drop("gopher_too_many_hashes")
    if (on(o.maxSymbolWordRatio) && perWord(pyCount(text, "...") + pyCount(text, "…")) > o.maxSymbolWordRatio) {
      return drop("gopher_too_many_ellipsis")
    }
    if (on(o.maxBulletLinesRatio) || on(o.maxEllipsisLinesRatio)) {
      const lines = gopherLineStats(text, textOnlyNewlineBreaks(text))
      const nLines = Math.max(lines.lines, 1)
      if (on(o.maxBulletLinesRatio) && lines.bullets / nLines > o.maxBulletLinesRatio) return drop("gopher_too_many_bullets")
      if (on(o.maxEllipsisLinesRatio) && lines.ellipses / nLines > o.maxEllipsisLinesRatio) {
        return drop("gopher_too_many_end_ellipsis")
      }
    }
    if (on(o.maxNonAlphaWordsRatio)) {
      if (perWord(alpha) < o.maxNonAlphaWordsRatio) return drop("gopher_below_alpha_threshold")
    }
    if (on(o.minStopWords)) {
      const found = new Set<string>()
      // The set only grows, so once it holds minStopWords words the check has passed.
      for (let k = 0; k < nWords && found.size < o.minStopWords; k++) {
        const t = words.vocab.text[ids[k]!]!
        if (stopWords.has(t)) found.add(t)
      }
      // datatrove's reason string says "enough" although the document has too few stop words.
      if (found.size < o.minStopWords) return drop("gopher_enough_stop_words")
    }
    return keep(doc)
  }
  return { id: "gopher_quality", filter: decide }
}

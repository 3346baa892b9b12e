import type { Document } from "../Document.ts"
import { splitIntoWordInfos } from "../text/datatrove-text.ts"
import { lstripStartsWith, pyCount, pySplitlines, rstripEndsWith } from "../text/pytext.ts"
import { WORD_ALPHA, WORD_NON_PUNCT } from "../text/spacy-en.ts"
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

// Python truthiness: `if self.min_doc_words and …` skips a check set to None or 0.
const on = (x: number | null): x is number => x !== null && x !== 0

export const GopherQualityFilter = (options: Partial<GopherQualityOptions> = {}): DocFilter => {
  const o = { ...gopherQualityDefaults, ...options }
  const stopWords = new Set(o.stopWords)
  const decide = (doc: Document) => {
    const text = doc.text
    const words = splitIntoWordInfos(text)
    const nWords = words.length
    let nNonSymbol = 0
    let totalLen = 0
    for (const w of words) {
      if ((w.flags & WORD_NON_PUNCT) !== 0) {
        nNonSymbol++
        totalLen += w.cp
      }
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
    const lines = pySplitlines(text)
    const nLines = Math.max(lines.length, 1)
    if (on(o.maxBulletLinesRatio)) {
      let bullets = 0
      for (const s of lines) if (lstripStartsWith(s, "•") || lstripStartsWith(s, "-")) bullets++
      if (bullets / nLines > o.maxBulletLinesRatio) return drop("gopher_too_many_bullets")
    }
    if (on(o.maxEllipsisLinesRatio)) {
      let ell = 0
      for (const s of lines) if (rstripEndsWith(s, "...") || rstripEndsWith(s, "…")) ell++
      if (ell / nLines > o.maxEllipsisLinesRatio) return drop("gopher_too_many_end_ellipsis")
    }
    if (on(o.maxNonAlphaWordsRatio)) {
      let alpha = 0
      for (const w of words) if ((w.flags & WORD_ALPHA) !== 0) alpha++
      if (perWord(alpha) < o.maxNonAlphaWordsRatio) return drop("gopher_below_alpha_threshold")
    }
    if (on(o.minStopWords)) {
      const found = new Set<string>()
      for (const w of words) if (stopWords.has(w.text)) found.add(w.text)
      // datatrove's reason string says "enough" although the document has too few stop words.
      if (found.size < o.minStopWords) return drop("gopher_enough_stop_words")
    }
    return keep(doc)
  }
  return { id: "gopher_quality", filter: decide }
}

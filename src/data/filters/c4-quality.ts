import type { Document } from "../Document.ts"
import { countSentencesOf } from "../text/datatrove-text.ts"
import { pyLen, pySplitlines, pySplitWhitespace, pyStrip } from "../text/pytext.ts"
import { sentenceStarts, spacyTokens } from "../text/spacy-en.ts"
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

export const C4QualityFilter = (options: Partial<C4QualityOptions> = {}): DocFilter => {
  const o = { ...c4QualityDefaults, ...options }
  const decide = (doc: Document) => {
    const lines = o.splitParagraph ? pySplitlines(doc.text) : splitIntoSentences(doc.text)
    let numSentences = 0
    const kept: Array<string> = []
    for (const raw of lines) {
      let line = pyStrip(raw)
      // Words are counted on the stripped line before citations are removed, as in datatrove.
      const words = pySplitWhitespace(line)
      if (o.maxWordLength !== -1 && words.some((w) => pyLen(w) > o.maxWordLength)) continue
      if (o.removeCitations) line = line.replace(CITATION, "")
      if (o.filterNoTerminalPunct && (!END_PUNCTUATION.some((p) => line.endsWith(p)) || line.endsWith("..."))) continue
      if (words.length < o.minWordsPerLine) continue
      const lower = line.toLowerCase()
      if (o.filterLoremIpsum && lower.includes("lorem ipsum")) return drop("lorem_ipsum")
      if (o.filterJavascript && lower.includes("javascript")) continue
      if (o.filterCurlyBracket && line.includes("{")) return drop("curly_bracket")
      if (o.filterPolicy && POLICY_SUBSTRINGS.some((p) => lower.includes(p))) continue
      if (o.minNumSentences !== -1) numSentences += o.splitParagraph ? countSentencesOf(line) : 1
      kept.push(line)
    }
    if (numSentences < o.minNumSentences) return drop("too_few_sentences")
    return keep({ ...doc, text: pyStrip(kept.join(o.splitParagraph ? "\n" : " ")) })
  }
  return { id: "c4_quality", filter: decide }
}

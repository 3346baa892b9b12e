/**
 * datatrove's text utilities (src/datatrove/utils/text.py at huggingface/datatrove a649de7): the punctuation sets
 * the Gopher and FineWeb filters test against, `simplify_text` (MinHash and exact dedup normalize with it), and
 * `split_into_words` / `split_into_sentences` for English (spaCy, see spacy-en/index.ts).
 */
import { PUNCTUATION_ONLY } from "./datatrove-punct.ts"
import { hasSurrogate, onlyNewlineBreaks, pyLen } from "./pytext.ts"
import {
  docTokens,
  type DocTokens,
  PIECE_RARE_LINE_BREAK,
  WORD_SURROGATE,
  type WordBuffer,
  type Words,
  wordsAndSentences,
  wordTokenize
} from "./spacy-en/index.ts"

export {
  DATATROVE_PUNCTUATION,
  DATATROVE_TERMINAL_PUNCTUATION,
  endsWithTerminalPunctuation,
  hasNonPunctuation,
  PUNCTUATION_SET,
  TERMINAL_PUNCTUATION_SET
} from "./datatrove-punct.ts"

// datatrove memoizes split_into_parts with lru_cache(5): consecutive filters on one document tokenize it once.
// Here the memo also takes word lists computed elsewhere (C4QualityFilter knows the words of the text it writes)
// and the whole token arrays (C4QualityFilter takes each line's words and sentences from its text's tokens). It
// is bounded by characters rather than by a handful of documents, so that it still connects the filters when a
// stream hands each filter a large chunk of documents before the next filter sees any of them.
const RECENT_MAX_CHARS = 8_000_000
const RECENT_MAX_ENTRIES = 8192
interface Recent {
  tokens: DocTokens | null
  words: Words | null
}
const recent = new Map<string, Recent>()
let recentChars = 0
const recentEntry = (text: string): Recent => {
  let e = recent.get(text)
  if (e === undefined) {
    while (recent.size > 0 && (recent.size >= RECENT_MAX_ENTRIES || recentChars + text.length > RECENT_MAX_CHARS)) {
      const oldest = recent.keys().next().value!
      recentChars -= oldest.length
      recent.delete(oldest)
    }
    e = { tokens: null, words: null }
    recent.set(text, e)
    recentChars += text.length
  }
  return e
}
/** Forget every memoized text (benchmarks: a pass over the same texts again must not find them tokenized). */
export const forgetRecentTexts = (): void => {
  recent.clear()
  recentChars = 0
}
/** `split_into_words(text, Languages.english)` as piece numbers (Words), memoized. */
export const splitIntoWordIds = (text: string): Words => {
  const found = recent.get(text)
  if (found?.words) return found.words
  const e = found ?? recentEntry(text)
  e.tokens ??= docTokens(text)
  const words = e.tokens.words()
  e.words = words
  return words
}
/** The tokens of `text` (DocTokens), memoized with the words. */
export const documentTokens = (text: string): DocTokens => {
  const e = recent.get(text) ?? recentEntry(text)
  return (e.tokens ??= docTokens(text))
}
/** `split_into_words(text, Languages.english)`. */
export const splitIntoWords = (text: string): ReadonlyArray<string> => splitIntoWordIds(text).texts()

let checkRemembered = false
/** Tests: make rememberWords verify what it is given against wordTokenize. */
export const setCheckRememberedWords = (on: boolean): void => {
  checkRemembered = on
}
/** Record that the words of `text` are `words`; the caller guarantees it is exactly what wordTokenize gives. */
export const rememberWords = (text: string, words: Words): void => {
  if (checkRemembered) {
    const fresh = wordTokenize(text)
    const given = words.texts()
    if (fresh.length !== given.length || fresh.some((w, i) => w !== given[i])) {
      throw new Error(`rememberWords: the given words differ from wordTokenize for ${JSON.stringify(text.slice(0, 80))}`)
    }
  }
  const e = recent.get(text) ?? recentEntry(text)
  e.words ??= words
}
/** The memoized tokens of `text`, without tokenizing it when there are none. */
export const memoizedTokens = (text: string): DocTokens | null => recent.get(text)?.tokens ?? null
/** Whether `text` has a UTF-16 surrogate, from its memoized tokens or words when there are some. */
export const textHasSurrogate = (text: string): boolean => {
  const e = recent.get(text)
  if (e?.tokens) return (e.tokens.flags & WORD_SURROGATE) !== 0
  if (e?.words) return (e.words.flags & WORD_SURROGATE) !== 0
  return hasSurrogate(text)
}
/** `len(text)` in code points (pyLen), from the memoized tokens when there are some. */
export const textCodePoints = (text: string): number => (textHasSurrogate(text) ? pyLen(text) : text.length)
/** onlyNewlineBreaks(text), from the memoized tokens when there are some. */
export const textOnlyNewlineBreaks = (text: string): boolean => {
  const e = recent.get(text)
  if (e?.tokens) return (e.tokens.flags & PIECE_RARE_LINE_BREAK) === 0
  return onlyNewlineBreaks(text)
}
/** Sentence count of `text`, appending its words (as splitIntoWordIds gives them) to `words`: one tokenization. */
export const countSentencesAndWords = (text: string, words: WordBuffer): number => wordsAndSentences(text, words)

/** TextNormConfig defaults: lowercase, whitespace, punctuation, diacritics and numbers on; weekdays and months off. */
export interface TextNormConfig {
  readonly lowercase: boolean
  readonly normWhitespace: boolean
  readonly removePunctuation: boolean
  readonly normUnicodeDiacritics: boolean
  readonly normNumbers: boolean
  readonly normWeekdays: boolean
  readonly normMonthnames: boolean
}
export const DEFAULT_TEXT_NORM: TextNormConfig = {
  lowercase: true,
  normWhitespace: true,
  removePunctuation: true,
  normUnicodeDiacritics: true,
  normNumbers: true,
  normWeekdays: false,
  normMonthnames: false
}

// `regex` module: \p{Nd}+ with an optional decimal part; Python's `re` \s for str patterns is str.isspace.
const NUMBERS = /\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?/gu
const WHITESPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g
const WEEKDAYS = /monday|tuesday|wednesday|thursday|friday|saturday|sunday/g
const MONTHS = /january|february|march|april|may|june|july|august|september|october|november|december/g
const COMBINING_MARK = /\p{Mn}/gu

const translatePunctuation = (text: string): string => {
  let out = ""
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // Every PUNCTUATION member is in the BMP, so UTF-16 units can be tested one by one.
    if (PUNCTUATION_ONLY.has(c)) {
      out += text.slice(from, i) + " "
      from = i + 1
    }
  }
  return from === 0 ? text : out + text.slice(from)
}

/** `simplify_text`: the same steps in the same order (the order matters: "1|2|3" → "0 0 0", not "0"). */
export const simplifyText = (input: string, config: TextNormConfig = DEFAULT_TEXT_NORM): string => {
  let text = input
  if (config.lowercase) text = text.toLowerCase()
  if (config.normNumbers) text = text.replace(NUMBERS, "0")
  if (config.normWeekdays) text = text.replace(WEEKDAYS, "WEEKDAY")
  if (config.normMonthnames) text = text.replace(MONTHS, "MONTH")
  if (config.removePunctuation) text = translatePunctuation(text)
  if (config.normWhitespace) text = pyStripped(text).replace(WHITESPACE, " ")
  if (config.normUnicodeDiacritics) text = text.normalize("NFD").replace(COMBINING_MARK, "")
  return pyStripped(text)
}

const pyStripped = (s: string) => s.replace(/^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, "")

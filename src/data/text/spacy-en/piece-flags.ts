/**
 * What the fast path records about each piece of a Vocab, as bits: the sentencizer's classes (Vocab.cls) and the
 * properties the filters ask about (Vocab.flags), plus the polynomial hash the Gopher repetition filter builds on.
 */
import { C4_PHRASE_HINTS } from "../c4-phrases.ts"

/** Vocab.cls: the piece is one of the sentencizer's punctuation characters, is all punctuation, starts a special-case pattern. */
export const CLS_SENT = 1
export const CLS_PUNCT = 2
export const CLS_PATTERN = 4

/** Vocab.flags */
export const WORD_NON_PUNCT = 1
export const WORD_ALPHA = 2
/** The piece has a UTF-16 surrogate (then code points and joined lengths need care). */
export const WORD_SURROGATE = 4
/** The piece contains U+0020 (never for a word spaCy makes, but n-gram keys joined with " " rely on it). */
export const WORD_SPACE = 8
/** The piece (whitespace) has a `str.splitlines` boundary other than "\n" (\r \v \f \x1c-\x1e \x85 \u2028 \u2029). */
export const PIECE_RARE_LINE_BREAK = 16
/**
 * The piece starts with a low surrogate or ends with a high one (a lone half of a pair): joined to a neighbour it
 * could make a pair, and then code points of a join are not the sum of the pieces'.
 */
export const WORD_SURROGATE_EDGE = 32
/**
 * The piece's lowercase has one of C4's phrase hints (C4_PHRASE_HINTS: "lorem", "javascript", "terms", "policy",
 * "cookie"). For a text: one of its whitespace-delimited runs has (set for the run when it splits into several
 * pieces), so a text without it has none of C4's lowercased phrases.
 */
export const SPAN_C4_LOWER_HINT = 64
/** Flags that belong to a whole span's text rather than to each piece. */
export const spanFlags = (span: string): number => {
  const lower = span.toLowerCase()
  return C4_PHRASE_HINTS.some((w) => lower.includes(w)) ? SPAN_C4_LOWER_HINT : 0
}

/** Base of the polynomial hash of Vocab.hash (mod 2^32, over UTF-16 units). */
export const HASH_BASE = 0x01000193
/** How many leading characters of each piece have their hash kept (Vocab.head). */
export const HEAD_CHARS = 12

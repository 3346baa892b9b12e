/**
 * spaCy's English prefix, suffix and infix rules and its URL pattern, compiled as spacy/util.py compiles them:
 * spacy/lang/punctuation.py (prefixes, suffixes), spacy/lang/en/punctuation.py (infixes) and
 * spacy/lang/tokenizer_exceptions.py (URL_PATTERN), explosion/spaCy f69c32f.
 */
import { pyStrip } from "../pytext.ts"
import {
  ALPHA,
  ALPHA_LOWER,
  ALPHA_UPPER,
  CONCAT_QUOTES,
  CURRENCY,
  HYPHENS,
  LIST_CURRENCY,
  LIST_ELLIPSES,
  LIST_ICONS,
  LIST_PUNCT,
  LIST_QUOTES,
  PUNCT,
  UNITS,
  URL_PATTERN
} from "./char-classes.ts"
import { pyRegexToJs } from "./py-regex.ts"

const js = pyRegexToJs

// spacy/lang/punctuation.py TOKENIZER_PREFIXES
const PREFIXES = ["§", "%", "=", "—", "–", "\\+(?![0-9])", ...LIST_PUNCT, ...LIST_ELLIPSES, ...LIST_QUOTES, ...LIST_CURRENCY, ...LIST_ICONS]
// spacy/lang/punctuation.py TOKENIZER_SUFFIXES
const SUFFIXES = [
  ...LIST_PUNCT,
  ...LIST_ELLIPSES,
  ...LIST_QUOTES,
  ...LIST_ICONS,
  "'s",
  "'S",
  "’s",
  "’S",
  "—",
  "–",
  "(?<=[0-9])\\+",
  "(?<=°[FfCcKk])\\.",
  `(?<=[0-9])(?:${CURRENCY})`,
  `(?<=[0-9])(?:${UNITS})`,
  `(?<=[0-9${ALPHA_LOWER}%²\\-\\+${PUNCT}(?:${CONCAT_QUOTES})])\\.`,
  `(?<=[${ALPHA_UPPER}][${ALPHA_UPPER}])\\.`
]
// spacy/lang/en/punctuation.py TOKENIZER_INFIXES (English adds digits before hyphens)
const INFIXES = [
  ...LIST_ELLIPSES,
  ...LIST_ICONS,
  "(?<=[0-9])[+\\-\\*^](?=[0-9-])",
  `(?<=[${ALPHA_LOWER}${CONCAT_QUOTES}])\\.(?=[${ALPHA_UPPER}${CONCAT_QUOTES}])`,
  `(?<=[${ALPHA}]),(?=[${ALPHA}])`,
  `(?<=[${ALPHA}0-9])(?:${HYPHENS})(?=[${ALPHA}])`,
  `(?<=[${ALPHA}0-9])[:<>=/](?=[${ALPHA}])`
]

// spacy/util.py compile_prefix_regex / compile_suffix_regex / compile_infix_regex: empty pieces are dropped.
const nonEmpty = (pieces: ReadonlyArray<string>) => pieces.filter((p) => pyStrip(p).length > 0)
const PREFIX_RE = new RegExp(nonEmpty(PREFIXES).map((p) => "^" + js(p)).join("|"), "u")
const SUFFIX_RE = new RegExp(nonEmpty(SUFFIXES).map((p) => js(p) + "$").join("|"), "u")
export const INFIX_RE = new RegExp(nonEmpty(INFIXES).map(js).join("|"), "gu")
// Every infix match starts with one of these (the ellipses, the icons, and the characters the other infix rules
// split on), so a piece without any has no infix; scanning a piece with INFIX_RE costs tens of microseconds, this
// test well under one.
export const INFIX_START = new RegExp(["[.+\\-*^,~:<>=/\u2026\u2013\u2014]", ...LIST_ICONS].map(js).join("|"), "u")
const INFIX_START_G = new RegExp(INFIX_START.source, "gu")
const INFIX_AT = new RegExp(INFIX_RE.source, "uy")
/**
 * The next match of INFIX_RE in `s` at or after `from`, as `s.matchAll(INFIX_RE)` finds it: the leftmost position
 * where an infix matches, and there the first alternative that does. Matches can only start where INFIX_START
 * does, so only those positions are tried (with a sticky copy; lookbehinds still see what comes before).
 */
export const nextInfix = (s: string, from: number): RegExpExecArray | null => {
  INFIX_START_G.lastIndex = from
  for (;;) {
    const c = INFIX_START_G.exec(s)
    if (c === null) return null
    INFIX_AT.lastIndex = c.index
    const m = INFIX_AT.exec(s)
    if (m !== null) return m
    // Only a BMP character fails here (an icon or an ellipsis always matches), so the next position is c.index + 1.
    INFIX_START_G.lastIndex = c.index + 1
  }
}
// `re.compile("(?u)" + URL_PATTERN).match`; the pattern is anchored at both ends already.
export const URL_RE = new RegExp(js(URL_PATTERN), "u")

export const findPrefix = (s: string): number => {
  const m = PREFIX_RE.exec(s)
  return m === null ? 0 : m[0].length
}
export const findSuffix = (s: string): number => {
  const m = SUFFIX_RE.exec(s)
  return m === null ? 0 : m[0].length
}

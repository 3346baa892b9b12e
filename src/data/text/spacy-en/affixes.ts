/**
 * spaCy's `Tokenizer._tokenize_affixes` (spacy/tokenizer.pyx, explosion/spaCy f69c32f): a text splits on
 * whitespace, and each whitespace-delimited span into pieces by `_split_affixes` and `_attach_tokens` (prefixes,
 * suffixes, special cases, the URL pattern, infixes). Both the reference tokenizer and the cached fast path cut
 * spans with tokenizeSpan.
 */
import { isPySpaceCode } from "../pytext.ts"
import { findPrefix, findSuffix, INFIX_START, nextInfix, URL_RE } from "./affix-rules.ts"
import { SPECIALS } from "./exceptions.ts"

export interface SpacyToken {
  readonly text: string
  /** Followed by one consumed space (spaCy's `whitespace_`), which matters for multi-token special cases. */
  space: boolean
}

const splitAffixes = (
  input: string,
  prefixes: Array<string>,
  suffixes: Array<string>,
  withSpecials: boolean
): string => {
  let s = input
  let lastSize = 0
  while (s.length > 0 && s.length !== lastSize) {
    if (withSpecials && SPECIALS.has(s)) break
    lastSize = s.length
    const preLen = findPrefix(s)
    let prefix = ""
    let minusPre = ""
    if (preLen !== 0) {
      prefix = s.slice(0, preLen)
      minusPre = s.slice(preLen)
      if (minusPre.length > 0 && withSpecials && SPECIALS.has(minusPre)) {
        s = minusPre
        prefixes.push(prefix)
        break
      }
    }
    const sufLen = findSuffix(s.slice(preLen))
    let suffix = ""
    let minusSuf = ""
    if (sufLen !== 0) {
      suffix = s.slice(s.length - sufLen)
      minusSuf = s.slice(0, s.length - sufLen)
      if (minusSuf.length > 0 && withSpecials && SPECIALS.has(minusSuf)) {
        s = minusSuf
        suffixes.push(suffix)
        break
      }
    }
    if (preLen && sufLen && preLen + sufLen <= s.length) {
      s = s.slice(preLen, s.length - sufLen)
      prefixes.push(prefix)
      suffixes.push(suffix)
    } else if (preLen) {
      s = minusPre
      prefixes.push(prefix)
    } else if (sufLen) {
      s = minusSuf
      suffixes.push(suffix)
    }
  }
  return s
}

const attachTokens = (out: Array<string>, s: string, prefixes: Array<string>, suffixes: Array<string>, withSpecials: boolean) => {
  for (const p of prefixes) out.push(p)
  if (s.length > 0) {
    const special = withSpecials ? SPECIALS.get(s) : undefined
    if (special !== undefined) for (const p of special) out.push(p)
    else if (URL_RE.test(s)) out.push(s)
    else if (!INFIX_START.test(s)) out.push(s)
    else {
      let start = 0
      let found = false
      for (let m = nextInfix(s, 0); m !== null; m = nextInfix(s, m.index + Math.max(m[0].length, 1))) {
        found = true
        const infixStart = m.index
        const infixEnd = infixStart + m[0].length
        // `start_before_infixes` is always 0: an infix at the very start is not split off.
        if (infixStart === 0) continue
        if (infixStart !== start) out.push(s.slice(start, infixStart))
        if (infixStart !== infixEnd) out.push(s.slice(infixStart, infixEnd))
        start = infixEnd
      }
      if (!found) out.push(s)
      else if (start < s.length) out.push(s.slice(start))
    }
  }
  for (let i = suffixes.length - 1; i >= 0; i--) out.push(suffixes[i]!)
}

const LETTERS = /^[A-Za-z]+$/
// A span made only of ASCII letters has no prefix, suffix, infix or URL match (every such rule needs a digit,
// punctuation or a dot), so it is one token unless it is a special case; skipping the regexes here is what
// makes word counting fast on English text.
export const tokenizeSpan = (span: string, withSpecials: boolean): ReadonlyArray<string> => {
  if (withSpecials) {
    const special = SPECIALS.get(span)
    if (special !== undefined) return special
  }
  if (LETTERS.test(span)) return [span]
  const prefixes: Array<string> = []
  const suffixes: Array<string> = []
  const rest = splitAffixes(span, prefixes, suffixes, withSpecials)
  const out: Array<string> = []
  attachTokens(out, rest, prefixes, suffixes, withSpecials)
  return out
}


/**
 * `Tokenizer._tokenize_affixes`: split on whitespace runs, except that one ordinary space after a token is
 * absorbed into that token's `space` flag; any other whitespace run (newlines, a second space) is a token.
 */
export const tokenizeAffixes = (text: string, withSpecials: boolean): Array<SpacyToken> => {
  const tokens: Array<SpacyToken> = []
  const n = text.length
  if (n === 0) return tokens
  const push = (span: string) => {
    const pieces = tokenizeSpan(span, withSpecials)
    for (const p of pieces) tokens.push({ text: p, space: false })
  }
  let start = 0
  let inWs = isPySpaceCode(text.charCodeAt(0))
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    const ws = isPySpaceCode(c)
    if (ws !== inWs) {
      if (start < i) push(text.slice(start, i))
      if (c === 32) {
        tokens[tokens.length - 1]!.space = true
        start = i + 1
      } else start = i
      inWs = !inWs
    }
  }
  if (start < n) {
    push(text.slice(start))
    tokens[tokens.length - 1]!.space = text.charCodeAt(n - 1) === 32 && !inWs
  }
  return tokens
}


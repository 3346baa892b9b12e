/**
 * spaCy's special-case pass (`Tokenizer._apply_special_cases` and `_filter_special_spans`, spacy/tokenizer.pyx,
 * explosion/spaCy f69c32f) over token objects, and the patterns it matches.
 */
import { findPrefix, findSuffix, INFIX_RE } from "./affix-rules.ts"
import { type SpacyToken, tokenizeAffixes } from "./affixes.ts"
import { SPECIALS } from "./exceptions.ts"

// Special cases that the affix rules would split (`faster_heuristics`: those with a prefix, suffix, infix or a
// space) are also matched as token sequences after tokenization, like spaCy's PhraseMatcher pass. Patterns
// that map one token to the same one token cannot change the output, so they are left out.
export interface SpecialPattern {
  readonly tokens: ReadonlyArray<string>
}
const buildPatterns = (): Map<string, Array<SpecialPattern>> => {
  const byFirst = new Map<string, Array<SpecialPattern>>()
  for (const [orth, pieces] of SPECIALS) {
    INFIX_RE.lastIndex = 0
    const affixed = findPrefix(orth) !== 0 || findSuffix(orth) !== 0 || INFIX_RE.test(orth) || orth.includes(" ")
    INFIX_RE.lastIndex = 0
    if (!affixed) continue
    const toks = tokenizeAffixes(orth, false).map((t) => t.text)
    if (toks.length === 1 && pieces.length === 1 && pieces[0] === toks[0]) continue
    const list = byFirst.get(toks[0]!) ?? []
    list.push({ tokens: toks })
    byFirst.set(toks[0]!, list)
  }
  return byFirst
}
export const PATTERNS = buildPatterns()

/** `_apply_special_cases` over token objects (the reference tokenizer; tokenizer.ts has the same pass over arrays). */
export const applySpecialCases = (tokens: Array<SpacyToken>): Array<SpacyToken> => {
  const matches: Array<{ start: number; end: number }> = []
  for (let i = 0; i < tokens.length; i++) {
    const candidates = PATTERNS.get(tokens[i]!.text)
    if (candidates === undefined) continue
    for (const p of candidates) {
      if (i + p.tokens.length > tokens.length) continue
      let ok = true
      for (let j = 1; j < p.tokens.length; j++) {
        if (tokens[i + j]!.text !== p.tokens[j]) {
          ok = false
          break
        }
      }
      if (ok) matches.push({ start: i, end: i + p.tokens.length })
    }
  }
  if (matches.length === 0) return tokens
  // `_filter_special_spans`: longest first, then leftmost; a span is kept if neither end token is taken.
  matches.sort((a, b) => (b.end - b.start) - (a.end - a.start) || a.start - b.start)
  const seen = new Set<number>()
  const kept: Array<{ start: number; end: number }> = []
  for (const m of matches) {
    if (!seen.has(m.start) && !seen.has(m.end - 1)) kept.push(m)
    for (let k = m.start; k < m.end; k++) seen.add(k)
  }
  kept.sort((a, b) => a.start - b.start)
  const out: Array<SpacyToken> = []
  let i = 0
  for (const m of kept) {
    while (i < m.start) out.push(tokens[i++]!)
    let text = ""
    for (let k = m.start; k < m.end; k++) text += tokens[k]!.text + (k < m.end - 1 && tokens[k]!.space ? " " : "")
    const special = SPECIALS.get(text)
    if (special === undefined) {
      for (let k = m.start; k < m.end; k++) out.push(tokens[k]!)
    } else {
      const finalSpace = tokens[m.end - 1]!.space
      special.forEach((p, j) => out.push({ text: p, space: j === special.length - 1 ? finalSpace : false }))
    }
    i = m.end
  }
  while (i < tokens.length) out.push(tokens[i++]!)
  return out
}

/**
 * spaCy's rule-based English tokenizer (`spacy.blank("en")`) and its `sentencizer`, reimplemented.
 *
 * Why: datatrove ≥ 0.4 counts words with `SpaCyTokenizer("en")` (src/datatrove/utils/word_tokenizers.py, chosen by
 * assets/tokenizer_assignment.csv for `en`) and counts C4 sentences with spaCy's sentencizer; Gopher, C4 and
 * FineWeb thresholds compare those counts, so every rule below decides documents.
 *
 * Sources (explosion/spaCy f69c32f): the algorithm is `Tokenizer._tokenize_affixes`, `_split_affixes`,
 * `_attach_tokens` and the special-case pass `_apply_special_cases` in spacy/tokenizer.pyx; the rules are
 * spacy/lang/punctuation.py (prefixes, suffixes), spacy/lang/en/punctuation.py (infixes),
 * spacy/lang/tokenizer_exceptions.py (URL pattern, base exceptions, emoticons) and
 * spacy/lang/en/tokenizer_exceptions.py (contractions, abbreviations); the sentencizer is
 * spacy/pipeline/sentencizer.pyx. The character tables are in spacy-char-classes.ts.
 */
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
} from "./spacy-char-classes.ts"
import { hasNonPunctuation } from "./datatrove-punct.ts"
import { hasPyAlpha, isPySpaceCode, onlyNewlineBreaks, PY_SPACE_CLASS, pyLen, pyStrip } from "./pytext.ts"

// ---------------------------------------------------------------------------------------------------------------
// Python `re` source → JavaScript (`u` flag). The tables are Python regex sources; JavaScript's unicode mode
// rejects identity escapes such as `\!` and `\'`, spells astral escapes `\u{…}`, and its `\d \w \S` are ASCII or
// differently defined, so each is rewritten to the Python (str pattern) meaning.
// ---------------------------------------------------------------------------------------------------------------
const SYNTAX = "^$\\.*+?()[]{}|/"
export const pyRegexToJs = (src: string): string => {
  let out = ""
  let inClass = false
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    if (c === "\\") {
      const n = src[i + 1]!
      i++
      if (n === "U") {
        out += `\\u{${src.slice(i + 1, i + 9).replace(/^0+(?=.)/, "")}}`
        i += 8
      } else if (n === "u") {
        out += "\\u" + src.slice(i + 1, i + 5)
        i += 4
      } else if (n === "d") out += "\\p{Nd}"
      else if (n === "w") out += inClass ? "\\p{L}\\p{N}_" : "[\\p{L}\\p{N}_]"
      else if (n === "S") {
        if (inClass) throw new Error("\\S inside a class is not supported")
        out += `[^${PY_SPACE_CLASS}]`
      } else if (n === "s") out += inClass ? PY_SPACE_CLASS : `[${PY_SPACE_CLASS}]`
      else if (/[A-Za-z0-9]/.test(n)) out += "\\" + n
      else if (SYNTAX.includes(n) || (inClass && n === "-")) out += "\\" + n
      else out += n
      continue
    }
    if (c === "[" && !inClass) inClass = true
    else if (c === "]" && inClass) inClass = false
    out += c
  }
  return out
}

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
const INFIX_RE = new RegExp(nonEmpty(INFIXES).map(js).join("|"), "gu")
// Every infix match starts with one of these (the ellipses, the icons, and the characters the other infix rules
// split on), so a piece without any has no infix; scanning a piece with INFIX_RE costs tens of microseconds, this
// test well under one.
const INFIX_START = new RegExp(["[.+\\-*^,~:<>=/\u2026\u2013\u2014]", ...LIST_ICONS].map(js).join("|"), "u")
const INFIX_START_G = new RegExp(INFIX_START.source, "gu")
const INFIX_AT = new RegExp(INFIX_RE.source, "uy")
/**
 * The next match of INFIX_RE in `s` at or after `from`, as `s.matchAll(INFIX_RE)` finds it: the leftmost position
 * where an infix matches, and there the first alternative that does. Matches can only start where INFIX_START
 * does, so only those positions are tried (with a sticky copy; lookbehinds still see what comes before).
 */
const nextInfix = (s: string, from: number): RegExpExecArray | null => {
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
const URL_RE = new RegExp(js(URL_PATTERN), "u")

const findPrefix = (s: string): number => {
  const m = PREFIX_RE.exec(s)
  return m === null ? 0 : m[0].length
}
const findSuffix = (s: string): number => {
  const m = SUFFIX_RE.exec(s)
  return m === null ? 0 : m[0].length
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer exceptions (special cases): string → the ORTH of each token it becomes.
// ---------------------------------------------------------------------------------------------------------------
const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

const baseExceptions = (): Map<string, ReadonlyArray<string>> => {
  const exc = new Map<string, ReadonlyArray<string>>()
  for (const orth of [" ", "\t", "\\t", "\n", "\\n", "\u2014", "\u00a0"]) exc.set(orth, [orth])
  const singles = ["'", '\\")', "<space>", "''", "C++", ..."abcdefghijklmnopqrstuvwxyz".split("").map((c) => c + "."), "ä.", "ö.", "ü."]
  for (const orth of singles) exc.set(orth, [orth])
  const emoticons = `:) :-) :)) :-)) :))) :-))) (: (-: =) (= :] :-] [: [-: [= =] :o) (o: :} :-} 8) 8-) (-8 ;) ;-) (; (-;
:( :-( :(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-( :/ :-/ =/ =| :| :-| ]= =[ :1 :P :-P :p :-p :O :-O :o :-o
:0 :-0 :() >:o :* :-* :3 :-3 =3 :> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D ^_^ ^__^ ^___^ >.< >.>
<.< ._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.O O.o O.O o.o 0.0 o.0 0.o @_@ <3 <33 <333 </3
(^_^) (-_-) (._.) (>_<) (*_*) (¬_¬) ಠ_ಠ ಠ︵ಠ (ಠ_ಠ) ¯\\(ツ)/¯ (╯°□°）╯︵┻━┻ ><(((*>`.split(/\s+/)
  for (const orth of emoticons) exc.set(orth, [orth])
  for (const u of "cfkCFK") exc.set(`°${u}.`, ["°", u, "."])
  return exc
}

const englishExceptions = (): Map<string, ReadonlyArray<string>> => {
  const exc = new Map<string, ReadonlyArray<string>>()
  const put = (pieces: ReadonlyArray<string>) => exc.set(pieces.join(""), pieces)
  for (const orth of ["i", "I"]) {
    put([orth, "'m"])
    put([orth, "m"])
    put([orth, "'m", "a"])
    put([orth, "m", "a"])
  }
  for (const pron of ["i", "you", "he", "she", "it", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'ll"])
      put([orth, "ll"])
      put([orth, "'ll", "'ve"])
      put([orth, "ll", "ve"])
      put([orth, "'d"])
      put([orth, "d"])
      put([orth, "'d", "'ve"])
      put([orth, "d", "ve"])
    }
  }
  for (const pron of ["i", "you", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'ve"])
      put([orth, "ve"])
    }
  }
  for (const pron of ["you", "we", "they"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'re"])
      put([orth, "re"])
    }
  }
  for (const pron of ["he", "she", "it"]) {
    for (const orth of [pron, title(pron)]) {
      put([orth, "'s"])
      put([orth, "s"])
    }
  }
  const wWords: ReadonlyArray<readonly [string, "sing" | "plur" | null]> = [
    ["who", null], ["what", null], ["when", null], ["where", null], ["why", null], ["how", null], ["there", null],
    ["that", "sing"], ["this", "sing"], ["these", "plur"], ["those", "plur"]
  ]
  for (const [word, morph] of wWords) {
    for (const orth of [word, title(word)]) {
      if (morph !== "plur") {
        put([orth, "'s"])
        put([orth, "s"])
      }
      put([orth, "'ll"])
      put([orth, "ll"])
      put([orth, "'ll", "'ve"])
      put([orth, "ll", "ve"])
      if (morph !== "sing") {
        put([orth, "'re"])
        put([orth, "re"])
        put([orth, "'ve"])
        put([orth, "ve"])
      }
      put([orth, "'d"])
      put([orth, "d"])
      put([orth, "'d", "'ve"])
      put([orth, "d", "ve"])
    }
  }
  for (const verb of ["ca", "could", "do", "does", "did", "had", "may", "might", "must", "need", "ought", "sha", "should", "wo", "would"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "n't"])
      put([orth, "nt"])
      put([orth, "n't", "'ve"])
      put([orth, "nt", "ve"])
    }
  }
  for (const verb of ["could", "might", "must", "should", "would"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "'ve"])
      put([orth, "ve"])
    }
  }
  for (const verb of ["ai", "are", "is", "was", "were", "have", "has", "dare"]) {
    for (const orth of [verb, title(verb)]) {
      put([orth, "n't"])
      put([orth, "nt"])
    }
  }
  for (const word of ["doin", "goin", "nothin", "nuthin", "ol", "somethin"]) {
    for (const orth of [word, title(word)]) {
      put([orth])
      put([orth + "'"])
    }
  }
  for (const word of ["em", "ll", "nuff"]) {
    put([word])
    put(["'" + word])
  }
  for (let h = 1; h <= 12; h++) {
    for (const period of ["a.m.", "am", "p.m.", "pm"]) put([`${h}`, period])
  }
  for (
    const pieces of [
      ["y'", "all"], ["y", "all"], ["how", "'d", "'y"], ["How", "'d", "'y"], ["not", "'ve"], ["not", "ve"], ["Not", "'ve"],
      ["Not", "ve"], ["can", "not"], ["Can", "not"], ["gon", "na"], ["Gon", "na"], ["got", "ta"], ["Got", "ta"], ["let", "'s"],
      ["Let", "'s"], ["c'm", "on"], ["C'm", "on"]
    ]
  ) put(pieces)
  const singles = [
    "'S", "'s", "\u2018S", "\u2018s", "and/or", "w/o", "'re", "'Cause", "'cause", "'cos", "'Cos", "'coz", "'Coz", "'cuz",
    "'Cuz", "'bout", "ma'am", "Ma'am", "o'clock", "O'clock", "lovin'", "Lovin'", "lovin", "Lovin", "havin'", "Havin'",
    "havin", "Havin", "doin'", "Doin'", "doin", "Doin", "goin'", "Goin'", "goin", "Goin", "Mt.", "Ak.", "Ala.", "Apr.",
    "Ariz.", "Ark.", "Aug.", "Calif.", "Colo.", "Conn.", "Dec.", "Del.", "Feb.", "Fla.", "Ga.", "Ia.", "Id.", "Ill.",
    "Ind.", "Jan.", "Jul.", "Jun.", "Kan.", "Kans.", "Ky.", "La.", "Mar.", "Mass.", "Mich.", "Minn.", "Miss.", "N.C.",
    "N.D.", "N.H.", "N.J.", "N.M.", "N.Y.", "Neb.", "Nebr.", "Nev.", "Nov.", "Oct.", "Okla.", "Ore.", "Pa.", "S.C.",
    "Sep.", "Sept.", "Tenn.", "Va.", "Wash.", "Wis.", "'d", "a.m.", "Adm.", "Bros.", "co.", "Co.", "Corp.", "D.C.",
    "Dr.", "e.g.", "E.g.", "E.G.", "Gen.", "Gov.", "i.e.", "I.e.", "I.E.", "Inc.", "Jr.", "Ltd.", "Md.", "Messrs.",
    "Mo.", "Mont.", "Mr.", "Mrs.", "Ms.", "p.m.", "Ph.D.", "Prof.", "Rep.", "Rev.", "Sen.", "St.", "vs.", "v.s."
  ]
  for (const orth of singles) put([orth])
  for (
    const s of ["Ill", "ill", "Its", "its", "Hell", "hell", "Shell", "shell", "Shed", "shed", "were", "Were", "Well", "well", "Whore", "whore"]
  ) exc.delete(s)
  return exc
}

/** `update_exc(BASE_EXCEPTIONS, _exc)`: merge, then add a typographic-apostrophe twin of every entry with `'`. */
const buildExceptions = (): Map<string, ReadonlyArray<string>> => {
  const merged = new Map(baseExceptions())
  for (const [k, v] of englishExceptions()) merged.set(k, v)
  const out = new Map(merged)
  for (const [k, v] of merged) {
    if (k.includes("'")) out.set(k.replaceAll("'", "’"), v.map((p) => p.replaceAll("'", "’")))
  }
  return out
}

export const SPECIALS: ReadonlyMap<string, ReadonlyArray<string>> = buildExceptions()

// ---------------------------------------------------------------------------------------------------------------
// The tokenizer.
// ---------------------------------------------------------------------------------------------------------------
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
const tokenizeSpan = (span: string, withSpecials: boolean): ReadonlyArray<string> => {
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

// spaCy caches span tokenizations too; a bounded cache (the span table below) keeps repeated words cheap.
const CACHE_MAX = 500_000
let vocabLimit = CACHE_MAX
/** Characters a generation may hold (span keys and piece texts together). */
const VOCAB_MAX_CHARS = 64_000_000

/**
 * `Tokenizer._tokenize_affixes`: split on whitespace runs, except that one ordinary space after a token is
 * absorbed into that token's `space` flag; any other whitespace run (newlines, a second space) is a token.
 */
const tokenizeAffixes = (text: string, withSpecials: boolean): Array<SpacyToken> => {
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

// Special cases that the affix rules would split (`faster_heuristics`: those with a prefix, suffix, infix or a
// space) are also matched as token sequences after tokenization, like spaCy's PhraseMatcher pass. Patterns
// that map one token to the same one token cannot change the output, so they are left out.
interface SpecialPattern {
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

const applySpecialCases = (tokens: Array<SpacyToken>): Array<SpacyToken> => {
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

/**
 * Reference `nlp.tokenizer(text)`: the straightforward implementation over token objects, uncached. The exported
 * `spacyTokens`, `wordTokenize` and `countSentences` use the flat-array path below, which the tests check
 * against this one.
 */
export const spacyTokensReference = (text: string): Array<SpacyToken> => applySpecialCases(tokenizeAffixes(text, true))

/** Reference `word_tokenize`, over spacyTokensReference. */
export const wordTokenizeReference = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const t of spacyTokensReference(text)) {
    const s = pyStrip(t.text)
    if (s.length > 0) out.push(s)
  }
  return out
}

// spacy/pipeline/sentencizer.pyx Sentencizer.default_punct_chars
const SENT_PUNCT = new Set(
  Array.from(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
  )
)
const IS_PUNCT = /^\p{P}+$/u

/** Sentence start indices over `tokens`, as the sentencizer sets them. */
export const sentenceStarts = (tokens: ReadonlyArray<SpacyToken>): Array<number> => {
  if (tokens.length === 0) return []
  const starts = [0]
  let start = 0
  let seenPeriod = false
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!.text
    const inPunctChars = SENT_PUNCT.has(t)
    if (seenPeriod && !inPunctChars && !IS_PUNCT.test(t)) {
      if (starts[starts.length - 1] !== start) starts.push(start)
      start = i
      seenPeriod = false
    } else if (inPunctChars) seenPeriod = true
  }
  if (starts[starts.length - 1] !== start) starts.push(start)
  return starts
}

/** Reference sentence count, over spacyTokensReference. */
export const countSentencesReference = (text: string): number => Math.max(1, sentenceStarts(spacyTokensReference(text)).length)

// ---------------------------------------------------------------------------------------------------------------
// The same tokenizer over flat arrays. Each distinct whitespace-delimited run (span) is tokenized once and each
// distinct piece is described once, in a Vocab: pieces are numbered, and what the tokenizer and the filters ask of
// a piece (sentencizer classes, code points, punctuation, letters, a hash, its stripped word) lives in typed arrays
// indexed by that number. Spans are found in an open-addressing table whose keys are the span's characters in a
// flat arena, so a lookup reads a few contiguous words of memory instead of chasing objects and strings. A text is
// then one scan that appends piece numbers to reusable arrays; the special-case pass only runs when a piece can
// start a pattern, and rebuilds the arrays only when a pattern matches.
// ---------------------------------------------------------------------------------------------------------------
const CLS_SENT = 1
const CLS_PUNCT = 2
const CLS_PATTERN = 4

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
 * The piece's lowercase has one of C4QualityFilter's phrases' first words ("lorem", "javascript", "terms",
 * "policy", "cookie"). For a text: one of its whitespace-delimited runs has (set for the run when it splits into
 * several pieces), so a text without it has none of C4's lowercased phrases.
 */
export const SPAN_C4_LOWER_HINT = 64
const C4_HINT_WORDS = ["lorem", "javascript", "terms", "policy", "cookie"]
/** Flags that belong to a whole span's text rather than to each piece. */
const spanFlags = (span: string): number => {
  const lower = span.toLowerCase()
  return C4_HINT_WORDS.some((w) => lower.includes(w)) ? SPAN_C4_LOWER_HINT : 0
}

/** Base of the polynomial hash of Vocab.hash (mod 2^32, over UTF-16 units). */
export const HASH_BASE = 0x01000193
/** How many leading characters of each piece have their hash kept (Vocab.head). */
export const HEAD_CHARS = 12

/**
 * `s` as a string of its own. A slice of 13 or more characters is, in V8, a view that keeps the whole string it was
 * cut from alive: a piece cut from a document would pin that document for as long as the Vocab lives.
 */
const ownString = (s: string): string => (s.length < 13 ? s : Buffer.from(s, "utf16le").toString("utf16le"))

const grownInt32 = (a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> => {
  if (need <= a.length) return a
  const b = new Int32Array(Math.max(need, a.length * 2))
  b.set(a)
  return b
}
const grownUint8 = (a: Uint8Array<ArrayBuffer>, need: number): Uint8Array<ArrayBuffer> => {
  if (need <= a.length) return a
  const b = new Uint8Array(Math.max(need, a.length * 2))
  b.set(a)
  return b
}

/**
 * The distinct pieces seen so far and the span table, as one generation. Piece numbers are only meaningful with
 * their Vocab; when a generation is full (vocabLimit spans or pieces, as spaCy bounds its cache) tokenizing goes
 * on in a fresh one, and the old one stays valid, unchanged, for whoever still holds its numbers. The fresh one
 * takes a span it does not know from the previous generation when that knows it (copying pieces costs far less
 * than the rules), so a long job does not fall back to an empty cache each time a generation fills.
 */
export class Vocab {
  constructor(public previous: Vocab | null = null) {}
  size = 0
  readonly text: Array<string> = []
  cls = new Uint8Array(1024)
  flags = new Uint8Array(1024)
  /** `pyLen(text)` */
  cp = new Int32Array(1024)
  /** `text.length` (UTF-16 units) */
  units = new Int32Array(1024)
  /** sum of text[k] * HASH_BASE^(len-1-k), mod 2^32 */
  hash = new Int32Array(1024)
  /** HASH_BASE^len mod 2^32 */
  pw = new Int32Array(1024)
  /** head[id * HEAD_CHARS + r - 1]: the hash of the first r characters (r <= HEAD_CHARS, r < len). */
  head = new Int32Array(1024 * HEAD_CHARS)
  /** The number of the stripped text (the piece itself when stripping changes nothing); -1 for whitespace. */
  word = new Int32Array(1024)
  /** Scratch for numbering a document's distinct words (localWordIds): a stamp and the number. */
  mark = new Int32Array(1024)
  local = new Int32Array(1024)
  /** The special-case patterns that start with each piece. */
  readonly patterns: Array<ReadonlyArray<SpecialPattern> | undefined> = []
  /** The same patterns as piece numbers, made when first needed (patternIdsOf). */
  readonly patternIds: Array<ReadonlyArray<Int32Array>> = []
  private readonly byText = new Map<string, number>()
  // Span table: 4 ints per slot — hash (0: empty), arena offset, length, value. A value >= 0 is the span's one
  // piece; -(p + 1) points at multi[p] = count, multi[p + 1] = the span's own flags (SPAN_FLAGS), then the pieces.
  spanBits = 14
  span = new Int32Array(4 << 14)
  spanCount = 0
  arena = new Uint16Array(1 << 16)
  arenaUsed = 0
  multi = new Int32Array(1024)
  multiUsed = 0
  stamp = 0

  /** The number of piece `t`, adding it when new. */
  idOf(piece: string): number {
    const found = this.byText.get(piece)
    if (found !== undefined) return found
    const t = ownString(piece)
    this.pieceChars += t.length
    const id = this.size++
    this.byText.set(t, id)
    this.text.push(t)
    this.patterns.push(PATTERNS.get(t))
    const need = id + 1
    if (need > this.cls.length) {
      this.cls = grownUint8(this.cls, need)
      this.flags = grownUint8(this.flags, need)
      this.cp = grownInt32(this.cp, need)
      this.units = grownInt32(this.units, need)
      this.hash = grownInt32(this.hash, need)
      this.pw = grownInt32(this.pw, need)
      this.head = grownInt32(this.head, this.cls.length * HEAD_CHARS)
      this.word = grownInt32(this.word, need)
      this.mark = grownInt32(this.mark, need)
      this.local = grownInt32(this.local, need)
    }
    this.cls[id] = (SENT_PUNCT.has(t) ? CLS_SENT : 0) | (IS_PUNCT.test(t) ? CLS_PUNCT : 0) | (PATTERNS.has(t) ? CLS_PATTERN : 0)
    let h = 0
    let pw = 1
    let surrogate = false
    let space = false
    for (let k = 0; k < t.length; k++) {
      const c = t.charCodeAt(k)
      if (c >= 0xd800 && c <= 0xdfff) surrogate = true
      if (c === 32) space = true
      h = (Math.imul(h, HASH_BASE) + c) | 0
      pw = Math.imul(pw, HASH_BASE)
      if (k < HEAD_CHARS) this.head[id * HEAD_CHARS + k] = h
    }
    this.hash[id] = h
    this.pw[id] = pw
    this.cp[id] = pyLen(t)
    this.units[id] = t.length
    const first = t.charCodeAt(0)
    const last = t.charCodeAt(t.length - 1)
    const edge = (first >= 0xdc00 && first <= 0xdfff) || (last >= 0xd800 && last <= 0xdbff)
    this.flags[id] = (hasNonPunctuation(t) ? WORD_NON_PUNCT : 0) | (hasPyAlpha(t) ? WORD_ALPHA : 0) |
      (surrogate ? WORD_SURROGATE : 0) | (space ? WORD_SPACE : 0) | (onlyNewlineBreaks(t) ? 0 : PIECE_RARE_LINE_BREAK) |
      (edge ? WORD_SURROGATE_EDGE : 0) | spanFlags(t)
    this.mark[id] = 0
    const stripped = pyStrip(t)
    // Computed before the store: numbering the stripped text may grow (replace) the arrays.
    const word = stripped === t ? id : stripped.length === 0 ? -1 : this.idOf(stripped)
    this.word[id] = word
    return id
  }

  patternIdsOf(id: number): ReadonlyArray<Int32Array> {
    const made = (this.patterns[id] ?? []).map((p) => Int32Array.from(p.tokens, (t) => this.idOf(t)))
    this.patternIds[id] = made
    return made
  }

  /** Characters held by the pieces' texts. */
  pieceChars = 0

  get full(): boolean {
    // Bounded by count, as spaCy's cache is, and by characters, so that very long runs cannot grow it without end.
    return this.spanCount >= vocabLimit || this.size >= vocabLimit || this.arenaUsed + this.pieceChars > VOCAB_MAX_CHARS
  }

  /** The value of span text[start, end) (hash hk, never 0) when this generation knows it. */
  known(text: string, start: number, end: number, hk: number): number | undefined {
    const len = end - start
    const bits = this.spanBits
    const tab = this.span
    const arena = this.arena
    const mask = (1 << bits) - 1
    let slot = Math.imul(hk, 0x9e3779b1) >>> (32 - bits)
    for (;;) {
      const b = slot << 2
      const sh = tab[b]!
      if (sh === 0) return undefined
      if (sh === hk && tab[b + 2] === len) {
        const o = tab[b + 1]!
        let k = 0
        while (k < len && arena[o + k] === text.charCodeAt(start + k)) k++
        if (k === len) return tab[b + 3]!
      }
      slot = (slot + 1) & mask
    }
  }
  /** The piece texts of a span value. */
  piecesOf(value: number): Array<string> {
    if (value >= 0) return [this.text[value]!]
    const p = -value - 1
    const out: Array<string> = []
    for (let k = 0; k < this.multi[p]!; k++) out.push(this.text[this.multi[p + 2 + k]!]!)
    return out
  }

  /** The value of span text[start, end) whose polynomial hash is h (see the span table above), adding it if new. */
  spanValue(text: string, start: number, end: number, h: number): number {
    const hk = h === 0 ? 1 : h
    return this.known(text, start, end, hk) ?? this.addSpan(text, start, end, hk)
  }

  private addSpan(text: string, start: number, end: number, hk: number): number {
    const before = this.previous?.known(text, start, end, hk)
    const pieces = before !== undefined
      ? this.previous!.piecesOf(before)
      : tokenizeSpan(start === 0 && end === text.length ? text : text.slice(start, end), true)
    let value: number
    if (pieces.length === 1) value = this.idOf(pieces[0]!)
    else {
      const ids = pieces.map((p) => this.idOf(p))
      this.multi = grownInt32(this.multi, this.multiUsed + ids.length + 2)
      const p = this.multiUsed
      this.multi[p] = ids.length
      this.multi[p + 1] = spanFlags(start === 0 && end === text.length ? text : text.slice(start, end))
      for (let k = 0; k < ids.length; k++) this.multi[p + 2 + k] = ids[k]!
      this.multiUsed += ids.length + 2
      value = -(p + 1)
    }
    const len = end - start
    if (this.arenaUsed + len > this.arena.length) {
      const a = new Uint16Array(Math.max(this.arenaUsed + len, this.arena.length * 2))
      a.set(this.arena)
      this.arena = a
    }
    const o = this.arenaUsed
    for (let k = 0; k < len; k++) this.arena[o + k] = text.charCodeAt(start + k)
    this.arenaUsed += len
    if ((this.spanCount + 1) * 2 > 1 << this.spanBits) this.growSpans()
    this.insertSpan(hk, o, len, value)
    return value
  }
  private insertSpan(hk: number, o: number, len: number, value: number) {
    const bits = this.spanBits
    const mask = (1 << bits) - 1
    let slot = Math.imul(hk, 0x9e3779b1) >>> (32 - bits)
    while (this.span[slot << 2] !== 0) slot = (slot + 1) & mask
    const b = slot << 2
    this.span[b] = hk
    this.span[b + 1] = o
    this.span[b + 2] = len
    this.span[b + 3] = value
    this.spanCount++
  }
  private growSpans() {
    const old = this.span
    this.spanBits++
    this.span = new Int32Array(4 << this.spanBits)
    this.spanCount = 0
    for (let b = 0; b < old.length; b += 4) if (old[b] !== 0) this.insertSpan(old[b]!, old[b + 1]!, old[b + 2]!, old[b + 3]!)
  }
}

let vocab = new Vocab()
/** The Vocab new pieces go to (tests: to number words of their own). */
export const currentVocab = (): Vocab => vocab
/** Go on in a fresh, empty Vocab now (tests, benchmarks: texts tokenized before keep the old one). */
export const startNewVocab = (): void => {
  vocab = new Vocab()
}
/** Tests: how many spans or pieces fill a generation (CACHE_MAX by default). */
export const setVocabLimit = (limit: number): void => {
  vocabLimit = limit
}

/** `isPySpaceCode` as a table over UTF-16 units (one load instead of a chain of comparisons). */
const SPACE = new Uint8Array(0x10000)
for (let c = 0; c < 0x10000; c++) SPACE[c] = isPySpaceCode(c) ? 1 : 0

/** Tokens of the last scanned text: pieces, spaCy's one-space flag, and where each token's span starts. */
class TokenArrays {
  vocab: Vocab = vocab
  /** Valid below n. */
  ids = new Int32Array(1024)
  space = new Uint8Array(1024)
  starts = new Int32Array(1024)
  n = 0
  /** OR of the pieces' classes (cls) and of their flags. */
  any = 0
  flags = 0
  /** OR of the flags of the spans that split into several pieces (a single piece's flags are the span's). */
  spanFlags = 0
  reset(v: Vocab) {
    this.vocab = v
    this.n = 0
    this.any = 0
    this.flags = 0
    this.spanFlags = 0
  }
  push(id: number, space: number, start: number) {
    if (this.n === this.ids.length) {
      this.ids = grownInt32(this.ids, this.n + 1)
      this.space = grownUint8(this.space, this.n + 1)
      this.starts = grownInt32(this.starts, this.n + 1)
    }
    this.ids[this.n] = id
    this.space[this.n] = space
    this.starts[this.n] = start
    this.n++
  }
}

const pushSpan = (out: TokenArrays, v: Vocab, value: number, start: number) => {
  if (value >= 0) out.push(value, 0, start)
  else {
    const multi = v.multi
    const p = -value - 1
    const count = multi[p]!
    out.spanFlags |= multi[p + 1]!
    for (let k = 0; k < count; k++) out.push(multi[p + 2 + k]!, 0, start)
  }
}

const scanAffixes = (text: string, out: TokenArrays) => {
  if (vocab.full) {
    // Only the generation just filled stays reachable from the new one.
    vocab.previous = null
    vocab = new Vocab(vocab)
  }
  const v = vocab
  out.reset(v)
  const n = text.length
  if (n === 0) return
  // Alternating runs: a non-whitespace span, then a whitespace run whose first character, when it is a space
  // right after a token, is absorbed into that token's flag; what remains of the run is a whitespace token.
  let i = 0
  while (i < n) {
    const s = i
    let h = 0
    let c = 0
    while (i < n) {
      c = text.charCodeAt(i)
      if (SPACE[c] === 1) break
      h = (Math.imul(h, HASH_BASE) + c) | 0
      i++
    }
    if (s < i) {
      pushSpan(out, v, v.spanValue(text, s, i, h), s)
      if (i === n) break
      if (c === 32) {
        out.space[out.n - 1] = 1
        i++
      }
    }
    const w = i
    h = 0
    while (i < n) {
      c = text.charCodeAt(i)
      if (SPACE[c] === 0) break
      h = (Math.imul(h, HASH_BASE) + c) | 0
      i++
    }
    if (w < i) pushSpan(out, v, v.spanValue(text, w, i, h), w)
  }
  // Whether any piece can start a special-case pattern (the only reason for the second pass), and what the text
  // has anywhere (the special cases only split pieces, so they change neither).
  const cls = v.cls
  const pieceFlags = v.flags
  const ids = out.ids
  let any = 0
  let flags = 0
  for (let k = 0; k < out.n; k++) {
    any |= cls[ids[k]!]!
    flags |= pieceFlags[ids[k]!]!
  }
  out.any = any
  out.flags = flags | out.spanFlags
}

const scratch = new TokenArrays()
const swap = new TokenArrays()
/** applySpecialCases over the arrays: the same matching, filtering and replacement. */
const applySpecialCasesArrays = (a: TokenArrays): TokenArrays => {
  if ((a.any & CLS_PATTERN) === 0) return a
  const v = a.vocab
  const ids = a.ids
  const n = a.n
  let matches: Array<{ start: number; end: number }> | null = null
  const cls = v.cls
  for (let i = 0; i < n; i++) {
    const id = ids[i]!
    if ((cls[id]! & CLS_PATTERN) === 0) continue
    const candidates = v.patternIds[id] ?? v.patternIdsOf(id)
    for (const p of candidates) {
      const len = p.length
      if (i + len > n) continue
      let ok = true
      for (let j = 1; j < len; j++) {
        if (ids[i + j] !== p[j]) {
          ok = false
          break
        }
      }
      if (ok) (matches ??= []).push({ start: i, end: i + len })
    }
  }
  if (matches === null) return a
  matches.sort((x, y) => (y.end - y.start) - (x.end - x.start) || x.start - y.start)
  const seen = new Set<number>()
  const kept: Array<{ start: number; end: number }> = []
  for (const m of matches) {
    if (!seen.has(m.start) && !seen.has(m.end - 1)) kept.push(m)
    for (let k = m.start; k < m.end; k++) seen.add(k)
  }
  kept.sort((x, y) => x.start - y.start)
  const out = a === swap ? scratch : swap
  out.reset(v)
  out.flags = a.flags
  let i = 0
  for (const m of kept) {
    for (; i < m.start; i++) out.push(ids[i]!, a.space[i]!, a.starts[i]!)
    let joined = ""
    for (let k = m.start; k < m.end; k++) joined += v.text[ids[k]!]! + (k < m.end - 1 && a.space[k] ? " " : "")
    const special = SPECIALS.get(joined)
    if (special === undefined) {
      for (let k = m.start; k < m.end; k++) out.push(ids[k]!, a.space[k]!, a.starts[k]!)
    } else {
      const finalSpace = a.space[m.end - 1]!
      const at = a.starts[m.start]!
      for (let j = 0; j < special.length; j++) out.push(v.idOf(special[j]!), j === special.length - 1 ? finalSpace : 0, at)
    }
    i = m.end
  }
  for (; i < n; i++) out.push(ids[i]!, a.space[i]!, a.starts[i]!)
  return out
}

/** Tokenize `text` into shared arrays, valid until the next call. */
const scan = (text: string): TokenArrays => {
  scanAffixes(text, scratch)
  return applySpecialCasesArrays(scratch)
}

/** sentenceStarts(...).length over ids[from, to), at least 1. */
const sentenceCountOf = (cls: Uint8Array, ids: Int32Array, from: number, to: number): number => {
  if (to <= from) return 1
  let count = 1
  let last = from
  let start = from
  let seenPeriod = false
  for (let i = from; i < to; i++) {
    const c = cls[ids[i]!]!
    const inPunctChars = (c & CLS_SENT) !== 0
    if (seenPeriod && !inPunctChars && (c & CLS_PUNCT) === 0) {
      if (last !== start) {
        count++
        last = start
      }
      start = i
      seenPeriod = false
    } else if (inPunctChars) seenPeriod = true
  }
  if (last !== start) count++
  return count
}

/** A text's words (wordTokenize) as piece numbers of one Vocab; `vocab.text[ids[k]]` is the k-th word. */
export class Words {
  private flagsAny = -1
  constructor(readonly vocab: Vocab, readonly ids: Int32Array) {}
  get length(): number {
    return this.ids.length
  }
  /** OR of the words' flags (a text's surrogates are all inside its words). */
  get flags(): number {
    if (this.flagsAny < 0) {
      let f = 0
      const flags = this.vocab.flags
      for (let k = 0; k < this.ids.length; k++) f |= flags[this.ids[k]!]!
      this.flagsAny = f
    }
    return this.flagsAny
  }
  texts(): Array<string> {
    const out = new Array<string>(this.ids.length)
    for (let k = 0; k < this.ids.length; k++) out[k] = this.vocab.text[this.ids[k]!]!
    return out
  }
  /** Tests: words of the given texts (each taken as one word) in the current Vocab. */
  static of(texts: ReadonlyArray<string>): Words {
    const v = vocab
    return new Words(v, Int32Array.from(texts, (t) => v.idOf(t)))
  }
}

/**
 * Words collected from several places (C4QualityFilter gathers the words of the lines it keeps). They form one
 * Words only when they all come from one Vocab; otherwise `words()` is null and the caller tokenizes again.
 */
export class WordBuffer {
  vocab: Vocab | null = null
  mixed = false
  ids = new Int32Array(256)
  length = 0
  /** Empty it for reuse (words() copies, so what it gave out before stays valid). */
  clear() {
    this.vocab = null
    this.mixed = false
    this.length = 0
  }
  /** Append the words among pieces ids[from, to) of `v`. */
  appendPieces(v: Vocab, ids: Int32Array, from: number, to: number) {
    if (this.vocab === null) this.vocab = v
    else if (this.vocab !== v) this.mixed = true
    this.ids = grownInt32(this.ids, this.length + (to - from))
    const word = v.word
    const out = this.ids
    let m = this.length
    for (let k = from; k < to; k++) {
      const w = word[ids[k]!]!
      if (w >= 0) out[m++] = w
    }
    this.length = m
  }
  words(): Words | null {
    if (this.mixed) return null
    return new Words(this.vocab ?? vocab, this.ids.slice(0, this.length))
  }
}

const wordsOfArrays = (v: Vocab, ids: Int32Array, n: number): Words => {
  const word = v.word
  let m = 0
  for (let k = 0; k < n; k++) if (word[ids[k]!]! >= 0) m++
  const out = new Int32Array(m)
  m = 0
  for (let k = 0; k < n; k++) {
    const w = word[ids[k]!]!
    if (w >= 0) out[m++] = w
  }
  return new Words(v, out)
}

/** `nlp.tokenizer(text)` for `spacy.blank("en")`: every token, whitespace tokens included. */
export const spacyTokens = (text: string): Array<SpacyToken> => {
  const a = scan(text)
  const out: Array<SpacyToken> = []
  for (let k = 0; k < a.n; k++) out.push({ text: a.vocab.text[a.ids[k]!]!, space: a.space[k] === 1 })
  return out
}

/** datatrove `SpaCyTokenizer.word_tokenize`: token texts, stripped, empty ones (whitespace tokens) dropped. */
export const wordTokenize = (text: string): Array<string> => {
  const a = scan(text)
  const out: Array<string> = []
  const word = a.vocab.word
  for (let k = 0; k < a.n; k++) {
    const w = word[a.ids[k]!]!
    if (w >= 0) out.push(a.vocab.text[w]!)
  }
  return out
}

/**
 * `len(split_into_sentences(text))` in datatrove (utils/text.py): the number of spans from `span_tokenize`, and 1
 * when spaCy finds none (an empty text still yields the one piece `text[0:len(text)]`).
 */
export const countSentences = (text: string): number => {
  const a = scan(text)
  return sentenceCountOf(a.vocab.cls, a.ids, 0, a.n)
}

/** One tokenization for both: appends `text`'s words to `words` and returns its sentence count. */
export const wordsAndSentences = (text: string, words: WordBuffer): number => {
  const a = scan(text)
  words.appendPieces(a.vocab, a.ids, 0, a.n)
  return sentenceCountOf(a.vocab.cls, a.ids, 0, a.n)
}

/**
 * A whole text's tokens kept for later questions about its pieces: the pieces, and the offset in the text of the
 * whitespace-delimited span each came from. The tokens of a stripped line of the text (a range that starts and
 * ends at span boundaries, with whitespace or the text's ends around it) are exactly the tokens whose span starts
 * inside the range: spans are tokenized on their own, and no special-case pattern has a whitespace token, so no
 * pattern matches across the whitespace that bounds the line.
 */
export class DocTokens {
  readonly vocab: Vocab
  readonly ids: Int32Array
  readonly starts: Int32Array
  /** OR of the pieces' flags: whether the text has a surrogate (WORD_SURROGATE), a rare line break, … */
  readonly flags: number
  constructor(a: TokenArrays) {
    this.vocab = a.vocab
    this.ids = a.ids.slice(0, a.n)
    this.starts = a.starts.slice(0, a.n)
    this.flags = a.flags
  }
  /** wordTokenize's words. */
  words(): Words {
    return wordsOfArrays(this.vocab, this.ids, this.ids.length)
  }
  /** The first token whose span starts at or after `offset`. */
  tokenAt(offset: number): number {
    const starts = this.starts
    let lo = 0
    let hi = starts.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (starts[mid]! < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  /**
   * For text[from, to) with no Python whitespace at either end and whitespace (or the text's ends) around it:
   * wordsAndSentences of that slice, without tokenizing it again.
   */
  rangeWordsAndSentences(from: number, to: number, words: WordBuffer): number {
    const a = this.tokenAt(from)
    const b = this.tokenAt(to)
    words.appendPieces(this.vocab, this.ids, a, b)
    return sentenceCountOf(this.vocab.cls, this.ids, a, b)
  }
}

/** Tokenize `text` once and keep the tokens (see DocTokens). */
export const docTokens = (text: string): DocTokens => new DocTokens(scan(text))

/**
 * Numbers the distinct words of `words` 0, 1, 2… in order of first appearance, into `out`; returns how many
 * distinct words there are. Within one Vocab a piece number is one text, so numbers compare texts.
 */
export const localWordIds = (words: Words, out: Int32Array): number => {
  const v = words.vocab
  const ids = words.ids
  const mark = v.mark
  const local = v.local
  if (v.stamp === 0x7fffffff) {
    v.mark.fill(0)
    v.stamp = 0
  }
  const stamp = ++v.stamp
  let next = 0
  for (let i = 0; i < ids.length; i++) {
    const w = ids[i]!
    if (mark[w] !== stamp) {
      mark[w] = stamp
      local[w] = next++
    }
    out[i] = local[w]!
  }
  return next
}

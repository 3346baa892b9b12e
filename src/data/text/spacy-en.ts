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
import { hasPyAlpha, isPySpaceCode, PY_SPACE_CLASS, pyLen, pyStrip } from "./pytext.ts"

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
    else {
      INFIX_RE.lastIndex = 0
      let start = 0
      let found = false
      for (const m of s.matchAll(INFIX_RE)) {
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
const CACHE_MAX = 200_000

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
// The same tokenizer over flat arrays. Each distinct whitespace-delimited run is tokenized once (cached) into
// pieces, and each distinct piece is described once (PieceInfo): its sentencizer classes, whether it can start a
// special-case pattern, and the facts the filters ask of a word (code points, punctuation, letters, a hash).
// A text is then one scan that appends cached pieces to reusable arrays; the special-case pass only runs when a
// piece can start a pattern, and rebuilds the arrays only when a pattern matches.
// ---------------------------------------------------------------------------------------------------------------
const CLS_SENT = 1
const CLS_PUNCT = 2
const CLS_PATTERN = 4

/** PieceInfo.flags */
export const WORD_NON_PUNCT = 1
export const WORD_ALPHA = 2
/** The piece has a UTF-16 surrogate (then code points and joined lengths need care). */
export const WORD_SURROGATE = 4
/** The piece contains U+0020 (never for a word spaCy makes, but n-gram keys joined with " " rely on it). */
export const WORD_SPACE = 8

/** Base of the polynomial hash of PieceInfo.hash (mod 2^32, over UTF-16 units). */
export const HASH_BASE = 0x01000193

/** What the tokenizer and the filters need to know about one distinct token text. */
export class PieceInfo {
  /** As a span cache value: one piece. */
  readonly single = true
  readonly cls: number
  /** `pyLen(text)` */
  readonly cp: number
  readonly flags: number
  /** sum of text[k] * HASH_BASE^(len-1-k), mod 2^32 */
  readonly hash: number
  /** HASH_BASE^len mod 2^32 */
  readonly pw: number
  /** The stripped text's info (this one when stripping changes nothing); null for whitespace. */
  word: PieceInfo | null = null
  /**
   * Scratch for numbering a document's distinct words (see wordIds): `mark` is the numbering's stamp. Within one
   * `gen` (the cache's generation) there is at most one PieceInfo per text, so words of one generation are
   * equal exactly when they are the same object.
   */
  mark = 0
  local = 0
  readonly gen: number
  /** The special-case patterns that start with this piece. */
  readonly patterns: ReadonlyArray<SpecialPattern> | undefined
  constructor(readonly text: string, gen = -1) {
    this.gen = gen
    this.patterns = PATTERNS.get(text)
    this.cls = (SENT_PUNCT.has(text) ? CLS_SENT : 0) | (IS_PUNCT.test(text) ? CLS_PUNCT : 0) |
      (PATTERNS.has(text) ? CLS_PATTERN : 0)
    let h = 0
    let pw = 1
    let surrogate = false
    let space = false
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k)
      if (c >= 0xd800 && c <= 0xdfff) surrogate = true
      if (c === 32) space = true
      h = (Math.imul(h, HASH_BASE) + c) | 0
      pw = Math.imul(pw, HASH_BASE)
    }
    this.hash = h
    this.pw = pw
    this.cp = pyLen(text)
    this.flags = (hasNonPunctuation(text) ? WORD_NON_PUNCT : 0) | (hasPyAlpha(text) ? WORD_ALPHA : 0) |
      (surrogate ? WORD_SURROGATE : 0) | (space ? WORD_SPACE : 0)
  }
}

const pieceInfos = new Map<string, PieceInfo>()
let pieceGen = 0
export const pieceInfo = (t: string): PieceInfo => {
  let info = pieceInfos.get(t)
  if (info === undefined) {
    if (pieceInfos.size >= CACHE_MAX) {
      pieceInfos.clear()
      pieceGen++
    }
    info = new PieceInfo(t, pieceGen)
    pieceInfos.set(t, info)
    const stripped = pyStrip(t)
    info.word = stripped === t ? info : stripped.length === 0 ? null : pieceInfo(stripped)
  }
  return info
}

/** A span that tokenizes into more than one piece (a one-piece span is cached as its PieceInfo). */
class SpanEntry {
  readonly single = false
  constructor(readonly text: string, readonly pieces: ReadonlyArray<PieceInfo>) {}
}
const makeSpanValue = (span: string): PieceInfo | SpanEntry => {
  const pieces = tokenizeSpan(span, true).map(pieceInfo)
  return pieces.length === 1 ? pieces[0]! : new SpanEntry(span, pieces)
}

// The span cache: open addressing over the span's polynomial hash (HASH_BASE, computed during the whitespace
// scan; stored as 1 when it is 0, so that 0 marks an empty slot), confirmed with `startsWith` at the span's
// offset, so a cached span costs neither a slice nor a string hash. A one-piece span's value is its PieceInfo
// (whose text is the span), which keeps a lookup to few memory loads. Cleared, as spaCy's cache is bounded,
// once it holds CACHE_MAX spans.
let tabBits = 14
let tabHash = new Int32Array(1 << tabBits)
let tabVals: Array<PieceInfo | SpanEntry | null> = new Array<PieceInfo | SpanEntry | null>(1 << tabBits).fill(null)
let tabCount = 0
const tabAlloc = (bits: number) => {
  tabBits = bits
  tabHash = new Int32Array(1 << bits)
  tabVals = new Array<PieceInfo | SpanEntry | null>(1 << bits).fill(null)
  tabCount = 0
}
const tabInsert = (hk: number, v: PieceInfo | SpanEntry) => {
  const mask = (1 << tabBits) - 1
  let slot = Math.imul(hk, 0x9e3779b1) >>> (32 - tabBits)
  while (tabHash[slot] !== 0) slot = (slot + 1) & mask
  tabHash[slot] = hk
  tabVals[slot] = v
  tabCount++
}
const tabGrow = () => {
  const hashes = tabHash
  const vals = tabVals
  tabAlloc(tabBits + 1)
  for (let k = 0; k < hashes.length; k++) if (hashes[k] !== 0) tabInsert(hashes[k]!, vals[k]!)
}
// In front of the table, a small direct-mapped one that the frequent spans keep to themselves: its arrays and
// their values stay in the processor's caches, where the big table's random slots would not.
const RECENT_BITS = 12
const recentHash = new Int32Array(1 << RECENT_BITS)
const recentVals: Array<PieceInfo | SpanEntry | null> = new Array<PieceInfo | SpanEntry | null>(1 << RECENT_BITS).fill(null)

/** The span text[start, end), whose polynomial hash is h: its PieceInfo, or its pieces when several. */
const spanAt = (text: string, start: number, end: number, h: number): PieceInfo | SpanEntry => {
  const hk = h === 0 ? 1 : h
  const len = end - start
  const mixed = Math.imul(hk, 0x9e3779b1)
  const r = mixed >>> (32 - RECENT_BITS)
  if (recentHash[r] === hk) {
    const v = recentVals[r]!
    const k = v.text
    if (k.length === len && text.startsWith(k, start)) return v
  }
  const v = spanInTable(text, start, end, hk, mixed)
  recentHash[r] = hk
  recentVals[r] = v
  return v
}
const spanInTable = (text: string, start: number, end: number, hk: number, mixed: number): PieceInfo | SpanEntry => {
  const mask = (1 << tabBits) - 1
  const len = end - start
  let slot = mixed >>> (32 - tabBits)
  for (;;) {
    const sh = tabHash[slot]!
    if (sh === 0) break
    if (sh === hk) {
      const v = tabVals[slot]!
      const k = v.text
      if (k.length === len && text.startsWith(k, start)) return v
    }
    slot = (slot + 1) & mask
  }
  const span = start === 0 && end === text.length ? text : text.slice(start, end)
  const v = makeSpanValue(span)
  if ((tabCount + 1) * 2 > 1 << tabBits) tabGrow()
  tabInsert(hk, v)
  return v
}

/** `isPySpaceCode` as a table for ASCII. */
const ASCII_SPACE = new Uint8Array(128)
for (let c = 0; c < 128; c++) ASCII_SPACE[c] = isPySpaceCode(c) ? 1 : 0

/** Tokens of the last scanned text: pieces, spaCy's one-space flag, and where each token's span starts. */
class TokenArrays {
  /** Valid below n; the array keeps its length (and capacity) from text to text. */
  pieces: Array<PieceInfo> = []
  space = new Uint8Array(1024)
  starts = new Int32Array(1024)
  n = 0
  any = 0
  reset() {
    this.n = 0
    this.any = 0
  }
  push(p: PieceInfo, space: number, start: number) {
    if (this.n === this.space.length) {
      const b = new Uint8Array(this.space.length * 2)
      b.set(this.space)
      this.space = b
      const s = new Int32Array(this.starts.length * 2)
      s.set(this.starts)
      this.starts = s
    }
    if (this.n < this.pieces.length) this.pieces[this.n] = p
    else this.pieces.push(p)
    this.space[this.n] = space
    this.starts[this.n] = start
    this.n++
    this.any |= p.cls
  }
}

const scanAffixes = (text: string, out: TokenArrays) => {
  out.reset()
  const n = text.length
  if (n === 0) return
  if (tabCount >= CACHE_MAX) {
    tabAlloc(14)
    recentHash.fill(0)
    recentVals.fill(null)
  }
  // Alternating runs: a non-whitespace span, then a whitespace run whose first character, when it is a space
  // right after a token, is absorbed into that token's flag; what remains of the run is a whitespace token.
  let i = 0
  while (i < n) {
    const s = i
    let h = 0
    let c = 0
    while (i < n) {
      c = text.charCodeAt(i)
      if (c < 128 ? ASCII_SPACE[c] === 1 : isPySpaceCode(c)) break
      h = (Math.imul(h, HASH_BASE) + c) | 0
      i++
    }
    if (s < i) {
      const v = spanAt(text, s, i, h)
      if (v.single) out.push(v, 0, s)
      else for (let k = 0; k < v.pieces.length; k++) out.push(v.pieces[k]!, 0, s)
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
      if (!(c < 128 ? ASCII_SPACE[c] === 1 : isPySpaceCode(c))) break
      h = (Math.imul(h, HASH_BASE) + c) | 0
      i++
    }
    if (w < i) {
      const v = spanAt(text, w, i, h)
      if (v.single) out.push(v, 0, w)
      else for (let k = 0; k < v.pieces.length; k++) out.push(v.pieces[k]!, 0, w)
    }
  }
}

const scratch = new TokenArrays()
const swap = new TokenArrays()
/** applySpecialCases over the arrays: the same matching, filtering and replacement. */
const applySpecialCasesArrays = (a: TokenArrays): TokenArrays => {
  if ((a.any & CLS_PATTERN) === 0) return a
  const pieces = a.pieces
  const n = a.n
  let matches: Array<{ start: number; end: number }> | null = null
  for (let i = 0; i < n; i++) {
    if ((pieces[i]!.cls & CLS_PATTERN) === 0) continue
    const candidates = pieces[i]!.patterns!
    for (const p of candidates) {
      const len = p.tokens.length
      if (i + len > n) continue
      let ok = true
      for (let j = 1; j < len; j++) {
        if (pieces[i + j]!.text !== p.tokens[j]) {
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
  out.reset()
  let i = 0
  for (const m of kept) {
    for (; i < m.start; i++) out.push(pieces[i]!, a.space[i]!, a.starts[i]!)
    let joined = ""
    for (let k = m.start; k < m.end; k++) joined += pieces[k]!.text + (k < m.end - 1 && a.space[k] ? " " : "")
    const special = SPECIALS.get(joined)
    if (special === undefined) {
      for (let k = m.start; k < m.end; k++) out.push(pieces[k]!, a.space[k]!, a.starts[k]!)
    } else {
      const finalSpace = a.space[m.end - 1]!
      const at = a.starts[m.start]!
      for (let j = 0; j < special.length; j++) out.push(pieceInfo(special[j]!), j === special.length - 1 ? finalSpace : 0, at)
    }
    i = m.end
  }
  for (; i < n; i++) out.push(pieces[i]!, a.space[i]!, a.starts[i]!)
  return out
}

/** Tokenize `text` into shared arrays, valid until the next call. */
const scan = (text: string): TokenArrays => {
  scanAffixes(text, scratch)
  return applySpecialCasesArrays(scratch)
}

/** Sentence count over scanned tokens: sentenceStarts, counting only. */
const sentenceCount = (a: TokenArrays): number => sentenceCountOf(a.pieces, 0, a.n)

/** sentenceStarts(...).length over pieces[from, to), at least 1. */
const sentenceCountOf = (pieces: ReadonlyArray<PieceInfo>, from: number, to: number): number => {
  if (to <= from) return 1
  let count = 1
  let last = from
  let start = from
  let seenPeriod = false
  for (let i = from; i < to; i++) {
    const c = pieces[i]!.cls
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

const appendWordInfos = (a: TokenArrays, out: Array<PieceInfo>) => {
  const pieces = a.pieces
  for (let k = 0; k < a.n; k++) {
    const w = pieces[k]!.word
    if (w !== null) out.push(w)
  }
}

/** `nlp.tokenizer(text)` for `spacy.blank("en")`: every token, whitespace tokens included. */
export const spacyTokens = (text: string): Array<SpacyToken> => {
  const a = scan(text)
  const out: Array<SpacyToken> = []
  for (let k = 0; k < a.n; k++) out.push({ text: a.pieces[k]!.text, space: a.space[k] === 1 })
  return out
}

/** datatrove `SpaCyTokenizer.word_tokenize`: token texts, stripped, empty ones (whitespace tokens) dropped. */
export const wordTokenize = (text: string): Array<string> => {
  const a = scan(text)
  const out: Array<string> = []
  for (let k = 0; k < a.n; k++) {
    const w = a.pieces[k]!.word
    if (w !== null) out.push(w.text)
  }
  return out
}

/** wordTokenize's words as PieceInfo (`.text` is the word). */
export const wordInfos = (text: string): Array<PieceInfo> => {
  const out: Array<PieceInfo> = []
  appendWordInfos(scan(text), out)
  return out
}

/**
 * `len(split_into_sentences(text))` in datatrove (utils/text.py): the number of spans from `span_tokenize`, and 1
 * when spaCy finds none (an empty text still yields the one piece `text[0:len(text)]`).
 */
export const countSentences = (text: string): number => sentenceCount(scan(text))

/** One tokenization for both: appends `text`'s words to `words` and returns its sentence count. */
export const wordsAndSentences = (text: string, words: Array<PieceInfo>): number => {
  const a = scan(text)
  appendWordInfos(a, words)
  return sentenceCount(a)
}

/**
 * A whole text's tokens kept for later questions about its pieces: the pieces, and the offset in the text of the
 * whitespace-delimited span each came from. The tokens of a stripped line of the text (a range that starts and
 * ends at span boundaries, with whitespace or the text's ends around it) are exactly the tokens whose span starts
 * inside the range: spans are tokenized on their own, and no special-case pattern has a whitespace token, so no
 * pattern matches across the whitespace that bounds the line.
 */
export class DocTokens {
  readonly pieces: ReadonlyArray<PieceInfo>
  readonly starts: Int32Array
  constructor(a: TokenArrays) {
    this.pieces = a.pieces.slice(0, a.n)
    this.starts = a.starts.slice(0, a.n)
  }
  /** wordTokenize's words as PieceInfo. */
  words(): Array<PieceInfo> {
    const out: Array<PieceInfo> = []
    const pieces = this.pieces
    for (let k = 0; k < pieces.length; k++) {
      const w = pieces[k]!.word
      if (w !== null) out.push(w)
    }
    return out
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
  rangeWordsAndSentences(from: number, to: number, words: Array<PieceInfo>): number {
    const a = this.tokenAt(from)
    const b = this.tokenAt(to)
    const pieces = this.pieces
    for (let k = a; k < b; k++) {
      const w = pieces[k]!.word
      if (w !== null) words.push(w)
    }
    return sentenceCountOf(pieces, a, b)
  }
}

/** Tokenize `text` once and keep the tokens (see DocTokens). */
export const docTokens = (text: string): DocTokens => new DocTokens(scan(text))

let idStamp = 0
/**
 * Numbers `words` by distinct text, 0, 1, 2… in order of first appearance, into `ids`; returns how many distinct
 * words there are, or -1 when the words come from different cache generations (then identity is not equality).
 */
export const wordIds = (words: ReadonlyArray<PieceInfo>, ids: Int32Array): number => {
  if (words.length === 0) return 0
  const gen = words[0]!.gen
  if (gen < 0) return -1
  const stamp = ++idStamp
  let next = 0
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (w.gen !== gen) return -1
    if (w.mark !== stamp) {
      w.mark = stamp
      w.local = next++
    }
    ids[i] = w.local
  }
  return next
}

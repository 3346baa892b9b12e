/**
 * spaCy's tokenizer over flat arrays, with a span cache: the fast path the filters run on. A text is one scan
 * that appends each whitespace-delimited span's piece numbers (from the Vocab, which tokenizes a span by the rules
 * only the first time it sees it) to reusable arrays; the special-case pass only runs when a piece can start a
 * pattern, and rebuilds the arrays only when a pattern matches. It gives what the reference tokenizer
 * (reference.ts) gives; the tests hold it to that.
 */
import { isPySpaceCode } from "../pytext.ts"
import type { SpacyToken } from "./affixes.ts"
import { DocTokens } from "./doc-tokens.ts"
import { SPECIALS } from "./exceptions.ts"
import { CLS_PATTERN, HASH_BASE } from "./piece-flags.ts"
import { sentenceCountOf } from "./sentencizer.ts"
import { grownInt32, grownUint8, Vocab, VOCAB_LIMIT } from "./vocab.ts"
import type { WordBuffer } from "./words.ts"

/** `isPySpaceCode` as a table over UTF-16 units (one load instead of a chain of comparisons). */
const SPACE = new Uint8Array(0x10000)
for (let c = 0; c < 0x10000; c++) SPACE[c] = isPySpaceCode(c) ? 1 : 0

/** Tokens of the last scanned text: pieces, spaCy's one-space flag, and where each token's span starts. */
class TokenArrays {
  constructor(public vocab: Vocab) {}
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

/** `Tokenizer._tokenize_affixes` over the arrays: every span's pieces from `v`, into `out`. */
const scanAffixes = (text: string, v: Vocab, out: TokenArrays) => {
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

/**
 * applySpecialCases over the arrays: the same matching, filtering and replacement. Returns `a` when nothing
 * matches, else `out` refilled.
 */
const applySpecialCasesArrays = (a: TokenArrays, out: TokenArrays): TokenArrays => {
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

/**
 * A tokenizer and the state it owns: the current Vocab generation (the span cache) and the arrays it scans into.
 * Piece numbers it hands out (Words, DocTokens, WordBuffer) stay valid with their Vocab after later calls; the
 * arrays do not leave it. One instance serves one thread of work at a time (calls are synchronous).
 */
export class SpacyTokenizer {
  private vocab: Vocab
  /** Spans or pieces that fill a generation. */
  private limit: number
  // Scanned into, then (when a special case matches) rewritten into the other; valid until the next call.
  private readonly scanned: TokenArrays
  private readonly rewritten: TokenArrays

  constructor(limit: number = VOCAB_LIMIT) {
    this.limit = limit
    this.vocab = new Vocab()
    this.scanned = new TokenArrays(this.vocab)
    this.rewritten = new TokenArrays(this.vocab)
  }

  /** The Vocab new pieces go to. */
  get currentVocab(): Vocab {
    return this.vocab
  }
  /** Go on in a fresh, empty Vocab now (tests, benchmarks: texts tokenized before keep the old one). */
  startNewVocab(): void {
    this.vocab = new Vocab()
  }
  /** How many spans or pieces fill a generation (VOCAB_LIMIT by default; tests make it small). */
  setVocabLimit(limit: number): void {
    this.limit = limit
  }

  /** `nlp.tokenizer(text)` for `spacy.blank("en")`: every token, whitespace tokens included. */
  spacyTokens(text: string): Array<SpacyToken> {
    const a = this.scan(text)
    const out: Array<SpacyToken> = []
    for (let k = 0; k < a.n; k++) out.push({ text: a.vocab.text[a.ids[k]!]!, space: a.space[k] === 1 })
    return out
  }

  /** datatrove `SpaCyTokenizer.word_tokenize`: token texts, stripped, empty ones (whitespace tokens) dropped. */
  wordTokenize(text: string): Array<string> {
    const a = this.scan(text)
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
  countSentences(text: string): number {
    const a = this.scan(text)
    return sentenceCountOf(a.vocab.cls, a.ids, 0, a.n)
  }

  /** One tokenization for both: appends `text`'s words to `words` and returns its sentence count. */
  wordsAndSentences(text: string, words: WordBuffer): number {
    const a = this.scan(text)
    words.appendPieces(a.vocab, a.ids, 0, a.n)
    return sentenceCountOf(a.vocab.cls, a.ids, 0, a.n)
  }

  /** Tokenize `text` once and keep the tokens (see DocTokens). */
  docTokens(text: string): DocTokens {
    const a = this.scan(text)
    return new DocTokens(a.vocab, a.ids.slice(0, a.n), a.starts.slice(0, a.n), a.flags)
  }

  /** Tokenize `text` into this tokenizer's arrays, valid until the next call. */
  private scan(text: string): TokenArrays {
    if (this.vocab.isFull(this.limit)) {
      // Only the generation just filled stays reachable from the new one.
      this.vocab.previous = null
      this.vocab = new Vocab(this.vocab)
    }
    scanAffixes(text, this.vocab, this.scanned)
    return applySpecialCasesArrays(this.scanned, this.rewritten)
  }
}

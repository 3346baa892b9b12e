/**
 * datatrove's MinHash words, `word_tokenize(simplify_text(text))` (spaCy English words of the normalized text),
 * written straight into a byte buffer as UTF-8, each word followed by one space, so that the shingle
 * `" ".join(words[i:i+n])` is the contiguous byte range from the start of word i to the end of word i+n−1 and can
 * be hashed without building a string.
 *
 * The shared implementation (text/datatrove-text.ts `simplifyText`, text/spacy-en `wordTokenize`) is the
 * definition; this is a faster equivalent for the common case, and falls back to it, piece by piece or for the
 * whole document, wherever the fast path could differ:
 *
 * - Characters are classified once each, by asking the shared `simplifyText` how it treats them: ASCII letters and
 *   Latin letters that normalize to one ASCII letter (É → e), digits (runs become "0" exactly as simplify_text's
 *   number regex), separators (punctuation and whitespace that simplify_text turns into one space), and everything
 *   else ("slow": other scripts, symbols, emoji, combining marks, non-ASCII digits and decimal separators).
 * - simplify_text is local between ASCII whitespace characters (no step looks across one: lowercasing's Final_Sigma
 *   context, the number regex, NFD reordering and the whitespace rules all stop there), so a stretch of input
 *   between two ASCII whitespace characters that holds a slow character is normalized and tokenized by the shared
 *   functions alone and its words are spliced in.
 * - spaCy's tokenization of a whitespace-separated span depends only on the span, except for the special-case pass
 *   over the token sequence (`_apply_special_cases`), which can only fire where consecutive tokens concatenate to
 *   a tokenizer exception that is not a plain word of letters. The fast words are [a-z0]+ and no such exception
 *   is (checked below, at load); around every spliced-in word the concatenations are checked, and on any hit the
 *   whole document goes through the shared functions.
 * - A fast word of letters is one token unless it is an exception (then its pieces, which are its substrings); a
 *   fast word with a digit is tokenized by the shared `wordTokenize` once and cached (e.g. "0km" → "0" "km").
 *
 * test/data/minhash-fast.test.ts compares it with the shared functions on real and adversarial text.
 */
import { DATATROVE_PUNCTUATION, DEFAULT_TEXT_NORM, simplifyText, type TextNormConfig } from "../text/datatrove-text.ts"
import { isPySpaceCode } from "../text/pytext.ts"
import { SPECIALS, wordTokenize } from "../text/spacy-en/index.ts"

/** The definition: `word_tokenize(simplify_text(text))` with the shared implementation. */
export const referenceWords = (text: string, norm: TextNormConfig = DEFAULT_TEXT_NORM): Array<string> =>
  wordTokenize(simplifyText(text, norm))

// ---------------------------------------------------------------------------------------------------------------
// Character classes, decided by the shared simplifyText itself.
// ---------------------------------------------------------------------------------------------------------------
const UNKNOWN = 0
const LETTER = 1 // LETTER_OF gives the ASCII letter
const DIGIT = 2
const SEP = 3
const WS = 4 // ASCII whitespace: also a boundary of the locality argument
const SLOW = 5

const CLASS = new Uint8Array(65536)
const LETTER_OF = new Uint8Array(65536)
const PUNCT = new Set(Array.from(DATATROVE_PUNCTUATION, (c) => c.charCodeAt(0)))
// simplify_text's number regex joins digits across these; a digit run next to one is left to the shared code.
const NUMBER_SEPARATORS = new Set([0x2e, 0x2c, 0x060c, 0x066b, 0x2396, 0x2397, 0x2398])
const ND = /\p{Nd}/u
const MN = /\p{Mn}/gu
const isAsciiWs = (c: number) => (c >= 9 && c <= 13) || (c >= 28 && c <= 32)

const classify = (c: number): number => {
  const ch = String.fromCharCode(c)
  if (c >= 0xd800 && c <= 0xdfff) return SLOW
  if (c >= 48 && c <= 57) return simplifyText(`a${ch}b`) === "a0b" && simplifyText(ch) === "0" ? DIGIT : SLOW
  if (ND.test(ch) || (c >= 128 && NUMBER_SEPARATORS.has(c))) return SLOW
  if (PUNCT.has(c) || isPySpaceCode(c)) {
    const ok = ch.toLowerCase() === ch && simplifyText(`a${ch}b`) === "a b" && simplifyText(`a${ch}`) === "a" && simplifyText(`${ch}b`) === "b"
    if (!ok) return SLOW
    return c < 128 && isAsciiWs(c) ? WS : SEP
  }
  if (c < 128 && isAsciiWs(c)) return SLOW // not expected: every ASCII whitespace is Python whitespace
  const lower = ch.toLowerCase()
  for (const l of lower) {
    const lc = l.codePointAt(0)!
    if (PUNCT.has(lc) || isPySpaceCode(lc) || ND.test(l)) return SLOW
  }
  const r = lower.normalize("NFD").replace(MN, "")
  if (!/^[a-z]$/.test(r)) return SLOW
  if (simplifyText(`x${ch}y`) !== `x${r}y` || simplifyText(ch) !== r || simplifyText(`0${ch}0`) !== `0${r}0`) return SLOW
  LETTER_OF[c] = r.charCodeAt(0)
  return LETTER
}
for (let c = 0; c < 128; c++) CLASS[c] = classify(c)
const classOf = (c: number): number => {
  let k = CLASS[c]!
  if (k === UNKNOWN) CLASS[c] = k = classify(c)
  return k
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer exceptions.
// ---------------------------------------------------------------------------------------------------------------
const wordHash = (s: string): number => {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h
}
interface LetterSpecial {
  readonly key: string
  readonly lengths: ReadonlyArray<number>
}
const SPECIAL_BITS = new Uint8Array(65536)
const SPECIAL_BY_HASH = new Map<number, Array<LetterSpecial>>()
/** Concatenations of consecutive tokens that the special-case pass could act on. */
const AFFIXED = new Set<string>()
let AFFIXED_MAX = 0
/** False if an assumption above does not hold for the shared tables: then every document takes the shared path. */
let FAST_OK = true
for (const [key, pieces] of SPECIALS) {
  if (/^[A-Za-z]+$/.test(key)) {
    // Letters only: no prefix, suffix, infix or URL rule applies, so the exception acts on the span alone.
    if (pieces.join("") !== key) FAST_OK = false
    if (!/^[a-z]+$/.test(key)) continue
    const h = wordHash(key)
    SPECIAL_BITS[h & 0xffff] = 1
    let list = SPECIAL_BY_HASH.get(h)
    if (list === undefined) SPECIAL_BY_HASH.set(h, (list = []))
    list.push({ key, lengths: pieces.map((p) => p.length) })
    continue
  }
  if (/\s/.test(key) && !/^\s$/.test(key)) FAST_OK = false
  for (const v of [key.replace(/ /g, ""), pieces.join("")]) {
    if (v === "") continue
    if (/^[a-z0]+$/.test(v)) FAST_OK = false
    AFFIXED.add(v)
    AFFIXED_MAX = Math.max(AFFIXED_MAX, v.length)
  }
}
{
  const zero = wordTokenize("0")
  if (zero.length !== 1 || zero[0] !== "0") FAST_OK = false
}

/** Piece lengths of a fast word with a digit ([a-z0]+), or null when its tokens are not a split of it. */
const zeroCache = new Map<string, ReadonlyArray<number> | null>()
const zeroWordPieces = (w: string): ReadonlyArray<number> | null => {
  let hit = zeroCache.get(w)
  if (hit === undefined) {
    const toks = wordTokenize(w)
    hit = toks.join("") === w && toks.every((t) => t.length > 0) ? toks.map((t) => t.length) : null
    if (zeroCache.size >= 100_000) zeroCache.clear()
    zeroCache.set(w, hit)
  }
  return hit
}

// ---------------------------------------------------------------------------------------------------------------
// The writer.
// ---------------------------------------------------------------------------------------------------------------
/**
 * Where words go: bytes into `u8[textBase, textLimit)`, the byte range of word k as `u32[startsIdx + k]`,
 * `u32[endsIdx + k]` (absolute byte addresses), at most `maxWords` words.
 */
export interface WordBuffer {
  readonly u8: Uint8Array
  readonly u32: Uint32Array
  readonly textBase: number
  readonly textLimit: number
  readonly startsIdx: number
  readonly endsIdx: number
  readonly maxWords: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
const OVERFLOW = -1

/** Append `words` (strings) after `nt` words ending at `o`; returns the new byte position or OVERFLOW. */
const appendStrings = (buf: WordBuffer, words: ReadonlyArray<string>, o: number, nt: number): number => {
  const { u8, u32 } = buf
  for (const w of words) {
    if (nt >= buf.maxWords || o + w.length * 3 + 1 > buf.textLimit) return OVERFLOW
    const { written } = encoder.encodeInto(w, u8.subarray(o, buf.textLimit))
    u32[buf.startsIdx + nt] = o
    o += written
    u32[buf.endsIdx + nt] = o
    u8[o++] = 32
    nt++
  }
  return o
}

const latin1 = (u8: Uint8Array, from: number, to: number): string => {
  let s = ""
  for (let k = from; k < to; k++) s += String.fromCharCode(u8[k]!)
  return s
}

/** How often each path ran (cumulative, per process): for benchmarks and tests. */
export const fastWordCounters = { documents: 0, slowStretches: 0, wholeDocument: 0 }

/** The whole document through the shared functions. */
const writeReference = (text: string, norm: TextNormConfig, buf: WordBuffer): number => {
  fastWordCounters.wholeDocument++
  const words = referenceWords(text, norm)
  const o = appendStrings(buf, words, buf.textBase, 0)
  return o === OVERFLOW ? OVERFLOW : words.length
}

/**
 * Writes the words of `text` into `buf`; returns how many, or −1 when the buffer is too small (grow it and call
 * again). Identical to `referenceWords(text, norm)` written with `appendStrings`.
 */
export const writeWords = (text: string, norm: TextNormConfig, buf: WordBuffer): number => {
  fastWordCounters.documents++
  if (!FAST_OK || (norm !== DEFAULT_TEXT_NORM && !isDefaultNorm(norm))) return writeReference(text, norm, buf)
  const { u8, u32, startsIdx, endsIdx, textLimit } = buf
  const len = text.length
  let o = buf.textBase
  let nt = 0
  // State at the last ASCII whitespace: where a slow stretch starts, and what to roll back to.
  let bIn = 0
  let bOut = o
  let bTok = 0
  let wStart = -1
  let wHash = 0
  let wZero = false
  let slow: Array<number> | undefined // [firstWord, endWord) pairs of spliced-in words
  let slowText: Map<number, string> | undefined
  // Room for what the rest of the text can produce on the fast path: at most two bytes and one word per character
  // (checked again after each ASCII whitespace and spliced-in stretch; spliced-in words check their own room).
  const maxWords = buf.maxWords
  if (o + 2 * len + 16 > textLimit || len + 8 > maxWords) return OVERFLOW
  let i = 0
  for (;;) {
    let c = 0
    let k = SEP
    if (i < len) {
      c = text.charCodeAt(i)
      k = CLASS[c]!
      if (k === UNKNOWN) k = classOf(c)
      if (k === LETTER) {
        if (wStart < 0) {
          wStart = o
          wHash = 0
          wZero = false
        }
        // The run of letters in one go.
        let h = wHash
        for (;;) {
          const l = c < 128 ? c | 32 : LETTER_OF[c]!
          u8[o++] = l
          h = (Math.imul(h, 31) + l) | 0
          if (++i >= len) break
          c = text.charCodeAt(i)
          if (CLASS[c] !== LETTER) break
        }
        wHash = h
        continue
      }
      if (k === DIGIT) {
        // \p{Nd}+(?:[.,…]\p{Nd}+)? → "0" (other decimal separators and digits are slow characters)
        if (wStart < 0) {
          wStart = o
          wHash = 0
        }
        wZero = true
        u8[o++] = 48
        i++
        while (i < len && (c = text.charCodeAt(i)) >= 48 && c <= 57) i++
        if (i + 1 < len && (c === 46 || c === 44)) {
          const d = text.charCodeAt(i + 1)
          if (d >= 48 && d <= 57) {
            i += 2
            while (i < len && (c = text.charCodeAt(i)) >= 48 && c <= 57) i++
          }
        }
        continue
      }
    }
    // A separator, a slow character or the end: the word being written (if any) is complete.
    if (wStart >= 0) {
      const wl = o - wStart
      let lengths: ReadonlyArray<number> | null | undefined
      if (wZero) {
        if (wl !== 1) {
          lengths = zeroWordPieces(latin1(u8, wStart, o))
          if (lengths === null) return writeReference(text, norm, buf)
        }
      } else if (SPECIAL_BITS[wHash & 0xffff] === 1) {
        const list = SPECIAL_BY_HASH.get(wHash)
        if (list !== undefined) {
          for (const s of list) {
            if (s.key.length !== wl) continue
            let eq = true
            for (let q = 0; q < wl; q++) {
              if (u8[wStart + q] !== s.key.charCodeAt(q)) {
                eq = false
                break
              }
            }
            if (eq) {
              lengths = s.lengths
              break
            }
          }
        }
      }
      if (lengths === undefined || lengths === null || lengths.length === 1) {
        u32[startsIdx + nt] = wStart
        u32[endsIdx + nt] = o
        nt++
        u8[o++] = 32
      } else {
        // Split in place: move the pieces apart, last first, with one space between them.
        const pieces = lengths.length
        let src = o
        let dst = o + pieces - 1
        for (let p = pieces - 1; p >= 0; p--) {
          const pl = lengths[p]!
          src -= pl
          dst -= pl
          u8.copyWithin(dst, src, src + pl)
          if (p > 0) u8[--dst] = 32
        }
        let at = wStart
        for (let p = 0; p < pieces; p++) {
          u32[startsIdx + nt] = at
          at += lengths[p]!
          u32[endsIdx + nt] = at
          nt++
          at++
        }
        o = wStart + wl + pieces - 1
        u8[o++] = 32
      }
      wStart = -1
    }
    if (i >= len) break
    if (k === WS) {
      bIn = i + 1
      bOut = o
      bTok = nt
      if (o + 2 * (len - i) + 16 > textLimit || nt + (len - i) + 8 > maxWords) return OVERFLOW
      i++
      continue
    }
    if (k === SEP) {
      i++
      continue
    }
    // A slow character: redo the stretch between the ASCII whitespace around it with the shared functions.
    let e = i + 1
    while (e < len) {
      const d = text.charCodeAt(e)
      if (d < 128 && CLASS[d] === WS) break
      e++
    }
    fastWordCounters.slowStretches++
    const words = referenceWords(text.slice(bIn, e), norm)
    o = appendStrings(buf, words, bOut, bTok)
    if (o === OVERFLOW) return OVERFLOW
    slow ??= []
    slowText ??= new Map()
    slow.push(bTok, bTok + words.length)
    for (let q = 0; q < words.length; q++) slowText.set(bTok + q, words[q]!)
    nt = bTok + words.length
    i = e
    if (i < len && (o + 2 * (len - i) + 16 > textLimit || nt + (len - i) + 8 > maxWords)) return OVERFLOW
  }
  if (slow !== undefined && slowText !== undefined && specialCaseMayApply(buf, nt, slow, slowText)) return writeReference(text, norm, buf)
  return nt
}

/** Any run of consecutive words around a spliced-in one that concatenates to an affixed exception? */
const specialCaseMayApply = (buf: WordBuffer, nt: number, slow: ReadonlyArray<number>, slowText: ReadonlyMap<number, string>): boolean => {
  const word = (q: number) => slowText.get(q) ?? decoder.decode(buf.u8.subarray(buf.u32[buf.startsIdx + q]!, buf.u32[buf.endsIdx + q]!))
  for (let r = 0; r < slow.length; r += 2) {
    const from = slow[r]!, to = slow[r + 1]!
    for (let s = Math.max(0, from - AFFIXED_MAX); s < to; s++) {
      let acc = ""
      for (let q = s; q < nt && q < s + AFFIXED_MAX; q++) {
        acc += word(q)
        if (acc.length > AFFIXED_MAX) break
        if (q >= from && AFFIXED.has(acc)) return true
      }
    }
  }
  return false
}

const isDefaultNorm = (n: TextNormConfig): boolean =>
  n.lowercase === DEFAULT_TEXT_NORM.lowercase &&
  n.normWhitespace === DEFAULT_TEXT_NORM.normWhitespace &&
  n.removePunctuation === DEFAULT_TEXT_NORM.removePunctuation &&
  n.normUnicodeDiacritics === DEFAULT_TEXT_NORM.normUnicodeDiacritics &&
  n.normNumbers === DEFAULT_TEXT_NORM.normNumbers &&
  n.normWeekdays === DEFAULT_TEXT_NORM.normWeekdays &&
  n.normMonthnames === DEFAULT_TEXT_NORM.normMonthnames

/** The words `writeWords` produces, decoded from their UTF-8 bytes (a lone surrogate reads back as U+FFFD); for tests and tools, the signature path never builds them. */
export const fastWords = (text: string, norm: TextNormConfig = DEFAULT_TEXT_NORM): Array<string> => {
  let cap = 2 * text.length + 64
  for (;;) {
    const maxWords = (cap >> 1) + 8 // as MinhashSignatures lays it out
    const bytes = new ArrayBuffer((8 * maxWords + cap + 3) & ~3)
    const buf: WordBuffer = {
      u8: new Uint8Array(bytes),
      u32: new Uint32Array(bytes),
      startsIdx: 0,
      endsIdx: maxWords,
      textBase: 8 * maxWords,
      textLimit: 8 * maxWords + cap,
      maxWords
    }
    const n = writeWords(text, norm, buf)
    if (n >= 0) {
      return Array.from({ length: n }, (_, k) => decoder.decode(buf.u8.subarray(buf.u32[k]!, buf.u32[maxWords + k]!)))
    }
    cap *= 2
  }
}

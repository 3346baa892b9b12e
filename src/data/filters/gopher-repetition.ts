import type { Document } from "../Document.ts"
import { splitIntoWordInfos } from "../text/datatrove-text.ts"
import { HASH_BASE, type PieceInfo, WORD_SPACE, WORD_SURROGATE } from "../text/spacy-en.ts"
import { pyLen, pyStrip } from "../text/pytext.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * Gopher's repetition rules (Rae et al. 2021, table A1), as datatrove's
 * pipeline/filters/gopher_repetition_filter.py computes them: duplicate paragraphs and lines (count and
 * characters), the most frequent 2-4-gram's character share, and the share of characters in repeated 5-10-grams.
 * All fractions divide by `len(text)` in code points.
 */
export interface GopherRepetitionOptions {
  readonly dupLineFrac: number | null
  readonly dupParaFrac: number | null
  readonly dupLineCharFrac: number | null
  readonly dupParaCharFrac: number | null
  readonly topNGrams: ReadonlyArray<readonly [number, number]>
  readonly dupNGrams: ReadonlyArray<readonly [number, number]>
}

export const gopherRepetitionDefaults: GopherRepetitionOptions = {
  dupLineFrac: 0.3,
  dupParaFrac: 0.3,
  dupLineCharFrac: 0.2,
  dupParaCharFrac: 0.2,
  topNGrams: [[2, 0.2], [3, 0.18], [4, 0.16]],
  dupNGrams: [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.1]]
}

/** `find_duplicates`: elements seen before, and their characters. */
export const findDuplicates = (xs: ReadonlyArray<string>): readonly [number, number] => {
  const seen = new Set<string>()
  let elements = 0
  let chars = 0
  for (const x of xs) {
    if (seen.has(x)) {
      elements++
      chars += pyLen(x)
    } else seen.add(x)
  }
  return [elements, chars]
}

/**
 * Reference versions of datatrove's n-gram statistics, building each joined n-gram string as datatrove does.
 * The filter uses the hashed versions below; test/data/ngram-stats.test.ts checks that they agree.
 *
 * `find_top_duplicate(get_n_grams(words, n))`: characters of the most common " "-joined n-gram times its count.
 * `Counter.most_common(1)` returns the first-inserted n-gram among equal counts, and so does this.
 */
export const topDuplicateCharsSlow = (words: ReadonlyArray<string>, n: number): number => {
  const counts = new Map<string, number>()
  let best = ""
  let bestCount = 0
  for (let i = 0; i + n <= words.length; i++) {
    let key = words[i]!
    for (let j = 1; j < n; j++) key += " " + words[i + j]!
    const c = (counts.get(key) ?? 0) + 1
    counts.set(key, c)
    if (c > bestCount) {
      bestCount = c
      best = key
    }
  }
  if (bestCount === 0) return 0
  // A later n-gram wins only with a strictly higher count, so on ties the earlier-inserted one stays.
  return pyLen(best) * bestCount
}

/** `find_all_duplicate`: characters of ""-joined n-grams seen before, skipping past each repeat. */
export const allDuplicateCharsSlow = (words: ReadonlyArray<string>, n: number): number => {
  const unique = new Set<string>()
  let repeated = 0
  let idx = 0
  const last = words.length - n + 1
  while (idx < last) {
    let gram = ""
    for (let j = 0; j < n; j++) gram += words[idx + j]!
    if (unique.has(gram)) {
      repeated += pyLen(gram)
      idx += n
    } else {
      unique.add(gram)
      idx += 1
    }
  }
  return repeated
}

/**
 * The words joined with `sep` ("" or " ") once, with what makes any n-gram's joined string an O(1) lookup: the
 * start of each word in the joined string, a polynomial hash prefix (mod 2^32) and the count of surrogate pairs,
 * so that `len()` of a piece is its code points exactly as pyLen counts them on the piece alone. Equal hashes are
 * confirmed by comparing the characters, so a collision costs time, never a different answer.
 */
class Joined {
  readonly s: string
  readonly start: Int32Array
  readonly hash: Int32Array
  readonly pow: Int32Array
  /** pairs[k]: positions j < k where s[j-1..j] is a surrogate pair. */
  readonly pairs: Int32Array | null
  readonly sepLen: number
  constructor(words: ReadonlyArray<string>, sep: string) {
    const s = words.join(sep)
    this.s = s
    this.sepLen = sep.length
    const start = new Int32Array(words.length + 1)
    let at = 0
    for (let i = 0; i < words.length; i++) {
      start[i] = at
      at += words[i]!.length + sep.length
    }
    start[words.length] = at
    this.start = start
    const L = s.length
    const hash = new Int32Array(L + 1)
    const pow = new Int32Array(L + 1)
    let h = 0
    let p = 1
    let surrogates = false
    for (let k = 0; k < L; k++) {
      const c = s.charCodeAt(k)
      if (c >= 0xd800 && c <= 0xdfff) surrogates = true
      h = (Math.imul(h, 0x01000193) + c) | 0
      hash[k + 1] = h
      pow[k] = p
      p = Math.imul(p, 0x01000193)
    }
    pow[L] = p
    this.hash = hash
    this.pow = pow
    if (surrogates) {
      const pairs = new Int32Array(L + 1)
      let q = 0
      for (let k = 0; k < L; k++) {
        pairs[k] = q
        const c = s.charCodeAt(k)
        if (k > 0 && c >= 0xdc00 && c <= 0xdfff) {
          const b = s.charCodeAt(k - 1)
          if (b >= 0xd800 && b <= 0xdbff) q++
        }
      }
      pairs[L] = q
      this.pairs = pairs
    } else this.pairs = null
  }
  /** Offsets of the n-gram starting at word i: [a, b). */
  gramEnd(i: number, n: number): number {
    return this.start[i + n]! - this.sepLen
  }
  hashOf(a: number, b: number): number {
    return (this.hash[b]! - Math.imul(this.hash[a]!, this.pow[b - a]!)) | 0
  }
  same(a: number, b: number, a2: number, b2: number): boolean {
    if (b - a !== b2 - a2) return false
    const s = this.s
    for (let k = 0; k < b - a; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(a2 + k)) return false
    return true
  }
  /** `len(s[a:b])` in code points: a pair counts once unless the piece cuts it. */
  pyLen(a: number, b: number): number {
    const pairs = this.pairs
    if (pairs === null || b - a < 2) return b - a
    return b - a - (pairs[b]! - pairs[a + 1]!)
  }
}

/** Open addressing over n-gram starts, keyed by the joined piece's hash and confirmed by its characters. */
const tableFor = (count: number) => {
  let size = 16
  while (size < count * 2) size <<= 1
  return size
}

const topDuplicateCharsHashed = (j: Joined, nWords: number, n: number): number => {
  const grams = nWords - n + 1
  if (grams <= 0) return 0
  const size = tableFor(grams)
  const mask = size - 1
  const slotStart = new Int32Array(size).fill(-1)
  const slotHash = new Int32Array(size)
  const slotCount = new Int32Array(size)
  let bestA = 0
  let bestB = 0
  let bestCount = 0
  for (let i = 0; i < grams; i++) {
    const a = j.start[i]!
    const b = j.gramEnd(i, n)
    const h = j.hashOf(a, b)
    let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
    for (;;) {
      const st = slotStart[slot]!
      if (st === -1) {
        slotStart[slot] = i
        slotHash[slot] = h
        slotCount[slot] = 1
        break
      }
      if (slotHash[slot] === h) {
        const a2 = j.start[st]!
        if (j.same(a, b, a2, j.gramEnd(st, n))) {
          slotCount[slot]!++
          break
        }
      }
      slot = (slot + 1) & mask
    }
    const c = slotCount[slot]!
    if (c > bestCount) {
      bestCount = c
      bestA = a
      bestB = b
    }
  }
  return j.pyLen(bestA, bestB) * bestCount
}

const allDuplicateCharsHashed = (j: Joined, nWords: number, n: number): number => {
  const last = nWords - n + 1
  if (last <= 0) return 0
  const size = tableFor(last)
  const mask = size - 1
  const slotStart = new Int32Array(size).fill(-1)
  const slotHash = new Int32Array(size)
  let repeated = 0
  let idx = 0
  while (idx < last) {
    const a = j.start[idx]!
    const b = j.gramEnd(idx, n)
    const h = j.hashOf(a, b)
    let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
    let seen = false
    for (;;) {
      const st = slotStart[slot]!
      if (st === -1) break
      if (slotHash[slot] === h && j.same(a, b, j.start[st]!, j.gramEnd(st, n))) {
        seen = true
        break
      }
      slot = (slot + 1) & mask
    }
    if (seen) {
      repeated += j.pyLen(a, b)
      idx += n
    } else {
      slotStart[slot] = idx
      slotHash[slot] = h
      idx += 1
    }
  }
  return repeated
}

/** `find_top_duplicate`, hashed; same results as topDuplicateCharsSlow. */
export const topDuplicateChars = (words: ReadonlyArray<string>, n: number): number =>
  topDuplicateCharsHashed(new Joined(words, " "), words.length, n)
/** `find_all_duplicate`, hashed; same results as allDuplicateCharsSlow. */
export const allDuplicateChars = (words: ReadonlyArray<string>, n: number): number =>
  allDuplicateCharsHashed(new Joined(words, ""), words.length, n)

// ---------------------------------------------------------------------------------------------------------------
// The same statistics from the tokenizer's per-word hashes (PieceInfo.hash/pw), without building any string: the
// hash of a joined n-gram is folded from its words' hashes (hash(x + y) = hash(x) * BASE^len(y) + hash(y)), and
// n-grams of every size are grown in place from the (n-1)-grams. Used when no word has a surrogate (lengths are
// then sums of word lengths) or a space (" "-joined n-grams are then equal exactly when their words are).
// ---------------------------------------------------------------------------------------------------------------
let slotStart = new Int32Array(1024)
let slotHash = new Int32Array(1024)
let slotCount = new Int32Array(1024)
const slots = (grams: number): number => {
  const size = tableFor(grams)
  if (slotStart.length < size) {
    slotStart = new Int32Array(size)
    slotHash = new Int32Array(size)
    slotCount = new Int32Array(size)
  }
  slotStart.fill(-1, 0, size)
  return size - 1
}

/** The words' n-gram hashes for growing n, " "-joined or ""-joined. */
class GramHashes {
  readonly g: Int32Array
  n = 1
  constructor(readonly words: ReadonlyArray<PieceInfo>, readonly spaced: boolean) {
    const g = new Int32Array(words.length)
    for (let i = 0; i < words.length; i++) g[i] = words[i]!.hash
    this.g = g
  }
  growTo(n: number) {
    const words = this.words
    const g = this.g
    if (n < this.n) {
      for (let i = 0; i < words.length; i++) g[i] = words[i]!.hash
      this.n = 1
    }
    for (; this.n < n; this.n++) {
      const k = this.n
      for (let i = 0; i + k < words.length; i++) {
        const w = words[i + k]!
        const h = this.spaced ? (Math.imul(g[i]!, HASH_BASE) + 32) | 0 : g[i]!
        g[i] = (Math.imul(h, w.pw) + w.hash) | 0
      }
    }
  }
}

const sameWords = (words: ReadonlyArray<PieceInfo>, i: number, j: number, n: number): boolean => {
  for (let k = 0; k < n; k++) if (words[i + k]!.text !== words[j + k]!.text) return false
  return true
}
const gluedEqual = (words: ReadonlyArray<PieceInfo>, i: number, j: number, n: number): boolean => {
  if (sameWords(words, i, j, n)) return true
  let a = ""
  let b = ""
  for (let k = 0; k < n; k++) {
    a += words[i + k]!.text
    b += words[j + k]!.text
  }
  return a === b
}

const topDuplicateCharsFast = (gh: GramHashes, cp: Int32Array, n: number): number => {
  const words = gh.words
  const grams = words.length - n + 1
  if (grams <= 0) return 0
  gh.growTo(n)
  const g = gh.g
  const mask = slots(grams)
  let best = 0
  let bestCount = 0
  for (let i = 0; i < grams; i++) {
    const h = g[i]!
    let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
    for (;;) {
      const st = slotStart[slot]!
      if (st === -1) {
        slotStart[slot] = i
        slotHash[slot] = h
        slotCount[slot] = 1
        break
      }
      if (slotHash[slot] === h && sameWords(words, i, st, n)) {
        slotCount[slot]!++
        break
      }
      slot = (slot + 1) & mask
    }
    const c = slotCount[slot]!
    if (c > bestCount) {
      bestCount = c
      best = i
    }
  }
  return (cp[best + n]! - cp[best]! + n - 1) * bestCount
}

const allDuplicateCharsFast = (gh: GramHashes, cp: Int32Array, n: number): number => {
  const words = gh.words
  const last = words.length - n + 1
  if (last <= 0) return 0
  gh.growTo(n)
  const g = gh.g
  const mask = slots(last)
  let repeated = 0
  let idx = 0
  while (idx < last) {
    const h = g[idx]!
    let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
    let seen = false
    for (;;) {
      const st = slotStart[slot]!
      if (st === -1) break
      if (slotHash[slot] === h && gluedEqual(words, idx, st, n)) {
        seen = true
        break
      }
      slot = (slot + 1) & mask
    }
    if (seen) {
      repeated += cp[idx + n]! - cp[idx]!
      idx += n
    } else {
      slotStart[slot] = idx
      slotHash[slot] = h
      idx += 1
    }
  }
  return repeated
}

const PARAGRAPH = /\n{2,}/
const LINES = /\n+/

export const GopherRepetitionFilter = (options: Partial<GopherRepetitionOptions> = {}): DocFilter => {
  const o = { ...gopherRepetitionDefaults, ...options }
  const on = (x: number | null): x is number => x !== null && x !== 0
  const decide = (doc: Document) => {
    const text = doc.text
    const textLen = pyLen(text)
    // datatrove divides by len(text) unguarded; an empty text raises there. Here it simply has no repetition.
    const frac = (n: number) => (textLen === 0 ? 0 : n / textLen)
    const paragraphs = pyStrip(text).split(PARAGRAPH)
    const [paraDups, paraChars] = findDuplicates(paragraphs)
    if (on(o.dupParaFrac) && paraDups / paragraphs.length > o.dupParaFrac) return drop("dup_para_frac")
    if (on(o.dupParaCharFrac) && frac(paraChars) > o.dupParaCharFrac) return drop("dup_para_char_frac")
    const lines = text.split(LINES)
    const [lineDups, lineChars] = findDuplicates(lines)
    if (on(o.dupLineFrac) && lineDups / lines.length > o.dupLineFrac) return drop("dup_line_frac")
    if (on(o.dupLineCharFrac) && frac(lineChars) > o.dupLineCharFrac) return drop("dup_line_char_frac")
    const infos = splitIntoWordInfos(text)
    let plain = true
    for (const w of infos) if ((w.flags & (WORD_SURROGATE | WORD_SPACE)) !== 0) plain = false
    if (plain) {
      const cp = cpPrefix(infos)
      if (o.topNGrams.length > 0) {
        const spaced = new GramHashes(infos, true)
        for (const [n, nFrac] of o.topNGrams) {
          if (infos.length - n + 1 <= 0) continue
          if (frac(topDuplicateCharsFast(spaced, cp, n)) > nFrac) return drop(`top_${n}_gram`)
        }
      }
      if (o.dupNGrams.length > 0) {
        const glued = new GramHashes(infos, false)
        for (const [n, nFrac] of o.dupNGrams) {
          if (frac(allDuplicateCharsFast(glued, cp, n)) > nFrac) return drop(`duplicated_${n}_n_grams`)
        }
      }
      return keep(doc)
    }
    const words = infos.map((w) => w.text)
    if (o.topNGrams.length > 0) {
      const spaced = new Joined(words, " ")
      for (const [n, nFrac] of o.topNGrams) {
        if (words.length - n + 1 <= 0) continue
        if (frac(topDuplicateCharsHashed(spaced, words.length, n)) > nFrac) return drop(`top_${n}_gram`)
      }
    }
    if (o.dupNGrams.length > 0) {
      const glued = new Joined(words, "")
      for (const [n, nFrac] of o.dupNGrams) {
        if (frac(allDuplicateCharsHashed(glued, words.length, n)) > nFrac) return drop(`duplicated_${n}_n_grams`)
      }
    }
    return keep(doc)
  }
  return { id: "gopher_repetition", filter: decide }
}

/** cp[i]: code points of the first i words. */
const cpPrefix = (infos: ReadonlyArray<PieceInfo>): Int32Array => {
  const cp = new Int32Array(infos.length + 1)
  for (let i = 0; i < infos.length; i++) cp[i + 1] = cp[i]! + infos[i]!.cp
  return cp
}
/** The filter's fast `find_top_duplicate` (words without surrogates or spaces), exposed for tests. */
export const topDuplicateCharsOfInfos = (infos: ReadonlyArray<PieceInfo>, n: number): number =>
  topDuplicateCharsFast(new GramHashes(infos, true), cpPrefix(infos), n)
/** The filter's fast `find_all_duplicate` (words without surrogates or spaces), exposed for tests. */
export const allDuplicateCharsOfInfos = (infos: ReadonlyArray<PieceInfo>, n: number): number =>
  allDuplicateCharsFast(new GramHashes(infos, false), cpPrefix(infos), n)

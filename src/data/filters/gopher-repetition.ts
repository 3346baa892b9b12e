import type { Document } from "../Document.ts"
import { splitIntoWordIds, textCodePoints } from "../text/datatrove-text.ts"
import { HASH_BASE, HEAD_CHARS, localWordIds, WORD_SPACE, WORD_SURROGATE, WORD_SURROGATE_EDGE, type Words } from "../text/spacy-en/index.ts"
import { pyLen, pyStrip } from "../text/pytext.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"
import { nGramRepetitionReference } from "./gopher-repetition.reference.ts"

/**
 * Gopher's repetition rules (Rae et al. 2021, table A1), as datatrove's
 * pipeline/filters/gopher_repetition_filter.py computes them: duplicate paragraphs and lines (count and
 * characters), the most frequent 2-4-gram's character share, and the share of characters in repeated 5-10-grams.
 * All fractions divide by `len(text)` in code points.
 *
 * The definition, with strings as datatrove builds them, is gopher-repetition.reference.ts. This file computes the
 * same numbers without building an n-gram's string: n-grams are numbered (top n-gram) or hashed over the glued
 * words (repeated n-grams). That holds for words without a space (then " "-joined n-grams are equal exactly when
 * their words are) and without half a surrogate pair at an edge (then a join's code points are the sum of its
 * words'): every document spaCy gives words for, unless its text has lone surrogates. Those few go to the reference.
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

const PARAGRAPH = /\n{2,}/

export const GopherRepetitionFilter = (options: Partial<GopherRepetitionOptions> = {}): DocFilter => {
  const o = { ...gopherRepetitionDefaults, ...options }
  const on = (x: number | null): x is number => x !== null && x !== 0
  const minDupN = Math.min(...o.dupNGrams.map(([n]) => n))
  // This filter's working memory: arrays grown to the largest document seen, reused for the next one.
  const lines = new LineDuplicates()
  const prefixes = new WordPrefixes()
  const numbered = new NumberedNGrams()
  const glued = new GluedNGrams()
  const decide = (doc: Document) => {
    const text = doc.text
    // len(text) is needed once some repetition counts (and then, after tokenizing, it comes from the tokens).
    let textLen = -1
    // datatrove divides by len(text) unguarded; an empty text raises there. Here it simply has no repetition.
    const frac = (n: number) => {
      if (n === 0) return 0
      if (textLen < 0) textLen = textCodePoints(text)
      return textLen === 0 ? 0 : n / textLen
    }
    // Without "\n\n" the text is one paragraph, which repeats nothing.
    if (text.includes("\n\n")) {
      const paragraphs = pyStrip(text).split(PARAGRAPH)
      const [paraDups, paraChars] = findDuplicates(paragraphs, lines.lengthCounts)
      if (on(o.dupParaFrac) && paraDups / paragraphs.length > o.dupParaFrac) return drop("dup_para_frac")
      if (on(o.dupParaCharFrac) && frac(paraChars) > o.dupParaCharFrac) return drop("dup_para_char_frac")
    }
    const [lineCount, lineDups, lineChars] = lines.of(text)
    if (on(o.dupLineFrac) && lineDups / lineCount > o.dupLineFrac) return drop("dup_line_frac")
    if (on(o.dupLineCharFrac) && frac(lineChars) > o.dupLineCharFrac) return drop("dup_line_char_frac")
    const words = splitIntoWordIds(text)
    if (textLen < 0) textLen = textCodePoints(text)
    if (!plainWords(words)) {
      const reason = nGramRepetitionReference(words.texts(), textLen, o)
      return reason === null ? keep(doc) : drop(reason)
    }
    const W = words.length
    prefixes.of(words)
    if (o.topNGrams.length > 0) {
      numbered.reset(prefixes.local, W, prefixes.distinct)
      for (const [n, nFrac] of o.topNGrams) {
        if (W - n + 1 <= 0) continue
        if (frac(numbered.topDuplicateChars(prefixes.cp, n)) > nFrac) return drop(`top_${n}_gram`)
      }
    }
    if (o.dupNGrams.length > 0) {
      glued.reset(words, prefixes.unitsOf(words), prefixes.cp, prefixes.local, minDupN)
      for (const [n, nFrac] of o.dupNGrams) {
        if (frac(glued.allDuplicateChars(n, textLen, nFrac)) > nFrac) return drop(`duplicated_${n}_n_grams`)
      }
    }
    return keep(doc)
  }
  return { id: "gopher_repetition", filter: decide }
}

/** Words the fast path takes: no space inside a word, no half of a surrogate pair at a word's edge. */
const plainWords = (words: Words): boolean => (words.flags & (WORD_SURROGATE_EDGE | WORD_SPACE)) === 0

/** `a` when it holds `need` elements, else a larger empty one (scratch: the old contents are not kept). */
const atLeast = (a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> =>
  need <= a.length ? a : new Int32Array(Math.max(need, a.length * 2))

/** Open-addressing table size for `count` keys: a power of two, at most half full. */
const tableFor = (count: number) => {
  let size = 16
  while (size < count * 2) size <<= 1
  return size
}

/**
 * `find_duplicates` (findDuplicatesReference): elements seen before, and their characters. Only elements whose
 * length another shares can be equal, so the others are neither hashed nor kept.
 */
export const findDuplicates = (
  xs: ReadonlyArray<string>,
  lengthCounts: Map<number, number> = new Map()
): readonly [number, number] => {
  if (xs.length < 2) return [0, 0]
  lengthCounts.clear()
  for (const x of xs) lengthCounts.set(x.length, (lengthCounts.get(x.length) ?? 0) + 1)
  const seen = new Set<string>()
  let elements = 0
  let chars = 0
  for (const x of xs) {
    if (lengthCounts.get(x.length)! < 2) continue
    if (seen.has(x)) {
      elements++
      chars += pyLen(x)
    } else seen.add(x)
  }
  return [elements, chars]
}

/**
 * `find_duplicates(text.split(/\n+/))` in one pass over the line boundaries, without the array of lines: how many
 * lines there are, how many were seen before, and their characters. The pieces are those of `split`: a leading
 * or trailing run of "\n" gives an empty first or last line.
 */
class LineDuplicates {
  private from = new Int32Array(256)
  private to = new Int32Array(256)
  readonly lengthCounts = new Map<number, number>()
  of(text: string): readonly [number, number, number] {
    // The lines' offsets first; only lines whose length another line shares can be equal, so only those are cut
    // out and looked up (a line seen before is still counted in order, as find_duplicates does).
    const n = text.length
    let from = this.from
    let to = this.to
    let count = 0
    let a = 0
    for (;;) {
      const j = text.indexOf("\n", a)
      if (count === from.length) {
        const f = new Int32Array(count * 2)
        f.set(from)
        this.from = from = f
        const t = new Int32Array(count * 2)
        t.set(to)
        this.to = to = t
      }
      from[count] = a
      to[count] = j === -1 ? n : j
      count++
      if (j === -1) break
      a = j + 1
      while (a < n && text.charCodeAt(a) === 10) a++
    }
    if (count === 1) return [1, 0, 0]
    const lengthCounts = this.lengthCounts
    lengthCounts.clear()
    for (let k = 0; k < count; k++) {
      const len = to[k]! - from[k]!
      lengthCounts.set(len, (lengthCounts.get(len) ?? 0) + 1)
    }
    const seen = new Set<string>()
    let elements = 0
    let chars = 0
    for (let k = 0; k < count; k++) {
      const f = from[k]!
      const t = to[k]!
      if (lengthCounts.get(t - f)! < 2) continue
      const line = text.slice(f, t)
      if (seen.has(line)) {
        elements++
        chars += pyLen(line)
      } else seen.add(line)
    }
    return [count, elements, chars]
  }
}

/** A document's words numbered by text (localWordIds), and prefix sums of their lengths. */
class WordPrefixes {
  /** local[i]: the number of word i's text, 0, 1, 2… in order of first appearance. */
  local = new Int32Array(1024)
  /** How many distinct words. */
  distinct = 0
  /** cp[i]: code points of the first i words. */
  cp = new Int32Array(1024)
  private units = new Int32Array(1024)
  of(words: Words): void {
    const W = words.length
    this.local = atLeast(this.local, W)
    this.distinct = localWordIds(words, this.local)
    this.cp = atLeast(this.cp, W + 1)
    prefixOver(words, words.vocab.cp, this.cp)
  }
  /** units[i]: UTF-16 units of the first i words (cp itself when no word has a surrogate). */
  unitsOf(words: Words): Int32Array {
    if ((words.flags & WORD_SURROGATE) === 0) return this.cp
    this.units = atLeast(this.units, words.length + 1)
    prefixOver(words, words.vocab.units, this.units)
    return this.units
  }
}

/** out[i]: the total of `perPiece` over the first i words. */
const prefixOver = (words: Words, perPiece: Int32Array, out: Int32Array): void => {
  const ids = words.ids
  out[0] = 0
  for (let i = 0; i < ids.length; i++) out[i + 1] = out[i]! + perPiece[ids[i]!]!
}

/**
 * `find_top_duplicate` over numbered n-grams. " "-joined n-grams of words without spaces are equal exactly when
 * their words are, so they can be numbered: words by text (localWordIds), then each (k+1)-gram as the pair (its
 * k-gram's number, its last word's number), interned in a table of integer pairs. Counting numbered n-grams needs
 * no hashing of text and no comparisons of words. Levels are built upward from the last one asked for, so the
 * filter's n = 2, 3, 4 build each level once.
 */
class NumberedNGrams {
  // The pair table (k-gram number, word number) → (k+1)-gram number.
  private pairA = new Int32Array(1024)
  private pairB = new Int32Array(1024)
  private pairV = new Int32Array(1024)
  /** gid[i]: the number of the k-gram at word i. */
  private gid = new Int32Array(1024)
  /** How often each word occurs: the level-1 counts, and what marks a word that makes any n-gram unique. */
  private wordCount = new Int32Array(1024)
  // Two arrays of counts that the levels alternate between (one is read while the next level fills the other).
  private countA = new Int32Array(1024)
  private countB = new Int32Array(1024)
  private ids: Int32Array = this.gid
  private nWords = 0
  private nIds = 0
  /** The level gid and count describe, and how many distinct k-grams it has. */
  private k = 1
  private distinct = 0
  /** count[g]: occurrences of k-gram number g (over every k-gram position). */
  private count: Int32Array = this.wordCount

  /** Start on a document's words, numbered by text: ids[0, nWords) in [0, nIds). */
  reset(ids: Int32Array, nWords: number, nIds: number): void {
    this.ids = ids
    this.nWords = nWords
    this.nIds = nIds
    this.gid = atLeast(this.gid, nWords)
    this.gid.set(ids.subarray(0, nWords))
    this.k = 1
    this.distinct = nIds
    const wordCount = (this.wordCount = atLeast(this.wordCount, nIds))
    wordCount.fill(0, 0, nIds)
    for (let i = 0; i < nWords; i++) wordCount[ids[i]!]!++
    this.count = wordCount
  }

  /** find_top_duplicate of the n-grams, with topDuplicateCharsReference's tie rule; cp as WordPrefixes.cp. */
  topDuplicateChars(cp: Int32Array, n: number): number {
    const grams = this.nWords - n + 1
    if (grams <= 0) return 0
    this.growTo(n)
    const gid = this.gid
    const count = this.count
    let bestCount = 0
    for (let g = 0; g < this.distinct; g++) if (count[g]! > bestCount) bestCount = count[g]!
    // Counter's first-inserted among the most common: the first position whose n-gram has the top final count.
    let best = 0
    while (count[gid[best]!] !== bestCount) best++
    // The n-gram's " "-joined length: its words' code points and n - 1 spaces.
    return (cp[best + n]! - cp[best]! + n - 1) * bestCount
  }

  private growTo(n: number): void {
    const gid = this.gid
    const ids = this.ids
    const wordCount = this.wordCount
    if (n < this.k) {
      gid.set(ids.subarray(0, this.nWords))
      this.k = 1
      this.distinct = this.nIds
      this.count = wordCount
    }
    for (; this.k < n; this.k++) {
      const k = this.k
      const m = this.nWords - k
      if (m <= 0) {
        this.distinct = 0
        continue
      }
      const size = tableFor(m)
      if (this.pairA.length < size) {
        this.pairA = new Int32Array(size)
        this.pairB = new Int32Array(size)
        this.pairV = new Int32Array(size)
      }
      const pairA = this.pairA
      const pairB = this.pairB
      const pairV = this.pairV
      pairA.fill(-1, 0, size)
      const mask = size - 1
      const count = this.count
      // The next level's counts go to whichever array is not this level's.
      let next = count === this.countA ? this.countB : this.countA
      if (next.length < m) {
        next = new Int32Array(Math.max(m, next.length * 2))
        if (count === this.countA) this.countB = next
        else this.countA = next
      }
      let distinct = 0
      // A k-gram that occurs once, or a word that occurs once, makes every longer n-gram through it unique: it
      // gets a number of its own without the table.
      for (let i = 0; i < m; i++) {
        const x = gid[i]!
        const y = ids[i + k]!
        if (count[x] === 1 || wordCount[y] === 1) {
          next[distinct] = 1
          gid[i] = distinct++
          continue
        }
        let slot = (Math.imul(Math.imul(x, 0x2c1b3c6d) ^ y, 0x9e3779b1) >>> 0) & mask
        for (;;) {
          const a = pairA[slot]!
          if (a === -1) {
            pairA[slot] = x
            pairB[slot] = y
            pairV[slot] = distinct
            next[distinct] = 1
            gid[i] = distinct++
            break
          }
          if (a === x && pairB[slot] === y) {
            const g = pairV[slot]!
            next[g]!++
            gid[i] = g
            break
          }
          slot = (slot + 1) & mask
        }
      }
      this.distinct = distinct
      this.count = next
    }
  }
}

/**
 * find_all_duplicate over ""-joined n-grams, for every n >= minN from one index of the words: the glued text's
 * polynomial hash at each word boundary (folded from the words' hashes, so no joined string is built; any
 * n-gram's hash is O(1)), and a filter that leaves most n-grams out of the hash table. Two equal joined n-grams of
 * at least WINDOW characters start with the same WINDOW characters, so an n-gram whose WINDOW-character window
 * (starting at its first word) occurs at no other word start can neither be seen before nor be seen later: it is
 * only counted as new. Shorter n-grams always go through the table. Window hashes that collide only make more
 * n-grams go through the table, which costs time, never a different answer; table hits are confirmed by comparing
 * words, and when the words differ, by comparing the joined characters ("ab c" and "a bc" glue to the same text).
 */
const WINDOW = HEAD_CHARS
class GluedNGrams {
  /** pre[i]: hash of words [0, i) joined with "". */
  private pre = new Int32Array(1024)
  /** pow[k]: HASH_BASE^k, for every k up to the longest glued text seen. */
  private pow = new Int32Array([1])
  /** cand[i]: 1 where word i's window occurs at another word start too (or the window runs past the end). */
  private cand = new Uint8Array(1024)
  // The window table: window hash → first word start with it.
  private winKey = new Int32Array(1024)
  private winPos = new Int32Array(1024)
  /** todo[0, todoCount): ascending positions that can take part for n >= minN (see the end of reset). */
  private todo = new Int32Array(1024)
  private todoCount = 0
  // The n-gram table of allDuplicateChars: first start of each n-gram seen, and its hash.
  private slotStart = new Int32Array(1024)
  private slotHash = new Int32Array(1024)
  private words: Words | null = null
  private start: Int32Array = this.pre
  private cpStart: Int32Array = this.pre
  private local: Int32Array = this.pre
  private nWords = 0
  private minN = 1

  /**
   * Index a document's words for allDuplicateChars(n), n >= minN.
   * @param start start[i]: offset of word i in the joined text, in UTF-16 units (the hashes and windows)
   * @param cpStart the same in code points (the lengths find_all_duplicate adds up; no word has a lone surrogate
   *   at an edge, so joining makes no new pair)
   * @param local the words numbered by text (localWordIds)
   */
  reset(words: Words, start: Int32Array, cpStart: Int32Array, local: Int32Array, minN: number): void {
    this.words = words
    this.start = start
    this.cpStart = cpStart
    this.local = local
    this.minN = minN
    const v = words.vocab
    const ids = words.ids
    const W = ids.length
    this.nWords = W
    const pre = (this.pre = atLeast(this.pre, W + 1))
    const hash = v.hash
    const pw = v.pw
    pre[0] = 0
    for (let i = 0; i < W; i++) {
      const id = ids[i]!
      pre[i + 1] = (Math.imul(pre[i]!, pw[id]!) + hash[id]!) | 0
    }
    const L = start[W]!
    const pow = this.powUpTo(L)
    if (this.cand.length < W + 1) this.cand = new Uint8Array((W + 1) * 2)
    const cand = this.cand
    cand.fill(0, 0, W + 1)
    let size = 16
    let bits = 4
    while (size < W * 2) {
      size <<= 1
      bits++
    }
    // Slots from the product's high bits (Fibonacci hashing): its low bits are the key's low bits only.
    const shift = 32 - bits
    if (this.winPos.length < size) {
      this.winKey = new Int32Array(size)
      this.winPos = new Int32Array(size)
    }
    const winKey = this.winKey
    const winPos = this.winPos
    winPos.fill(-1, 0, size)
    const mask = size - 1
    const head = v.head
    for (let i = 0; i < W; i++) {
      const a = start[i]!
      if (a + WINDOW > L) {
        cand[i] = 1
        continue
      }
      // Whole words i..j-1, then the first r characters of word j.
      let j = i
      while (j < W && start[j + 1]! - a <= WINDOW) j++
      let wh = (pre[j]! - Math.imul(pre[i]!, pow[start[j]! - a]!)) | 0
      // r < the length of word j, and r <= WINDOW = HEAD_CHARS.
      const r = a + WINDOW - start[j]!
      if (r > 0) wh = (Math.imul(wh, pow[r]!) + head[ids[j]! * HEAD_CHARS + r - 1]!) | 0
      let slot = Math.imul(wh, 0x9e3779b1) >>> shift
      for (;;) {
        const p = winPos[slot]!
        if (p === -1) {
          winPos[slot] = i
          winKey[slot] = wh
          break
        }
        if (winKey[slot] === wh) {
          cand[i] = 1
          cand[p] = 1
          break
        }
        slot = (slot + 1) & mask
      }
    }
    // The positions an n-gram (n >= minN) can be counted at: candidates, and those whose minN-gram is shorter than
    // a window (a longer n-gram from the same word is at least as long, so this covers every n >= minN).
    const todo = (this.todo = atLeast(this.todo, W))
    let count = 0
    for (let i = 0; i < W; i++) {
      if (cand[i] === 1 || (i + minN <= W && start[i + minN]! - start[i]! < WINDOW)) todo[count++] = i
    }
    this.todoCount = count
  }

  /**
   * find_all_duplicate (allDuplicateCharsReference) of the n-grams. With `textLen` > 0 it stops as soon as
   * `repeated / textLen > frac`: the total only grows, so the filter's verdict is already decided.
   */
  allDuplicateChars(n: number, textLen = 0, frac = 0): number {
    if (n < this.minN) throw new Error(`GluedNGrams.allDuplicateChars: n ${n} below the index's ${this.minN}`)
    const last = this.nWords - n + 1
    if (last <= 0) return 0
    const start = this.start
    const cpStart = this.cpStart
    const cand = this.cand
    const todo = this.todo
    const todoCount = this.todoCount
    const size = tableFor(last)
    if (this.slotStart.length < size) {
      this.slotStart = new Int32Array(size)
      this.slotHash = new Int32Array(size)
    }
    const slotStart = this.slotStart
    const slotHash = this.slotHash
    slotStart.fill(-1, 0, size)
    const mask = size - 1
    let repeated = 0
    // As allDuplicateCharsReference's scan, visiting only the positions in `todo`: every other position is a new
    // n-gram that no later one can equal, so there the scan only moves on by one. `idx` is where the scan would be.
    let idx = 0
    for (let q = 0; q < todoCount; q++) {
      const p = todo[q]!
      if (p >= last) break
      if (p < idx) continue
      const len = start[p + n]! - start[p]!
      if (cand[p] === 0 && len >= WINDOW) continue
      const h = this.hashOf(p, n)
      let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
      let seen = false
      for (;;) {
        const st = slotStart[slot]!
        if (st === -1) break
        if (slotHash[slot] === h && start[st + n]! - start[st]! === len && this.same(p, st, n)) {
          seen = true
          break
        }
        slot = (slot + 1) & mask
      }
      if (seen) {
        repeated += cpStart[p + n]! - cpStart[p]!
        if (textLen > 0 && repeated / textLen > frac) return repeated
        idx = p + n
      } else {
        slotStart[slot] = p
        slotHash[slot] = h
        idx = p + 1
      }
    }
    return repeated
  }

  /** pow with every power up to `len`. */
  private powUpTo(len: number): Int32Array {
    if (this.pow.length > len) return this.pow
    const t = new Int32Array(Math.max(len + 1, this.pow.length * 2))
    t[0] = 1
    for (let k = 1; k < t.length; k++) t[k] = Math.imul(t[k - 1]!, HASH_BASE)
    return (this.pow = t)
  }

  /** Hash of words [i, i + n) joined. */
  private hashOf(i: number, n: number): number {
    const start = this.start
    return (this.pre[i + n]! - Math.imul(this.pre[i]!, this.pow[start[i + n]! - start[i]!]!)) | 0
  }

  /** Whether words [i, i + n) and [j, j + n), of equal joined length, join to the same text. */
  private same(i: number, j: number, n: number): boolean {
    const local = this.local
    let k = 0
    while (k < n && local[i + k] === local[j + k]) k++
    if (k === n) return true
    const words = this.words!
    const ids = words.ids
    const text = words.vocab.text
    let wi = i
    let wj = j
    let oi = 0
    let oj = 0
    let ti = text[ids[wi]!]!
    let tj = text[ids[wj]!]!
    const end = i + n
    for (;;) {
      if (oi === ti.length) {
        if (++wi === end) return true
        ti = text[ids[wi]!]!
        oi = 0
      }
      if (oj === tj.length) {
        tj = text[ids[++wj]!]!
        oj = 0
      }
      if (ti.charCodeAt(oi++) !== tj.charCodeAt(oj++)) return false
    }
  }
}

// Tests: the fast path's statistics on their own, over words it takes (no spaces, no lone surrogates at an edge).
const requirePlain = (words: Words, what: string) => {
  if (!plainWords(words)) throw new Error(`${what}: words with spaces or lone surrogates (the reference's case)`)
}
/** The filter's numbered `find_top_duplicate`. */
export const topDuplicateCharsOfWords = (words: Words, n: number): number => {
  requirePlain(words, "topDuplicateCharsOfWords")
  const prefixes = new WordPrefixes()
  prefixes.of(words)
  const numbered = new NumberedNGrams()
  numbered.reset(prefixes.local, words.length, prefixes.distinct)
  return numbered.topDuplicateChars(prefixes.cp, n)
}
/** The filter's glued `find_all_duplicate`. */
export const allDuplicateCharsOfWords = (words: Words, n: number): number => {
  requirePlain(words, "allDuplicateCharsOfWords")
  const prefixes = new WordPrefixes()
  prefixes.of(words)
  const glued = new GluedNGrams()
  glued.reset(words, prefixes.unitsOf(words), prefixes.cp, prefixes.local, n)
  return glued.allDuplicateChars(n)
}

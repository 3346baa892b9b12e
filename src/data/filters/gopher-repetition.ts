import type { Document } from "../Document.ts"
import { splitIntoWordIds, textCodePoints } from "../text/datatrove-text.ts"
import { HASH_BASE, HEAD_CHARS, localWordIds, WORD_SPACE, WORD_SURROGATE, WORD_SURROGATE_EDGE, type Words } from "../text/spacy-en.ts"
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

/** Scratch: how many elements have each length. */
const lengthCounts = new Map<number, number>()
/** `find_duplicates`: elements seen before, and their characters. */
export const findDuplicates = (xs: ReadonlyArray<string>): readonly [number, number] => {
  if (xs.length < 2) return [0, 0]
  // Only elements whose length another shares can be equal; the others need no hashing.
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
 * Reference versions of datatrove's n-gram statistics, building each joined n-gram string as datatrove does.
 * The filter uses the hashed versions below; test/data/ngram-stats.test.ts checks that they agree.
 *
 * `find_top_duplicate(get_n_grams(words, n))`: characters of the most common " "-joined n-gram times its count.
 * `Counter.most_common(1)` returns the first-inserted n-gram among equal counts, and so does this.
 */
export const topDuplicateCharsSlow = (words: ReadonlyArray<string>, n: number): number => {
  const counts = new Map<string, number>()
  for (let i = 0; i + n <= words.length; i++) {
    let key = words[i]!
    for (let j = 1; j < n; j++) key += " " + words[i + j]!
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  // Counter.most_common(1) is max() over the items in insertion order: among the n-grams with the highest final
  // count, the first inserted (not the first to reach that count).
  let best = ""
  let bestCount = 0
  for (const [key, c] of counts) {
    if (c > bestCount) {
      bestCount = c
      best = key
    }
  }
  return bestCount === 0 ? 0 : pyLen(best) * bestCount
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
  const slotOf = new Int32Array(grams)
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
    slotOf[i] = slot
    bestCount = Math.max(bestCount, slotCount[slot]!)
  }
  // The first position whose n-gram ends with the top count is that n-gram's first occurrence: Counter's
  // first-inserted among the most common.
  let best = 0
  while (slotCount[slotOf[best]!] !== bestCount) best++
  return j.pyLen(j.start[best]!, j.gramEnd(best, n)) * bestCount
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
// The filter's statistics over a document's words as piece numbers (Words), for words without spaces (then
// " "-joined n-grams are equal exactly when their words are) and without half a surrogate pair at an edge (then
// the code points of a join are the sum of the words'): every document spaCy gives words for, unless its text
// has lone surrogates.
// ---------------------------------------------------------------------------------------------------------------
let slotStart = new Int32Array(1024)
let slotHash = new Int32Array(1024)
const slots = (grams: number): number => {
  const size = tableFor(grams)
  if (slotStart.length < size) {
    slotStart = new Int32Array(size)
    slotHash = new Int32Array(size)
  }
  slotStart.fill(-1, 0, size)
  return size - 1
}

/**
 * " "-joined n-grams of words without spaces are equal exactly when their words are, so they can be numbered:
 * words by identity (localWordIds), then each (k+1)-gram as the pair (its k-gram's number, its last word's number),
 * interned in a table of integer pairs. Counting numbered n-grams needs no hashing of text and no comparisons
 * of words.
 */
let pairA = new Int32Array(1024)
let pairB = new Int32Array(1024)
let pairV = new Int32Array(1024)
let gidScratch = new Int32Array(1024)
let countA = new Int32Array(1024)
let countB = new Int32Array(1024)
let wordCount = new Int32Array(1024)
/** Valid until the next GramIds is built (shared scratch). */
class GramIds {
  readonly gid: Int32Array
  k = 1
  distinct: number
  /** count[g]: occurrences of k-gram number g (over every k-gram position). */
  count: Int32Array
  constructor(readonly ids: Int32Array, readonly nWords: number, readonly nIds: number) {
    if (gidScratch.length < nWords) gidScratch = new Int32Array(nWords * 2)
    this.gid = gidScratch
    this.gid.set(ids.subarray(0, nWords))
    this.distinct = nIds
    // How often each word occurs: the level-1 counts, and what marks a word that makes any n-gram unique.
    if (wordCount.length < nIds) wordCount = new Int32Array(Math.max(nIds, wordCount.length * 2))
    wordCount.fill(0, 0, nIds)
    for (let i = 0; i < nWords; i++) wordCount[ids[i]!]!++
    this.count = wordCount
  }
  growTo(n: number) {
    const gid = this.gid
    const ids = this.ids
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
      let size = 16
      while (size < m * 2) size <<= 1
      if (pairA.length < size) {
        pairA = new Int32Array(size)
        pairB = new Int32Array(size)
        pairV = new Int32Array(size)
      }
      pairA.fill(-1, 0, size)
      const mask = size - 1
      const count = this.count
      // The next level's counts go to whichever scratch array is not this level's.
      let next = count === countA ? countB : countA
      if (next.length < m) {
        next = new Int32Array(Math.max(m, next.length * 2))
        if (count === countA) countB = next
        else countA = next
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

/** find_top_duplicate over numbered n-grams, with the same tie rule as topDuplicateCharsSlow. */
const topDuplicateCharsIds = (gi: GramIds, cp: Int32Array, n: number): number => {
  const grams = gi.nWords - n + 1
  if (grams <= 0) return 0
  gi.growTo(n)
  const gid = gi.gid
  const count = gi.count
  let bestCount = 0
  for (let g = 0; g < gi.distinct; g++) if (count[g]! > bestCount) bestCount = count[g]!
  // Counter's first-inserted among the most common: the first position whose n-gram has the top final count.
  let best = 0
  while (count[gid[best]!] !== bestCount) best++
  return (cp[best + n]! - cp[best]! + n - 1) * bestCount
}

let idScratch = new Int32Array(1024)

/**
 * find_all_duplicate over ""-joined n-grams, for every n from one index of the words: the glued text's polynomial
 * hash at each word boundary (folded from the words' hashes, so no joined string is built; any n-gram's hash is
 * O(1)), and a filter that leaves most n-grams out of the hash table. Two equal joined n-grams of at least
 * WINDOW characters start with the same WINDOW characters, so an n-gram whose WINDOW-character window (starting at
 * its first word) occurs at no other word start can neither be seen before nor be seen later: it is only counted
 * as new. Shorter n-grams always go through the table. Window hashes that collide only make more n-grams go
 * through the table, which costs time, never a different answer; table hits are confirmed by comparing words, and
 * when the words differ, by comparing the joined characters ("ab c" and "a bc" glue to the same text).
 */
const WINDOW = HEAD_CHARS
let powTable = new Int32Array([1])
const powUpTo = (len: number) => {
  if (powTable.length > len) return
  const t = new Int32Array(Math.max(len + 1, powTable.length * 2))
  t[0] = 1
  for (let k = 1; k < t.length; k++) t[k] = Math.imul(t[k - 1]!, HASH_BASE)
  powTable = t
}
// Scratch for the one Glued index in use (each filter call builds one and is done with it before the next).
let gPre = new Int32Array(1024)
let gCand = new Uint8Array(1024)
let winKey = new Int32Array(1024)
let winPos = new Int32Array(1024)
let gTodo = new Int32Array(1024)
/** Valid until the next Glued is built (its arrays are shared scratch). */
class Glued {
  readonly nWords: number
  /** pre[i]: hash of words [0, i) joined with "". */
  readonly pre: Int32Array
  /** 1 where the word's window occurs at another word start too (or the window runs past the end). */
  readonly cand: Uint8Array
  /**
   * @param start start[i]: offset of word i in the joined text, in UTF-16 units (the hashes and windows)
   * @param cpStart the same in code points (the lengths find_all_duplicate adds up; no word has a lone surrogate
   *   at an edge, so joining makes no new pair)
   * @param local the words numbered by text (localWordIds)
   */
  /** todo[0, todoCount): ascending positions that can take part for n >= minN (see the end of the constructor). */
  readonly todo: Int32Array
  readonly todoCount: number
  constructor(
    readonly words: Words,
    readonly start: Int32Array,
    readonly cpStart: Int32Array,
    readonly local: Int32Array,
    readonly minN: number
  ) {
    const v = words.vocab
    const ids = words.ids
    const W = ids.length
    this.nWords = W
    if (gPre.length < W + 1) gPre = new Int32Array((W + 1) * 2)
    if (gCand.length < W + 1) gCand = new Uint8Array((W + 1) * 2)
    const pre = gPre
    const hash = v.hash
    const pw = v.pw
    pre[0] = 0
    for (let i = 0; i < W; i++) {
      const id = ids[i]!
      pre[i + 1] = (Math.imul(pre[i]!, pw[id]!) + hash[id]!) | 0
    }
    this.pre = pre
    const L = start[W]!
    powUpTo(L)
    const pow = powTable
    const cand = gCand
    cand.fill(0, 0, W + 1)
    let size = 16
    let bits = 4
    while (size < W * 2) {
      size <<= 1
      bits++
    }
    // Slots from the product's high bits (Fibonacci hashing): its low bits are the key's low bits only.
    const shift = 32 - bits
    if (winPos.length < size) {
      winKey = new Int32Array(size)
      winPos = new Int32Array(size)
    }
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
    this.cand = cand
    // The positions an n-gram (n >= minN) can be counted at: candidates, and those whose minN-gram is shorter than
    // a window (a longer n-gram from the same word is at least as long, so this covers every n >= minN).
    if (gTodo.length < W) gTodo = new Int32Array(W * 2)
    const todo = gTodo
    let count = 0
    for (let i = 0; i < W; i++) {
      if (cand[i] === 1 || (i + minN <= W && start[i + minN]! - start[i]! < WINDOW)) todo[count++] = i
    }
    this.todo = todo
    this.todoCount = count
  }
  /** Hash of words [i, i + n) joined. */
  hashOf(i: number, n: number): number {
    const start = this.start
    return (this.pre[i + n]! - Math.imul(this.pre[i]!, powTable[start[i + n]! - start[i]!]!)) | 0
  }
  /** Whether words [i, i + n) and [j, j + n), of equal joined length, join to the same text. */
  same(i: number, j: number, n: number): boolean {
    const local = this.local
    let k = 0
    while (k < n && local[i + k] === local[j + k]) k++
    if (k === n) return true
    const ids = this.words.ids
    const text = this.words.vocab.text
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

/**
 * find_all_duplicate (allDuplicateCharsSlow) over a Glued index. With `textLen` > 0 it stops as soon as
 * `repeated / textLen > frac`: the total only grows, so the filter's verdict is already decided.
 */
const allDuplicateCharsGlued = (g: Glued, n: number, textLen = 0, frac = 0): number => {
  if (n < g.minN) throw new Error(`allDuplicateCharsGlued: n ${n} below the index's ${g.minN}`)
  const last = g.nWords - n + 1
  if (last <= 0) return 0
  const start = g.start
  const cand = g.cand
  const todo = g.todo
  const mask = slots(last)
  let repeated = 0
  // As allDuplicateCharsSlow's scan, visiting only the positions in `todo`: every other position is a new n-gram
  // that no later one can equal, so there the scan only moves on by one. `idx` is where the scan would be.
  let idx = 0
  for (let q = 0; q < g.todoCount; q++) {
    const p = todo[q]!
    if (p >= last) break
    if (p < idx) continue
    const len = start[p + n]! - start[p]!
    if (cand[p] === 0 && len >= WINDOW) continue
    const h = g.hashOf(p, n)
    let slot = (Math.imul(h, 0x9e3779b1) >>> 0) & mask
    let seen = false
    for (;;) {
      const st = slotStart[slot]!
      if (st === -1) break
      if (slotHash[slot] === h && start[st + n]! - start[st]! === len && g.same(p, st, n)) {
        seen = true
        break
      }
      slot = (slot + 1) & mask
    }
    if (seen) {
      repeated += g.cpStart[p + n]! - g.cpStart[p]!
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

const PARAGRAPH = /\n{2,}/

/**
 * `find_duplicates(text.split(/\n+/))` in one pass over the line boundaries, without the array of lines: how many
 * lines there are, how many were seen before, and their characters. The pieces are those of `split`: a leading
 * or trailing run of "\n" gives an empty first or last line.
 */
let lineFrom = new Int32Array(256)
let lineTo = new Int32Array(256)
const lineDuplicates = (text: string): readonly [number, number, number] => {
  // The lines' offsets first; only lines whose length another line shares can be equal, so only those are cut
  // out and looked up (a line seen before is still counted in order, as find_duplicates does).
  const n = text.length
  let count = 0
  let a = 0
  for (;;) {
    const j = text.indexOf("\n", a)
    if (count === lineFrom.length) {
      const f = new Int32Array(count * 2)
      f.set(lineFrom)
      lineFrom = f
      const t = new Int32Array(count * 2)
      t.set(lineTo)
      lineTo = t
    }
    lineFrom[count] = a
    lineTo[count] = j === -1 ? n : j
    count++
    if (j === -1) break
    a = j + 1
    while (a < n && text.charCodeAt(a) === 10) a++
  }
  if (count === 1) return [1, 0, 0]
  lengthCounts.clear()
  for (let k = 0; k < count; k++) {
    const len = lineTo[k]! - lineFrom[k]!
    lengthCounts.set(len, (lengthCounts.get(len) ?? 0) + 1)
  }
  const seen = new Set<string>()
  let elements = 0
  let chars = 0
  for (let k = 0; k < count; k++) {
    const from = lineFrom[k]!
    const to = lineTo[k]!
    if (lengthCounts.get(to - from)! < 2) continue
    const line = text.slice(from, to)
    if (seen.has(line)) {
      elements++
      chars += pyLen(line)
    } else seen.add(line)
  }
  return [count, elements, chars]
}

export const GopherRepetitionFilter = (options: Partial<GopherRepetitionOptions> = {}): DocFilter => {
  const o = { ...gopherRepetitionDefaults, ...options }
  const on = (x: number | null): x is number => x !== null && x !== 0
  const minDupN = Math.min(...o.dupNGrams.map(([n]) => n))
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
      const [paraDups, paraChars] = findDuplicates(paragraphs)
      if (on(o.dupParaFrac) && paraDups / paragraphs.length > o.dupParaFrac) return drop("dup_para_frac")
      if (on(o.dupParaCharFrac) && frac(paraChars) > o.dupParaCharFrac) return drop("dup_para_char_frac")
    }
    const [lineCount, lineDups, lineChars] = lineDuplicates(text)
    if (on(o.dupLineFrac) && lineDups / lineCount > o.dupLineFrac) return drop("dup_line_frac")
    if (on(o.dupLineCharFrac) && frac(lineChars) > o.dupLineCharFrac) return drop("dup_line_char_frac")
    const words = splitIntoWordIds(text)
    if (textLen < 0) textLen = textCodePoints(text)
    const W = words.length
    if (plainWords(words)) {
      const cp = cpPrefix(words)
      if (idScratch.length < W) idScratch = new Int32Array(W * 2)
      const nIds = localWordIds(words, idScratch)
      if (o.topNGrams.length > 0) {
        const numbered = new GramIds(idScratch, W, nIds)
        for (const [n, nFrac] of o.topNGrams) {
          if (W - n + 1 <= 0) continue
          if (frac(topDuplicateCharsIds(numbered, cp, n)) > nFrac) return drop(`top_${n}_gram`)
        }
      }
      if (o.dupNGrams.length > 0) {
        const units = (words.flags & WORD_SURROGATE) === 0 ? cp : unitPrefix(words)
        const glued = new Glued(words, units, cp, idScratch, minDupN)
        for (const [n, nFrac] of o.dupNGrams) {
          if (frac(allDuplicateCharsGlued(glued, n, textLen, nFrac)) > nFrac) return drop(`duplicated_${n}_n_grams`)
        }
      }
      return keep(doc)
    }
    const strings = words.texts()
    if (o.topNGrams.length > 0) {
      const spaced = new Joined(strings, " ")
      for (const [n, nFrac] of o.topNGrams) {
        if (W - n + 1 <= 0) continue
        if (frac(topDuplicateCharsHashed(spaced, W, n)) > nFrac) return drop(`top_${n}_gram`)
      }
    }
    if (o.dupNGrams.length > 0) {
      const glued = new Joined(strings, "")
      for (const [n, nFrac] of o.dupNGrams) {
        if (frac(allDuplicateCharsHashed(glued, W, n)) > nFrac) return drop(`duplicated_${n}_n_grams`)
      }
    }
    return keep(doc)
  }
  return { id: "gopher_repetition", filter: decide }
}

/** Prefix sums over the words of a per-piece length: out[i] is the total of the first i words. */
const prefixOver = (words: Words, perPiece: Int32Array, scratch: Int32Array): Int32Array => {
  const ids = words.ids
  const out = scratch
  out[0] = 0
  for (let i = 0; i < ids.length; i++) out[i + 1] = out[i]! + perPiece[ids[i]!]!
  return out
}
let cpScratch = new Int32Array(1024)
let unitScratch = new Int32Array(1024)
/** cp[i]: code points of the first i words. Valid until the next call (shared scratch). */
const cpPrefix = (words: Words): Int32Array => {
  if (cpScratch.length < words.length + 1) cpScratch = new Int32Array((words.length + 1) * 2)
  return prefixOver(words, words.vocab.cp, cpScratch)
}
/** units[i]: UTF-16 units of the first i words. Valid until the next call (shared scratch). */
const unitPrefix = (words: Words): Int32Array => {
  if (unitScratch.length < words.length + 1) unitScratch = new Int32Array((words.length + 1) * 2)
  return prefixOver(words, words.vocab.units, unitScratch)
}
const plainWords = (words: Words): boolean => (words.flags & (WORD_SURROGATE_EDGE | WORD_SPACE)) === 0
/** The filter's numbered `find_top_duplicate` (words without spaces or lone surrogates), exposed for tests. */
export const topDuplicateCharsOfWords = (words: Words, n: number): number => {
  if (!plainWords(words)) throw new Error("topDuplicateCharsOfWords: words with spaces or lone surrogates")
  const local = new Int32Array(words.length)
  const nIds = localWordIds(words, local)
  return topDuplicateCharsIds(new GramIds(local, words.length, nIds), cpPrefix(words), n)
}
/** The filter's `find_all_duplicate` over a Glued index (words without spaces or lone surrogates), exposed for tests. */
export const allDuplicateCharsOfWords = (words: Words, n: number): number => {
  if (!plainWords(words)) throw new Error("allDuplicateCharsOfWords: words with spaces or lone surrogates")
  const local = new Int32Array(words.length)
  localWordIds(words, local)
  const cp = cpPrefix(words).slice()
  return allDuplicateCharsGlued(new Glued(words, unitPrefix(words), cp, local, n), n)
}

/**
 * Byte-level BPE with HF `tokenizers` merge order: repeatedly merge the adjacent pair with the lowest merge rank,
 * leftmost first (HF's heap orders on (rank, position)). A binary heap over a linked list keeps long words (a
 * paragraph of CJK without spaces is one regex piece of a thousand bytes) at O(n log n) instead of O(n²).
 */
import type { BpeSpec } from "./config.ts"
import { byteToChar, toByteLevel } from "./byte-level.ts"
import { TokenizerConfigError } from "./errors.ts"

/** A growable id buffer: the encoder appends ids without allocating per token. */
export class IdBuffer {
  data: Uint32Array
  length = 0
  constructor(capacity = 1024) {
    this.data = new Uint32Array(capacity)
  }
  push(id: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1)
    this.data[this.length++] = id
  }
  pushAll(ids: Uint32Array): void {
    if (this.length + ids.length > this.data.length) this.grow(this.length + ids.length)
    this.data.set(ids, this.length)
    this.length += ids.length
  }
  /** A copy of the ids pushed so far. */
  toArray(): Uint32Array {
    return this.data.slice(0, this.length)
  }
  private grow(min: number): void {
    let cap = this.data.length * 2
    while (cap < min) cap *= 2
    const next = new Uint32Array(cap)
    next.set(this.data.subarray(0, this.length))
    this.data = next
  }
}

/**
 * Merge lookup: (left id, right id) → merge rank, in an open-addressing table of typed arrays. A `Map` keyed on
 * `left * V + right` would do, but those keys leave the small-integer range and every lookup boxes a double.
 */
class PairTable {
  private readonly mask: number
  private readonly left: Int32Array
  private readonly right: Int32Array
  private readonly rank: Int32Array
  constructor(size: number) {
    let cap = 16
    while (cap < size * 2) cap *= 2
    this.mask = cap - 1
    this.left = new Int32Array(cap).fill(-1)
    this.right = new Int32Array(cap)
    this.rank = new Int32Array(cap)
  }
  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) >>> 0
  }
  /** Keeps the first (lowest) rank when a pair is listed twice, as HF does when it builds its merge map. */
  set(a: number, b: number, rank: number): void {
    let i = this.slot(a, b) & this.mask
    while (this.left[i] !== -1) {
      if (this.left[i] === a && this.right[i] === b) return
      i = (i + 1) & this.mask
    }
    this.left[i] = a
    this.right[i] = b
    this.rank[i] = rank
  }
  get(a: number, b: number): number {
    let i = this.slot(a, b) & this.mask
    for (;;) {
      const l = this.left[i]!
      if (l === -1) return -1
      if (l === a && this.right[i] === b) return this.rank[i]!
      i = (i + 1) & this.mask
    }
  }
}

const RANK_SCALE = 4294967296 // heap key = rank * 2^32 + position: min-heap on (rank, position), exact below 2^53

/** Words longer than this (in bytes) are not cached: they are rare, and would let one document fill the cache. */
const MAX_CACHED_WORD = 256

export class BpeModel {
  readonly vocab: ReadonlyMap<string, number>
  /** id → token for the model vocabulary (added tokens live in the tokenizer). */
  readonly tokens: ReadonlyArray<string | undefined>
  private readonly byteIds = new Int32Array(256)
  private readonly pairs: PairTable
  private readonly mergeResult: Int32Array
  private readonly unkId: number
  private readonly fuseUnk: boolean
  private readonly ignoreMerges: boolean
  private readonly cache = new Map<string, number | Uint32Array>()
  private readonly cacheCapacity: number

  // Scratch space for one word, grown on demand and reused.
  private syms = new Int32Array(64)
  private next = new Int32Array(64)
  private prev = new Int32Array(64)
  private heap = new Float64Array(64)

  constructor(spec: BpeSpec, cacheCapacity = 200_000) {
    this.vocab = spec.vocab
    this.cacheCapacity = cacheCapacity
    const tokens: Array<string | undefined> = []
    for (const [token, id] of spec.vocab) tokens[id] = token
    this.tokens = tokens
    for (let b = 0; b < 256; b++) this.byteIds[b] = spec.vocab.get(byteToChar[b]!) ?? -1
    this.pairs = new PairTable(spec.merges.length)
    this.mergeResult = new Int32Array(spec.merges.length)
    spec.merges.forEach(([a, b], rank) => {
      const left = spec.vocab.get(a)
      const right = spec.vocab.get(b)
      const merged = spec.vocab.get(a + b)
      if (left === undefined || right === undefined || merged === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : a + b
        throw new TokenizerConfigError("Parse", `model.merges[${rank}] (${JSON.stringify(a)}, ${JSON.stringify(b)}): ${JSON.stringify(missing)} is not in the vocabulary`)
      }
      this.mergeResult[rank] = merged
      this.pairs.set(left, right, rank)
    })
    if (spec.unkToken !== null) {
      const unk = spec.vocab.get(spec.unkToken)
      if (unk === undefined) throw new TokenizerConfigError("Parse", `model.unk_token ${JSON.stringify(spec.unkToken)} is not in the vocabulary`)
      this.unkId = unk
    } else this.unkId = -1
    this.fuseUnk = spec.fuseUnk
    this.ignoreMerges = spec.ignoreMerges
  }

  /** Appends the ids of one pre-tokenized piece (raw text; its UTF-8 bytes are the initial symbols). */
  encodeWord(piece: string, out: IdBuffer): void {
    const hit = this.cache.get(piece)
    if (hit !== undefined) {
      if (typeof hit === "number") out.push(hit)
      else out.pushAll(hit)
      return
    }
    const ids = this.computeWord(piece)
    if (piece.length <= MAX_CACHED_WORD) {
      // A full cache is dropped rather than evicted piecemeal: simple, and refilled within a few documents.
      if (this.cache.size >= this.cacheCapacity) this.cache.clear()
      this.cache.set(piece, ids.length === 1 ? ids[0]! : ids)
    }
    out.pushAll(ids)
  }

  private ensureScratch(n: number): void {
    if (this.syms.length >= n) return
    let cap = this.syms.length
    while (cap < n) cap *= 2
    this.syms = new Int32Array(cap)
    this.next = new Int32Array(cap)
    this.prev = new Int32Array(cap)
    this.heap = new Float64Array(cap)
  }

  /** Initial symbols: one per UTF-8 byte, as the id of that byte's alphabet character. Returns their count. */
  private loadBytes(piece: string): number {
    this.ensureScratch(piece.length * 3)
    const syms = this.syms
    const byteIds = this.byteIds
    const unk = this.unkId
    let n = 0
    const emit = (b: number): void => {
      const id = byteIds[b]!
      if (id >= 0) syms[n++] = id
      // A byte missing from the vocabulary becomes unk (fused with a preceding unk when asked), or is dropped
      // when there is no unk token: HF's merge_word skips it, so its neighbours become adjacent.
      else if (unk >= 0 && !(this.fuseUnk && n > 0 && syms[n - 1] === unk)) syms[n++] = unk
    }
    const len = piece.length
    for (let i = 0; i < len; i++) {
      let c = piece.charCodeAt(i)
      if (c < 0x80) {
        emit(c)
        continue
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = piece.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
          i++
          emit(0xf0 | (c >> 18))
          emit(0x80 | ((c >> 12) & 0x3f))
          emit(0x80 | ((c >> 6) & 0x3f))
          emit(0x80 | (c & 0x3f))
          continue
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd // lone surrogate: what Node hands to native code in its place
      if (c < 0x800) {
        emit(0xc0 | (c >> 6))
        emit(0x80 | (c & 0x3f))
      } else {
        emit(0xe0 | (c >> 12))
        emit(0x80 | ((c >> 6) & 0x3f))
        emit(0x80 | (c & 0x3f))
      }
    }
    return n
  }

  private computeWord(piece: string): Uint32Array {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(toByteLevel(piece))
      if (whole !== undefined) return Uint32Array.of(whole)
    }
    const n = this.loadBytes(piece)
    if (n <= 1) return Uint32Array.from(this.syms.subarray(0, n))
    const { syms, next, prev, heap, pairs, mergeResult } = this
    let size = 0
    const push = (key: number): void => {
      let i = size++
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (heap[parent]! <= key) break
        heap[i] = heap[parent]!
        i = parent
      }
      heap[i] = key
    }
    const pop = (): number => {
      const top = heap[0]!
      const last = heap[--size]!
      let i = 0
      for (;;) {
        let child = 2 * i + 1
        if (child >= size) break
        if (child + 1 < size && heap[child + 1]! < heap[child]!) child++
        if (heap[child]! >= last) break
        heap[i] = heap[child]!
        i = child
      }
      heap[i] = last
      return top
    }
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1
      next[i] = i + 1 < n ? i + 1 : -1
    }
    for (let i = 0; i + 1 < n; i++) {
      const r = pairs.get(syms[i]!, syms[i + 1]!)
      if (r >= 0) push(r * RANK_SCALE + i)
    }
    let remaining = n
    while (size > 0) {
      const key = pop()
      const rank = Math.floor(key / RANK_SCALE)
      const pos = key - rank * RANK_SCALE
      const right = next[pos]!
      // Stale entries: the left symbol was merged away (its `next` is -2), or the pair changed since it was queued.
      if (right < 0 || pairs.get(syms[pos]!, syms[right]!) !== rank) continue
      syms[pos] = mergeResult[rank]!
      const after = next[right]!
      next[pos] = after
      next[right] = -2
      if (after >= 0) prev[after] = pos
      remaining--
      const before = prev[pos]!
      if (before >= 0) {
        const r = pairs.get(syms[before]!, syms[pos]!)
        if (r >= 0) push(r * RANK_SCALE + before)
      }
      if (after >= 0) {
        const r = pairs.get(syms[pos]!, syms[after]!)
        if (r >= 0) push(r * RANK_SCALE + pos)
      }
    }
    const ids = new Uint32Array(remaining)
    for (let i = 0, k = 0; i >= 0; i = next[i]!) ids[k++] = syms[i]!
    return ids
  }
}

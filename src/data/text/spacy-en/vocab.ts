/**
 * The span cache of the fast path. Each distinct whitespace-delimited run (span) is tokenized once and each distinct
 * piece is described once, in a Vocab: pieces are numbered, and what the tokenizer and the filters ask of a piece
 * (sentencizer classes, code points, punctuation, letters, a hash, its stripped word) lives in typed arrays indexed
 * by that number. Spans are found in an open-addressing table whose keys are the span's characters in a flat
 * arena, so a lookup reads a few contiguous words of memory instead of chasing objects and strings.
 */
import { hasNonPunctuation } from "../datatrove-punct.ts"
import { hasPyAlpha, onlyNewlineBreaks, pyLen, pyStrip } from "../pytext.ts"
import { tokenizeSpan } from "./affixes.ts"
import {
  CLS_PATTERN,
  CLS_PUNCT,
  CLS_SENT,
  HASH_BASE,
  HEAD_CHARS,
  PIECE_RARE_LINE_BREAK,
  spanFlags,
  WORD_ALPHA,
  WORD_NON_PUNCT,
  WORD_SPACE,
  WORD_SURROGATE,
  WORD_SURROGATE_EDGE
} from "./piece-flags.ts"
import { IS_PUNCT, SENT_PUNCT } from "./sentencizer.ts"
import { PATTERNS, type SpecialPattern } from "./special-cases.ts"

/**
 * Spans or pieces a generation holds by default. spaCy caches span tokenizations too; a bounded cache (the span
 * table below) keeps repeated words cheap.
 */
export const VOCAB_LIMIT = 500_000
/** Characters a generation may hold (span keys and piece texts together). */
const VOCAB_MAX_CHARS = 64_000_000

/**
 * `s` as a string of its own. A slice of 13 or more characters is, in V8, a view that keeps the whole string it was
 * cut from alive: a piece cut from a document would pin that document for as long as the Vocab lives.
 */
const ownString = (s: string): string => (s.length < 13 ? s : Buffer.from(s, "utf16le").toString("utf16le"))

export const grownInt32 = (a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> => {
  if (need <= a.length) return a
  const b = new Int32Array(Math.max(need, a.length * 2))
  b.set(a)
  return b
}
export const grownUint8 = (a: Uint8Array<ArrayBuffer>, need: number): Uint8Array<ArrayBuffer> => {
  if (need <= a.length) return a
  const b = new Uint8Array(Math.max(need, a.length * 2))
  b.set(a)
  return b
}

/**
 * The distinct pieces seen so far and the span table, as one generation. Piece numbers are only meaningful with
 * their Vocab; when a generation is full (VOCAB_LIMIT spans or pieces by default, as spaCy bounds its cache) tokenizing goes
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
  // piece; -(p + 1) points at multi[p] = count, multi[p + 1] = the span's own flags (spanFlags), then the pieces.
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

  /** Whether this generation holds `limit` spans or pieces, or VOCAB_MAX_CHARS characters. */
  isFull(limit: number): boolean {
    // Bounded by count, as spaCy's cache is, and by characters, so that very long runs cannot grow it without end.
    return this.spanCount >= limit || this.size >= limit || this.arenaUsed + this.pieceChars > VOCAB_MAX_CHARS
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

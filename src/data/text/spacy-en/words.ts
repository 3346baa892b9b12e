/**
 * A text's words (what datatrove's `word_tokenize` returns) as piece numbers of one Vocab, as the filters consume
 * them: Words, WordBuffer (words gathered line by line) and localWordIds (a document's distinct words numbered).
 */
import { grownInt32, Vocab } from "./vocab.ts"

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
  /** Tests: words of the given texts (each taken as one word), numbered in `vocab` (by default one of their own). */
  static of(texts: ReadonlyArray<string>, vocab: Vocab = new Vocab()): Words {
    return new Words(vocab, Int32Array.from(texts, (t) => vocab.idOf(t)))
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
    // No words appended: an empty Words, whose Vocab nobody reads.
    return new Words(this.vocab ?? new Vocab(), this.ids.slice(0, this.length))
  }
}

/** The words (pieces that strip to something) among pieces ids[0, n) of `v`. */
export const wordsOfArrays = (v: Vocab, ids: Int32Array, n: number): Words => {
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

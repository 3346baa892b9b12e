import { sentenceCountOf } from "./sentencizer.ts"
import type { Vocab } from "./vocab.ts"
import { type WordBuffer, type Words, wordsOfArrays } from "./words.ts"

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
  constructor(vocab: Vocab, ids: Int32Array, starts: Int32Array, flags: number) {
    this.vocab = vocab
    this.ids = ids
    this.starts = starts
    this.flags = flags
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

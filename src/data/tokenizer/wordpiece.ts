/**
 * The WordPiece model (BERT's) as HF `tokenizers` runs it: each pre-tokenized word is cut greedily into the
 * longest vocabulary entry from the left, the pieces after the first spelled with the continuing-subword prefix
 * (`##`). A word with any stretch no entry covers, or longer than `max_input_chars_per_word` characters, becomes
 * the single unknown token, never a partial segmentation. Also the WordPiece decoder, which undoes the `##`.
 */
import type { IdBuffer } from "./bpe.ts"
import type { WordPieceSpec } from "./config.ts"
import { TokenizerConfigError } from "./errors.ts"

/** Words longer than this (UTF-16 units) are not cached: they are rare, and would let one document fill the cache. */
const MAX_CACHED_WORD = 64

export class WordPieceModel {
  readonly vocab: ReadonlyMap<string, number>
  /** id → token for the model vocabulary (added tokens live in the tokenizer). */
  readonly tokens: ReadonlyArray<string | undefined>
  private readonly unkId: number
  private readonly prefix: string
  private readonly maxInputChars: number
  /** The longest entry in UTF-16 units: no longer stretch can match, so the search starts there, not at the word's end. */
  private readonly longestEntry: number
  private readonly cache = new Map<string, number | Uint32Array>()
  private readonly cacheCapacity: number

  constructor(spec: WordPieceSpec, cacheCapacity = 200_000) {
    this.vocab = spec.vocab
    this.cacheCapacity = cacheCapacity
    const tokens: Array<string | undefined> = []
    let longest = 0
    for (const [token, id] of spec.vocab) {
      tokens[id] = token
      longest = Math.max(longest, token.length)
    }
    this.tokens = tokens
    this.longestEntry = longest
    const unk = spec.vocab.get(spec.unkToken)
    // HF loads such a file and fails on the first word it cannot cut; refusing it up front is kinder.
    if (unk === undefined) throw new TokenizerConfigError("Parse", `model.unk_token ${JSON.stringify(spec.unkToken)} is not in the vocabulary`)
    this.unkId = unk
    this.prefix = spec.continuingSubwordPrefix
    this.maxInputChars = spec.maxInputCharsPerWord
  }

  /** Appends the ids of one pre-tokenized word. */
  encodeWord(word: string, out: IdBuffer): void {
    const hit = this.cache.get(word)
    if (hit !== undefined) {
      if (typeof hit === "number") out.push(hit)
      else out.pushAll(hit)
      return
    }
    const ids = this.computeWord(word)
    if (word.length <= MAX_CACHED_WORD) {
      if (this.cache.size >= this.cacheCapacity) this.cache.clear()
      this.cache.set(word, ids.length === 1 ? ids[0]! : ids)
    }
    out.pushAll(ids)
  }

  private computeWord(word: string): Uint32Array {
    const n = word.length
    // HF counts characters (code points), not UTF-16 units; only count them when the units say it could matter.
    if (n > this.maxInputChars && codePoints(word) > this.maxInputChars) return Uint32Array.of(this.unkId)
    const ids: number[] = []
    let start = 0
    while (start < n) {
      const prefix = start > 0 ? this.prefix : ""
      let end = Math.min(n, start + this.longestEntry - prefix.length)
      if (end < n && isLowSurrogate(word.charCodeAt(end))) end-- // never cut a surrogate pair
      let id: number | undefined
      while (start < end) {
        id = this.vocab.get(prefix + word.slice(start, end))
        if (id !== undefined) break
        end -= end - 2 >= start && isLowSurrogate(word.charCodeAt(end - 1)) && isHighSurrogate(word.charCodeAt(end - 2)) ? 2 : 1
      }
      if (id === undefined) return Uint32Array.of(this.unkId)
      ids.push(id)
      start = end
    }
    return Uint32Array.from(ids)
  }
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

const codePoints = (s: string): number => {
  let count = 0
  for (let i = 0; i < s.length; i++) if (!isLowSurrogate(s.charCodeAt(i)) || i === 0 || !isHighSurrogate(s.charCodeAt(i - 1))) count++
  return count
}

/** HF's `cleanup` for WordPiece decoding: glue punctuation and English contractions back onto the word before. */
const cleanup = (s: string): string =>
  s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" do not", " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re")

/**
 * The WordPiece decoder: a token with the prefix joins the one before (prefix removed), any other is preceded by
 * a space, except the very first (`index` 0 of the whole decode: a streaming decoder passes where it stands).
 * HF cleans each token separately, after the space is added, so only patterns within one token are affected.
 */
export const decodeWordPieceToken = (token: string, index: number, prefix: string, clean: boolean): string => {
  let t = token
  if (index !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : " " + t
  return clean ? cleanup(t) : t
}

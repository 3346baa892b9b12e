/**
 * The n-gram classifier's features: hashed word unigrams and bigrams, fastText-style (Joulin et al. 2016, "Bag of
 * Tricks for Efficient Text Classification": word n-grams hashed into a fixed number of buckets).
 *
 * Normalization, the one definition both `hashNgrams` and the plain version in `reference.ts` follow:
 * 1. the text is lowercased with `String.prototype.toLowerCase` (Unicode default case mapping);
 * 2. a word is a maximal run of letters, digits and combining marks (Unicode categories L, N, M); everything else
 *    (spaces, punctuation, symbols, emoji) separates words and is dropped. fastText itself splits only on
 *    whitespace and keeps punctuation glued to words; splitting on non-word characters instead makes "school," and
 *    "school" one feature, which matters more for the small annotated samples this classifier learns from;
 * 3. features are every word, and (with `wordNgrams = 2`) every pair of adjacent words, across line breaks.
 *
 * Hashing: a word's hash is 32-bit FNV-1a over its UTF-16 code units (fastText uses FNV-1a over UTF-8 bytes; the
 * two agree on ASCII); a bigram's is `imul(h1, 116049371) + h2`, fastText's combination rule for word n-grams.
 * Each hash goes through murmur3's 32-bit finalizer before `% buckets`, so that power-of-two bucket counts use
 * well-mixed bits. Unigrams and bigrams share one bucket space, as fastText's hashed n-grams do.
 */

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 16777619
/** fastText's multiplier for combining word hashes into an n-gram hash (`Dictionary::addWordNgrams`). */
const NGRAM_MULTIPLIER = 116049371

/** murmur3 fmix32: spreads every input bit over the low bits that `% buckets` keeps. */
export const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** FNV-1a over a string's UTF-16 code units. */
export const fnv1a = (word: string): number => {
  let h = FNV_OFFSET
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME)
  return h >>> 0
}

export const unigramBucket = (h: number, buckets: number): number => fmix32(h) % buckets
export const bigramBucket = (h1: number, h2: number, buckets: number): number =>
  fmix32((Math.imul(h1, NGRAM_MULTIPLIER) + h2) >>> 0) % buckets

const WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u

/** 1 where a BMP code unit is a word character; surrogates are decided per code point in `hashNgrams`. */
const isWordUnit: Uint8Array = (() => {
  const table = new Uint8Array(65536)
  for (let c = 0; c < 65536; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue
    if (WORD_CHAR.test(String.fromCharCode(c))) table[c] = 1
  }
  return table
})()

/** `h % buckets` for an fmix32 output `h` held as int32: a mask when `buckets` is a power of two (no float math). */
const bucketOf = (h: number, buckets: number, mask: number): number => mask >= 0 ? h & mask : (h >>> 0) % buckets

/** fmix32 without the final `>>> 0`: stays a small integer (int32) for V8. */
const fmix32i = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * Writes the bucket ids of `text`'s features into `out` (grown when too small) and returns the filled array and
 * the count. One pass over the lowercased text, no substrings: the word hash is built as the characters stream by,
 * in int32 arithmetic throughout (a uint32 above 2^31 would make V8 fall back to doubles).
 */
export const hashNgrams = (
  text: string,
  buckets: number,
  wordNgrams: 1 | 2,
  out: Int32Array
): { readonly ids: Int32Array; readonly count: number } => {
  const s = text.toLowerCase()
  const n = s.length
  let ids = out
  // A text of n code units has at most ceil(n/2) words, so at most n features with bigrams.
  if (ids.length < n + 1) ids = new Int32Array(Math.max(n + 1, ids.length * 2))
  const mask = (buckets & (buckets - 1)) === 0 ? buckets - 1 : -1
  const bigrams = wordNgrams === 2
  let count = 0
  let h = FNV_OFFSET | 0
  let inWord = false
  let prev = 0
  let hasPrev = false
  for (let i = 0; i <= n; i++) {
    let word = false
    if (i < n) {
      const c = s.charCodeAt(i)
      if (c < 0xd800 || c > 0xdbff) word = isWordUnit[c] === 1
      else if (i + 1 < n) {
        const d = s.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff) {
          // An astral code point: a word character if its category is L, N or M; both units join the hash.
          if (WORD_CHAR.test(s.slice(i, i + 2))) {
            h = Math.imul(Math.imul(h ^ c, FNV_PRIME) ^ d, FNV_PRIME)
            inWord = true
            i++
            continue
          }
          i++
        }
      }
      if (word) {
        h = Math.imul(h ^ c, FNV_PRIME)
        inWord = true
        continue
      }
    }
    if (!inWord) continue
    ids[count++] = bucketOf(fmix32i(h), buckets, mask)
    if (bigrams && hasPrev) ids[count++] = bucketOf(fmix32i(Math.imul(prev, NGRAM_MULTIPLIER) + h | 0), buckets, mask)
    prev = h
    hasPrev = true
    inWord = false
    h = FNV_OFFSET | 0
  }
  return { ids, count }
}

import { pyLen, pyStrip } from "../text/pytext.ts"
import type { GopherRepetitionOptions } from "./gopher-repetition.ts"

/**
 * GopherRepetitionFilter as datatrove's pipeline/filters/gopher_repetition_filter.py writes it: strings, sets and
 * Counter-like maps, every n-gram built as its joined string. The filter (gopher-repetition.ts) computes the same
 * numbers without building strings; this is what test/data/filters-fast-path.test.ts holds it to, and what the
 * filter itself runs on the rare words its fast path does not take (a space inside a word, or half a surrogate
 * pair at a word's edge, which joining could pair with a neighbour's).
 */

/** `find_duplicates`: how many elements were seen before, and their characters. */
export const findDuplicatesReference = (xs: ReadonlyArray<string>): readonly [number, number] => {
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
 * `find_top_duplicate(get_n_grams(words, n))`: characters of the most common " "-joined n-gram times its count.
 * `Counter.most_common(1)` is max() over the items in insertion order: among the n-grams with the highest final
 * count, the first inserted (not the first to reach that count).
 */
export const topDuplicateCharsReference = (words: ReadonlyArray<string>, n: number): number => {
  const counts = new Map<string, number>()
  for (let i = 0; i + n <= words.length; i++) {
    let key = words[i]!
    for (let j = 1; j < n; j++) key += " " + words[i + j]!
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
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
export const allDuplicateCharsReference = (words: ReadonlyArray<string>, n: number): number => {
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

/** datatrove's `if self.x and …`: a threshold of None or 0 turns its rule off. */
const on = (x: number | null): x is number => x !== null && x !== 0

/**
 * The n-gram half of `filter` over `words` (`split_into_words(text)`), with `textLen` = `len(text)`: the reason
 * datatrove gives, or null to keep.
 */
export const nGramRepetitionReference = (
  words: ReadonlyArray<string>,
  textLen: number,
  o: GopherRepetitionOptions
): string | null => {
  for (const [n, frac] of o.topNGrams) {
    // `if not n_grams: continue`
    if (words.length - n + 1 <= 0) continue
    if (topDuplicateCharsReference(words, n) / textLen > frac) return `top_${n}_gram`
  }
  for (const [n, frac] of o.dupNGrams) {
    if (allDuplicateCharsReference(words, n) / textLen > frac) return `duplicated_${n}_n_grams`
  }
  return null
}

/**
 * `GopherRepetitionFilter.filter(doc)` for `text` and its words: the reason datatrove gives, or null to keep.
 * datatrove divides by `len(text)` unguarded and raises on an empty text; here 0/0 is NaN, which exceeds no
 * threshold, so an empty text is kept (as the filter keeps it).
 */
export const gopherRepetitionReference = (
  text: string,
  words: ReadonlyArray<string>,
  o: GopherRepetitionOptions
): string | null => {
  const textLen = pyLen(text)
  const paragraphs = pyStrip(text).split(/\n{2,}/)
  const [paraDups, paraChars] = findDuplicatesReference(paragraphs)
  if (on(o.dupParaFrac) && paraDups / paragraphs.length > o.dupParaFrac) return "dup_para_frac"
  if (on(o.dupParaCharFrac) && paraChars / textLen > o.dupParaCharFrac) return "dup_para_char_frac"
  const lines = text.split(/\n+/)
  const [lineDups, lineChars] = findDuplicatesReference(lines)
  if (on(o.dupLineFrac) && lineDups / lines.length > o.dupLineFrac) return "dup_line_frac"
  if (on(o.dupLineCharFrac) && lineChars / textLen > o.dupLineCharFrac) return "dup_line_char_frac"
  return nGramRepetitionReference(words, textLen, o)
}

import type { Document } from "../Document.ts"
import { splitIntoWords } from "../text/datatrove-text.ts"
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
 * `find_top_duplicate(get_n_grams(words, n))`: characters of the most common " "-joined n-gram times its count.
 * `Counter.most_common(1)` returns the first-inserted n-gram among equal counts, and so does this.
 */
const topDuplicateChars = (words: ReadonlyArray<string>, n: number): number => {
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
const allDuplicateChars = (words: ReadonlyArray<string>, n: number): number => {
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
    const words = splitIntoWords(text)
    for (const [n, nFrac] of o.topNGrams) {
      if (words.length - n + 1 <= 0) continue
      if (frac(topDuplicateChars(words, n)) > nFrac) return drop(`top_${n}_gram`)
    }
    for (const [n, nFrac] of o.dupNGrams) {
      if (frac(allDuplicateChars(words, n)) > nFrac) return drop(`duplicated_${n}_n_grams`)
    }
    return keep(doc)
  }
  return { id: "gopher_repetition", filter: decide }
}

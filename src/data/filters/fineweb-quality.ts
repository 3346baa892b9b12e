import type { Document } from "../Document.ts"
import { DATATROVE_TERMINAL_PUNCTUATION, endsWithTerminalPunctuation, splitIntoWordIds, textHasSurrogate } from "../text/datatrove-text.ts"
import { isPyBlank, pyCount, pyLen } from "../text/pytext.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"
import { findDuplicates } from "./gopher-repetition.ts"

/**
 * FineWeb's own heuristics (Penedo et al. 2024), with the defaults of datatrove's
 * pipeline/filters/fineweb_quality_filter.py: share of lines ending in terminal punctuation, share of short
 * lines, duplicated line characters, and newlines per word.
 */
export interface FineWebQualityOptions {
  readonly linePunctThr: number
  readonly linePunctExcludeZero: boolean
  /** Line-ending characters; datatrove's TERMINAL_PUNCTUATION when not given. */
  readonly stopChars: ReadonlyArray<string> | null
  readonly shortLineThr: number
  readonly shortLineLength: number
  readonly charDuplicatesRatio: number
  readonly newLineRatio: number
}

export const fineWebQualityDefaults: FineWebQualityOptions = {
  linePunctThr: 0.12,
  linePunctExcludeZero: false,
  stopChars: null,
  shortLineThr: 0.67,
  shortLineLength: 30,
  charDuplicatesRatio: 0.01,
  newLineRatio: 0.3
}

export const FineWebQualityFilter = (options: Partial<FineWebQualityOptions> = {}): DocFilter => {
  const o = { ...fineWebQualityDefaults, ...options }
  const stops = o.stopChars
  const endsWithStop = stops === null || stops === DATATROVE_TERMINAL_PUNCTUATION
    ? endsWithTerminalPunctuation
    : (line: string) => stops.some((c) => line.endsWith(c))
  const decide = (doc: Document) => {
    const lines = doc.text.split("\n").filter((l) => !isPyBlank(l))
    if (lines.length === 0) return drop("empty")
    let ratio = lines.filter(endsWithStop).length / lines.length
    if (ratio < o.linePunctThr && !(ratio === 0 && o.linePunctExcludeZero)) return drop("line_punct_ratio")
    const text = doc.text
    const surrogates = textHasSurrogate(text)
    // pyLen(l) <= l.length, so a line that short in UTF-16 units needs no counting; without surrogates they agree.
    ratio = lines.filter((l) => l.length <= o.shortLineLength || (surrogates && pyLen(l) <= o.shortLineLength)).length /
      lines.length
    if (ratio > o.shortLineThr) return drop("short_line_ratio")
    // Without surrogates, removing the newlines removes exactly their count of code points.
    const charsWithoutNewlines = surrogates ? pyLen(text.replaceAll("\n", "")) : text.length - pyCount(text, "\n")
    ratio = findDuplicates(lines)[1] / charsWithoutNewlines
    if (ratio > o.charDuplicatesRatio) return drop("char_dup_ratio")
    const words = splitIntoWordIds(doc.text)
    if (pyCount(doc.text, "\n") / words.length > o.newLineRatio) return drop("list_ratio")
    return keep(doc)
  }
  return { id: "fineweb_quality", filter: decide }
}

import type { Document } from "../Document.ts"
import { pyLen } from "../text/pytext.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * mC4's paragraph rule (tensorflow_datasets c4_utils.py `paragraph_filter`, via datatrove's c4_filters.py
 * C4ParagraphFilter): a page needs at least 3 lines, and its 3 longest lines must each be ≥ 200 characters.
 */
export const C4ParagraphFilter = (minParagraphs = 3, minParagraphLen = 200): DocFilter => ({
  id: "c4_paragraph",
  filter: (doc: Document) => {
    const lines = doc.text.split("\n")
    const longest = lines.map(pyLen).sort((a, b) => b - a).slice(0, 3)
    if (lines.length < minParagraphs || Math.min(...longest) < minParagraphLen) return drop(`< ${minParagraphs} paragraphs`)
    return keep(doc)
  }
})

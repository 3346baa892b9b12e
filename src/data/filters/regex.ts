import type { Document } from "../Document.ts"
import { type DocFilter, drop, keep } from "./Filter.ts"

/**
 * datatrove's pipeline/filters/regex_filter.py: drop a document when the pattern matches anywhere in its text.
 * The pattern is a JavaScript RegExp (Python `re` syntax differs in places: inline flags, `\Z`, named groups).
 */
export const RegexFilter = (pattern: RegExp | string, id = "regex"): DocFilter => {
  const re = typeof pattern === "string" ? new RegExp(pattern, "u") : new RegExp(pattern.source, pattern.flags.replace("g", ""))
  return { id, filter: (doc: Document) => (re.test(doc.text) ? drop() : keep(doc)) }
}

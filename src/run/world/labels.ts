/**
 * The world's side table of true labels: one line per generated document (`labels.jsonl`), with the quality
 * score the generator gave it, what kind of document it is, and the SHA-256 of its text, so that the stand-in
 * annotator (world-annotator.ts) recognises a document from the text alone, as an LLM would see it. Near-
 * duplicates name the page they copy; filter bait names its flaw. Nothing of this
 * is in the documents themselves: curation has to find it out.
 */
import { Schema } from "effect"
import { createHash } from "node:crypto"
import type { Document } from "../../data/Document.ts"

export const DocumentKind = Schema.Literals(["page", "near_duplicate", "filter_bait"])
export type DocumentKind = typeof DocumentKind.Type

export const WorldLabel = Schema.Struct({
  id: Schema.String,
  /** The source folder the document is in (web, python, javascript, math). */
  source: Schema.String,
  /** Educational quality, 0 (spam, noise) to 5 (textbook-like), on the FineWeb-Edu / Stack-Edu / FineMath scale. */
  score: Schema.Int,
  kind: DocumentKind,
  sha256: Schema.String,
  duplicate_of: Schema.optionalKey(Schema.String),
  /** Filter bait's flaw: repeated_lines, too_short, bullet_lines or lorem_ipsum (each one a FineWeb filter drops). */
  bait: Schema.optionalKey(Schema.String)
})
export type WorldLabel = typeof WorldLabel.Type

/** A generated document and what the generator knows about it. */
export interface LabelledDocument {
  readonly doc: Document
  readonly score: number
  readonly kind: DocumentKind
  readonly duplicateOf?: string
  readonly bait?: string
}

export const textSha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

export const labelOf = (source: string, d: LabelledDocument): WorldLabel => ({
  id: d.doc.id,
  source,
  score: d.score,
  kind: d.kind,
  sha256: textSha256(d.doc.text),
  ...(d.duplicateOf === undefined ? {} : { duplicate_of: d.duplicateOf }),
  ...(d.bait === undefined ? {} : { bait: d.bait })
})

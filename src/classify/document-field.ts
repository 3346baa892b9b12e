import type { Document } from "../data/Document.ts"

/**
 * A field of a document named by a dotted path, as the command line names them: `metadata.annotation.score`,
 * `metadata.language`; `id` and `text` are the document's own; any other path is read inside `metadata`
 * (`language` = `metadata.language`), since readers put every field but text and id there.
 */
export const documentField = (doc: Document, key: string): unknown => {
  if (key === "id") return doc.id
  if (key === "text") return doc.text
  const parts = key.split(".")
  let value: unknown = doc.metadata
  for (const part of parts[0] === "metadata" ? parts.slice(1) : parts) {
    if (value === null || typeof value !== "object") return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** A numeric field: a finite number, or a string holding one (Parquet and CSV exports carry scores as text). */
export const numericField = (doc: Document, key: string): number | undefined => {
  const v = documentField(doc, key)
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN
  return Number.isFinite(n) ? n : undefined
}

import { Schema } from "effect"

/**
 * The unit every data stage keeps or drops. `metadata` carries what readers found next to the text (url,
 * language, dump…) and what stages add (`filter_reason`, `duplicate_of`); it is JSON, so it survives every format.
 */
export const Document = Schema.Struct({
  id: Schema.String,
  text: Schema.String,
  metadata: Schema.Record(Schema.String, Schema.Unknown)
})
export type Document = typeof Document.Type

export const makeDocument = (id: string, text: string, metadata: Record<string, unknown> = {}): Document => ({
  id,
  text,
  metadata
})

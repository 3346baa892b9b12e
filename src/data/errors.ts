import { Cause, Schema } from "effect"

/**
 * A record or file that could not be read: names the file and where in it (line for JSONL, row group for
 * Parquet, record batch for Arrow), so the user can fix or quarantine the exact input.
 */
export class ReadError extends Schema.TaggedError<ReadError>()("ReadError", {
  file: Schema.String,
  /** "line 17", "row group 3", "batch 0", or "file" when the container itself is unreadable. */
  location: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export class WriteError extends Schema.TaggedError<WriteError>()("WriteError", {
  file: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** A stage was configured in a way that cannot run (bad template, bad filter name, inconsistent dedup files). */
export class DataConfigError extends Schema.TaggedError<DataConfigError>()("DataConfigError", {
  message: Schema.String
}) {}

/** A failure as a person reads it: each error's name and message (which say where), no stack trace. */
export const describeCause = (cause: Cause.Cause<unknown>): string =>
  Cause.prettyErrors(cause).map((e) => `${e.name}: ${e.message}`).join("; ")

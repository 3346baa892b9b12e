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

/**
 * A ReadError whose message alone says where: "FILE:LINE: problem" for a line (the form editors and grep jump
 * to), "FILE (row group 3, row 5): problem" inside a table, "FILE: problem" for the file as a whole. The error
 * is printed far from here (a task's log, the executor's summary), so the message must carry the place.
 */
export const readError = (file: string, location: string, problem: string, cause?: unknown): ReadError => {
  const line = /^line (\d+)$/.exec(location)
  const where = line !== null ? `${file}:${line[1]}` : location === "file" ? file : `${file} (${location})`
  return new ReadError({ file, location, message: `${where}: ${problem}`, ...(cause === undefined ? {} : { cause }) })
}

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

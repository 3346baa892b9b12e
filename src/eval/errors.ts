import { Schema } from "effect"

/**
 * A benchmark or predictions file that could not be read: names the file and the place in it ("line 17",
 * "row 3", "file"), so a user can fix the exact input.
 */
export class EvalDataError extends Schema.TaggedError<EvalDataError>()("EvalDataError", {
  file: Schema.String,
  location: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** The model (or the predictions standing in for it) could not answer a request. */
export class LanguageModelError extends Schema.TaggedError<LanguageModelError>()("LanguageModelError", {
  reason: Schema.Literals(["MissingPrediction", "InvalidRequest", "Backend"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** A program could not be run at all (no toolchain, temp dir not writable); a failing program is a verdict, not this. */
export class CodeRunnerError extends Schema.TaggedError<CodeRunnerError>()("CodeRunnerError", {
  language: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** An evaluation was configured in a way that cannot run (unknown task, missing data directory, bad flag). */
export class EvalConfigError extends Schema.TaggedError<EvalConfigError>()("EvalConfigError", {
  message: Schema.String
}) {}

export const dataError = (file: string, location: string, message: string, cause?: unknown): EvalDataError =>
  cause === undefined
    ? new EvalDataError({ file, location, message })
    : new EvalDataError({ file, location, message, cause })

/** "FILE" or "FILE, line 3": where an `EvalDataError` points. */
export const placeOf = (e: EvalDataError): string => (e.location === "file" ? e.file : `${e.file}, ${e.location}`)

/**
 * The same error with its place and what the file was for in its message (`purpose`, e.g. "the evaluation files
 * of arc:easy"): a user sees only the message, and a bare "no such file or folder" names neither.
 */
export const withPlace = (purpose: string) => (e: EvalDataError): EvalDataError =>
  dataError(e.file, e.location, `${placeOf(e)}: ${e.message} (${purpose})`, e.cause)

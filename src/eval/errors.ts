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

export class ReportWriteError extends Schema.TaggedError<ReportWriteError>()("ReportWriteError", {
  file: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const dataError = (file: string, location: string, message: string, cause?: unknown): EvalDataError =>
  cause === undefined
    ? new EvalDataError({ file, location, message })
    : new EvalDataError({ file, location, message, cause })

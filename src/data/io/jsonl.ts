/**
 * JSON Lines in and out. A line that is not JSON, or does not fit its schema, fails the run with the file and line
 * number: a program that skipped it would shift every following output line against its input.
 */
import { Effect, FileSystem, Schema, Sink, Stream } from "effect"
import { tempPathOf } from "./atomic.ts"

export class JsonlError extends Schema.TaggedError<JsonlError>()("JsonlError", {
  path: Schema.String,
  /** 1-based; 0 when the file itself could not be read or written. */
  line: Schema.Number,
  /** "PATH:LINE: what is wrong", so the printed error alone says where to look. */
  message: Schema.String
}) {}

export const jsonlError = (path: string, line: number, problem: string): JsonlError =>
  new JsonlError({ path, line, message: line > 0 ? `${path}:${line}: ${problem}` : `${path}: ${problem}` })

/** A token id: a non-negative integer (the vocabulary bound is the consumer's to check, it alone knows it). */
export const TokenId = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** `{"ids": [...]}`: a tokenized document or a pre-packed training row, the one ids line of the toolkit. */
export const IdsLine = Schema.Struct({ ids: Schema.Array(TokenId) })
export type IdsLine = typeof IdsLine.Type

export interface ReadJsonlOptions {
  /** "fail" (default): a blank line is an error, since it is a missing record; "skip": blank lines are ignored. */
  readonly blankLines?: "fail" | "skip"
}

/** The decoded lines of a JSONL file, in order, each with its 1-based line number. */
export const readJsonl = <A>(
  path: string,
  schema: Schema.Codec<A, unknown>,
  options: ReadJsonlOptions = {}
): Stream.Stream<{ readonly line: number; readonly value: A }, JsonlError, FileSystem.FileSystem> => {
  const decode = Schema.decodeUnknownEffect(schema)
  const skipBlank = options.blankLines === "skip"
  return Stream.unwrap(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return fs.stream(path).pipe(
      Stream.mapError((e) => jsonlError(path, 0, e.message)),
      Stream.decodeText(),
      Stream.splitLines,
      Stream.zipWithIndex,
      Stream.filter(([text]) => !skipBlank || text.trim().length > 0),
      Stream.mapEffect(([text, index]) => {
        const line = index + 1
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch (e) {
          return Effect.fail(jsonlError(path, line, text.trim().length === 0 ? "blank line" : `not JSON: ${(e as Error).message}`))
        }
        return decode(json).pipe(
          Effect.map((value) => ({ line, value })),
          Effect.mapError((e) => jsonlError(path, line, e.message.replaceAll("\n", " ")))
        )
      })
    )
  }))
}

/** Writes lines to `path` through a temporary file renamed at the end, so a failed run leaves no partial output. */
export const writeLinesAtomic = <E, R>(path: string, lines: Stream.Stream<string, E, R>): Effect.Effect<number, E | JsonlError, FileSystem.FileSystem | R> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Streamed through FileSystem's sink (one write per chunk, not per line), under the atomic module's temp name.
    const temp = tempPathOf(path)
    const ioError = (e: { readonly message: string }) => jsonlError(path, 0, e.message)
    let count = 0
    const written = lines.pipe(
      Stream.map((l) => {
        count++
        return `${l}\n`
      }),
      Stream.encodeText,
      Stream.run(fs.sink(temp).pipe(Sink.mapError(ioError)))
    )
    yield* written.pipe(Effect.onError(() => fs.remove(temp).pipe(Effect.ignore)))
    yield* fs.rename(temp, path).pipe(Effect.mapError(ioError))
    return count
  })

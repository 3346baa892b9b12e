/**
 * JSON Lines in and out for the tokenizer programs. A line that is not JSON, or lacks the field, fails the run with
 * the file and line number: a tokenizer that skipped it would shift every following output line against its input.
 */
import { Effect, FileSystem, Schema, Sink, Stream } from "effect"

export class JsonlError extends Schema.TaggedError<JsonlError>()("JsonlError", {
  path: Schema.String,
  /** 1-based; 0 when the file itself could not be read or written. */
  line: Schema.Number,
  /** "PATH:LINE: what is wrong", so the printed error alone says where to look. */
  message: Schema.String
}) {}

const jsonlError = (path: string, line: number, problem: string): JsonlError =>
  new JsonlError({ path, line, message: line > 0 ? `${path}:${line}: ${problem}` : `${path}: ${problem}` })

/** The decoded lines of a JSONL file, in order, each with its line number. */
export const readJsonl = <A>(path: string, schema: Schema.Codec<A, unknown>): Stream.Stream<{ readonly line: number; readonly value: A }, JsonlError, FileSystem.FileSystem> => {
  const decode = Schema.decodeUnknownEffect(schema)
  return Stream.unwrap(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return fs.stream(path).pipe(
      Stream.mapError((e) => jsonlError(path, 0, e.message)),
      Stream.decodeText(),
      Stream.splitLines,
      Stream.zipWithIndex,
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
    const temp = `${path}.tmp-${process.pid}`
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

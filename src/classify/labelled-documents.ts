/**
 * Annotated documents as training or evaluation data: each document with its label (by default the LLM's score,
 * `metadata.annotation.score`, as programs/annotate.ts writes it) and optionally a group (its language). Labels
 * are clipped to the integers 0–5 as FineWeb-Edu's training script does (`intScore`). A document without a
 * numeric label fails the read with the file and line that hold it: training on a silently shrunk set would
 * misreport every figure.
 */
import { Effect, Schema, Stream } from "effect"
import { createReadStream, existsSync, statSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { createGunzip } from "node:zlib"
import type { Document } from "../data/Document.ts"
import { ReadError, readError } from "../data/errors.ts"
import { readFile, resolveInputs } from "../data/io/readers.ts"
import { documentField, numericField } from "./document-field.ts"
import { intScore } from "./metrics.ts"

export class LabelError extends Schema.TaggedError<LabelError>()("LabelError", {
  file: Schema.String,
  /** "FILE:LINE: problem" (or "FILE (document N): problem" for Parquet and Arrow). */
  message: Schema.String
}) {}

export interface LabelledDocument {
  readonly doc: Document
  /** The label clipped to an integer 0–5. */
  readonly label: number
  /** The group (a language) when a group key was given; "unknown" for a document without one. */
  readonly group: string | undefined
}

export interface LabelledReadOptions {
  /** Default `metadata.annotation.score`. */
  readonly scoreKey?: string
  readonly groupKey?: string | undefined
  readonly textKey?: string
  readonly idKey?: string
  readonly glob?: string | undefined
}

export const DEFAULT_SCORE_KEY = "metadata.annotation.score"

/**
 * An annotate run's output folder (annotated/, failed/, cache/, summary.json) stands for its annotated/ folder:
 * the failed documents have no score and the cache is not documents.
 */
export const annotatedFolderOf = (input: string): string =>
  existsSync(path.join(input, "summary.json")) && existsSync(path.join(input, "annotated")) && statSync(input).isDirectory()
    ? path.join(input, "annotated")
    : input

/** `FILE:LINE` of the `index`-th (0-based) document of a JSONL file: the readers skip blank lines only. */
const locate = async (file: string, index: number): Promise<string> => {
  if (!/\.(jsonl|ndjson|json)(\.gz)?$/i.test(file)) return `${file} (document ${index + 1})`
  const source = createReadStream(file)
  const lines = createInterface({ input: file.endsWith(".gz") ? source.pipe(createGunzip()) : source, crlfDelay: Infinity })
  let lineNo = 0
  let seen = -1
  try {
    for await (const line of lines) {
      lineNo++
      if (line.trim().length > 0 && ++seen === index) return `${file}:${lineNo}`
    }
  } finally {
    source.destroy()
  }
  return `${file} (document ${index + 1})`
}

export const readLabelledDocuments = (
  inputs: ReadonlyArray<string>,
  options: LabelledReadOptions = {}
): Effect.Effect<Array<LabelledDocument>, ReadError | LabelError> =>
  Effect.gen(function*() {
    const scoreKey = options.scoreKey ?? DEFAULT_SCORE_KEY
    const reader = { textKey: options.textKey ?? "text", idKey: options.idKey ?? "id", ...(options.glob === undefined ? {} : { glob: options.glob }) }
    const resolved = inputs.map(annotatedFolderOf)
    const files = yield* Effect.tryPromise({
      try: () => resolveInputs(resolved, reader),
      catch: (e) => e instanceof ReadError ? e : readError(resolved.join(", "), "file", `cannot list inputs: ${e instanceof Error ? e.message : String(e)}`, e)
    })
    if (files.length === 0) return yield* new LabelError({ file: resolved.join(", "), message: `${resolved.join(", ")}: no data files (.jsonl[.gz], .parquet, .arrow)` })
    const out: Array<LabelledDocument> = []
    for (const file of files) {
      let index = 0
      let bad: { index: number; problem: string } | undefined
      yield* readFile(file, reader).pipe(
        Stream.takeWhile(() => bad === undefined),
        Stream.runForEach((doc) =>
          Effect.sync(() => {
            const raw = numericField(doc, scoreKey)
            if (raw === undefined) {
              const found = documentField(doc, scoreKey)
              bad = { index, problem: `document ${JSON.stringify(doc.id)} has no numeric label at ${scoreKey} (found ${JSON.stringify(found) ?? "nothing"})` }
              return
            }
            const g = options.groupKey === undefined ? undefined : documentField(doc, options.groupKey)
            out.push({ doc, label: intScore(raw), group: options.groupKey === undefined ? undefined : g === undefined || g === null ? "unknown" : String(g) })
            index++
          })
        )
      )
      if (bad !== undefined) {
        const where = yield* Effect.promise(() => locate(file, bad!.index))
        return yield* new LabelError({ file, message: `${where}: ${bad.problem}` })
      }
    }
    return out
  })

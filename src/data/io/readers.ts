import { RecordBatchReader } from "apache-arrow"
import { Stream } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"
import { createGunzip } from "node:zlib"
import type { Document } from "../Document.ts"
import { ReadError, readError } from "../errors.ts"
import { type FileFormat, formatOf, listInputFiles } from "./files.ts"
import { isHfPath, type HfOptions, resolveHfInputs } from "./hf.ts"

/** A record that could not become a document, kept aside instead of failing the run (opt-in). */
export interface Quarantined {
  readonly file: string
  readonly location: string
  readonly message: string
  readonly raw?: string
}

export interface ReaderOptions {
  readonly textKey?: string
  readonly idKey?: string
  /** Merged under each record's own metadata. */
  readonly defaultMetadata?: Record<string, unknown>
  /** Stop after this many documents (over all files). */
  readonly limit?: number
  readonly glob?: string
  readonly recursive?: boolean
  /** Only this task's files: `files[rank::worldSize]`, datatrove's assignment. */
  readonly rank?: number
  readonly worldSize?: number
  /**
   * Without it a bad record fails the stream with a ReadError naming file and line/row group. With it the record
   * is handed here (and should be counted and written by the caller); the stream goes on.
   */
  readonly quarantine?: (q: Quarantined) => void
  readonly hf?: HfOptions
}

/**
 * One record (a JSON object or a table row) → Document, as datatrove's BaseDiskReader.get_document_from_dict:
 * text and id are taken out, every other field becomes metadata; a record without an id gets `<file>/<index>`.
 */
const toDocument = (
  row: Record<string, unknown>,
  file: string,
  index: number,
  o: ReaderOptions
): Document | string => {
  const textKey = o.textKey ?? "text"
  const idKey = o.idKey ?? "id"
  const text = row[textKey]
  if (typeof text !== "string") {
    // The record's own keys tell the user which --text-key they meant.
    const fields = Object.keys(row).slice(0, 8).join(", ")
    return text === undefined || text === null
      ? `no "${textKey}" field (its fields: ${fields || "none"})`
      : `"${textKey}" is a ${typeof text}, not a string`
  }
  const rawId = row[idKey]
  const id = rawId === undefined || rawId === null ? `${file}/${index}` : String(rawId)
  const metadata: Record<string, unknown> = { ...o.defaultMetadata }
  for (const [k, v] of Object.entries(row)) {
    if (k === textKey || k === idKey) continue
    // A `metadata` field (what datatrove's writers and ours produce) is merged, from an object or its JSON text.
    if (k === "metadata") {
      const m = typeof v === "string" ? safeJson(v) : v
      if (m !== null && typeof m === "object" && !Array.isArray(m)) {
        Object.assign(metadata, m)
        continue
      }
    }
    metadata[k] = typeof v === "bigint" ? Number(v) : v
  }
  return { id, text, metadata }
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}


/**
 * JSON.parse's message about one line of JSONL, without its "(line 1 column 34)": the record is always line 1
 * of itself, which reads as a wrong line number next to the file's.
 */
const jsonProblem = (e: unknown): string => {
  const message = e instanceof Error ? e.message : String(e)
  const m = /^(.*?)(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(message)
  return m === null ? `malformed JSON: ${message}` : `malformed JSON at column ${Number(m[2]) + 1}: ${m[1]}`
}

const failOrQuarantine = (o: ReaderOptions, q: Quarantined): void => {
  if (o.quarantine === undefined) throw readError(q.file, q.location, q.message)
  o.quarantine(q)
}

async function* readJsonl(file: string, o: ReaderOptions): AsyncGenerator<Document> {
  const source = createReadStream(file)
  const gzipped = file.endsWith(".gz")
  const input = gzipped ? source.pipe(createGunzip()) : source
  // pipe() does not forward the source's errors; without this an unreadable .gz file would hang the reader.
  if (gzipped) source.on("error", (e) => input.destroy(e))
  const lines = createInterface({ input, crlfDelay: Infinity })
  let lineNo = 0
  let index = 0
  try {
    for await (const line of lines) {
      lineNo++
      if (line.trim().length === 0) continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch (e) {
        failOrQuarantine(o, { file, location: `line ${lineNo}`, message: jsonProblem(e), raw: line })
        continue
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        failOrQuarantine(o, { file, location: `line ${lineNo}`, message: "not a JSON object", raw: line })
        continue
      }
      const doc = toDocument(value as Record<string, unknown>, file, index, o)
      if (typeof doc === "string") {
        failOrQuarantine(o, { file, location: `line ${lineNo}`, message: doc, raw: line })
        continue
      }
      index++
      yield doc
    }
  } catch (e) {
    if (e instanceof ReadError) throw e
    // A truncated gzip member or an I/O error: the file itself is bad from this line on.
    const message = e instanceof Error ? e.message : String(e)
    throw readError(
      file,
      `line ${lineNo + 1}`,
      gzipped
        ? `gzip data ends or breaks after line ${lineNo} (is the file truncated or corrupt?): ${message}`
        : `unreadable after line ${lineNo}: ${message}`,
      e
    )
  } finally {
    source.destroy()
  }
}

async function* readParquet(file: string, o: ReaderOptions): AsyncGenerator<Document> {
  let buffer
  let metadata
  try {
    buffer = await asyncBufferFromFile(file)
    metadata = await parquetMetadataAsync(buffer)
  } catch (e) {
    throw readError(file, "file", `not a readable Parquet file (truncated or corrupt?): ${(e as Error).message}`, e)
  }
  let rowStart = 0
  let index = 0
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const n = Number(metadata.row_groups[g]!.num_rows)
    let rows: Array<Record<string, unknown>>
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd: rowStart + n, compressors })
    } catch (e) {
      failOrQuarantine(o, { file, location: `row group ${g}`, message: `corrupt row group: ${(e as Error).message}` })
      rowStart += n
      index += n
      continue
    }
    for (let r = 0; r < rows.length; r++) {
      const doc = toDocument(rows[r]!, file, index + r, o)
      if (typeof doc === "string") failOrQuarantine(o, { file, location: `row group ${g}, row ${r}`, message: doc })
      else yield doc
    }
    rowStart += n
    index += n
  }
}

async function* readArrow(file: string, o: ReaderOptions): AsyncGenerator<Document> {
  let index = 0
  let batchNo = 0
  const source = createReadStream(file)
  try {
    const reader = await RecordBatchReader.from(source)
    for await (const batch of reader) {
      const names = batch.schema.fields.map((f) => f.name)
      for (let r = 0; r < batch.numRows; r++) {
        const row: Record<string, unknown> = {}
        for (let c = 0; c < names.length; c++) {
          const v = batch.getChildAt(c)?.get(r)
          row[names[c]!] = v !== null && typeof v === "object" && "toJSON" in v ? (v as { toJSON(): unknown }).toJSON() : v
        }
        const doc = toDocument(row, file, index++, o)
        if (typeof doc === "string") failOrQuarantine(o, { file, location: `batch ${batchNo}, row ${r}`, message: doc })
        else yield doc
      }
      batchNo++
    }
  } catch (e) {
    if (e instanceof ReadError) throw e
    throw readError(file, `batch ${batchNo}`, `not a readable Arrow IPC stream (truncated or corrupt?): ${(e as Error).message}`, e)
  } finally {
    source.destroy()
  }
}

const readers: Record<FileFormat, (file: string, o: ReaderOptions) => AsyncGenerator<Document>> = {
  jsonl: readJsonl,
  parquet: readParquet,
  arrow: readArrow
}

/** Documents of one file, by its extension. */
export const readFile = (file: string, options: ReaderOptions = {}): Stream.Stream<Document, ReadError> => {
  const format = formatOf(file)
  if (format === undefined) {
    return Stream.fail(readError(file, "file", "unknown format (expected .jsonl[.gz], .parquet, .arrow)"))
  }
  return Stream.fromAsyncIterable(readers[format](file, options), (e) =>
    e instanceof ReadError ? e : readError(file, "file", e instanceof Error ? e.message : String(e), e))
}

/** The files a task reads: listed, filtered, sorted, then `rank::worldSize`. hf:// inputs are fetched first. */
export const resolveInputs = async (inputs: ReadonlyArray<string>, options: ReaderOptions = {}): Promise<Array<string>> => {
  const local = await resolveHfInputs(inputs, options.hf ?? {}, options.glob)
  const files = await listInputFiles(local, { glob: options.glob, recursive: options.recursive })
  const rank = options.rank ?? 0
  const world = options.worldSize ?? 1
  return files.filter((_, i) => i % world === rank)
}

/** All documents of `inputs` (files, folders, hf:// paths) as one stream, in file order. */
export const readDocuments = (inputs: ReadonlyArray<string>, options: ReaderOptions = {}): Stream.Stream<Document, ReadError> => {
  const all = Stream.fromIterableEffect(
    Stream.runCollect(Stream.fromAsyncIterable(
      (async function*() {
        yield* await resolveInputs(inputs, options)
      })(),
      (e) => e instanceof ReadError ? e : readError(inputs.join(","), "file", `cannot list inputs: ${e instanceof Error ? e.message : String(e)}`, e)
    ))
  ).pipe(Stream.flatMap((file) => readFile(file, options), { concurrency: 1 }))
  return options.limit !== undefined && options.limit >= 0 ? Stream.take(all, options.limit) : all
}

export { isHfPath }

import { tableFromArrays, tableToIPC } from "apache-arrow"
import { Effect, type Scope } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import type { Document } from "../Document.ts"
import type { WriteError } from "../errors.ts"
import type { DocSink } from "../filters/Filter.ts"
import { AtomicFileSync, tryWrite, writeFileAtomicSync } from "./atomic.ts"

/**
 * Writers for JSONL (optionally gzipped), Parquet and Arrow IPC. Every output file is written under a temporary
 * name and renamed into place when complete, so a killed task leaves no file that looks finished but is not.
 *
 * Names come from a template as in datatrove's DiskWriter: `${rank}` is the task rank zero-padded to 5 digits,
 * `${key}` is `metadata[key]` (documents with different values go to different files). With `maxFileSize`, a
 * file that reaches that many bytes is closed and the next one gets a `NNN_` prefix (datatrove's rollover naming).
 */
export type OutputFormat = "jsonl" | "parquet" | "arrow"

export interface WriterOptions {
  readonly folder: string
  readonly format?: OutputFormat
  /** Defaults to `${rank}.jsonl` (`.jsonl.gz` when compressed, `.parquet`, `.arrow`). */
  readonly template?: string
  readonly compression?: "gzip" | null
  readonly maxFileSize?: number
  readonly rank?: number
}

export interface DocWriter extends DocSink {
  /** Final paths of the files completed so far. */
  readonly files: () => ReadonlyArray<string>
}

const defaultTemplate = (format: OutputFormat, gz: boolean) =>
  format === "jsonl" ? (gz ? "${rank}.jsonl.gz" : "${rank}.jsonl") : format === "parquet" ? "${rank}.parquet" : "${rank}.arrow"

export const expandTemplate = (template: string, rank: number, doc: Document): string =>
  template.replace(/\$\{(\w+)\}/g, (_, key: string) => {
    if (key === "rank") return String(rank).padStart(5, "0")
    const v = doc.metadata[key]
    return v === undefined || v === null ? "unknown" : String(v).replace(/[/\\]/g, "_")
  })

/** datatrove's JSONL adapter: text, id, metadata. */
const jsonLine = (doc: Document) => JSON.stringify({ text: doc.text, id: doc.id, metadata: doc.metadata }) + "\n"

interface OpenFile {
  readonly final: string
  bytes: number
  /** JSONL streams into its file; Parquet and Arrow collect rows and write the file whole at the end. */
  out?: AtomicFileSync
  rows: Array<Document>
  pending: Array<string>
}

export const makeWriter = (options: WriterOptions): Effect.Effect<DocWriter, WriteError, Scope.Scope> => {
  const format = options.format ?? "jsonl"
  const gz = options.compression === "gzip"
  const template = options.template ?? defaultTemplate(format, gz)
  const rank = options.rank ?? 0
  const open = new Map<string, OpenFile>()
  const counters = new Map<string, number>()
  const done: Array<string> = []

  const finalName = (name: string): string => {
    if (options.maxFileSize === undefined) return path.join(options.folder, name)
    const n = counters.get(name) ?? 0
    counters.set(name, n + 1)
    const dir = path.dirname(name)
    return path.join(options.folder, dir, `${String(n).padStart(3, "0")}_${path.basename(name)}`)
  }

  const startFile = (name: string): OpenFile => {
    const final = finalName(name)
    const f: OpenFile = { final, bytes: 0, rows: [], pending: [] }
    if (format === "jsonl") f.out = new AtomicFileSync(final)
    open.set(name, f)
    return f
  }

  // One gzip member per write call: the file is valid gzip after every call (readers concatenate members).
  const flush = (f: OpenFile) => {
    if (f.pending.length === 0) return
    const raw = Buffer.from(f.pending.join(""))
    f.pending = []
    const bytes = gz ? gzipSync(raw, { level: 6 }) : raw
    f.out!.write(bytes)
    f.bytes += bytes.length
  }

  const finish = (f: OpenFile) => {
    if (format === "jsonl") {
      flush(f)
      f.out!.commit()
    }
    else if (format === "parquet") {
      const buf = parquetWriteBuffer({
        columnData: [
          { name: "text", data: f.rows.map((d) => d.text), type: "STRING" },
          { name: "id", data: f.rows.map((d) => d.id), type: "STRING" },
          { name: "metadata", data: f.rows.map((d) => JSON.stringify(d.metadata)), type: "STRING" }
        ]
      })
      writeFileAtomicSync(f.final, new Uint8Array(buf))
    } else {
      const table = tableFromArrays({
        text: f.rows.map((d) => d.text),
        id: f.rows.map((d) => d.id),
        metadata: f.rows.map((d) => JSON.stringify(d.metadata))
      })
      writeFileAtomicSync(f.final, tableToIPC(table, "stream"))
    }
    done.push(f.final)
  }

  const writeOne = (doc: Document) => {
    const name = expandTemplate(template, rank, doc)
    const f = open.get(name) ?? startFile(name)
    if (format === "jsonl") {
      const line = jsonLine(doc)
      f.pending.push(line)
      // Rollover is judged on uncompressed bytes until the member is written.
      if (!gz || options.maxFileSize !== undefined) flush(f)
    } else {
      f.rows.push(doc)
      f.bytes += Buffer.byteLength(doc.text) + doc.id.length + 64
    }
    if (options.maxFileSize !== undefined && f.bytes >= options.maxFileSize) {
      finish(f)
      open.delete(name)
    }
  }

  return Effect.acquireRelease(
    Effect.succeed<DocWriter>({
      write: (docs) =>
        tryWrite(options.folder, () => {
          for (const d of docs) writeOne(d)
          if (format === "jsonl") for (const f of open.values()) flush(f)
        }),
      files: () => done
    }),
    (_, exit) =>
      Effect.sync(() => {
        for (const f of open.values()) {
          if (exit._tag === "Success") finish(f)
          else {
            // A failed or interrupted task must not leave a file that looks complete.
            f.out?.abort()
          }
        }
        open.clear()
      })
  )
}

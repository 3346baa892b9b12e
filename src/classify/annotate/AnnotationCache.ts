/**
 * The annotation cache: an append-only JSONL file, one line per finished document, written (one `write` call per
 * line, straight to the file descriptor) the moment its reply is in. A rerun, or a run resumed after SIGKILL,
 * looks every document up before asking the endpoint, so no finished document is paid for twice.
 *
 * Keyed by prompt version + model + document id + text hash: the same id with edited text, another model or a
 * reworded prompt is a different annotation. Only final outcomes are cached (a score, or a reply without one);
 * transient failures are not, so a rerun tries those documents again.
 *
 * A kill can tear the last line. Opening the cache reads every complete line, drops a torn tail and truncates
 * the file back to its last newline, so the next append starts on a line of its own.
 */
import { createHash } from "node:crypto"
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs"
import * as path from "node:path"
import { WriteError } from "../../data/errors.ts"
import type { TokenUsage } from "./chat-completion.ts"

export interface CachedAnnotation {
  readonly key: string
  readonly id: string
  readonly prompt: string
  readonly model: string
  /** `score` for an annotation; `null` for a reply without a parseable score (`no_score`). */
  readonly score: number | null
  readonly completion: string
  readonly usage: TokenUsage
  readonly attempts: number
  readonly error?: string
}

export const textHash = (text: string): string => createHash("sha256").update(text).digest("hex")

export const annotationKey = (promptVersion: string, model: string, id: string, text: string): string =>
  createHash("sha256").update(JSON.stringify([promptVersion, model, id, textHash(text)])).digest("hex")

export interface CacheLoad {
  readonly entries: number
  /** Bytes of a torn last line that were cut off. */
  readonly tornBytes: number
  /** Complete lines that were not a cache entry (skipped; a hand-edited file, say). */
  readonly badLines: number
}

const isEntry = (v: unknown): v is CachedAnnotation => {
  if (v === null || typeof v !== "object") return false
  const o = v as Record<string, unknown>
  return typeof o["key"] === "string" && typeof o["completion"] === "string" && (typeof o["score"] === "number" || o["score"] === null)
}

export class AnnotationCache {
  private readonly entries = new Map<string, CachedAnnotation>()
  private fd: number | undefined
  readonly load: CacheLoad

  /** Opens (or creates) the cache file and reads what earlier runs finished. Throws the fs error. */
  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true })
    let tornBytes = 0
    let badLines = 0
    if (existsSync(file)) {
      const bytes = readFileSync(file)
      const end = bytes.lastIndexOf(0x0a) + 1
      tornBytes = bytes.length - end
      for (const line of bytes.subarray(0, end).toString("utf8").split("\n")) {
        if (line.length === 0) continue
        let value: unknown
        try {
          value = JSON.parse(line)
        } catch {
          badLines++
          continue
        }
        if (isEntry(value)) this.entries.set(value.key, value)
        else badLines++
      }
      this.fd = openSync(file, "r+")
      if (tornBytes > 0) ftruncateSync(this.fd, end)
      closeSync(this.fd)
    }
    this.fd = openSync(file, "a")
    this.load = { entries: this.entries.size, tornBytes, badLines }
  }

  get(key: string): CachedAnnotation | undefined {
    return this.entries.get(key)
  }

  get size(): number {
    return this.entries.size
  }

  /** Appends one finished annotation: one `write`, so a kill leaves the line whole or torn, never interleaved. */
  append(entry: CachedAnnotation): void {
    if (this.fd === undefined) throw new WriteError({ file: this.file, message: "the annotation cache is closed" })
    this.entries.set(entry.key, entry)
    const bytes = Buffer.from(JSON.stringify(entry) + "\n")
    let done = 0
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done)
  }

  /** Flushes to disk (the page cache already survives a killed process; this survives a crashed machine). */
  sync(): void {
    if (this.fd !== undefined) fsyncSync(this.fd)
  }

  close(): void {
    if (this.fd === undefined) return
    fsyncSync(this.fd)
    closeSync(this.fd)
    this.fd = undefined
  }
}

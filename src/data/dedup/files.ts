/**
 * What the dedup stages share: atomic files, the per-task id table that turns datatrove's (task, document index)
 * coordinates back into document ids, and the `.remove` lists plus the `duplicate_of` ids that the last stage
 * reads. datatrove names duplicates only by index; the id table is this toolkit's addition so a removed document
 * can say which kept document it duplicates.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { createReadStream } from "node:fs"
import { ConfigError, WriteError } from "../errors.ts"
import { Effect } from "effect"

export const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** Write `data` under a temporary name, then rename: a killed task leaves either the old file or the new one. */
export const writeFileAtomic = (file: string, data: Uint8Array | string): void => {
  mkdirSync(path.dirname(file), { recursive: true })
  const temp = `${file}.tmp-${process.pid}`
  const fd = openSync(temp, "w")
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, file)
}

/** A file written in pieces and renamed into place by `commit`; `abort` removes what was written. */
export class AtomicFile {
  private readonly temp: string
  private fd: number | undefined
  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true })
    this.temp = `${file}.tmp-${process.pid}`
    this.fd = openSync(this.temp, "w")
  }
  write(data: Uint8Array | string): void {
    writeSync(this.fd!, typeof data === "string" ? Buffer.from(data) : data)
  }
  commit(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
    renameSync(this.temp, this.file)
  }
  abort(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
    rmSync(this.temp, { force: true })
  }
}

export const wrapWrite = <A>(file: string, f: () => A) =>
  Effect.try({ try: f, catch: (e) => new WriteError({ file, message: (e as Error).message, cause: e }) })
export const wrapConfig = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => e instanceof ConfigError ? e : new ConfigError({ message: (e as Error).message }) })

/** `ids/<rank>.jsonl`: one JSON string per document index the task saw, in order. */
export const idTablePath = (folder: string, rank: number) => path.join(folder, "ids", `${pad(rank, 5)}.jsonl`)

/** Ids of the wanted (task, index) pairs, read from the id tables that the signature stage wrote. */
export const resolveIds = async (
  folder: string,
  wanted: ReadonlyMap<number, ReadonlySet<number>>
): Promise<Map<number, Map<number, string>>> => {
  const out = new Map<number, Map<number, string>>()
  for (const [rank, docs] of wanted) {
    const file = idTablePath(folder, rank)
    if (!existsSync(file)) throw new ConfigError({ message: `missing id table ${file}: rerun the signature stage for task ${rank}` })
    const found = new Map<number, string>()
    let index = 0
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (docs.has(index)) found.set(index, JSON.parse(line) as string)
      index++
    }
    for (const d of docs) if (!found.has(d)) throw new ConfigError({ message: `${file} has no document ${d}` })
    out.set(rank, found)
  }
  return out
}

export interface Removal {
  readonly doc: number
  readonly duplicateOf: string
}

/**
 * `<rank:06d>.remove`: little-endian uint32 document indices in increasing order, datatrove's format
 * (MinhashDedupCluster → MinhashDedupFilter); `<rank:06d>.duplicates.jsonl` beside it: `[index, duplicate_of]`.
 */
export const writeRemovals = (folder: string, rank: number, removals: ReadonlyArray<Removal>): void => {
  const sorted = [...removals].sort((a, b) => a.doc - b.doc)
  const bin = new Uint32Array(sorted.length)
  sorted.forEach((r, i) => (bin[i] = r.doc))
  writeFileAtomic(path.join(folder, `${pad(rank, 6)}.duplicates.jsonl`), sorted.map((r) => JSON.stringify([r.doc, r.duplicateOf]) + "\n").join(""))
  // Written last: the filter stage takes the `.remove` file as the sign that this task's removals are complete.
  writeFileAtomic(path.join(folder, `${pad(rank, 6)}.remove`), new Uint8Array(bin.buffer))
}

export const readRemovals = (folder: string, rank: number): Map<number, string> | undefined => {
  const bin = path.join(folder, `${pad(rank, 6)}.remove`)
  if (!existsSync(bin)) return undefined
  const bytes = readFileSync(bin)
  const names = new Map<number, string>()
  const side = path.join(folder, `${pad(rank, 6)}.duplicates.jsonl`)
  if (existsSync(side)) {
    for (const line of readFileSync(side, "utf8").split("\n")) {
      if (line.length === 0) continue
      const [doc, of] = JSON.parse(line) as [number, string]
      names.set(doc, of)
    }
  }
  const out = new Map<number, string>()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const doc = view.getUint32(i, true)
    out.set(doc, names.get(doc) ?? "")
  }
  return out
}

/**
 * What the dedup stages share: the per-task id table that turns datatrove's (task, document index)
 * coordinates back into document ids, and the `.remove` lists plus the `duplicate_of` ids that the last stage
 * reads. datatrove names duplicates only by index; the id table is this toolkit's addition so a removed document
 * can say which kept document it duplicates.
 */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { createReadStream } from "node:fs"
import { DataConfigError } from "../errors.ts"
import { writeFileAtomicSync } from "../io/atomic.ts"
import { Effect } from "effect"

export const pad = (n: number, width: number) => String(n).padStart(width, "0")

export const wrapConfig = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => e instanceof DataConfigError ? e : new DataConfigError({ message: (e as Error).message }) })

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
    if (!existsSync(file)) throw new DataConfigError({ message: `missing id table ${file}: rerun the signature stage for task ${rank}` })
    const found = new Map<number, string>()
    let index = 0
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (docs.has(index)) found.set(index, JSON.parse(line) as string)
      index++
    }
    for (const d of docs) if (!found.has(d)) throw new DataConfigError({ message: `${file} has no document ${d}` })
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
  writeFileAtomicSync(path.join(folder, `${pad(rank, 6)}.duplicates.jsonl`), sorted.map((r) => JSON.stringify([r.doc, r.duplicateOf]) + "\n").join(""))
  // Written last: the filter stage takes the `.remove` file as the sign that this task's removals are complete.
  writeFileAtomicSync(path.join(folder, `${pad(rank, 6)}.remove`), new Uint8Array(bin.buffer))
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

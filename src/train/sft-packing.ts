/**
 * Packing conversations into training rows of exactly seq_len + 1 ids (packed-rows.ts), two ways:
 *
 * - **concat**, as SmolLM2's SFT ran (alignment-handbook `run_sft.py` with TRL's ConstantLengthDataset; notes
 *   smollm2-recipe.md §11): the conversations' ids one after another with an EOS after each, cut into exact rows,
 *   the leftover dropped; attention crosses conversations, and the loss is on every token (`--loss all`).
 * - **bfd**, today's TRL (`packing_strategy="bfd"`): best-fit decreasing of whole conversations (truncated to a row)
 *   into rows, each conversation with its own position ids (attention stays inside it), the rest of a row padded;
 *   the loss on assistant tokens by default (the prepared masks).
 */
import type { PackedRowLine } from "./packed-rows.ts"
import { mulberry32 } from "../data/random/mulberry32.ts"

/** A tokenized conversation: its ids and a 0/1 mask per id (1: an assistant token, sft-example.ts). */
export interface SftDocument {
  readonly ids: ArrayLike<number>
  readonly mask: ArrayLike<number>
}

export type Packing = "concat" | "bfd"
/** Which targets the loss is taken on: the assistant's tokens (the masks) or every token. */
export type LossOn = "assistant" | "all"

const bit = (m: number): 0 | 1 => (m === 0 ? 0 : 1)

/**
 * concat: ids of all documents with `separator` (EOS) after each, cut into rows of `rowLength` (seq_len + 1), the
 * leftover dropped. `all`: rows of ids only (every target counts, the paper); `assistant`: with masks, the
 * separator not a target.
 */
export const packConcat = (docs: ReadonlyArray<SftDocument>, rowLength: number, separator: number, loss: LossOn): Array<PackedRowLine> => {
  const ids: Array<number> = []
  const mask: Array<0 | 1> = []
  for (const d of docs) {
    for (let i = 0; i < d.ids.length; i++) {
      ids.push(d.ids[i]!)
      mask.push(bit(d.mask[i]!))
    }
    ids.push(separator)
    mask.push(0)
  }
  const rows: Array<PackedRowLine> = []
  for (let at = 0; at + rowLength <= ids.length; at += rowLength) {
    const row = ids.slice(at, at + rowLength)
    rows.push(loss === "all" ? { ids: row } : { ids: row, mask: mask.slice(at, at + rowLength) })
  }
  return rows
}

/**
 * Best-fit decreasing: documents longest first (ties in input order), each into the open row with the least room
 * that still fits it (ties: the earliest row), else a new row. Documents longer than a row are cut to one. Rows
 * come out in the order they were opened, documents in each in the order placed; deterministic for given input.
 * Each row is filled up to `rowLength` with `pad` (mask 0, a padding "document" of its own).
 */
export const packBestFitDecreasing = (docs: ReadonlyArray<SftDocument>, rowLength: number, pad: number, loss: LossOn): Array<PackedRowLine> => {
  const lengths = docs.map((d) => Math.min(d.ids.length, rowLength))
  const order = docs.map((_, i) => i).filter((i) => lengths[i]! > 0).sort((a, b) => lengths[b]! - lengths[a]! || a - b)
  const contents: Array<Array<number>> = []
  const room: Array<number> = []
  // Rows by room left, each list in row order: the best fit is the first row of the smallest room ≥ the length.
  const byRoom: Array<Array<number>> = Array.from({ length: rowLength + 1 }, () => [])
  const insertSorted = (list: Array<number>, row: number) => {
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (list[mid]! < row) lo = mid + 1
      else hi = mid
    }
    list.splice(lo, 0, row)
  }
  for (const i of order) {
    const length = lengths[i]!
    let r = length
    while (r <= rowLength && byRoom[r]!.length === 0) r++
    let row: number
    if (r <= rowLength) {
      row = byRoom[r]!.shift()!
    } else {
      row = contents.length
      contents.push([])
      room.push(rowLength)
    }
    contents[row]!.push(i)
    room[row]! -= length
    if (room[row]! > 0) insertSorted(byRoom[room[row]!]!, row)
  }
  return contents.map((placed) => {
    const ids: Array<number> = []
    const mask: Array<0 | 1> = []
    const positions: Array<number> = []
    for (const i of placed) {
      const d = docs[i]!
      for (let t = 0; t < lengths[i]!; t++) {
        ids.push(d.ids[t]!)
        mask.push(loss === "all" ? 1 : bit(d.mask[t]!))
        positions.push(t)
      }
    }
    for (let t = 0; ids.length < rowLength; t++) {
      ids.push(pad)
      mask.push(0)
      positions.push(t)
    }
    return { ids, mask, position_ids: positions }
  })
}


/** The row order of `epochs` passes over `rows` rows, each pass a fresh seeded shuffle (as a Trainer's sampler). */
export const epochOrder = (rows: number, epochs: number, seed: number): Array<number> => {
  const out: Array<number> = []
  for (let e = 0; e < epochs; e++) {
    const next = mulberry32(seed * 1000003 + e)
    const perm = Array.from({ length: rows }, (_, i) => i)
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      ;[perm[i], perm[j]] = [perm[j]!, perm[i]!]
    }
    out.push(...perm)
  }
  return out
}

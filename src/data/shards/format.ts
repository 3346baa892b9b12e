/**
 * datatrove's tokenized-file layout (`pipeline/tokens/tokenizer.py`, `TokenizedFile`), which nanotron's
 * `DatatroveFolderDataset` reads:
 *   NAME.ds           the token stream, little-endian uint16 (vocabulary ≤ 65,536) or uint32
 *   NAME.ds.index     uint64 little-endian: the end offset (in tokens) of every document
 *   NAME.ds.metadata  "tokenizer|token_size\n<token count>\n<humanized count>"
 * Names follow `get_output_filename`: `[save_]RANK_[SUBRANK_]kind.ds` with 5-digit ranks.
 */
import { Schema } from "effect"

export class ShardError extends Schema.TaggedError<ShardError>()("ShardError", {
  reason: Schema.Literals(["Io", "Format", "Range", "Input"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const shardError = (reason: ShardError["reason"], message: string, cause?: unknown): ShardError =>
  cause === undefined ? new ShardError({ reason, message }) : new ShardError({ reason, message, cause })

/** datatrove: 4 bytes when the vocabulary exceeds `np.iinfo(np.uint16).max + 1`, else 2. */
export const tokenSizeFor = (vocabSize: number): 2 | 4 => (vocabSize > 65536 ? 4 : 2)

const pad5 = (n: number) => String(n).padStart(5, "0")

/** `get_output_filename(save_filename, rank, name, sub_rank)`. */
export const shardFileName = (saveFilename: string | undefined, rank: number, kind: string, subRank?: number): string =>
  [saveFilename, pad5(rank), subRank === undefined ? undefined : pad5(subRank), `${kind}.ds`].filter((x) => x !== undefined && x !== "").join("_")

/** Python `humanize.metric(value, "T")` (3 significant digits with an SI prefix), as in datatrove's metadata. */
export const humanizeTokens = (value: number): string => {
  const exponent = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)))
  const scaled = value / 10 ** (Math.floor(exponent / 3) * 3)
  const prefix = exponent >= 3 ? "kMGTPEZYRQ"[Math.floor(exponent / 3) - 1]! : ""
  const digits = Math.max(0, 3 - (((exponent % 3) + 3) % 3) - 1)
  return `${scaled.toFixed(digits)} ${prefix}T`
}

export const metadataText = (tokenizerName: string, tokenSize: number, tokenCount: number): string =>
  [`${tokenizerName}|${tokenSize}`, String(tokenCount), humanizeTokens(tokenCount)].join("\n")

export interface ShardMetadata {
  readonly tokenizerName: string
  readonly tokenSize: 2 | 4
  readonly tokenCount: number
}

export const parseMetadata = (text: string, where: string): ShardMetadata | ShardError => {
  const [first, count] = text.split("\n")
  const bar = first?.lastIndexOf("|") ?? -1
  const tokenSize = Number(first?.slice(bar + 1))
  const tokenCount = Number(count)
  if (first === undefined || bar < 0 || (tokenSize !== 2 && tokenSize !== 4) || !Number.isInteger(tokenCount)) {
    return shardError("Format", `${where}: not a datatrove metadata file ("tokenizer|token_size", token count)`)
  }
  return { tokenizerName: first.slice(0, bar), tokenSize, tokenCount }
}

// Typed arrays use the platform's byte order; the files are little-endian.
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Ids as the bytes of a `.ds` file. */
export const tokenBytes = (ids: ArrayLike<number>, tokenSize: 2 | 4): Uint8Array => {
  const out = new Uint8Array(ids.length * tokenSize)
  if (littleEndian) {
    if (tokenSize === 2) new Uint16Array(out.buffer).set(ids)
    else new Uint32Array(out.buffer).set(ids)
    return out
  }
  const view = new DataView(out.buffer)
  for (let i = 0; i < ids.length; i++) tokenSize === 2 ? view.setUint16(2 * i, ids[i]!, true) : view.setUint32(4 * i, ids[i]!, true)
  return out
}

/** Ids from the bytes of a `.ds` file. */
export const idsFromBytes = (bytes: Uint8Array, tokenSize: 2 | 4): Uint32Array => {
  const n = bytes.length / tokenSize
  if (littleEndian && bytes.byteOffset % tokenSize === 0) {
    return Uint32Array.from(tokenSize === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.buffer, bytes.byteOffset, n))
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = tokenSize === 2 ? view.getUint16(2 * i, true) : view.getUint32(4 * i, true)
  return out
}

export const indexBytes = (docEnds: ReadonlyArray<number>): Uint8Array => {
  const out = new Uint8Array(docEnds.length * 8)
  const view = new DataView(out.buffer)
  docEnds.forEach((end, i) => view.setBigUint64(8 * i, BigInt(end), true))
  return out
}

export const docEndsFromBytes = (bytes: Uint8Array, where: string): Array<number> | ShardError => {
  if (bytes.length % 8 !== 0) return shardError("Format", `${where}: index size ${bytes.length} is not a multiple of 8`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const ends: number[] = new Array(bytes.length / 8)
  let previous = 0
  for (let i = 0; i < ends.length; i++) {
    const end = Number(view.getBigUint64(8 * i, true))
    if (end < previous) return shardError("Format", `${where}: document ends go backwards at document ${i}`)
    ends[i] = previous = end
  }
  return ends
}

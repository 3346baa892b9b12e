/**
 * Random access to a token file: the index (8 bytes per document) is read whole, tokens are read with positioned
 * reads of just the range asked for, so a 2 GB `.ds` costs a few kilobytes per document read.
 */
import { Effect, FileSystem, Option, type Scope } from "effect"
import { docEndsFromBytes, idsFromBytes, parseMetadata, ShardError, shardError } from "./format.ts"

export interface TokenShard {
  readonly path: string
  readonly tokenSize: 2 | 4
  readonly tokenizerName: string | undefined
  /** Token count (from the file size: the metadata can be absent). */
  readonly tokens: number
  readonly documents: number
  /** End offset of each document, in tokens. */
  readonly docEnds: ReadonlyArray<number>
  readonly documentRange: (doc: number) => readonly [number, number]
  /** Tokens [start, end) of the stream. */
  readonly readTokens: (start: number, end: number) => Effect.Effect<Uint32Array, ShardError>
  readonly readDocument: (doc: number) => Effect.Effect<Uint32Array, ShardError>
}

const io = (path: string) => (e: { readonly message: string }) => shardError("Io", `${path}: ${e.message}`, e)

/**
 * Opens `path` (a `.ds` file) with its `.index`. The token size comes from `.metadata` when present, else from
 * `tokenSize` (datatrove's default is 2).
 */
export const openTokenShard = (path: string, options?: { readonly tokenSize?: 2 | 4 }): Effect.Effect<TokenShard, ShardError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    let tokenSize: 2 | 4 = options?.tokenSize ?? 2
    let tokenizerName: string | undefined
    if (yield* fs.exists(`${path}.metadata`).pipe(Effect.mapError(io(path)))) {
      const text = yield* fs.readFileString(`${path}.metadata`).pipe(Effect.mapError(io(`${path}.metadata`)))
      const meta = parseMetadata(text, `${path}.metadata`)
      if (meta instanceof ShardError) return yield* meta
      tokenSize = meta.tokenSize
      tokenizerName = meta.tokenizerName
    }
    const indexBytes = yield* fs.readFile(`${path}.index`).pipe(Effect.mapError(io(`${path}.index`)))
    const docEnds = docEndsFromBytes(indexBytes, `${path}.index`)
    if (docEnds instanceof ShardError) return yield* docEnds
    const file = yield* fs.open(path, { flag: "r" }).pipe(Effect.mapError(io(path)))
    const size = Number((yield* file.stat.pipe(Effect.mapError(io(path)))).size)
    if (size % tokenSize !== 0) return yield* shardError("Format", `${path}: ${size} bytes is not a whole number of ${tokenSize}-byte tokens`)
    const tokens = size / tokenSize
    const last = docEnds.length === 0 ? 0 : docEnds[docEnds.length - 1]!
    if (last > tokens) return yield* shardError("Format", `${path}.index: last document ends at token ${last} but the file has ${tokens}`)

    const readTokens = (start: number, end: number): Effect.Effect<Uint32Array, ShardError> => {
      if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= tokens)) {
        return Effect.fail(shardError("Range", `${path}: token range [${start}, ${end}) is outside [0, ${tokens})`))
      }
      if (start === end) return Effect.succeed(new Uint32Array(0))
      return file.readAlloc((end - start) * tokenSize, { position: BigInt(start * tokenSize) }).pipe(
        Effect.mapError(io(path)),
        Effect.flatMap((bytes) =>
          Option.isSome(bytes) && bytes.value.length === (end - start) * tokenSize
            ? Effect.succeed(idsFromBytes(bytes.value, tokenSize))
            : Effect.fail(shardError("Io", `${path}: short read of tokens [${start}, ${end})`))
        )
      )
    }
    const documentRange = (doc: number): readonly [number, number] => [doc === 0 ? 0 : docEnds[doc - 1]!, docEnds[doc]!]
    return {
      path,
      tokenSize,
      tokenizerName,
      tokens,
      documents: docEnds.length,
      docEnds,
      documentRange,
      readTokens,
      readDocument: (doc) =>
        Number.isInteger(doc) && doc >= 0 && doc < docEnds.length
          ? readTokens(...documentRange(doc))
          : Effect.fail(shardError("Range", `${path}: document ${doc} is outside [0, ${docEnds.length})`))
    }
  })

/** The `.ds` files of a folder, sorted by name (datatrove's order). */
export const listTokenShards = (dir: string): Effect.Effect<Array<string>, ShardError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(io(dir)))
    return names.filter((n) => n.endsWith(".ds")).sort().map((n) => `${dir}/${n}`)
  })

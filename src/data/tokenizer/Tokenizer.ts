import { Context, Effect, FileSystem, Layer, type Scope } from "effect"
import { BpeTokenizer, type DecodeOptions, type EncodeOptions } from "./core.ts"
import { TokenizerConfigError, TokenizerError, tokenizerError } from "./errors.ts"
import { EncoderPool } from "./workers.ts"

/** Turns the synchronous core's thrown config errors into typed failures. */
const fromConfigError = (e: unknown, where: string): TokenizerError =>
  e instanceof TokenizerConfigError ? tokenizerError(e.reason, `${where}: ${e.message}`) : tokenizerError("Parse", `${where}: ${String(e)}`, e)

export interface TokenizerShape {
  /** What the tokenizer is called in shard metadata (datatrove writes the name or path it was loaded from). */
  readonly name: string
  /** One more than the largest id (added tokens included): uint16 token files when it is at most 65,536. */
  readonly vocabSize: number
  readonly encode: (text: string, options?: EncodeOptions) => Effect.Effect<Uint32Array>
  /** Ids of many texts, in order; spread over worker threads when the service was built with `threads > 1`. */
  readonly encodeBatch: (texts: ReadonlyArray<string>, options?: EncodeOptions) => Effect.Effect<ReadonlyArray<Uint32Array>, TokenizerError>
  readonly decode: (ids: ArrayLike<number>, options?: DecodeOptions) => Effect.Effect<string>
  readonly tokenToId: (token: string) => number | undefined
  readonly idToToken: (id: number) => string | undefined
}

export interface TokenizerOptions {
  /** Name recorded in shard metadata; defaults to the file path. */
  readonly name?: string
  /** Worker threads for `encodeBatch`; 1 encodes on the calling thread. */
  readonly threads?: number
}

/**
 * Builds the service from `tokenizer.json` text. With `threads > 1` the worker pool lives in the scope and is
 * terminated when the scope closes.
 */
export const makeTokenizer = Effect.fn("Tokenizer.make")(function*(json: string, options: TokenizerOptions & { readonly name: string }) {
  const core = yield* Effect.try({ try: () => BpeTokenizer.fromJson(json), catch: (e) => fromConfigError(e, options.name) })
  const threads = options.threads ?? 1
  const pool = threads > 1
    ? yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => EncoderPool.start(json, threads),
        catch: (e) => tokenizerError("Worker", `starting ${threads} tokenizer workers: ${String(e)}`, e)
      }),
      (p) => Effect.promise(() => p.close())
    )
    : undefined
  return Tokenizer.of({
    name: options.name,
    vocabSize: core.vocabSize,
    encode: (text, o) => Effect.sync(() => core.encode(text, o)),
    encodeBatch: (texts, o) =>
      pool === undefined
        ? Effect.sync(() => texts.map((t) => core.encode(t, o)))
        : Effect.tryPromise({
          try: async () => {
            const ids = await pool.encodeBatch(texts, o?.addSpecialTokens === undefined ? {} : { addSpecialTokens: o.addSpecialTokens })
            const maxLength = o?.maxLength
            return maxLength === undefined ? ids : ids.map((x) => core.truncate(x, maxLength, o?.addSpecialTokens ?? true))
          },
          catch: (e) => tokenizerError("Worker", String(e), e)
        }),
    decode: (ids, o) => Effect.sync(() => core.decode(ids, o)),
    tokenToId: (token) => core.tokenToId(token),
    idToToken: (id) => core.idToToken(id)
  })
})

/** Reads and builds a tokenizer from a `tokenizer.json` file. */
export const loadTokenizer = (path: string, options?: TokenizerOptions): Effect.Effect<TokenizerShape, TokenizerError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const json = yield* fs.readFileString(path).pipe(Effect.mapError((e) => tokenizerError("Read", `${path}: ${e.message}`, e)))
    return yield* makeTokenizer(json, { ...options, name: options?.name ?? path })
  })

/**
 * The test double: one id per UTF-8 byte (0–255) and `<|endoftext|>` as 256. Deterministic and dependency-free,
 * for tests of stages downstream of tokenization.
 */
export const byteTokenizer: TokenizerShape = (() => {
  const eos = "<|endoftext|>"
  const encoder = new TextEncoder()
  const encode = (text: string): Uint32Array => {
    const parts = text.split(eos)
    const out: number[] = []
    parts.forEach((p, i) => {
      if (i > 0) out.push(256)
      for (const b of encoder.encode(p)) out.push(b)
    })
    return Uint32Array.from(out)
  }
  const decode = (ids: ArrayLike<number>, o?: DecodeOptions): string => {
    let text = ""
    let bytes: number[] = []
    const flush = () => {
      text += new TextDecoder().decode(Uint8Array.from(bytes))
      bytes = []
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (id < 256) bytes.push(id)
      else if (id === 256 && !o?.skipSpecialTokens) {
        flush()
        text += eos
      }
    }
    flush()
    return text
  }
  return {
    name: "byte-tokenizer",
    vocabSize: 257,
    encode: (text) => Effect.sync(() => encode(text)),
    encodeBatch: (texts) => Effect.sync(() => texts.map(encode)),
    decode: (ids, o) => Effect.sync(() => decode(ids, o)),
    tokenToId: (token) => (token === eos ? 256 : undefined),
    idToToken: (id) => (id === 256 ? eos : id >= 0 && id < 256 ? String.fromCharCode(id) : undefined)
  }
})()

export class Tokenizer extends Context.Service<Tokenizer, TokenizerShape>()("smol-pipeline/data/Tokenizer") {
  /** A tokenizer from a `tokenizer.json` file; workers (when `threads > 1`) stop with the layer. */
  static readonly layerFromFile = (path: string, options?: TokenizerOptions): Layer.Layer<Tokenizer, TokenizerError, FileSystem.FileSystem> =>
    Layer.effect(Tokenizer, loadTokenizer(path, options))

  static readonly layerFromJson = (json: string, options: TokenizerOptions & { readonly name: string }): Layer.Layer<Tokenizer, TokenizerError> =>
    Layer.effect(Tokenizer, makeTokenizer(json, options))

  /** The byte tokenizer test double. */
  static readonly layerBytes: Layer.Layer<Tokenizer> = Layer.succeed(Tokenizer, byteTokenizer)
}

/**
 * The frozen encoder's `[CLS]` last hidden states, computed once per document and kept on disk, so that training
 * the head for 20 epochs — and training it again with other settings — costs one encoder pass (FineWeb-Edu's
 * script runs the frozen encoder in every step; its output cannot change, so we run it once).
 *
 * Layout: CACHE/<key>/meta.json (what the states are of) and CACHE/<key>/states-<first>.f32, one file of
 * raw little-endian f32 [documents, hidden] per chunk of `chunkDocuments` documents, each written atomically. The
 * key hashes the encoder's identity (`modelKey`: folder, config, weights, tokenizer), the truncation length, the
 * chunk size and every text in order, so any change means another key, never stale states. A run killed midway
 * keeps its finished chunks; the rerun encodes only the rest.
 */
import { createHash } from "node:crypto"
import * as nodePath from "node:path"
import { Effect, FileSystem, Schema } from "effect"
import { writeFileAtomic } from "../../data/io/atomic.ts"
import { makeProgress } from "../../data/progress/Progress.ts"
import type { TokenizerShape } from "../../data/tokenizer/Tokenizer.ts"
import type { BertGpu } from "../../model/bert.gpu.ts"

/** Computing, reading or writing the cached states failed; the message names the file or the batch. */
export class ClsStatesError extends Schema.TaggedError<ClsStatesError>()("ClsStatesError", {
  message: Schema.String
}) {}

export interface ClsStatesOptions {
  readonly cacheDir: string
  /** Whatever identifies the encoder and its tokenizer; a different string means different states. */
  readonly modelKey: string
  /** Tokens per document, specials included (the tokenizer truncates). */
  readonly maxLength: number
  /** Documents per cache file (default 4096): what a killed run can lose. */
  readonly chunkDocuments?: number
  /** A progress line on stderr while documents are encoded (default false). */
  readonly progress?: boolean
}

export interface ClsStates {
  /** [documents, hidden], in the order of the texts. */
  readonly states: Float32Array
  readonly hidden: number
  /** Documents run through the encoder by this call (0 when every chunk was cached). */
  readonly encoded: number
  /** CACHE/<key>. */
  readonly dir: string
}

const FORMAT = "smol-pipeline [CLS] states v1"

/** sha256 of the texts in order, each preceded by its length so that no two lists hash alike by concatenation. */
export const textsDigest = (texts: ReadonlyArray<string>): string => {
  const h = createHash("sha256")
  for (const t of texts) h.update(`${t.length}:`).update(t)
  return h.digest("hex")
}

const chunkFile = (dir: string, first: number) => nodePath.join(dir, `states-${String(first).padStart(9, "0")}.f32`)

const fail = (message: string) => (e: unknown) =>
  new ClsStatesError({ message: `${message}: ${e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)}` })

/**
 * The states of `texts`, read from the cache where present and computed by `encoder` (acquired only when some
 * chunk is missing) otherwise. Within a chunk, documents are batched longest first, so a batch pads little.
 */
export const cachedClsStates = <E>(
  encoder: Effect.Effect<BertGpu, E>,
  tokenizer: TokenizerShape,
  texts: ReadonlyArray<string>,
  hidden: number,
  options: ClsStatesOptions
): Effect.Effect<ClsStates, ClsStatesError | E, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const chunk = options.chunkDocuments ?? 4096
    const digest = textsDigest(texts)
    const key = createHash("sha256")
      .update(JSON.stringify({ format: FORMAT, model: options.modelKey, maxLength: options.maxLength, chunk, hidden, texts: digest }))
      .digest("hex").slice(0, 32)
    const dir = nodePath.join(options.cacheDir, key)
    const metaPath = nodePath.join(dir, "meta.json")
    if (!(yield* fs.exists(metaPath).pipe(Effect.mapError(fail(metaPath))))) {
      const meta = { format: FORMAT, model: options.modelKey, max_length: options.maxLength, documents: texts.length, hidden, chunk_documents: chunk, texts_sha256: digest }
      yield* writeFileAtomic(metaPath, JSON.stringify(meta, null, 2) + "\n").pipe(Effect.mapError(fail(metaPath)))
    }
    const states = new Float32Array(texts.length * hidden)
    const missing: Array<number> = []
    for (let first = 0; first < texts.length; first += chunk) {
      const file = chunkFile(dir, first)
      const count = Math.min(chunk, texts.length - first)
      const exists = yield* fs.exists(file).pipe(Effect.mapError(fail(file)))
      if (!exists) {
        missing.push(first)
        continue
      }
      const bytes = yield* fs.readFile(file).pipe(Effect.mapError(fail(file)))
      // A file of another size is not ours to trust (a different writer, a damaged disk): encode the chunk again.
      if (bytes.byteLength !== count * hidden * 4) {
        missing.push(first)
        continue
      }
      states.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), first * hidden)
    }
    if (missing.length === 0) return { states, hidden, encoded: 0, dir }

    const bert = yield* encoder
    const todo = missing.reduce((s, first) => s + Math.min(chunk, texts.length - first), 0)
    const line = options.progress === true ? makeProgress().task("[CLS] states", { unit: "docs" }) : undefined
    let done = 0
    for (const first of missing) {
      const count = Math.min(chunk, texts.length - first)
      const ids = yield* tokenizer.encodeBatch(texts.slice(first, first + count), { maxLength: options.maxLength }).pipe(
        Effect.mapError(fail(`tokenizing documents ${first}..${first + count - 1}`))
      )
      const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => ids[b]!.length - ids[a]!.length || a - b)
      const out = new Float32Array(count * hidden)
      for (let b = 0; b < count; b += bert.maxBatch) {
        const rows = order.slice(b, b + bert.maxBatch)
        const result = yield* bert.forward(rows.map((r) => ids[r]!)).pipe(
          Effect.mapError((e) => new ClsStatesError({ message: `encoding documents ${first}..${first + count - 1}: ${e._tag}: ${e.message}` }))
        )
        rows.forEach((r, j) => out.set(result.cls.subarray(j * hidden, (j + 1) * hidden), r * hidden))
        done += rows.length
        line?.update({ done, total: todo })
      }
      const file = chunkFile(dir, first)
      yield* writeFileAtomic(file, new Uint8Array(out.buffer)).pipe(Effect.mapError(fail(file)))
      states.set(out, first * hidden)
    }
    line?.finish({ done, total: todo })
    return { states, hidden, encoded: todo, dir }
  })

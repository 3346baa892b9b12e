import { Effect, Schema, type Scope } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape, type GpuStep } from "../gpu/Gpu.ts"
import { addBias } from "../gpu/kernels/bias.ts"
import { binary, binaryOps, unary, unaryOps } from "../gpu/kernels/elementwise.ts"
import { embeddingForward } from "../gpu/kernels/embedding.ts"
import { gelu } from "../gpu/kernels/gelu.ts"
import { mergeHeads, splitHeads } from "../gpu/kernels/heads.ts"
import { layerNorm } from "../gpu/kernels/layernorm.ts"
import { maskedSoftmax } from "../gpu/kernels/masked-softmax.ts"
import { matmul, type MatmulShape } from "../gpu/kernels/matmul.ts"
import type { BertConfig } from "./bert-config.ts"
import {
  bertLayerPrefix,
  bertParameterSpecs,
  type BertParts,
  bertPartsOf,
  classifierBias,
  classifierWeight,
  poolerBias,
  poolerWeight
} from "./bert-parameters.ts"
import { rowChunks } from "./llama.gpu.ts"
import { elementCount, type Weights } from "./parameters.ts"

/**
 * The BERT encoder on the GPU, forward only (the recipe freezes it): a batch of token-id sequences is padded to
 * its longest (rounded up to `seqMultiple`, so that a stream of batches reuses a few compiled shapes), padded keys
 * are masked out of attention, and the `[CLS]` rows of the last hidden states come back — with the pooler and
 * the classifier head on top when the weights have them. A sequence's outputs do not depend on what it is
 * batched with. Weights and activations live in the caller's scope; one forward is one command buffer.
 */
export interface BertGpu {
  readonly config: BertConfig
  readonly parts: BertParts
  readonly maxBatch: number
  readonly maxSeq: number
  readonly forward: (sequences: ReadonlyArray<ArrayLike<number>>) => Effect.Effect<BertGpuOutput, GpuError | BertInputError>
}

export interface BertGpuOutput {
  /** The last hidden state of each sequence's first token, [batch, hidden]. */
  readonly cls: Float32Array
  /** tanh(Wp·cls + bp), [batch, hidden], when the weights have a pooler. */
  readonly pooled?: Float32Array
  /** [batch, labels], when the weights have a classifier head (the raw score for a regression head). */
  readonly logits?: Float32Array
}

export interface BertGpuOptions {
  /** Most sequences per forward (default 8). */
  readonly maxBatch?: number
  /** Longest sequence in tokens, specials included (default min(max_position_embeddings, 512), as the recipe truncates). */
  readonly maxSeq?: number
  /** Pad a batch to a multiple of this many tokens (default 32; 1 pads to exactly the longest). */
  readonly seqMultiple?: number
  /** The largest tensor one binding may cover (default: the device's limit); tests lower it to split tables. */
  readonly maxBindingBytes?: number
}

/** A batch the encoder cannot take: empty, too long, too many sequences, or a token id outside the vocabulary. */
export class BertInputError extends Schema.TaggedError<BertInputError>()("BertInputError", {
  message: Schema.String
}) {}

const linear = (rows: number, inFeatures: number, outFeatures: number): MatmulShape =>
  ({ m: rows, n: outFeatures, k: inFeatures, transB: true })

/** Builds the encoder for `weights` (whose pooler and head, when present, run too) and uploads them. */
export const makeBertGpu = (
  gpu: GpuShape,
  config: BertConfig,
  weights: Weights,
  options: BertGpuOptions = {}
): Effect.Effect<BertGpu, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    const C = config.hiddenSize
    const H = config.numAttentionHeads
    const D = C / H
    const F = config.intermediateSize
    const V = config.vocabSize
    const L = config.numHiddenLayers
    const labels = config.numLabels
    const maxBatch = options.maxBatch ?? 8
    const maxSeq = options.maxSeq ?? Math.min(config.maxPositionEmbeddings, 512)
    const seqMultiple = options.seqMultiple ?? 32
    if (maxSeq > config.maxPositionEmbeddings) {
      return yield* Effect.die(new RangeError(`maxSeq ${maxSeq} exceeds max_position_embeddings ${config.maxPositionEmbeddings}`))
    }
    const parts = bertPartsOf(weights)
    if (parts.classifier && !parts.pooler) {
      return yield* Effect.die(new RangeError("a classifier head needs the pooler under it (BertForSequenceClassification)"))
    }
    const maxN = maxBatch * maxSeq
    const maxBinding = Math.min(options.maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize)
    for (const [what, values] of [["the [batch·seq, intermediate] activations", maxN * F], ["one sequence's attention scores", H * maxSeq * maxSeq]] as const) {
      if (values * 4 > maxBinding) {
        return yield* Effect.die(new RangeError(
          `${what} need ${values * 4} bytes, over the binding limit of ${maxBinding}; use a smaller maxBatch or maxSeq`
        ))
      }
    }

    const params = new Map<string, GpuBuffer>()
    for (const spec of bertParameterSpecs(config, parts)) {
      const data = weights.get(spec.name)
      if (data === undefined || data.length !== elementCount(spec.shape)) {
        return yield* Effect.die(new RangeError(`weights lack "${spec.name}" of shape [${spec.shape}]`))
      }
      params.set(spec.name, yield* gpu.upload(data, spec.name))
    }
    const P = (name: string) => params.get(name)!
    // A word table larger than one binding (StarEncoder's 49k × 768 on a 128 MiB device) is gathered in chunks.
    const vocabChunks = V * C * 4 <= maxBinding ? [[0, V] as const] : rowChunks(V, C, maxBinding, gpu.limits.minStorageBufferOffsetAlignment)
    const wordTable = P("embeddings.word_embeddings.weight")
    const wordChunks = vocabChunks.length === 1 ? [wordTable]
      : vocabChunks.map(([v0, v1]) => bufferView(wordTable, v0 * C * 4, (v1 - v0) * C * 4, `word embeddings rows ${v0}..${v1}`))

    const f32 = (count: number, label: string) => gpu.buffer(count * 4, label)
    const ids = yield* gpu.buffer(maxN * 4, "token ids")
    const lengths = yield* gpu.buffer(maxBatch * 4, "sequence lengths")
    // Activations of one layer at a time, reused by every layer (strictly in sequence within one command buffer).
    const h = yield* f32(maxN * C, "hidden")
    const a = yield* f32(maxN * C, "hidden after attention")
    const tmp = yield* f32(maxN * C, "projection out")
    const q = yield* f32(maxN * C, "q (then the merged heads)")
    const k = yield* f32(maxN * C, "k")
    const v = yield* f32(maxN * C, "v")
    const qh = yield* f32(maxN * C, "q heads")
    const kh = yield* f32(maxN * C, "k heads")
    const vh = yield* f32(maxN * C, "v heads")
    const oh = yield* f32(maxN * C, "attention out heads")
    const ff = yield* f32(maxN * F, "intermediate")
    // Attention scores for as many whole sequences as fit one binding; longer batches run in chunks of sequences.
    const scoreSequences = Math.max(1, Math.min(maxBatch, Math.floor(maxBinding / (H * maxSeq * maxSeq * 4))))
    const scores = yield* f32(scoreSequences * H * maxSeq * maxSeq, "attention scores")
    const cls = yield* f32(maxBatch * C, "[CLS] states")
    const pooled = yield* f32(maxBatch * C, "pooled")
    const logits = yield* f32(maxBatch * Math.max(labels, 1), "logits")

    const mm = (shape: MatmulShape, x: GpuBuffer, w: GpuBuffer, y: GpuBuffer) => matmul(gpu, shape, x, w, y)

    const forwardSteps = (B: number, T: number): Array<GpuStep> => {
      const N = B * T
      const s: Array<GpuStep> = vocabChunks.map(([v0, v1], j) =>
        embeddingForward(gpu, ids, wordChunks[j]!, tmp, N, C, vocabChunks.length === 1 ? undefined : [v0, v1]))
      // Positions 0..T−1 for every sequence, and token type 0 everywhere (transformers' defaults).
      const positions = bufferView(P("embeddings.position_embeddings.weight"), 0, T * C * 4, "positions 0..T")
      const tokenType0 = bufferView(P("embeddings.token_type_embeddings.weight"), 0, C * 4, "token type 0")
      s.push(
        binary(gpu, binaryOps.add, tmp, [B, T, C], positions, [T, C], q),
        binary(gpu, binaryOps.add, q, [N, C], tokenType0, [C], tmp),
        layerNorm(gpu, tmp, undefined, P("embeddings.LayerNorm.weight"), P("embeddings.LayerNorm.bias"), h, N, C, config.layerNormEps)
      )
      const perChunk = Math.min(B, Math.floor(scores.bytes / (H * T * T * 4)))
      for (let l = 0; l < L; l++) {
        const p = bertLayerPrefix(l)
        const dense = (name: string, x: GpuBuffer, inF: number, outF: number, y: GpuBuffer): Array<GpuStep> => [
          mm(linear(N, inF, outF), x, P(`${p}.${name}.weight`), y),
          addBias(gpu, y, P(`${p}.${name}.bias`), N, outF)
        ]
        s.push(
          ...dense("attention.self.query", h, C, C, q),
          ...dense("attention.self.key", h, C, C, k),
          ...dense("attention.self.value", h, C, C, v),
          splitHeads(gpu, q, qh, B, T, H, D, 1),
          splitHeads(gpu, k, kh, B, T, H, D, 1),
          splitHeads(gpu, v, vh, B, T, H, D, 1)
        )
        for (let b0 = 0; b0 < B; b0 += perChunk) {
          const count = Math.min(perChunk, B - b0)
          const at = b0 * H * T * D
          s.push(
            mm({ m: T, n: T, k: D, batch: count * H, transB: true, offsetA: at, offsetB: at }, qh, kh, scores),
            maskedSoftmax(gpu, scores, lengths, count * H * T, T, H * T, 1 / Math.sqrt(D), b0),
            mm({ m: T, n: D, k: T, batch: count * H, offsetB: at, offsetC: at }, scores, vh, oh)
          )
        }
        s.push(
          mergeHeads(gpu, oh, q, B, T, H, D, 1),
          ...dense("attention.output.dense", q, C, C, tmp),
          layerNorm(gpu, tmp, h, P(`${p}.attention.output.LayerNorm.weight`), P(`${p}.attention.output.LayerNorm.bias`), a, N, C, config.layerNormEps),
          mm(linear(N, C, F), a, P(`${p}.intermediate.dense.weight`), ff),
          gelu(gpu, ff, ff, N * F, { buffer: P(`${p}.intermediate.dense.bias`), cols: F }),
          ...dense("output.dense", ff, F, C, tmp),
          layerNorm(gpu, tmp, a, P(`${p}.output.LayerNorm.weight`), P(`${p}.output.LayerNorm.bias`), h, N, C, config.layerNormEps)
        )
      }
      for (let b = 0; b < B; b++) s.push({ _tag: "Copy", from: h, to: cls, bytes: C * 4, fromOffset: b * T * C * 4, toOffset: b * C * 4 })
      if (parts.pooler) {
        s.push(
          mm(linear(B, C, C), cls, P(poolerWeight), pooled),
          addBias(gpu, pooled, P(poolerBias), B, C),
          unary(gpu, unaryOps.tanh, pooled, pooled, B * C)
        )
      }
      if (parts.classifier) s.push(mm(linear(B, C, labels), pooled, P(classifierWeight), logits), addBias(gpu, logits, P(classifierBias), B, labels))
      return s
    }

    const forward = (sequences: ReadonlyArray<ArrayLike<number>>) =>
      Effect.gen(function*() {
        const B = sequences.length
        const bad = (message: string) => Effect.fail(new BertInputError({ message }))
        if (B < 1 || B > maxBatch) return yield* bad(`a batch of ${B} sequences; this encoder takes 1..${maxBatch}`)
        let longest = 0
        for (const [b, seq] of sequences.entries()) {
          if (seq.length < 1 || seq.length > maxSeq) {
            return yield* bad(`sequence ${b} has ${seq.length} tokens; 1..${maxSeq} allowed (truncate it first)`)
          }
          for (let t = 0; t < seq.length; t++) {
            const id = seq[t]!
            if (!Number.isInteger(id) || id < 0 || id >= V) {
              return yield* bad(`sequence ${b}, position ${t}: token id ${id} is outside the vocabulary of ${V}`)
            }
          }
          longest = Math.max(longest, seq.length)
        }
        const T = Math.min(maxSeq, Math.ceil(longest / seqMultiple) * seqMultiple)
        const padded = new Uint32Array(B * T).fill(config.padTokenId < V ? config.padTokenId : 0)
        sequences.forEach((seq, b) => padded.set(Array.from(seq), b * T))
        yield* gpu.write(ids, padded)
        yield* gpu.write(lengths, Uint32Array.from(sequences, (seq) => seq.length))
        yield* gpu.run(forwardSteps(B, T))
        const read = (buffer: GpuBuffer, count: number) => Effect.map(gpu.read(buffer, count * 4), (bytes) => new Float32Array(bytes))
        const out: BertGpuOutput = { cls: yield* read(cls, B * C) }
        if (!parts.pooler) return out
        const withPooled = { ...out, pooled: yield* read(pooled, B * C) }
        if (!parts.classifier) return withPooled
        return { ...withPooled, logits: yield* read(logits, B * labels) }
      })

    return { config, parts, maxBatch, maxSeq, forward } satisfies BertGpu
  })

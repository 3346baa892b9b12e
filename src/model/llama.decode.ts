import { Effect, type Scope } from "effect"
import { gpuError, type GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape, type GpuStep } from "../gpu/Gpu.ts"
import { decodeScores, decodeSoftmax, decodeWeightedSum } from "../gpu/kernels/decode-attention.ts"
import { binary, binaryOps } from "../gpu/kernels/elementwise.ts"
import { embeddingForward } from "../gpu/kernels/embedding.ts"
import { matmul, type MatmulShape } from "../gpu/kernels/matmul.ts"
import { rmsNormForward } from "../gpu/kernels/rmsnorm.ts"
import { rope } from "../gpu/kernels/rope.ts"
import { swigluForward } from "../gpu/kernels/swiglu.ts"
import type { LlamaConfig } from "./config.ts"
import { ropeTables } from "./llama.cpu.ts"
import { type LlamaGpu, rowChunks } from "./llama.gpu.ts"
import { layerPrefix } from "./parameters.ts"

/**
 * Token-by-token generation with a KV cache: each step runs one position through the model, appending its roped
 * key and value to per-layer caches [maxLength, kv heads·D] and attending over everything cached, instead of
 * recomputing the whole sequence. The prompt is run by the batched forward pass (`LlamaGpu`) and its keys and
 * values copied in (`loadPrefix`). Positions live in small u32 buffers, so the kernels compile once.
 */
export interface LlamaDecoder {
  readonly maxLength: number
  /** Positions cached so far. */
  readonly length: () => number
  /** Takes the keys and values of the first `n` positions of `llama`'s last forward pass (its batch row 0). */
  readonly loadPrefix: (llama: LlamaGpu, n: number) => Effect.Effect<void, GpuError>
  /** Feeds `token` at the next position and returns the logits for the position after it. */
  readonly step: (token: number) => Effect.Effect<Float32Array, GpuError>
  /**
   * Feeds `tokens` (at least one) at the next positions, one step each, and returns the logits after the last: a
   * prompt's new part continued from what is cached, with one read-back instead of one per token.
   */
  readonly feed: (tokens: ReadonlyArray<number>) => Effect.Effect<Float32Array, GpuError>
  /** Forgets every position from `n` on (later steps overwrite them): the cache then holds the first `n`. */
  readonly rewind: (n: number) => Effect.Effect<void, GpuError>
}

export const makeLlamaDecoder = (
  gpu: GpuShape,
  config: LlamaConfig,
  params: ReadonlyMap<string, GpuBuffer>,
  maxLength: number
): Effect.Effect<LlamaDecoder, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    const C = config.hiddenSize
    const H = config.numAttentionHeads
    const KV = config.numKeyValueHeads
    const D = config.headDim
    const F = config.intermediateSize
    const V = config.vocabSize
    const L = config.numHiddenLayers
    const P = (name: string) => params.get(name)!
    const f32 = (count: number, label: string) => gpu.buffer(count * 4, label)

    const { cos, sin } = ropeTables(D, config.ropeTheta, maxLength)
    const cosBuf = yield* gpu.upload(cos, "decode rope cos")
    const sinBuf = yield* gpu.upload(sin, "decode rope sin")
    const tokenBuf = yield* gpu.buffer(4, "decode token")
    const positionBuf = yield* gpu.buffer(4, "decode position")
    const lengthBuf = yield* gpu.buffer(4, "decode attended length")
    const caches: Array<{ k: GpuBuffer; v: GpuBuffer }> = []
    for (let l = 0; l < L; l++) {
      caches.push({ k: yield* f32(maxLength * KV * D, `L${l} key cache`), v: yield* f32(maxLength * KV * D, `L${l} value cache`) })
    }
    const [x, xn, xMid, tmp, xf] = [yield* f32(C, "x"), yield* f32(C, "x normed"), yield* f32(C, "x mid"), yield* f32(C, "scratch"), yield* f32(C, "final norm out")]
    const rstd = yield* f32(1, "rstd")
    const q = yield* f32(H * D, "q")
    const kNew = yield* f32(KV * D, "k new")
    const vNew = yield* f32(KV * D, "v new")
    const att = yield* f32(H * D, "attention out")
    const scores = yield* f32(H * maxLength, "attention scores")
    const [gate, up, hid] = [yield* f32(F, "gate"), yield* f32(F, "up"), yield* f32(F, "swiglu")]
    const logits = yield* f32(V, "logits")

    const maxBinding = gpu.limits.maxStorageBufferBindingSize
    const vocabChunks = V * C * 4 <= maxBinding ? [[0, V] as const] : rowChunks(V, C, maxBinding, gpu.limits.minStorageBufferOffsetAlignment)
    const chunked = (b: GpuBuffer) => vocabChunks.length === 1 ? [b] : vocabChunks.map(([v0, v1]) => bufferView(b, v0 * C * 4, (v1 - v0) * C * 4))
    const embedChunks = chunked(P("model.embed_tokens.weight"))
    const headChunks = chunked(P(config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"))
    const mm = (shape: MatmulShape, a: GpuBuffer, b: GpuBuffer, c: GpuBuffer) => matmul(gpu, shape, a, b, c)
    const linear = (inF: number, outF: number): MatmulShape => ({ m: 1, n: outF, k: inF, transB: true })
    const eps = config.rmsNormEps

    // Everything but the cache writes is the same every step: built once.
    const embed: Array<GpuStep> = vocabChunks.map(([v0, v1], j) =>
      embeddingForward(gpu, tokenBuf, embedChunks[j]!, x, 1, C, vocabChunks.length === 1 ? undefined : [v0, v1]))
    const beforeCache: Array<Array<GpuStep>> = []
    const afterCache: Array<Array<GpuStep>> = []
    for (let l = 0; l < L; l++) {
      const p = layerPrefix(l)
      beforeCache.push([
        rmsNormForward(gpu, x, P(`${p}.input_layernorm.weight`), xn, rstd, 1, C, eps),
        mm(linear(C, H * D), xn, P(`${p}.self_attn.q_proj.weight`), q),
        mm(linear(C, KV * D), xn, P(`${p}.self_attn.k_proj.weight`), kNew),
        mm(linear(C, KV * D), xn, P(`${p}.self_attn.v_proj.weight`), vNew),
        rope(gpu, q, cosBuf, sinBuf, 1, 1, H, D, false, positionBuf),
        rope(gpu, kNew, cosBuf, sinBuf, 1, 1, KV, D, false, positionBuf)
      ])
      afterCache.push([
        decodeScores(gpu, q, caches[l]!.k, lengthBuf, scores, H, KV, D, maxLength, 1 / Math.sqrt(D)),
        decodeSoftmax(gpu, scores, lengthBuf, H, maxLength),
        decodeWeightedSum(gpu, scores, caches[l]!.v, lengthBuf, att, H, KV, D, maxLength),
        mm(linear(H * D, C), att, P(`${p}.self_attn.o_proj.weight`), tmp),
        binary(gpu, binaryOps.add, x, [C], tmp, [C], xMid),
        rmsNormForward(gpu, xMid, P(`${p}.post_attention_layernorm.weight`), xn, rstd, 1, C, eps),
        mm(linear(C, F), xn, P(`${p}.mlp.gate_proj.weight`), gate),
        mm(linear(C, F), xn, P(`${p}.mlp.up_proj.weight`), up),
        swigluForward(gpu, gate, up, hid, F),
        mm(linear(F, C), hid, P(`${p}.mlp.down_proj.weight`), tmp),
        binary(gpu, binaryOps.add, xMid, [C], tmp, [C], x)
      ])
    }
    const head: Array<GpuStep> = [
      rmsNormForward(gpu, x, P("model.norm.weight"), xf, rstd, 1, C, eps),
      ...vocabChunks.map(([v0, v1], j) => mm({ m: 1, n: v1 - v0, k: C, transB: true, ldc: V, offsetC: v0 }, xf, headChunks[j]!, logits))
    ]

    let length = 0
    const rowBytes = KV * D * 4
    const loadPrefix = (llama: LlamaGpu, n: number) =>
      Effect.suspend(() => {
        if (n > maxLength || n > llama.seq) {
          return Effect.fail(gpuError("Limit", `a prefix of ${n} positions does not fit (cache ${maxLength}, pass ${llama.seq})`))
        }
        length = n
        return gpu.run(llama.kv.flatMap(({ k, v }, l) => [
          { _tag: "Copy", from: k, to: caches[l]!.k, bytes: n * rowBytes } as const,
          { _tag: "Copy", from: v, to: caches[l]!.v, bytes: n * rowBytes } as const
        ]))
      })

    /** Records one position's pass; the logits buffer holds its output once the GPU is done. */
    const advance = (token: number) =>
      Effect.gen(function*() {
        if (length >= maxLength) return yield* Effect.fail(gpuError("Limit", `the KV cache holds ${maxLength} positions`))
        if (!Number.isInteger(token) || token < 0 || token >= V) {
          return yield* Effect.die(new RangeError(`token ${token} is outside the vocabulary of ${V}`))
        }
        const t = length
        yield* gpu.write(tokenBuf, Uint32Array.of(token))
        yield* gpu.write(positionBuf, Uint32Array.of(t))
        yield* gpu.write(lengthBuf, Uint32Array.of(t + 1))
        const steps: Array<GpuStep> = [...embed]
        for (let l = 0; l < L; l++) {
          steps.push(
            ...beforeCache[l]!,
            { _tag: "Copy", from: kNew, to: caches[l]!.k, bytes: rowBytes, toOffset: t * rowBytes },
            { _tag: "Copy", from: vNew, to: caches[l]!.v, bytes: rowBytes, toOffset: t * rowBytes },
            ...afterCache[l]!
          )
        }
        yield* gpu.run([...steps, ...head])
        length = t + 1
      })

    const step = (token: number) => Effect.andThen(advance(token), gpu.readF32(logits))

    const feed = (tokens: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        if (tokens.length === 0) return yield* Effect.die(new RangeError("feed needs at least one token"))
        for (const token of tokens) yield* advance(token)
        return yield* gpu.readF32(logits)
      })

    const rewind = (n: number) =>
      Effect.suspend(() => {
        if (!Number.isInteger(n) || n < 0 || n > length) return Effect.fail(gpuError("Limit", `cannot rewind to ${n} of ${length} cached positions`))
        length = n
        return Effect.void
      })

    return { maxLength, length: () => length, loadPrefix, step, feed, rewind }
  })

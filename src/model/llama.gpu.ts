import { Effect, type Scope } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape, type GpuStep } from "../gpu/Gpu.ts"
import { causalSoftmax, causalSoftmaxBackward } from "../gpu/kernels/causal-softmax.ts"
import { crossEntropy } from "../gpu/kernels/cross-entropy.ts"
import { binary, binaryOps } from "../gpu/kernels/elementwise.ts"
import { embeddingBackward, embeddingForward, embeddingSegments } from "../gpu/kernels/embedding.ts"
import { mergeHeads, splitHeads } from "../gpu/kernels/heads.ts"
import { matmul, type MatmulShape } from "../gpu/kernels/matmul.ts"
import { rmsNormBackward, rmsNormForward, rmsNormWeightGrad } from "../gpu/kernels/rmsnorm.ts"
import { rope } from "../gpu/kernels/rope.ts"
import { swigluBackward, swigluForward } from "../gpu/kernels/swiglu.ts"
import type { LlamaConfig } from "./config.ts"
import { type PackedRows, ropeTables } from "./llama.cpu.ts"
import { layerPrefix, parameterSpecs, type Weights } from "./parameters.ts"

/**
 * The Llama model on the GPU for a fixed micro-batch shape [batch, seq]: parameters, gradients and every
 * activation the backward pass needs live in buffers owned by the caller's scope. A forward + backward pass is
 * one list of steps, recorded into one command buffer; nothing is read back unless asked.
 */
export interface LlamaGpu {
  readonly config: LlamaConfig
  readonly batch: number
  readonly seq: number
  readonly params: ReadonlyMap<string, GpuBuffer>
  readonly grads: ReadonlyMap<string, GpuBuffer>
  /** Per-position losses of the last pass, [batch·seq]. */
  readonly losses: GpuBuffer
  /** Per position of the last pass: 1 where the target was the most likely token, else 0. */
  readonly greedy: GpuBuffer
  /** Logits of the head's current row chunk, [rows, vocab]. */
  readonly logits: GpuBuffer
  /**
   * Steps computing the logits of one position (forward pass and the head for its row chunk only), and where its
   * row starts in `logits` (in values): what generation reads back.
   */
  readonly logitsAt: (position: number) => { readonly steps: ReadonlyArray<GpuStep>; readonly offset: number }
  readonly setWeights: (weights: Weights) => Effect.Effect<void, GpuError>
  readonly readWeights: Effect.Effect<Map<string, Float32Array>, GpuError>
  readonly readGrads: Effect.Effect<Map<string, Float32Array>, GpuError>
  /**
   * Uploads a micro-batch's token ids ([batch, seq] each, flattened), and for packed rows their target weights and
   * document positions (see `PackedRows`): the steps built after it use them (a batch without them runs the plain
   * causal model). With target weights, `gradScale` of `steps` is 1 / the counted targets of the whole step.
   */
  readonly setTokens: (inputs: ArrayLike<number>, targets: ArrayLike<number>, packed?: PackedRows) => Effect.Effect<void, GpuError>
  /** Steps of the forward pass and the loss (and, with `backward`, gradients added into `grads`). */
  readonly steps: (options: { readonly backward: boolean; readonly gradScale: number }) => ReadonlyArray<GpuStep>
  readonly zeroGrads: ReadonlyArray<GpuStep>
  /** Per layer, the roped keys and the values of the last forward pass, [batch·seq, kv heads·head dim]. */
  readonly kv: ReadonlyArray<{ readonly k: GpuBuffer; readonly v: GpuBuffer }>
}

const linear = (rows: number, inFeatures: number, outFeatures: number): MatmulShape =>
  ({ m: rows, n: outFeatures, k: inFeatures, transB: true })

export interface LlamaGpuOptions {
  /**
   * Inference only: no gradients, no backward scratch, and one set of activations shared by all layers (keys and
   * values stay per layer, for a KV cache). `steps({ backward: true })` is then refused.
   */
  readonly training?: boolean
  /** Use these parameter buffers (shared with another instance) instead of allocating new ones. */
  readonly params?: ReadonlyMap<string, GpuBuffer>
  /**
   * The largest tensor one binding may cover (default: the device's maxStorageBufferBindingSize). Larger
   * tensors — a big vocabulary's embedding and head, the logits of a long batch — are processed in chunks;
   * tests lower it to exercise the chunked paths on tiny models.
   */
  readonly maxBindingBytes?: number
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/** [v0, v1) row ranges of a [rows, cols] f32 tensor, each within `maxBytes` and starting at an aligned byte offset. */
export const rowChunks = (rows: number, cols: number, maxBytes: number, alignBytes: number): Array<readonly [number, number]> => {
  const step = alignBytes / 4 / gcd(cols, alignBytes / 4)
  const per = Math.floor(maxBytes / (cols * 4) / step) * step
  if (per < 1) throw new RangeError(`rows of ${cols} values cannot be split into aligned bindings of ${maxBytes} bytes`)
  const chunks: Array<readonly [number, number]> = []
  for (let v = 0; v < rows; v += per) chunks.push([v, Math.min(rows, v + per)])
  return chunks
}

export const makeLlamaGpu = (
  gpu: GpuShape,
  config: LlamaConfig,
  batch: number,
  seq: number,
  options: LlamaGpuOptions = {}
): Effect.Effect<LlamaGpu, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    if (seq > config.maxPositionEmbeddings) {
      return yield* Effect.die(new RangeError(`seq ${seq} exceeds max_position_embeddings ${config.maxPositionEmbeddings}`))
    }
    const C = config.hiddenSize
    const H = config.numAttentionHeads
    const KV = config.numKeyValueHeads
    const D = config.headDim
    const F = config.intermediateSize
    const V = config.vocabSize
    const L = config.numHiddenLayers
    const N = batch * seq
    const BH = batch * H
    const group = H / KV
    const scale = 1 / Math.sqrt(D)
    const f32 = (count: number, label: string) => gpu.buffer(count * 4, label)

    const training = options.training ?? true
    const specs = parameterSpecs(config)
    const params = new Map<string, GpuBuffer>(options.params ?? [])
    const grads = new Map<string, GpuBuffer>()
    for (const s of specs) {
      const size = s.shape.reduce((p, d) => p * d, 1)
      if (options.params === undefined) params.set(s.name, yield* f32(size, s.name))
      else if (params.get(s.name)?.bytes !== size * 4) {
        return yield* Effect.die(new RangeError(`shared parameters lack "${s.name}" of ${size} values`))
      }
      if (training) grads.set(s.name, yield* f32(size, `grad ${s.name}`))
    }
    // Buffers only the backward pass reads or writes; inference points them all at one unused word.
    const unused = yield* f32(1, "unused (inference)")
    const bf32 = (count: number, label: string) => training ? f32(count, label) : Effect.succeed(unused)
    const P = (name: string) => params.get(name)!
    const Gr = (name: string) => grads.get(name)!

    const { cos, sin } = ropeTables(D, config.ropeTheta, seq)
    const cosBuf = yield* gpu.upload(cos, "rope cos")
    const sinBuf = yield* gpu.upload(sin, "rope sin")
    const ids = yield* gpu.buffer(N * 4, "input ids")
    const targets = yield* gpu.buffer(N * 4, "target ids")
    const segIds = yield* gpu.buffer(N * 4, "embedding segment ids")
    const segStarts = yield* gpu.buffer((N + 1) * 4, "embedding segment starts")
    const segOrder = yield* gpu.buffer(N * 4, "embedding segment order")
    const positionIds = yield* gpu.buffer(N * 4, "position ids (packed documents)")
    const targetWeights = yield* f32(N, "target weights (loss masks)")
    /** What the last `setTokens` gave besides the ids; the steps built next read it. */
    let packing = { positions: false, weights: false }

    // Activations kept for the backward pass, per layer.
    const resid: Array<GpuBuffer> = []
    for (let l = 0; l <= L; l++) resid.push(yield* f32(N * C, `residual ${l}`))
    const layers: Array<Record<string, GpuBuffer>> = []
    for (let l = 0; l < L; l++) {
      // Inference keeps one set of activations for all layers; only keys and values stay per layer.
      if (!training && l > 0) {
        layers.push({ ...layers[0]!, k: yield* f32(N * KV * D, `L${l} k`), v: yield* f32(N * KV * D, `L${l} v`) })
        continue
      }
      layers.push({
        xn1: yield* f32(N * C, `L${l} xn1`), rstd1: yield* f32(N, `L${l} rstd1`),
        q: yield* f32(N * H * D, `L${l} q`), k: yield* f32(N * KV * D, `L${l} k`), v: yield* f32(N * KV * D, `L${l} v`),
        qh: yield* f32(BH * seq * D, `L${l} q heads`), kh: yield* f32(BH * seq * D, `L${l} k heads`), vh: yield* f32(BH * seq * D, `L${l} v heads`),
        probs: yield* f32(BH * seq * seq, `L${l} attention probs`), att: yield* f32(N * H * D, `L${l} attention out`),
        xMid: yield* f32(N * C, `L${l} residual mid`), xn2: yield* f32(N * C, `L${l} xn2`), rstd2: yield* f32(N, `L${l} rstd2`),
        gate: yield* f32(N * F, `L${l} gate`), up: yield* f32(N * F, `L${l} up`), hid: yield* f32(N * F, `L${l} swiglu`)
      })
    }
    const xf = yield* f32(N * C, "final norm out")
    const rstdF = yield* f32(N, "final rstd")
    // The [vocab, hidden] tables and the logits may exceed one binding: the tables are bound in vocabulary
    // chunks, and the head runs over row chunks of the batch, each through logits, loss and (when training)
    // its own backward, so the full [N, vocab] logits never exist at once.
    const maxBinding = Math.min(options.maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize)
    const vocabChunks = V * C * 4 <= maxBinding ? [[0, V] as const] : rowChunks(V, C, maxBinding, gpu.limits.minStorageBufferOffsetAlignment)
    const headRows = Math.max(1, Math.min(N, Math.floor(maxBinding / (V * 4))))
    if (headRows * V * 4 > maxBinding) {
      return yield* Effect.die(new RangeError(`one row of ${V} logits exceeds the binding limit of ${maxBinding} bytes`))
    }
    const logits = yield* f32(headRows * V, "logits (row chunk)")
    const losses = yield* f32(N, "losses")
    const greedy = yield* f32(N, "greedy flags")
    // Scratch shared by all layers (used strictly in sequence within one command buffer).
    const tmp = yield* f32(N * C, "scratch [N, C]")
    const oh = yield* f32(BH * seq * D, "scratch heads out")
    const dResid = yield* bf32(N * C, "grad residual")
    const dTmp = yield* bf32(N * C, "grad scratch [N, C]")
    const dAtt = yield* bf32(N * H * D, "grad attention out")
    const dOh = yield* bf32(BH * seq * D, "grad heads out")
    const dP = yield* bf32(BH * seq * seq, "grad attention probs")
    const dQh = yield* bf32(BH * seq * D, "grad q heads")
    const dKh = yield* bf32(BH * seq * D, "grad k heads")
    const dVh = yield* bf32(BH * seq * D, "grad v heads")
    const dq = yield* bf32(N * H * D, "grad q")
    const dk = yield* bf32(N * KV * D, "grad k")
    const dv = yield* bf32(N * KV * D, "grad v")
    const dHid = yield* bf32(N * F, "grad swiglu")
    const dGate = yield* bf32(N * F, "grad gate")
    const dUp = yield* bf32(N * F, "grad up")

    const head = config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
    const chunked = (buffer: GpuBuffer) =>
      vocabChunks.length === 1 ? [buffer] : vocabChunks.map(([v0, v1]) => bufferView(buffer, v0 * C * 4, (v1 - v0) * C * 4, `${buffer.label} rows ${v0}..${v1}`))
    const embedChunks = chunked(P("model.embed_tokens.weight"))
    const dEmbedChunks = training ? chunked(Gr("model.embed_tokens.weight")) : []
    const headChunks = chunked(P(head))
    const dHeadChunks = training ? chunked(Gr(head)) : []
    /** Per vocabulary chunk, the range of embedding segments (ids are sorted) it owns; set with the tokens. */
    let segmentRanges: Array<readonly [number, number]> = []
    const mm = (shape: MatmulShape, a: GpuBuffer, b: GpuBuffer, c: GpuBuffer) => matmul(gpu, shape, a, b, c)
    const acc = (shape: MatmulShape): MatmulShape => ({ ...shape, accumulate: true })
    /** dW[out, in] += dYᵀ·X over the N rows. */
    const weightGrad = (dy: GpuBuffer, x: GpuBuffer, outF: number, inF: number, dw: GpuBuffer) =>
      mm({ m: outF, n: inF, k: N, transA: true, accumulate: true }, dy, x, dw)

    const rowPositions = () => packing.positions ? positionIds : undefined

    const forwardSteps = (): Array<GpuStep> => {
      const s: Array<GpuStep> = vocabChunks.map(([v0, v1], j) =>
        embeddingForward(gpu, ids, embedChunks[j]!, resid[0]!, N, C, vocabChunks.length === 1 ? undefined : [v0, v1]))
      for (let l = 0; l < L; l++) {
        const p = layerPrefix(l)
        const a = layers[l]!
        s.push(
          rmsNormForward(gpu, resid[l]!, P(`${p}.input_layernorm.weight`), a.xn1!, a.rstd1!, N, C, config.rmsNormEps),
          mm(linear(N, C, H * D), a.xn1!, P(`${p}.self_attn.q_proj.weight`), a.q!),
          mm(linear(N, C, KV * D), a.xn1!, P(`${p}.self_attn.k_proj.weight`), a.k!),
          mm(linear(N, C, KV * D), a.xn1!, P(`${p}.self_attn.v_proj.weight`), a.v!),
          rope(gpu, a.q!, cosBuf, sinBuf, N, seq, H, D, false, undefined, rowPositions()),
          rope(gpu, a.k!, cosBuf, sinBuf, N, seq, KV, D, false, undefined, rowPositions()),
          splitHeads(gpu, a.q!, a.qh!, batch, seq, H, D, 1),
          splitHeads(gpu, a.k!, a.kh!, batch, seq, H, D, group),
          splitHeads(gpu, a.v!, a.vh!, batch, seq, H, D, group),
          mm({ m: seq, n: seq, k: D, batch: BH, transB: true }, a.qh!, a.kh!, a.probs!),
          causalSoftmax(gpu, a.probs!, BH * seq, seq, scale, undefined, packing.positions ? { positions: positionIds, heads: H } : undefined),
          mm({ m: seq, n: D, k: seq, batch: BH }, a.probs!, a.vh!, oh),
          mergeHeads(gpu, oh, a.att!, batch, seq, H, D, 1),
          mm(linear(N, H * D, C), a.att!, P(`${p}.self_attn.o_proj.weight`), tmp),
          binary(gpu, binaryOps.add, resid[l]!, [N * C], tmp, [N * C], a.xMid!),
          rmsNormForward(gpu, a.xMid!, P(`${p}.post_attention_layernorm.weight`), a.xn2!, a.rstd2!, N, C, config.rmsNormEps),
          mm(linear(N, C, F), a.xn2!, P(`${p}.mlp.gate_proj.weight`), a.gate!),
          mm(linear(N, C, F), a.xn2!, P(`${p}.mlp.up_proj.weight`), a.up!),
          swigluForward(gpu, a.gate!, a.up!, a.hid!, N * F),
          mm(linear(N, F, C), a.hid!, P(`${p}.mlp.down_proj.weight`), tmp),
          binary(gpu, binaryOps.add, a.xMid!, [N * C], tmp, [N * C], resid[l + 1]!)
        )
      }
      s.push(rmsNormForward(gpu, resid[L]!, P("model.norm.weight"), xf, rstdF, N, C, config.rmsNormEps))
      return s
    }

    /**
     * Logits, loss and — when training — the head's backward, one row chunk at a time: dHead += dlogitsᵀ·xf and
     * dTmp = dlogits·W (the gradient reaching the final norm), per vocabulary chunk through leading dimensions.
     */
    const headSteps = (backward: boolean, gradScale: number): Array<GpuStep> => {
      const s: Array<GpuStep> = []
      for (let r0 = 0; r0 < N; r0 += headRows) {
        const rows = Math.min(headRows, N - r0)
        vocabChunks.forEach(([v0, v1], j) => {
          s.push(mm({ m: rows, n: v1 - v0, k: C, transB: true, ldc: V, offsetA: r0 * C, offsetC: v0 }, xf, headChunks[j]!, logits))
        })
        s.push(crossEntropy(gpu, logits, targets, losses, rows, V, gradScale, undefined, r0, greedy, packing.weights ? targetWeights : undefined))
        if (!backward) continue
        vocabChunks.forEach(([v0, v1], j) => {
          s.push(
            mm({ m: v1 - v0, n: C, k: rows, transA: true, lda: V, offsetA: v0, offsetB: r0 * C, accumulate: true }, logits, xf, dHeadChunks[j]!),
            mm({ m: rows, n: C, k: v1 - v0, lda: V, offsetA: v0, offsetC: r0 * C, accumulate: j > 0 }, logits, headChunks[j]!, dTmp)
          )
        })
      }
      return s
    }

    const backwardSteps = (): Array<GpuStep> => {
      // headSteps left the gradient w.r.t. the final norm's output in dTmp.
      const s: Array<GpuStep> = [
        rmsNormWeightGrad(gpu, dTmp, resid[L]!, rstdF, Gr("model.norm.weight"), N, C),
        rmsNormBackward(gpu, dTmp, resid[L]!, P("model.norm.weight"), rstdF, dResid, N, C, false)
      ]
      for (let l = L - 1; l >= 0; l--) {
        const p = layerPrefix(l)
        const a = layers[l]!
        s.push(
          // MLP: resid[l+1] = xMid + down(silu(gate) ⊙ up)
          mm({ m: N, n: F, k: C }, dResid, P(`${p}.mlp.down_proj.weight`), dHid),
          weightGrad(dResid, a.hid!, C, F, Gr(`${p}.mlp.down_proj.weight`)),
          swigluBackward(gpu, dHid, a.gate!, a.up!, dGate, dUp, N * F),
          weightGrad(dGate, a.xn2!, F, C, Gr(`${p}.mlp.gate_proj.weight`)),
          weightGrad(dUp, a.xn2!, F, C, Gr(`${p}.mlp.up_proj.weight`)),
          mm({ m: N, n: C, k: F }, dGate, P(`${p}.mlp.gate_proj.weight`), dTmp),
          mm(acc({ m: N, n: C, k: F }), dUp, P(`${p}.mlp.up_proj.weight`), dTmp),
          rmsNormWeightGrad(gpu, dTmp, a.xMid!, a.rstd2!, Gr(`${p}.post_attention_layernorm.weight`), N, C),
          rmsNormBackward(gpu, dTmp, a.xMid!, P(`${p}.post_attention_layernorm.weight`), a.rstd2!, dResid, N, C, true),
          // Attention: xMid = resid[l] + o_proj(softmax(q·kᵀ·scale)·v)
          mm({ m: N, n: H * D, k: C }, dResid, P(`${p}.self_attn.o_proj.weight`), dAtt),
          weightGrad(dResid, a.att!, C, H * D, Gr(`${p}.self_attn.o_proj.weight`)),
          splitHeads(gpu, dAtt, dOh, batch, seq, H, D, 1),
          mm({ m: seq, n: seq, k: D, batch: BH, transB: true }, dOh, a.vh!, dP),
          mm({ m: seq, n: D, k: seq, batch: BH, transA: true }, a.probs!, dOh, dVh),
          causalSoftmaxBackward(gpu, a.probs!, dP, BH * seq, seq, scale),
          mm({ m: seq, n: D, k: seq, batch: BH }, dP, a.kh!, dQh),
          mm({ m: seq, n: D, k: seq, batch: BH, transA: true }, dP, a.qh!, dKh),
          mergeHeads(gpu, dQh, dq, batch, seq, H, D, 1),
          mergeHeads(gpu, dKh, dk, batch, seq, H, D, group),
          mergeHeads(gpu, dVh, dv, batch, seq, H, D, group),
          rope(gpu, dq, cosBuf, sinBuf, N, seq, H, D, true, undefined, rowPositions()),
          rope(gpu, dk, cosBuf, sinBuf, N, seq, KV, D, true, undefined, rowPositions()),
          weightGrad(dq, a.xn1!, H * D, C, Gr(`${p}.self_attn.q_proj.weight`)),
          weightGrad(dk, a.xn1!, KV * D, C, Gr(`${p}.self_attn.k_proj.weight`)),
          weightGrad(dv, a.xn1!, KV * D, C, Gr(`${p}.self_attn.v_proj.weight`)),
          mm({ m: N, n: C, k: H * D }, dq, P(`${p}.self_attn.q_proj.weight`), dTmp),
          mm(acc({ m: N, n: C, k: KV * D }), dk, P(`${p}.self_attn.k_proj.weight`), dTmp),
          mm(acc({ m: N, n: C, k: KV * D }), dv, P(`${p}.self_attn.v_proj.weight`), dTmp),
          rmsNormWeightGrad(gpu, dTmp, resid[l]!, a.rstd1!, Gr(`${p}.input_layernorm.weight`), N, C),
          rmsNormBackward(gpu, dTmp, resid[l]!, P(`${p}.input_layernorm.weight`), a.rstd1!, dResid, N, C, true)
        )
      }
      vocabChunks.forEach(([v0], j) => {
        const [u0, u1] = segmentRanges[j]!
        if (u1 > u0) s.push(embeddingBackward(gpu, segIds, segStarts, segOrder, dResid, dEmbedChunks[j]!, u1 - u0, C, u0, v0))
      })
      return s
    }

    const steps = (o: { readonly backward: boolean; readonly gradScale: number }): ReadonlyArray<GpuStep> => {
      if (o.backward && !training) throw new RangeError("this model instance was built for inference only")
      return stepsOf(o)
    }
    const stepsOf = (o: { readonly backward: boolean; readonly gradScale: number }): ReadonlyArray<GpuStep> => [
      ...forwardSteps(),
      ...headSteps(o.backward, o.gradScale),
      ...(o.backward ? backwardSteps() : [])
    ]

    const setTokens = (inputs: ArrayLike<number>, target: ArrayLike<number>, packed: PackedRows = {}) =>
      Effect.gen(function*() {
        if (inputs.length !== N || target.length !== N) {
          return yield* Effect.die(new RangeError(`expected ${N} = ${batch}×${seq} token ids, got ${inputs.length} and ${target.length}`))
        }
        const { positions, targetWeights: weights } = packed
        if (positions !== undefined) {
          if (positions.length !== N) return yield* Effect.die(new RangeError(`expected ${N} positions, got ${positions.length}`))
          for (let i = 0; i < N; i++) {
            // A position counts up from its document's start, which lies in the same row.
            const p = positions[i]!
            if (!Number.isInteger(p) || p < 0 || p > i % seq) {
              return yield* Effect.die(new RangeError(`position ${p} at ${i} does not fit a document starting in its row of ${seq}`))
            }
          }
        }
        if (weights !== undefined && weights.length !== N) return yield* Effect.die(new RangeError(`expected ${N} target weights, got ${weights.length}`))
        for (const arr of [inputs, target]) {
          for (let i = 0; i < N; i++) {
            const t = arr[i]!
            if (!Number.isInteger(t) || t < 0 || t >= V) {
              return yield* Effect.die(new RangeError(`token id ${t} at position ${i} is outside the vocabulary of ${V}`))
            }
          }
        }
        const seg = embeddingSegments(inputs)
        // Segments are sorted by id, so each vocabulary chunk owns a contiguous range of them.
        const firstAtLeast = (id: number) => {
          let u = 0
          while (u < seg.ids.length && seg.ids[u]! < id) u++
          return u
        }
        segmentRanges = vocabChunks.map(([v0, v1]) => [firstAtLeast(v0), firstAtLeast(v1)] as const)
        yield* gpu.write(ids, Uint32Array.from(inputs))
        yield* gpu.write(targets, Uint32Array.from(target))
        yield* gpu.write(segIds, seg.ids)
        yield* gpu.write(segStarts, seg.starts)
        yield* gpu.write(segOrder, seg.order)
        if (positions !== undefined) yield* gpu.write(positionIds, Uint32Array.from(positions))
        if (weights !== undefined) yield* gpu.write(targetWeights, Float32Array.from(weights))
        packing = { positions: positions !== undefined, weights: weights !== undefined }
      })

    const setWeights = (weights: Weights) =>
      Effect.forEach(specs, (s) => gpu.write(P(s.name), weights.get(s.name)!), { discard: true })

    const readAll = (from: ReadonlyMap<string, GpuBuffer>) =>
      Effect.gen(function*() {
        const out = new Map<string, Float32Array>()
        for (const s of specs) out.set(s.name, yield* gpu.readF32(from.get(s.name)!))
        return out
      })

    const logitsAt = (position: number) => {
      const r0 = Math.floor(position / headRows) * headRows
      const rows = Math.min(headRows, N - r0)
      return {
        steps: [
          ...forwardSteps(),
          ...vocabChunks.map(([v0, v1], j) =>
            mm({ m: rows, n: v1 - v0, k: C, transB: true, ldc: V, offsetA: r0 * C, offsetC: v0 }, xf, headChunks[j]!, logits))
        ],
        offset: (position - r0) * V
      }
    }

    return {
      config,
      batch,
      seq,
      params,
      grads,
      losses,
      greedy,
      logits,
      logitsAt,
      setWeights,
      readWeights: readAll(params),
      readGrads: readAll(grads),
      setTokens,
      steps,
      zeroGrads: [...grads.values()].map((buffer) => ({ _tag: "Clear", buffer }) as const),
      kv: layers.map((a) => ({ k: a.k!, v: a.v! }))
    } satisfies LlamaGpu
  })

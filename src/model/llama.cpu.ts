import type { LlamaConfig } from "./config.ts"
import { layerPrefix, parameterSpecs, type Weights } from "./parameters.ts"

/**
 * The plain reference of the whole model, forward and backward, in f64: what every GPU kernel and the GPU
 * model are tested against (as llm.c keeps train_gpt2.c beside its CUDA). Readable top to bottom, no tricks.
 *
 * Layout: activations are row-major [N, features] with N = batch × seq rows (row i is position i mod T of
 * sequence ⌊i / T⌋); weights are HF's [out, in], so a projection is y = x·Wᵀ.
 */

type Arr = Float64Array

/**
 * RoPE angles as transformers computes them, in f32: inv_freq = 1 / θ^(2i/D), angle = position × inv_freq.
 * Returned as cos and sin tables [positions, D/2], shared with the GPU model so both see the same numbers.
 */
export const ropeTables = (headDim: number, theta: number, positions: number) => {
  const half = headDim / 2
  const f = Math.fround
  const invFreq = Array.from({ length: half }, (_, i) => f(1 / f(Math.pow(theta, f((2 * i) / headDim)))))
  const cos = new Float32Array(positions * half)
  const sin = new Float32Array(positions * half)
  for (let t = 0; t < positions; t++) {
    for (let i = 0; i < half; i++) {
      const angle = f(t * invFreq[i]!)
      cos[t * half + i] = Math.cos(angle)
      sin[t * half + i] = Math.sin(angle)
    }
  }
  return { cos, sin }
}

/** y[N, M] = x[N, K] · W[M, K]ᵀ */
const linear = (x: Arr, w: ArrayLike<number>, n: number, k: number, m: number): Arr => {
  const y = new Float64Array(n * m)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0
      for (let t = 0; t < k; t++) s += x[i * k + t]! * w[j * k + t]!
      y[i * m + j] = s
    }
  }
  return y
}

/** Backward of `linear`: dx += dy·W, dW += dyᵀ·x. */
const linearBackward = (dy: Arr, x: Arr, w: ArrayLike<number>, n: number, k: number, m: number, dx: Arr, dw: Arr) => {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const g = dy[i * m + j]!
      if (g === 0) continue
      for (let t = 0; t < k; t++) {
        dx[i * k + t]! += g * w[j * k + t]!
        dw[j * k + t]! += g * x[i * k + t]!
      }
    }
  }
}

const rmsNorm = (x: Arr, w: ArrayLike<number>, n: number, c: number, eps: number) => {
  const y = new Float64Array(n * c)
  const rstd = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let ss = 0
    for (let j = 0; j < c; j++) ss += x[i * c + j]! ** 2
    const r = 1 / Math.sqrt(ss / c + eps)
    rstd[i] = r
    for (let j = 0; j < c; j++) y[i * c + j] = x[i * c + j]! * r * w[j]!
  }
  return { y, rstd }
}

/** dx = r·(dy·w − x̂·mean(dy·w·x̂)), dw += Σ_rows dy·x̂, with x̂ = x·r. */
const rmsNormBackward = (dy: Arr, x: Arr, w: ArrayLike<number>, rstd: Arr, n: number, c: number, dw: Arr): Arr => {
  const dx = new Float64Array(n * c)
  for (let i = 0; i < n; i++) {
    const r = rstd[i]!
    let dot = 0
    for (let j = 0; j < c; j++) {
      const xh = x[i * c + j]! * r
      dot += dy[i * c + j]! * w[j]! * xh
      dw[j]! += dy[i * c + j]! * xh
    }
    dot /= c
    for (let j = 0; j < c; j++) dx[i * c + j] = r * (dy[i * c + j]! * w[j]! - x[i * c + j]! * r * dot)
  }
  return dx
}

/**
 * HF rotate-half RoPE over every head of [N, heads·D], in place; `inverse` applies the transposed rotation. Row i
 * is at position positionOf(i).
 */
const rope = (x: Arr, n: number, positionOf: (i: number) => number, heads: number, d: number, cos: Float32Array, sin: Float32Array, inverse: boolean) => {
  const half = d / 2
  for (let i = 0; i < n; i++) {
    const t = positionOf(i)
    for (let h = 0; h < heads; h++) {
      const o = i * heads * d + h * d
      for (let j = 0; j < half; j++) {
        const c = cos[t * half + j]!
        const s = inverse ? -sin[t * half + j]! : sin[t * half + j]!
        const a = x[o + j]!
        const b = x[o + j + half]!
        x[o + j] = a * c - b * s
        x[o + j + half] = b * c + a * s
      }
    }
  }
}

const silu = (z: number) => z / (1 + Math.exp(-z))
const siluGrad = (z: number) => {
  const s = 1 / (1 + Math.exp(-z))
  return s * (1 + z * (1 - s))
}

export interface ReferenceResult {
  readonly loss: number
  /** Per-position negative log-likelihood, [N]. */
  readonly losses: Float64Array
  readonly logits: Float64Array
  /** Gradients by tensor name (absent when only the forward pass was asked for). */
  readonly grads?: Map<string, Float64Array>
}

/** Packed training rows (SFT); both [batch, seq] flattened like the inputs. */
export interface PackedRows {
  /**
   * The weight of each target in the loss (0/1 loss masks): the loss is Σ wᵢ·lossᵢ / Σ wᵢ, the mean over the
   * counted targets (0 when none counts). Without it every position counts alike.
   */
  readonly targetWeights?: ArrayLike<number>
  /**
   * Each input's position in its document, 0 where a document starts: RoPE uses it, and a query attends only to
   * the keys of its own document (block-diagonal causal attention). Without it a row is one document.
   */
  readonly positions?: ArrayLike<number>
}

/**
 * Forward (and backward when `backward`) of the causal LM loss: mean over the N positions of
 * −log p(targets[i] | inputs[..i]) (or over the counted targets, see `PackedRows`). `inputs` and `targets` are
 * [batch, seq] flattened.
 */
export const llamaReference = (
  config: LlamaConfig,
  weights: Weights,
  inputs: ArrayLike<number>,
  targets: ArrayLike<number>,
  batch: number,
  seq: number,
  backward = true,
  packed: PackedRows = {}
): ReferenceResult => {
  const C = config.hiddenSize
  const H = config.numAttentionHeads
  const KV = config.numKeyValueHeads
  const D = config.headDim
  const F = config.intermediateSize
  const V = config.vocabSize
  const N = batch * seq
  const group = H / KV
  const scale = 1 / Math.sqrt(D)
  const eps = config.rmsNormEps
  const w = (name: string) => weights.get(name)!
  const { cos, sin } = ropeTables(D, config.ropeTheta, seq)
  const { positions, targetWeights } = packed
  const positionOf = positions === undefined ? (i: number) => i % seq : (i: number) => positions[i]!
  /** The first key position query (b, t) may see: the start of its document. */
  const firstKey = (b: number, t: number) => positions === undefined ? 0 : t - positions[b * seq + t]!

  const embed = w("model.embed_tokens.weight")
  let x = new Float64Array(N * C)
  for (let i = 0; i < N; i++) for (let j = 0; j < C; j++) x[i * C + j] = embed[inputs[i]! * C + j]!

  interface LayerCache {
    xIn: Arr; xn1: Arr; rstd1: Arr; q: Arr; k: Arr; v: Arr; probs: Arr; att: Arr
    xMid: Arr; xn2: Arr; rstd2: Arr; gate: Arr; up: Arr; hidden: Arr
  }
  const caches: Array<LayerCache> = []

  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = layerPrefix(l)
    const xIn = x
    const { y: xn1, rstd: rstd1 } = rmsNorm(xIn, w(`${p}.input_layernorm.weight`), N, C, eps)
    const q = linear(xn1, w(`${p}.self_attn.q_proj.weight`), N, C, H * D)
    const k = linear(xn1, w(`${p}.self_attn.k_proj.weight`), N, C, KV * D)
    const v = linear(xn1, w(`${p}.self_attn.v_proj.weight`), N, C, KV * D)
    rope(q, N, positionOf, H, D, cos, sin, false)
    rope(k, N, positionOf, KV, D, cos, sin, false)
    // Causal attention within each document; query head h reads key/value head ⌊h / group⌋ (grouped-query attention).
    const probs = new Float64Array(batch * H * seq * seq)
    const att = new Float64Array(N * H * D)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group)
        for (let t = 0; t < seq; t++) {
          const row = ((b * H + h) * seq + t) * seq
          const s0 = firstKey(b, t)
          let max = -Infinity
          for (let s = s0; s <= t; s++) {
            let dot = 0
            for (let j = 0; j < D; j++) dot += q[(b * seq + t) * H * D + h * D + j]! * k[(b * seq + s) * KV * D + kh * D + j]!
            probs[row + s] = dot * scale
            max = Math.max(max, dot * scale)
          }
          let sum = 0
          for (let s = s0; s <= t; s++) sum += probs[row + s] = Math.exp(probs[row + s]! - max)
          for (let s = s0; s <= t; s++) probs[row + s]! /= sum
          for (let j = 0; j < D; j++) {
            let o = 0
            for (let s = s0; s <= t; s++) o += probs[row + s]! * v[(b * seq + s) * KV * D + kh * D + j]!
            att[(b * seq + t) * H * D + h * D + j] = o
          }
        }
      }
    }
    const attnOut = linear(att, w(`${p}.self_attn.o_proj.weight`), N, H * D, C)
    const xMid = new Float64Array(N * C)
    for (let i = 0; i < N * C; i++) xMid[i] = xIn[i]! + attnOut[i]!
    const { y: xn2, rstd: rstd2 } = rmsNorm(xMid, w(`${p}.post_attention_layernorm.weight`), N, C, eps)
    const gate = linear(xn2, w(`${p}.mlp.gate_proj.weight`), N, C, F)
    const up = linear(xn2, w(`${p}.mlp.up_proj.weight`), N, C, F)
    const hidden = new Float64Array(N * F)
    for (let i = 0; i < N * F; i++) hidden[i] = silu(gate[i]!) * up[i]!
    const mlpOut = linear(hidden, w(`${p}.mlp.down_proj.weight`), N, F, C)
    x = new Float64Array(N * C)
    for (let i = 0; i < N * C; i++) x[i] = xMid[i]! + mlpOut[i]!
    caches.push({ xIn, xn1, rstd1, q, k, v, probs, att, xMid, xn2, rstd2, gate, up, hidden })
  }

  const xLast = x
  const { y: xf, rstd: rstdF } = rmsNorm(xLast, w("model.norm.weight"), N, C, eps)
  const head = config.tieWordEmbeddings ? embed : w("lm_head.weight")
  const logits = linear(xf, head, N, C, V)
  const losses = new Float64Array(N)
  const dLogits = new Float64Array(N * V)
  let counted = N
  if (targetWeights !== undefined) {
    counted = 0
    for (let i = 0; i < N; i++) counted += targetWeights[i]!
  }
  // d(loss)/d(lossᵢ) with weights: wᵢ / Σw, the mean over the counted targets.
  const weightOf = (i: number) => counted === 0 ? 0 : targetWeights![i]! / counted
  for (let i = 0; i < N; i++) {
    let max = -Infinity
    for (let j = 0; j < V; j++) max = Math.max(max, logits[i * V + j]!)
    let sum = 0
    for (let j = 0; j < V; j++) sum += Math.exp(logits[i * V + j]! - max)
    const lse = max + Math.log(sum)
    losses[i] = lse - logits[i * V + targets[i]!]!
    if (targetWeights === undefined) {
      for (let j = 0; j < V; j++) dLogits[i * V + j] = Math.exp(logits[i * V + j]! - lse) / N
      dLogits[i * V + targets[i]!]! -= 1 / N
    } else {
      const w = weightOf(i)
      for (let j = 0; j < V; j++) dLogits[i * V + j] = Math.exp(logits[i * V + j]! - lse) * w
      dLogits[i * V + targets[i]!]! -= w
    }
  }
  const loss = targetWeights === undefined
    ? losses.reduce((s, v) => s + v, 0) / N
    : losses.reduce((s, v, i) => s + v * weightOf(i), 0)
  if (!backward) return { loss, losses, logits }

  const grads = new Map<string, Float64Array>()
  for (const spec of parameterSpecs(config)) grads.set(spec.name, new Float64Array(weights.get(spec.name)!.length))
  const g = (name: string) => grads.get(name)!

  const dHead = config.tieWordEmbeddings ? g("model.embed_tokens.weight") : g("lm_head.weight")
  const dxf = new Float64Array(N * C)
  linearBackward(dLogits, xf, head, N, C, V, dxf, dHead)
  let dx = rmsNormBackward(dxf, xLast, w("model.norm.weight"), rstdF, N, C, g("model.norm.weight"))

  for (let l = config.numHiddenLayers - 1; l >= 0; l--) {
    const p = layerPrefix(l)
    const c = caches[l]!
    // MLP branch: x = xMid + down(silu(gate) ⊙ up)
    const dHidden = new Float64Array(N * F)
    linearBackward(dx, c.hidden, w(`${p}.mlp.down_proj.weight`), N, F, C, dHidden, g(`${p}.mlp.down_proj.weight`))
    const dGate = new Float64Array(N * F)
    const dUp = new Float64Array(N * F)
    for (let i = 0; i < N * F; i++) {
      dGate[i] = dHidden[i]! * c.up[i]! * siluGrad(c.gate[i]!)
      dUp[i] = dHidden[i]! * silu(c.gate[i]!)
    }
    const dxn2 = new Float64Array(N * C)
    linearBackward(dGate, c.xn2, w(`${p}.mlp.gate_proj.weight`), N, C, F, dxn2, g(`${p}.mlp.gate_proj.weight`))
    linearBackward(dUp, c.xn2, w(`${p}.mlp.up_proj.weight`), N, C, F, dxn2, g(`${p}.mlp.up_proj.weight`))
    const dMid = rmsNormBackward(dxn2, c.xMid, w(`${p}.post_attention_layernorm.weight`), c.rstd2, N, C, g(`${p}.post_attention_layernorm.weight`))
    for (let i = 0; i < N * C; i++) dMid[i]! += dx[i]!

    // Attention branch: xMid = xIn + o_proj(attention(rope(q), rope(k), v))
    const dAtt = new Float64Array(N * H * D)
    linearBackward(dMid, c.att, w(`${p}.self_attn.o_proj.weight`), N, H * D, C, dAtt, g(`${p}.self_attn.o_proj.weight`))
    const dq = new Float64Array(N * H * D)
    const dk = new Float64Array(N * KV * D)
    const dv = new Float64Array(N * KV * D)
    const dP = new Float64Array(seq)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group)
        for (let t = 0; t < seq; t++) {
          const row = ((b * H + h) * seq + t) * seq
          const oRow = (b * seq + t) * H * D + h * D
          const s0 = firstKey(b, t)
          let dot = 0
          for (let s = s0; s <= t; s++) {
            let d = 0
            const vRow = (b * seq + s) * KV * D + kh * D
            for (let j = 0; j < D; j++) {
              d += dAtt[oRow + j]! * c.v[vRow + j]!
              dv[vRow + j]! += c.probs[row + s]! * dAtt[oRow + j]!
            }
            dP[s] = d
            dot += d * c.probs[row + s]!
          }
          for (let s = s0; s <= t; s++) {
            const dS = c.probs[row + s]! * (dP[s]! - dot) * scale
            const kRow = (b * seq + s) * KV * D + kh * D
            for (let j = 0; j < D; j++) {
              dq[oRow + j]! += dS * c.k[kRow + j]!
              dk[kRow + j]! += dS * c.q[oRow + j]!
            }
          }
        }
      }
    }
    rope(dq, N, positionOf, H, D, cos, sin, true)
    rope(dk, N, positionOf, KV, D, cos, sin, true)
    const dxn1 = new Float64Array(N * C)
    linearBackward(dq, c.xn1, w(`${p}.self_attn.q_proj.weight`), N, C, H * D, dxn1, g(`${p}.self_attn.q_proj.weight`))
    linearBackward(dk, c.xn1, w(`${p}.self_attn.k_proj.weight`), N, C, KV * D, dxn1, g(`${p}.self_attn.k_proj.weight`))
    linearBackward(dv, c.xn1, w(`${p}.self_attn.v_proj.weight`), N, C, KV * D, dxn1, g(`${p}.self_attn.v_proj.weight`))
    dx = rmsNormBackward(dxn1, c.xIn, w(`${p}.input_layernorm.weight`), c.rstd1, N, C, g(`${p}.input_layernorm.weight`))
    for (let i = 0; i < N * C; i++) dx[i]! += dMid[i]!
  }

  const dEmbed = g("model.embed_tokens.weight")
  for (let i = 0; i < N; i++) for (let j = 0; j < C; j++) dEmbed[inputs[i]! * C + j]! += dx[i * C + j]!
  return { loss, losses, logits, grads }
}

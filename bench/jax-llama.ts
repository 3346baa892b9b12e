/**
 * The same Llama as src/model/llama.cpu.ts, written in jax-js (`@jax-js/jax`) for bench/train.ts: a pure loss
 * of a parameter pytree, `jit(valueAndGrad(loss))`, and AdamW (with torch's global-norm clipping, as
 * src/train/optimizer.ts) as a second jitted function over the pytrees. Nothing here is ours but the math.
 *
 * jax-js moves its arguments: every op consumes the arrays passed to it unless they are passed as `.ref`.
 * The module is handed the imported jax-js namespace, because jax-js must be imported only after the
 * navigator shim that points it at our Dawn instance is installed.
 */
import type * as JaxModule from "@jax-js/jax"
import type { LlamaConfig } from "../src/model/config.ts"
import { ropeTables } from "../src/model/llama.cpu.ts"
import { layerPrefix, type Weights } from "../src/model/parameters.ts"

type Jax = typeof JaxModule
type Arr = JaxModule.Array

export type JaxLayer<T = Arr> = {
  ln1: T
  wq: T
  wk: T
  wv: T
  wo: T
  ln2: T
  wg: T
  wu: T
  wd: T
}
/** The parameter pytree; `head` is empty when the LM head is tied to the embedding. */
export type JaxParams<T = Arr> = {
  embed: T
  layers: Array<JaxLayer<T>>
  norm: T
  head: Array<T>
}

export interface AdamWHyper {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  readonly clip: number
}

export interface JaxLlama {
  /**
   * One training step: loss and gradients, then AdamW. Resolves once the update is done, with the loss (of the
   * weights before the update) and the global gradient norm before clipping.
   */
  readonly step: (inputs: Int32Array, targets: Int32Array, lr: number) => Promise<{ loss: number; gradNorm: number }>
  /** Loss and gradients of the current weights (by HF tensor name), from the same jitted function: for checks. */
  readonly lossAndGrads: (inputs: Int32Array, targets: Int32Array) => Promise<{ loss: number; grads: Map<string, Float32Array> }>
  readonly dispose: () => void
}

const layerNames = (l: number): Record<keyof JaxLayer, string> => {
  const p = layerPrefix(l)
  return {
    ln1: `${p}.input_layernorm.weight`,
    wq: `${p}.self_attn.q_proj.weight`,
    wk: `${p}.self_attn.k_proj.weight`,
    wv: `${p}.self_attn.v_proj.weight`,
    wo: `${p}.self_attn.o_proj.weight`,
    ln2: `${p}.post_attention_layernorm.weight`,
    wg: `${p}.mlp.gate_proj.weight`,
    wu: `${p}.mlp.up_proj.weight`,
    wd: `${p}.mlp.down_proj.weight`
  }
}

export const makeJaxLlama = (
  jax: Jax,
  config: LlamaConfig,
  weights: Weights,
  batch: number,
  seq: number,
  hyper: AdamWHyper,
  device: JaxModule.Device = "webgpu"
): JaxLlama => {
  const np = jax.numpy
  const nn = jax.nn
  const C = config.hiddenSize
  const H = config.numAttentionHeads
  const KV = config.numKeyValueHeads
  const D = config.headDim
  const V = config.vocabSize
  const N = batch * seq
  const eps = config.rmsNormEps

  const put = (name: string, shape: Array<number>) =>
    np.array(weights.get(name)!, { shape, dtype: np.float32, device })
  const Fi = config.intermediateSize
  const shapes: Record<keyof JaxLayer, Array<number>> = {
    ln1: [C], wq: [H * D, C], wk: [KV * D, C], wv: [KV * D, C], wo: [C, H * D], ln2: [C], wg: [Fi, C], wu: [Fi, C], wd: [C, Fi]
  }
  const makeParams = <T>(f: (name: string, shape: Array<number>) => T): JaxParams<T> => ({
    embed: f("model.embed_tokens.weight", [V, C]),
    layers: Array.from({ length: config.numHiddenLayers }, (_, l) => {
      const names = layerNames(l)
      const layer = {} as JaxLayer<T>
      for (const key of Object.keys(names) as Array<keyof JaxLayer>) layer[key] = f(names[key], shapes[key])
      return layer
    }),
    norm: f("model.norm.weight", [C]),
    head: config.tieWordEmbeddings ? [] : [f("lm_head.weight", [V, C])]
  })
  let params = makeParams(put)
  const zerosLike = (_: string, shape: Array<number>) => np.zeros(shape, { dtype: np.float32, device })
  let m = makeParams(zerosLike)
  let v = makeParams(zerosLike)
  // Which leaves get weight decay (matrices, not RMSNorm gains, as parameterSpecs), in the pytree's leaf order.
  const decayMask = jax.tree.leaves(makeParams((_, shape) => shape.length > 1 ? 1 : 0))

  const { cos, sin } = ropeTables(D, config.ropeTheta, seq)
  const cosArr = np.array(cos, { shape: [1, seq, 1, D / 2], dtype: np.float32, device })
  const sinArr = np.array(sin, { shape: [1, seq, 1, D / 2], dtype: np.float32, device })

  /** x·Wᵀ for HF's [out, in] weights. */
  const linear = (x: Arr, w: Arr) => np.matmul(x, w.transpose())

  const rmsNorm = (x: Arr, w: Arr) => {
    const ms = np.mean(np.square(x.ref), -1, { keepdims: true })
    return x.mul(np.reciprocal(np.sqrt(ms.add(eps)))).mul(w)
  }

  /** HF rotate-half RoPE on [B, T, heads, D]. */
  const rope = (x: Arr, c: Arr, s: Arr) => {
    const [x1, x2] = np.split(x, 2, -1) as [Arr, Arr]
    return np.concatenate([
      x1.ref.mul(c.ref).sub(x2.ref.mul(s.ref)),
      x2.mul(c).add(x1.mul(s))
    ], -1)
  }

  const lossFn = (p: JaxParams, ids: Arr, tgt: Arr, c: Arr, s: Arr): Arr => {
    const headW = p.head.length > 0 ? p.head[0]! : p.embed.ref
    let x = np.take(p.embed, ids, 0) // [N, C]
    for (const layer of p.layers) {
      const h = rmsNorm(x.ref, layer.ln1)
      const q = rope(linear(h.ref, layer.wq).reshape([batch, seq, H, D]), c.ref, s.ref)
      const k = rope(linear(h.ref, layer.wk).reshape([batch, seq, KV, D]), c.ref, s.ref)
      const vv = linear(h, layer.wv).reshape([batch, seq, KV, D])
      const att = nn.dotProductAttention(q, k, vv, { isCausal: true }).reshape([N, H * D])
      x = x.add(linear(att, layer.wo))
      const h2 = rmsNorm(x.ref, layer.ln2)
      const gate = linear(h2.ref, layer.wg)
      const up = linear(h2, layer.wu)
      x = x.add(linear(nn.silu(gate).mul(up), layer.wd))
    }
    c.dispose()
    s.dispose()
    const logits = linear(rmsNorm(x, p.norm), headW) // [N, V]
    const logp = nn.logSoftmax(logits, -1)
    // The target's log-probability through an equality mask, not `nn.oneHot`: jax-js builds a one-hot by
    // slicing rows of `eye(V)`, a V×V matrix (9.7 GB at vocab 49,152, past any buffer limit).
    const mask = np.equal(tgt.reshape([N, 1]), np.arange(0, V, 1, { dtype: np.int32, device }).reshape([1, V]))
    // Summed per row first: jax-js's WebGPU reductions over more than 65,535 elements can drop elements
    // (see bench/train.ts), so no single reduction here spans the whole [N, V] block.
    return logp.mul(mask.astype(np.float32)).sum(-1).sum().mul(-1 / N)
  }

  const lossAndGrad = jax.jit(jax.valueAndGrad(lossFn))

  const adamw = jax.jit((
    p: JaxParams, g: JaxParams, mm: JaxParams, vv: JaxParams, lr: Arr, bc1: Arr, bc2Sqrt: Arr
  ): [JaxParams, JaxParams, JaxParams, Arr] => {
    const ps = jax.tree.leaves(p) as Array<Arr>
    const gs = jax.tree.leaves(g) as Array<Arr>
    const ms = jax.tree.leaves(mm) as Array<Arr>
    const vs = jax.tree.leaves(vv) as Array<Arr>
    // torch.nn.utils.clip_grad_norm_: coefficient min(1, max / (norm + 1e-6)).
    // Row sums first, for the same reason as in the loss (the embedding has 28M elements at 135M).
    const norm = np.sqrt(gs.map((x) => (x.ndim > 1 ? np.square(x.ref).sum(-1) : np.square(x.ref)).sum()).reduce((a, b) => a.add(b)))
    const coef = np.minimum(np.reciprocal(norm.ref.add(1e-6)).mul(hyper.clip), 1)
    const outP: Array<Arr> = []
    const outM: Array<Arr> = []
    const outV: Array<Arr> = []
    for (let i = 0; i < ps.length; i++) {
      const grad = gs[i]!.mul(i === ps.length - 1 ? coef : coef.ref)
      const mNew = ms[i]!.mul(hyper.beta1).add(grad.ref.mul(1 - hyper.beta1))
      const vNew = vs[i]!.mul(hyper.beta2).add(np.square(grad).mul(1 - hyper.beta2))
      const wd = decayMask[i] ? hyper.weightDecay : 0
      const decayedP = ps[i]!.mul(np.subtract(1, lr.ref.mul(wd)))
      const update = mNew.ref.mul(lr.ref.div(bc1.ref)).div(np.sqrt(vNew.ref).div(bc2Sqrt.ref).add(hyper.eps))
      outP.push(decayedP.sub(update))
      outM.push(mNew)
      outV.push(vNew)
    }
    lr.dispose()
    bc1.dispose()
    bc2Sqrt.dispose()
    const def = jax.tree.structure(p)
    return [
      jax.tree.unflatten(def, outP) as unknown as JaxParams,
      jax.tree.unflatten(def, outM) as unknown as JaxParams,
      jax.tree.unflatten(def, outV) as unknown as JaxParams,
      norm
    ]
  })

  const tokens = (ids: Int32Array) => np.array(ids, { shape: [N], dtype: np.int32, device })
  let stepCount = 0

  return {
    step: async (inputs, targets, lr) => {
      stepCount++
      const [loss, grads] = lossAndGrad(jax.tree.ref(params), tokens(inputs), tokens(targets), cosArr.ref, sinArr.ref)
      const scalar = (x: number) => np.array([x], { shape: [], dtype: np.float32, device })
      const [p2, m2, v2, norm] = adamw(
        params, grads, m, v,
        scalar(lr), scalar(1 - hyper.beta1 ** stepCount), scalar(Math.sqrt(1 - hyper.beta2 ** stepCount))
      )
      params = p2
      m = m2
      v = v2
      // Reading the loss waits for the gradient pass; waiting on the weights and moments waits for the update.
      const value = (await loss.data())[0]!
      const gradNorm = (await norm.data())[0]!
      await jax.blockUntilReady([params, m, v])
      return { loss: value, gradNorm }
    },
    lossAndGrads: async (inputs, targets) => {
      const [loss, g] = lossAndGrad(jax.tree.ref(params), tokens(inputs), tokens(targets), cosArr.ref, sinArr.ref)
      const grads = new Map<string, Float32Array>()
      const read = async (name: string, x: Arr) => grads.set(name, new Float32Array(await x.data()))
      await read("model.embed_tokens.weight", g.embed)
      for (const [l, layer] of g.layers.entries()) {
        const names = layerNames(l)
        for (const key of Object.keys(names) as Array<keyof JaxLayer>) await read(names[key], layer[key])
      }
      await read("model.norm.weight", g.norm)
      if (g.head.length > 0) await read("lm_head.weight", g.head[0]!)
      return { loss: (await loss.data())[0]!, grads }
    },
    dispose: () => {
      jax.tree.dispose(params)
      jax.tree.dispose(m)
      jax.tree.dispose(v)
      cosArr.dispose()
      sinArr.dispose()
      lossAndGrad.dispose()
      adamw.dispose()
    }
  }
}

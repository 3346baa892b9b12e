import type { LlamaConfig } from "./config.ts"

/** One named weight tensor, named exactly as transformers' `LlamaForCausalLM` names it. */
export interface TensorSpec {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  /**
   * AdamW weight decay applies to matrices (projections and embeddings) and not to RMSNorm gains: decaying a
   * gain pulls the signal scale toward zero instead of regularizing a mapping (as nanoGPT and most Llama
   * trainers do; SmolLM2's nanotron configs do not say).
   */
  readonly decay: boolean
}

export const layerPrefix = (l: number) => `model.layers.${l}`

export const parameterSpecs = (c: LlamaConfig): ReadonlyArray<TensorSpec> => {
  const C = c.hiddenSize
  const q = c.numAttentionHeads * c.headDim
  const kv = c.numKeyValueHeads * c.headDim
  const F = c.intermediateSize
  const specs: Array<TensorSpec> = [{ name: "model.embed_tokens.weight", shape: [c.vocabSize, C], decay: true }]
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = layerPrefix(l)
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [C], decay: false },
      { name: `${p}.self_attn.q_proj.weight`, shape: [q, C], decay: true },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, C], decay: true },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, C], decay: true },
      { name: `${p}.self_attn.o_proj.weight`, shape: [C, q], decay: true },
      { name: `${p}.post_attention_layernorm.weight`, shape: [C], decay: false },
      { name: `${p}.mlp.gate_proj.weight`, shape: [F, C], decay: true },
      { name: `${p}.mlp.up_proj.weight`, shape: [F, C], decay: true },
      { name: `${p}.mlp.down_proj.weight`, shape: [C, F], decay: true }
    )
  }
  specs.push({ name: "model.norm.weight", shape: [C], decay: false })
  if (!c.tieWordEmbeddings) specs.push({ name: "lm_head.weight", shape: [c.vocabSize, C], decay: true })
  return specs
}

export const elementCount = (shape: ReadonlyArray<number>): number => shape.reduce((p, d) => p * d, 1)

/** Weights on the CPU, by tensor name. */
export type Weights = ReadonlyMap<string, Float32Array>

/** A deterministic normal generator (mulberry32 + Box–Muller), so an init is reproducible from its seed. */
export const normalGenerator = (seed: number) => {
  let s = seed >>> 0
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
}

/** Matrices from N(0, initializer_range²), norm gains at one (HF `LlamaPreTrainedModel._init_weights`). */
export const initWeights = (c: LlamaConfig, seed: number): Map<string, Float32Array> => {
  const normal = normalGenerator(seed)
  const weights = new Map<string, Float32Array>()
  for (const spec of parameterSpecs(c)) {
    const data = new Float32Array(elementCount(spec.shape))
    if (spec.shape.length === 1) data.fill(1)
    else for (let i = 0; i < data.length; i++) data[i] = normal() * c.initializerRange
    weights.set(spec.name, data)
  }
  return weights
}

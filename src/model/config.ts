import { Effect, Schema } from "effect"

/**
 * A Llama decoder as Hugging Face's `config.json` describes it (the fields `LlamaForCausalLM` reads). SmolLM2
 * is a Llama: pre-norm RMSNorm, SwiGLU MLP, RoPE (rotate-half), grouped KV heads, no biases.
 */
export interface LlamaConfig {
  readonly hiddenSize: number
  readonly intermediateSize: number
  readonly numHiddenLayers: number
  readonly numAttentionHeads: number
  readonly numKeyValueHeads: number
  readonly headDim: number
  readonly ropeTheta: number
  readonly rmsNormEps: number
  readonly tieWordEmbeddings: boolean
  readonly vocabSize: number
  readonly maxPositionEmbeddings: number
  readonly initializerRange: number
  readonly bosTokenId: number | null
  readonly eosTokenId: number | null
}

export class ModelConfigError extends Schema.TaggedError<ModelConfigError>()("ModelConfigError", {
  message: Schema.String
}) {}

const Positive = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
const TokenId = Schema.NullOr(Schema.Union([Schema.Int, Schema.Array(Schema.Int)]))

/** The JSON as transformers writes it; unknown keys are kept out of our type but tolerated. */
const HfConfigJson = Schema.Struct({
  model_type: Schema.optional(Schema.String),
  hidden_size: Positive,
  intermediate_size: Positive,
  num_hidden_layers: Positive,
  num_attention_heads: Positive,
  num_key_value_heads: Schema.optional(Positive),
  head_dim: Schema.optional(Schema.NullOr(Positive)),
  rope_theta: Schema.optional(Schema.Number),
  // transformers ≥ 5 may write RoPE settings as a nested object instead.
  // Kept whole: any key besides rope_theta and rope_type "default" (llama3/linear/yarn scaling, partial rotary) is
  // a RoPE we do not compute, and must be refused rather than dropped.
  rope_parameters: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  partial_rotary_factor: Schema.optional(Schema.Number),
  rope_scaling: Schema.optional(Schema.NullOr(Schema.Unknown)),
  rms_norm_eps: Schema.optional(Schema.Number),
  tie_word_embeddings: Schema.optional(Schema.Boolean),
  vocab_size: Positive,
  max_position_embeddings: Schema.optional(Positive),
  initializer_range: Schema.optional(Schema.Number),
  bos_token_id: Schema.optional(TokenId),
  eos_token_id: Schema.optional(TokenId),
  attention_bias: Schema.optional(Schema.Boolean),
  mlp_bias: Schema.optional(Schema.Boolean),
  hidden_act: Schema.optional(Schema.String)
})

const firstId = (v: number | ReadonlyArray<number> | null | undefined): number | null =>
  v === undefined || v === null ? null : typeof v === "number" ? v : (v[0] ?? null)

/** Reads a parsed `config.json`, applying `LlamaConfig`'s defaults and refusing what we cannot run. */
export const configFromHf = (json: unknown): Effect.Effect<LlamaConfig, ModelConfigError> =>
  Effect.gen(function*() {
    const c = yield* Schema.decodeUnknownEffect(HfConfigJson)(json).pipe(
      Effect.mapError((e) => new ModelConfigError({ message: `config.json is not a Llama config: ${e.message}` }))
    )
    if (c.model_type !== undefined && c.model_type !== "llama") {
      return yield* new ModelConfigError({ message: `model_type "${c.model_type}" is not supported; only "llama"` })
    }
    if (c.attention_bias === true || c.mlp_bias === true) {
      return yield* new ModelConfigError({ message: "attention or MLP biases are not supported (SmolLM2 has none)" })
    }
    if (c.hidden_act !== undefined && c.hidden_act !== "silu") {
      return yield* new ModelConfigError({ message: `hidden_act "${c.hidden_act}" is not supported; only "silu" (SwiGLU)` })
    }
    if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
      return yield* new ModelConfigError({ message: "rope_scaling is not supported" })
    }
    const rope = c.rope_parameters ?? {}
    const ropeType = rope["rope_type"] ?? "default"
    const ropeExtra = Object.keys(rope).filter((k) => k !== "rope_theta" && k !== "rope_type")
    if (ropeType !== "default" || ropeExtra.length > 0) {
      return yield* new ModelConfigError({
        message: `rope_parameters ${JSON.stringify(rope)}: only the default RoPE (rope_theta) is supported`
      })
    }
    const ropeTheta = rope["rope_theta"] ?? c.rope_theta ?? 10000
    if (typeof ropeTheta !== "number" || !(ropeTheta > 0)) {
      return yield* new ModelConfigError({ message: `rope_theta ${JSON.stringify(ropeTheta)} is not a positive number` })
    }
    if (c.partial_rotary_factor !== undefined && c.partial_rotary_factor !== 1) {
      return yield* new ModelConfigError({ message: `partial_rotary_factor ${c.partial_rotary_factor} is not supported; only 1` })
    }
    const kv = c.num_key_value_heads ?? c.num_attention_heads
    if (c.num_attention_heads % kv !== 0) {
      return yield* new ModelConfigError({ message: `num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${kv}` })
    }
    const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads
    if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
      return yield* new ModelConfigError({ message: `head dimension ${headDim} must be an even integer for RoPE` })
    }
    return {
      hiddenSize: c.hidden_size,
      intermediateSize: c.intermediate_size,
      numHiddenLayers: c.num_hidden_layers,
      numAttentionHeads: c.num_attention_heads,
      numKeyValueHeads: kv,
      headDim,
      ropeTheta,
      rmsNormEps: c.rms_norm_eps ?? 1e-6,
      tieWordEmbeddings: c.tie_word_embeddings ?? false,
      vocabSize: c.vocab_size,
      maxPositionEmbeddings: c.max_position_embeddings ?? 2048,
      initializerRange: c.initializer_range ?? 0.02,
      bosTokenId: firstId(c.bos_token_id),
      eosTokenId: firstId(c.eos_token_id)
    } satisfies LlamaConfig
  })

/** The `config.json` transformers needs to load our checkpoint as `LlamaForCausalLM`. */
export const configToHf = (c: LlamaConfig, torchDtype: "float32" | "bfloat16" = "float32"): Record<string, unknown> => ({
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  attention_bias: false,
  attention_dropout: 0.0,
  mlp_bias: false,
  hidden_act: "silu",
  hidden_size: c.hiddenSize,
  intermediate_size: c.intermediateSize,
  num_hidden_layers: c.numHiddenLayers,
  num_attention_heads: c.numAttentionHeads,
  num_key_value_heads: c.numKeyValueHeads,
  head_dim: c.headDim,
  rope_theta: c.ropeTheta,
  rope_scaling: null,
  rms_norm_eps: c.rmsNormEps,
  tie_word_embeddings: c.tieWordEmbeddings,
  vocab_size: c.vocabSize,
  max_position_embeddings: c.maxPositionEmbeddings,
  initializer_range: c.initializerRange,
  bos_token_id: c.bosTokenId,
  eos_token_id: c.eosTokenId,
  pretraining_tp: 1,
  use_cache: true,
  torch_dtype: torchDtype
})

const smollm2 = (layers: number, hidden: number, heads: number, kvHeads: number, ffn: number, ropeTheta: number, init: number): LlamaConfig => ({
  hiddenSize: hidden,
  intermediateSize: ffn,
  numHiddenLayers: layers,
  numAttentionHeads: heads,
  numKeyValueHeads: kvHeads,
  headDim: hidden / heads,
  ropeTheta,
  rmsNormEps: 1e-5,
  tieWordEmbeddings: true,
  vocabSize: 49152,
  maxPositionEmbeddings: 8192,
  initializerRange: init,
  bosTokenId: 0,
  eosTokenId: 0
})

/**
 * SmolLM2's shapes (huggingface/smollm `text/pretraining/smollm2/config_smollm2_*.yaml` and the released HF
 * `config.json` files). RoPE θ is the
 * released one (100k, 130k for 1.7B); pretraining used 10k, which `--rope-theta` can set.
 */
export const presets = {
  "smollm2-135m": smollm2(30, 576, 9, 3, 1536, 100000, 0.041666666666666664),
  "smollm2-360m": smollm2(32, 960, 15, 5, 2560, 100000, 0.03227),
  "smollm2-1.7b": smollm2(24, 2048, 32, 32, 8192, 130000, 0.02),
  // Tiny shapes for tests and smoke runs: GQA, odd sizes, and both tied and untied heads.
  "tiny": { ...smollm2(2, 64, 4, 2, 176, 10000, 0.02), vocabSize: 512, maxPositionEmbeddings: 256 },
  "tiny-untied": { ...smollm2(2, 48, 6, 2, 100, 10000, 0.02), vocabSize: 301, maxPositionEmbeddings: 128, tieWordEmbeddings: false }
} as const satisfies Record<string, LlamaConfig>

export type PresetName = keyof typeof presets

/** Parameter count of the model `config` describes (tied embeddings counted once). */
export const parameterCount = (c: LlamaConfig): number => {
  const q = c.numAttentionHeads * c.headDim
  const kv = c.numKeyValueHeads * c.headDim
  const perLayer = c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize
  const embeddings = c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2)
  return c.numHiddenLayers * perLayer + embeddings + c.hiddenSize
}

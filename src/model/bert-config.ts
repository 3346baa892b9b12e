import { Effect, Schema } from "effect"

/**
 * A BERT-family encoder as Hugging Face's `config.json` describes it (`BertModel`, `BertForSequenceClassification`):
 * learned absolute positions, post-LayerNorm, exact GELU, a tanh pooler on `[CLS]` and, for a classifier, a linear
 * head. This covers the recipe's encoders: Snowflake arctic-embed-m (FineWeb-Edu) and StarEncoder (Stack-Edu).
 */
export interface BertConfig {
  readonly vocabSize: number
  readonly hiddenSize: number
  readonly numHiddenLayers: number
  readonly numAttentionHeads: number
  readonly intermediateSize: number
  /** Always "gelu" (x·Φ(x) with erf); other activations are refused when the config is read. */
  readonly hiddenAct: "gelu"
  readonly maxPositionEmbeddings: number
  readonly typeVocabSize: number
  readonly layerNormEps: number
  readonly initializerRange: number
  readonly padTokenId: number
  /** Outputs of the classifier head; 1 is a regression head (the recipe's educational score). */
  readonly numLabels: number
  /** Passed through to the saved `config.json`, so the labels transformers shows stay the source's. */
  readonly id2label?: Readonly<Record<string, string>>
  readonly problemType?: "regression" | "single_label_classification" | "multi_label_classification"
}

export class BertConfigError extends Schema.TaggedError<BertConfigError>()("BertConfigError", {
  message: Schema.String
}) {}

const Positive = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
const ProblemType = Schema.Literals(["regression", "single_label_classification", "multi_label_classification"])

/** The JSON as transformers writes it; unknown keys (dropouts, torch_dtype, tokenizer hints) are tolerated. */
const HfBertConfigJson = Schema.Struct({
  model_type: Schema.optional(Schema.String),
  vocab_size: Positive,
  hidden_size: Positive,
  num_hidden_layers: Positive,
  num_attention_heads: Positive,
  intermediate_size: Positive,
  hidden_act: Schema.optional(Schema.String),
  max_position_embeddings: Schema.optional(Positive),
  type_vocab_size: Schema.optional(Positive),
  layer_norm_eps: Schema.optional(Schema.Number),
  initializer_range: Schema.optional(Schema.Number),
  pad_token_id: Schema.optional(Schema.NullOr(Schema.Int)),
  position_embedding_type: Schema.optional(Schema.NullOr(Schema.String)),
  is_decoder: Schema.optional(Schema.Boolean),
  add_cross_attention: Schema.optional(Schema.Boolean),
  num_labels: Schema.optional(Positive),
  id2label: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  problem_type: Schema.optional(Schema.NullOr(ProblemType))
})

/** Reads a parsed `config.json` with `BertConfig`'s defaults (those of transformers), refusing what we cannot run. */
export const bertConfigFromHf = (json: unknown): Effect.Effect<BertConfig, BertConfigError> =>
  Effect.gen(function*() {
    const c = yield* Schema.decodeUnknownEffect(HfBertConfigJson)(json).pipe(
      Effect.mapError((e) => new BertConfigError({ message: `config.json is not a BERT config: ${e.message}` }))
    )
    const refuse = (message: string) => Effect.fail(new BertConfigError({ message }))
    // RoBERTa, DistilBERT, ELECTRA… share the names but not the layout (position offsets, no token types).
    if (c.model_type !== undefined && c.model_type !== "bert") {
      return yield* refuse(`model_type "${c.model_type}" is not supported; only "bert"`)
    }
    const act = c.hidden_act ?? "gelu"
    if (act !== "gelu") {
      return yield* refuse(`hidden_act "${act}" is not supported; only "gelu" (exact, with erf), as BertModel uses by default`)
    }
    const positions = c.position_embedding_type ?? "absolute"
    if (positions !== "absolute") {
      return yield* refuse(`position_embedding_type "${positions}" is not supported; only "absolute"`)
    }
    if (c.is_decoder === true || c.add_cross_attention === true) {
      return yield* refuse("decoder BERTs (is_decoder, add_cross_attention) are not supported; only the bidirectional encoder")
    }
    if (c.hidden_size % c.num_attention_heads !== 0) {
      return yield* refuse(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`)
    }
    // transformers derives num_labels from id2label when present (PretrainedConfig), else defaults to 2.
    const labels = c.id2label === undefined ? (c.num_labels ?? 2) : Object.keys(c.id2label).length
    if (c.id2label !== undefined && c.num_labels !== undefined && c.num_labels !== labels) {
      return yield* refuse(`num_labels ${c.num_labels} disagrees with the ${labels} entries of id2label`)
    }
    return {
      vocabSize: c.vocab_size,
      hiddenSize: c.hidden_size,
      numHiddenLayers: c.num_hidden_layers,
      numAttentionHeads: c.num_attention_heads,
      intermediateSize: c.intermediate_size,
      hiddenAct: "gelu",
      maxPositionEmbeddings: c.max_position_embeddings ?? 512,
      typeVocabSize: c.type_vocab_size ?? 2,
      layerNormEps: c.layer_norm_eps ?? 1e-12,
      initializerRange: c.initializer_range ?? 0.02,
      padTokenId: c.pad_token_id ?? 0,
      numLabels: labels,
      ...(c.id2label === undefined ? {} : { id2label: c.id2label }),
      ...(c.problem_type === undefined || c.problem_type === null ? {} : { problemType: c.problem_type })
    } satisfies BertConfig
  })

/**
 * The `config.json` of a `BertForSequenceClassification` that transformers' `AutoModelForSequenceClassification`
 * loads. A one-label head is written as a regression (`problem_type` "regression", MSE), the recipe's classifier.
 */
export const bertConfigToHf = (c: BertConfig): Record<string, unknown> => {
  const id2label = c.id2label ?? Object.fromEntries(Array.from({ length: c.numLabels }, (_, i) => [String(i), `LABEL_${i}`]))
  return {
    architectures: ["BertForSequenceClassification"],
    model_type: "bert",
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    intermediate_size: c.intermediateSize,
    hidden_act: c.hiddenAct,
    // The recipe trains with dropout 0 (FineWeb-Edu's train_edu_bert.py); inference ignores dropout anyway.
    hidden_dropout_prob: 0.0,
    attention_probs_dropout_prob: 0.0,
    classifier_dropout: 0.0,
    max_position_embeddings: c.maxPositionEmbeddings,
    type_vocab_size: c.typeVocabSize,
    layer_norm_eps: c.layerNormEps,
    initializer_range: c.initializerRange,
    pad_token_id: c.padTokenId,
    position_embedding_type: "absolute",
    id2label,
    label2id: Object.fromEntries(Object.entries(id2label).map(([i, name]) => [name, Number(i)])),
    problem_type: c.problemType ?? (c.numLabels === 1 ? "regression" : "single_label_classification"),
    torch_dtype: "float32",
    use_cache: true
  }
}

const bertBase = (vocab: number, positions: number): BertConfig => ({
  vocabSize: vocab,
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
  hiddenAct: "gelu",
  maxPositionEmbeddings: positions,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  initializerRange: 0.02,
  padTokenId: 0,
  numLabels: 1,
  problemType: "regression"
})

/**
 * Shapes of the recipe's encoders (smollm2-recipe.md §11: arctic-embed-m is BERT-base with a 30,522 WordPiece
 * vocabulary and 512 positions; StarEncoder is BERT-base-shaped with 1024 positions and a 49,152-token BPE
 * vocabulary — its released config may differ in the last few ids) with a one-label regression head, and tiny
 * shapes for tests (odd widths: hidden 40 over 5 heads of 8).
 */
export const bertPresets = {
  "bert-base": bertBase(30522, 512),
  "starencoder": bertBase(49152, 1024),
  "tiny": {
    ...bertBase(97, 64),
    hiddenSize: 40,
    numHiddenLayers: 2,
    numAttentionHeads: 5,
    intermediateSize: 72
  }
} as const satisfies Record<string, BertConfig>

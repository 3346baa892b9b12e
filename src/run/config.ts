/**
 * The full run's config: one Schema for everything `programs/full-run.ts` does — curation of each source, the
 * tokenizer, the model, the training schedule, the curriculum stages with their mixtures and evaluation suites, the
 * policy that revises mixtures between stages, post-training and the report. Modelled on torchtitan's job_config
 * (one typed tree, every field with a default and a help line, the same dotted names in the file, on the command
 * line and in the report) and on Dolma's mixer config (sources named once, mixed many times by weight).
 *
 * Defaults are SmolLM2's where the recipe has one (notes/smollm2-recipe.md; [P] = arXiv 2502.02737, [C1.7] = the
 * 1.7B nanotron config). Checks between fields (a mixture naming an unknown source, stages out of order, a decay
 * that would start before the last stage) are in `config-checks.ts` and run as part of decoding, so a config that
 * decodes is one the pipeline can run.
 */
import { Schema } from "effect"
import { builtinPromptNames } from "../classify/annotate/prompts.ts"
import { stackEduLanguages } from "../classify/annotate/stack-edu.ts"
import { FINEWEB_FILTERS, FilterName } from "../data/fineweb.ts"
import { presets } from "../model/config.ts"
import { runConfigChecks } from "./config-checks.ts"
import {
  Fraction,
  Name,
  NonNegativeInt,
  NonNegativeNumber,
  optional,
  PositiveInt,
  PositiveNumber,
  required,
  Score,
  TokenCount,
  withDefault
} from "./config-field.ts"

const Paths = Schema.Array(Schema.String).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one path" })))
  .annotate({ title: "list of paths" })

// ── sources ────────────────────────────────────────────────────────────────────────────────────────────────────

export const StackEduLanguage = Schema.Literals(Object.keys(stackEduLanguages) as ReadonlyArray<keyof typeof stackEduLanguages>)

export const AnnotationSettings = Schema.Struct({
  prompt: required(
    Schema.Union([Schema.Literals(builtinPromptNames), Schema.Struct({ file: required(Schema.String, "A text file with a {text} placeholder; the score is read from \"Educational score: N\" or \"Final score: N\".") })]),
    "The annotation prompt: a built-in one (fineweb-edu [P] §3.2, stack-edu [P] App. D.1, finemath-3 / finemath-5 [P] App. C) or `{ file: PATH }`."
  ),
  language: optional(StackEduLanguage, "The language of the `stack-edu` prompt (required with it; [P] App. D.1 has one prompt per language)."),
  endpoint: optional(Schema.String, "Base URL of an OpenAI-compatible chat API ending in /v1 (vLLM, TGI, OpenAI). Absent: the `Annotator` layer the program provides (the default world's stand-in for the LLM)."),
  model: optional(Schema.String, "The model the endpoint serves (the recipe: Llama-3-70B-Instruct [P] §3.2, Llama-3.1-70B-Instruct for FineMath)."),
  budget: required(PositiveInt, "Documents to annotate, sampled from the source (FineWeb-Edu: 450,000; Stack-Edu: 500,000 per language; FineMath: 1M)."),
  concurrency: withDefault(PositiveInt, 16, "Requests in flight at once."),
  maxAttempts: optional(PositiveInt, "Attempts per document, the first included, on 429 / 5xx / dropped connection / timeout / malformed reply (absent: 6, as programs/annotate.ts). A document still failing goes to `failed/`; 400, 401, 403 and 404 are never retried."),
  timeoutSeconds: optional(PositiveNumber, "Seconds an attempt may take until the whole reply has arrived (absent: 120).")
})

export const ClassifierTraining = Schema.Struct({
  annotate: required(AnnotationSettings, "How the training labels are made: an LLM scores a sample of the source."),
  kind: withDefault(Schema.Literals(["ngram", "encoder"]), "ngram", "`ngram`: the hashed n-gram regressor (src/classify/ngram, fastText-style, CPU); `encoder`: a BERT-family encoder with a regression head, body frozen ([P] §3.2, notes §4)."),
  base: optional(Schema.String, "`encoder` only: the HF folder of the encoder to put the head on (the recipe: Snowflake/snowflake-arctic-embed-m)."),
  epochs: optional(PositiveInt, "Passes over the labels (absent: the kind's default — ngram 5, encoder 20 as [FWE])."),
  buckets: optional(PositiveInt, "`ngram` only: hash buckets shared by unigrams and bigrams (fastText's `-bucket`; absent: 1,048,576). A few hundred labels need far fewer: the table trains and saves faster (16 floats a bucket)."),
  testFraction: withDefault(Fraction, 0.1, "Labels held out to measure the classifier (F1 in the report); [FWE] holds out 10%, stratified by score.")
})

export const Classifier = Schema.Union([
  Schema.Literal("none"),
  Schema.Struct({ model: required(Schema.String, "A trained classifier folder (an n-gram model, or an HF encoder with a regression head).") })
    .annotate({ title: "use a trained classifier" }),
  Schema.Struct({ train: required(ClassifierTraining, "Annotate a sample with an LLM, then train a classifier on the labels.") })
    .annotate({ title: "train a classifier" })
]).annotate({ title: "classifier" })

export const Threshold = Schema.Struct({
  minScore: withDefault(Score, 3, "Keep documents with int_score ≥ this (FineWeb-Edu and Stack-Edu: 3 [P] §3.2, §3.4)."),
  byLanguage: withDefault(Schema.Record(Schema.String, Score), {}, "Per-language minimum, keyed by the value of `languageKey` (Stack-Edu: `java: 2`, [P] §3.4)."),
  languageKey: withDefault(Schema.String, "metadata.language", "Where a document's language is, as a document field path (as src/classify/threshold-stage.ts reads it); matched case-insensitively."),
  downsample: withDefault(
    Schema.Record(Schema.String, Fraction),
    {},
    "Documents below `minScore` kept anyway, as a fraction per score (keys \"0\"–\"5\"): the 135M/360M runs downsampled DCLM's scores 1 and 2 ([P] §6; the fractions are not published)."
  )
})

export const Source = Schema.Struct({
  paths: required(Paths, "Files, folders or `hf://datasets/<org>/<name>/<path>` inputs (fetched into the Hugging Face cache)."),
  format: optional(Schema.Literals(["jsonl", "parquet", "arrow"]), "The file format (absent: from each file's extension; .jsonl.gz is read too)."),
  glob: optional(Schema.String, "Only files whose path inside a folder matches (`*`, `**`, `?`, `{a,b}`)."),
  textKey: withDefault(Schema.String, "text", "The record field holding the document's text (StarCoderData: `content`)."),
  idKey: withDefault(Schema.String, "id", "The record field holding the document's id."),
  limit: optional(PositiveInt, "Read at most this many documents (a trial run on a slice)."),
  filters: withDefault(
    Schema.Array(FilterName),
    FINEWEB_FILTERS,
    "Heuristic filters in order (datatrove's FineWeb chain: Gopher repetition → Gopher quality → C4 quality → FineWeb quality). `[]` for sources already curated, and for code and math, which these prose filters would drop."
  ),
  dedup: withDefault(Schema.Literals(["none", "minhash", "exact"]), "minhash", "Deduplication after the filters: MinHash near-duplicates (FineWeb's 5-grams, 14 bands × 8 hashes), exact text, or none."),
  classifier: withDefault(Classifier, "none", "Quality classifier that scores each kept document (0–5): `none`, `{ model: DIR }`, or `{ train: … }`."),
  threshold: optional(Threshold, "Keep documents by score. With a classifier, its score; with `classifier: none`, the `int_score` the documents already carry (FineWeb-Edu's columns). Absent: no threshold.")
})

// ── tokenizer and model ────────────────────────────────────────────────────────────────────────────────────────

export const TokenizerTraining = Schema.Struct({
  vocabSize: withDefault(PositiveInt, 49152, "Vocabulary size, special tokens and the 256 byte tokens included (SmolLM2: 49,152, notes §1)."),
  specialTokens: withDefault(
    Schema.Array(Schema.String),
    ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    "Special tokens, ids 0, 1, … in order (SmolLM2: `<|endoftext|>`=0, `<|im_start|>`=1, `<|im_end|>`=2, then code tokens)."
  ),
  minFrequency: withDefault(PositiveInt, 2, "Pairs seen fewer times are never merged (HF `min_frequency`)."),
  documents: optional(PositiveInt, "Documents to count words on, drawn by `mixture` (absent: every curated document)."),
  mixture: optional(
    Schema.Record(Name, PositiveNumber),
    "Weights over source names for the training text (SmolLM2's: 70% FineWeb-Edu, 15% Cosmopedia-v2, 8% OpenWebMath, 5% StarCoderData, 2% StackOverflow, [P] §4.1). Absent: sources in proportion to their size."
  )
})

export const TokenizerConfig = Schema.Union([
  Schema.Struct({ file: required(Schema.String, "A Hugging Face `tokenizer.json` (byte-level BPE).") }).annotate({ title: "use a tokenizer file" }),
  Schema.Struct({ train: required(TokenizerTraining, "Train a byte-level BPE with SmolLM2's pre-tokenizer on the curated sources.") }).annotate({ title: "train a tokenizer" })
]).annotate({ title: "tokenizer" })

export const PresetName = Schema.Literals(Object.keys(presets) as ReadonlyArray<keyof typeof presets>)

export const ModelOverrides = Schema.Struct({
  hiddenSize: optional(PositiveInt, "Width of the residual stream."),
  intermediateSize: optional(PositiveInt, "Width of the SwiGLU MLP."),
  numHiddenLayers: optional(PositiveInt, "Decoder layers."),
  numAttentionHeads: optional(PositiveInt, "Query heads."),
  numKeyValueHeads: optional(PositiveInt, "Key/value heads (grouped-query attention when fewer than the query heads)."),
  ropeTheta: optional(PositiveNumber, "RoPE base. Pretraining used 10,000 for every size; the released configs say 100k / 130k after the long-context extension (notes §1)."),
  rmsNormEps: optional(PositiveNumber, "RMSNorm epsilon."),
  tieWordEmbeddings: optional(Schema.Boolean, "Share the input embedding with the output head."),
  vocabSize: optional(PositiveInt, "Embedding rows (absent: the preset's, or the trained tokenizer's vocabulary size)."),
  maxPositionEmbeddings: optional(PositiveInt, "The longest sequence the model is configured for."),
  initializerRange: optional(PositiveNumber, "Standard deviation of the initial weights.")
})

export const ModelConfig = Schema.Struct({
  preset: optional(PresetName, "A built-in shape: SmolLM2's three sizes (notes §1) or the tiny test shapes. Give `preset` or `init`."),
  init: optional(Schema.String, "Start from a Hugging Face model folder (config.json + model.safetensors) instead of random weights."),
  overrides: withDefault(ModelOverrides, {}, "Changes to the preset's shape (with `init`, only `ropeTheta` and `maxPositionEmbeddings`).")
})

// ── training ───────────────────────────────────────────────────────────────────────────────────────────────────

export const TrainingConfig = Schema.Struct({
  seqLen: withDefault(PositiveInt, 2048, "Tokens per training sequence (SmolLM2: 2048, notes §2)."),
  batchSize: withDefault(PositiveInt, 4, "Sequences per micro-batch ([C1.7]: 4 per GPU)."),
  gradAccum: withDefault(PositiveInt, 1, "Micro-batches per optimizer step. One device replaces data parallelism by accumulation: [C1.7]'s 256 GPUs × 4 is batchSize 4 × gradAccum 256 = 2,097,152 tokens per step."),
  schedule: withDefault(Schema.Literals(["wsd", "cosine"]), "wsd", "Learning-rate schedule over the whole run: WSD (warmup, stable, linear decay to 0; [P] §4.1) or cosine."),
  lr: withDefault(PositiveNumber, 5e-4, "Peak learning rate (1.7B: 5e-4; 135M and 360M: 3e-3; notes §2)."),
  warmup: withDefault(NonNegativeInt, 2000, "Linear warmup steps from 0, in the first stage (SmolLM2: 2000)."),
  decayFraction: withDefault(Fraction, 0.1, "WSD: the fraction of the run's steps spent decaying linearly to 0 (1.7B: 10%, 135M/360M: 20%). The decay must fall inside the last stage: stages before it train at the stable peak, as the paper's."),
  minLrRatio: withDefault(Fraction, 0, "Cosine: the floor reached at the end, as a fraction of `lr`."),
  weightDecay: withDefault(NonNegativeNumber, 0.01, "AdamW weight decay (SmolLM2: 0.01)."),
  clip: withDefault(NonNegativeNumber, 1, "Global gradient-norm clipping threshold; 0 disables it (SmolLM2: 1.0)."),
  beta1: withDefault(Fraction, 0.9, "AdamW β1."),
  beta2: withDefault(Fraction, 0.95, "AdamW β2 (SmolLM2: 0.95)."),
  eps: withDefault(PositiveNumber, 1e-8, "AdamW ε."),
  saveEvery: withDefault(NonNegativeInt, 2000, "Checkpoint every N steps, besides each stage's end (SmolLM2: 2000; 0: only at stage ends)."),
  saveDtype: withDefault(Schema.Literals(["float32", "bfloat16"]), "float32", "The dtype of checkpoint weights (optimizer moments stay float32).")
})

// ── stages and evaluation ──────────────────────────────────────────────────────────────────────────────────────

export const StageEvaluation = Schema.Struct({
  tasks: withDefault(Schema.Array(Schema.String), [], "Tasks run after the stage: names `programs/eval.ts --tasks` accepts (hellaswag, arc, piqa, mmlu, gsm8k, humaneval, …)."),
  limit: optional(PositiveInt, "Examples per task at most (the SmolLM3 playbook's ablations: the first 1,000). Absent: all."),
  limits: withDefault(Schema.Record(Schema.String, PositiveInt), {}, "Per-task limits, overriding `limit` (generation tasks cost more per example)."),
  numFewshot: optional(NonNegativeInt, "Overrides every task's few-shot count (absent: each task's own, e.g. gsm8k 5-shot).")
})

export const Stage = Schema.Struct({
  name: required(Name, "The stage's name, used in the report, checkpoints and the policy's log."),
  untilTokens: required(TokenCount, "Where the stage ends, in tokens from the start of the run (cumulative, so increasing: the paper's 0–6T, 6–8T, … are 6T, 8T, …)."),
  mixture: required(Schema.Record(Name, PositiveNumber.annotate({ expected: "a positive weight (leave a source out to give it none)" })), "Weights over source names, as token shares (normalized; percentages read well)."),
  eval: withDefault(StageEvaluation, {}, "The evaluation run on the checkpoint at the end of the stage.")
})

export const EvaluationConfig = Schema.Struct({
  dataDir: withDefault(Schema.String, "data/eval", "Benchmark files, laid out as programs/eval.ts expects (see README \"Evaluation\")."),
  batchSize: withDefault(PositiveInt, 8, "Sequences scored per forward pass.")
})

// ── mixture policy ─────────────────────────────────────────────────────────────────────────────────────────────

export const PolicyDomain = Schema.Struct({
  name: required(Name, "The domain's name in the report (e.g. math, code)."),
  sources: required(Schema.Array(Name).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one source" }))), "The sources whose weight rises when the domain lags (split in proportion to their weights in the next stage, evenly when none has one yet)."),
  tasks: required(Schema.Array(Schema.String).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one task" }))), "The tasks that measure the domain; its score is their mean main metric."),
  target: optional(Fraction, "A score below which the domain lags whatever its gain (e.g. GSM8K far below the paper's)."),
  minWeight: withDefault(Fraction, 0, "The smallest share of the mixture the domain's sources may have after a raise."),
  maxWeight: withDefault(Fraction, 0.5, "The largest share of the mixture the domain's sources may reach.")
})

export const FixedPolicy = Schema.Struct({ kind: required(Schema.Literal("fixed"), "Every stage uses the mixture the config gives it.") })
  .annotate({ title: "fixed" })

export const RulePolicy = Schema.Struct({
  kind: required(Schema.Literal("rule"), "Raise a domain's weight when its tasks lag ([P] §4.3: poor math and code after stage 1 → more math and code in stage 2)."),
  domains: required(Schema.Array(PolicyDomain).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one domain" }))), "Which tasks map to which sources."),
  minGain: withDefault(NonNegativeNumber, 0.01, "A domain lags when its score rose by less than this since the previous evaluation (absolute, on a 0–1 scale), or is below its `target`. The first evaluation has no previous one: only `target` applies."),
  step: withDefault(Fraction, 0.05, "The share of the mixture added to a lagging domain, within its bounds; the other sources shrink in proportion (the paper's stage 2 added OWM at 5%).")
}).annotate({ title: "rule" })

export const ManualPolicy = Schema.Struct({
  kind: required(Schema.Literal("manual"), "After each stage but the last, write the next stage's mixture to `OUT/stages/<next>/mixture.json` with the evaluation beside it, and wait for a person to edit it."),
  wait: withDefault(Schema.Literals(["exit", "watch"]), "exit", "`exit`: stop; `--resume` continues with the edited file. `watch`: keep running, and continue once the file is saved with a mixture that reads.")
}).annotate({ title: "manual" })

export const Policy = Schema.Union([FixedPolicy, RulePolicy, ManualPolicy]).annotate({ title: "policy" })

// ── post-training and report ───────────────────────────────────────────────────────────────────────────────────

// Field names and defaults are those of `programs/sft.ts train` and `programs/dpo.ts` (one library behind both:
// src/train/sft-run.ts, dpo-run.ts); the run's `seed` seeds the epochs' shuffles.

export const SftConfig = Schema.Struct({
  data: required(Paths, "Conversations (SmolTalk `messages`, ShareGPT or Alpaca; JSONL, JSON or Parquet): files, folders or `hf://` paths, read in order as one set."),
  format: withDefault(Schema.Literals(["auto", "messages", "sharegpt", "alpaca"]), "auto", "Record layout; `auto` decides from each file's first record."),
  limit: optional(PositiveInt, "Read at most this many conversations, from the start (a trial run on a slice)."),
  template: optional(Schema.String, "A tokenizer_config.json with a chat_template, or a .jinja file (absent: SmolLM2-Instruct's ChatML template)."),
  packing: withDefault(Schema.Literals(["concat", "bfd"]), "concat", "`concat`: the paper's (EOS between conversations, exact rows, attention across them); `bfd`: best-fit decreasing, attention within each conversation."),
  loss: optional(Schema.Literals(["assistant", "all"]), "Targets of the loss: assistant tokens or every token (absent: all with concat, as the paper; assistant with bfd)."),
  seqLen: optional(PositiveInt, "Tokens each position sees (absent: min(8192, the model's maxPositionEmbeddings); notes §7.2: 8192)."),
  batchSize: withDefault(PositiveInt, 4, "Rows per micro-batch (SmolLM2: 4 per device)."),
  gradAccum: optional(PositiveInt, "Micro-batches per optimizer step (absent: a global batch of 128 rows, SmolLM2's)."),
  epochs: withDefault(PositiveInt, 2, "Passes over the rows (notes §7.2: 2)."),
  lr: optional(PositiveNumber, "Peak learning rate (absent: SmolLM2's, 1e-3 below 1B parameters, 3e-4 for 1.7B)."),
  warmupRatio: withDefault(Fraction, 0.1, "Warmup steps as a fraction of the run (rounded up), then cosine to 0."),
  weightDecay: withDefault(NonNegativeNumber, 0, "AdamW weight decay (transformers' default)."),
  clip: withDefault(NonNegativeNumber, 1, "Global gradient-norm clipping (0: off)."),
  decontaminate: withDefault(Schema.Array(Schema.String), [], "Evaluation files (.jsonl/.json: every string; else the whole text): conversations sharing a 10-gram with them are dropped."),
  saveEvery: withDefault(NonNegativeInt, 0, "Checkpoint every N steps, besides the last (a resumed run continues from the newest)."),
  eval: withDefault(Schema.Boolean, true, "Evaluate the SFT model on the last stage's tasks through its chat template.")
})

export const DpoConfig = Schema.Struct({
  data: required(Paths, "Preference pairs `{prompt, chosen, rejected}` (UltraFeedback-binarized layout; JSONL, JSON or Parquet): files, folders or `hf://` paths."),
  template: optional(Schema.String, "A tokenizer_config.json with a chat_template, or a .jinja file (absent: SmolLM2-Instruct's ChatML template)."),
  beta: withDefault(PositiveNumber, 0.5, "β of the sigmoid loss (notes §7.3: 0.5)."),
  lr: withDefault(PositiveNumber, 1e-6, "Peak learning rate (notes §7.3: 1e-6); cosine after the warmup."),
  warmupRatio: withDefault(Fraction, 0.1, "Warmup steps as a fraction of the run (rounded up)."),
  epochs: withDefault(PositiveInt, 2, "Passes over the pairs ([P]: 2; the handbook config: 3)."),
  batchSize: withDefault(PositiveInt, 2, "Pairs per micro-batch (2 rows each; the handbook: 2 per device)."),
  gradAccum: optional(PositiveInt, "Micro-batches per optimizer step (absent: a global batch of 128 pairs)."),
  maxLength: withDefault(PositiveInt, 1024, "Prompt + completion tokens at most."),
  maxPromptLength: withDefault(PositiveInt, 512, "Prompt tokens kept (its end) when a pair is too long."),
  weightDecay: withDefault(NonNegativeNumber, 0, "AdamW weight decay (transformers' default)."),
  clip: withDefault(NonNegativeNumber, 1, "Global gradient-norm clipping (0: off)."),
  saveEvery: withDefault(NonNegativeInt, 0, "Checkpoint every N steps, besides the last."),
  eval: withDefault(Schema.Boolean, true, "Evaluate the DPO model on the last stage's tasks through its chat template.")
})

export const PostTrainingConfig = Schema.Struct({
  sft: optional(SftConfig, "Supervised fine-tuning of OUT/final into a chat model (notes §7.2): OUT/post/sft, then OUT/final-instruct."),
  dpo: optional(DpoConfig, "Preference tuning of the SFT model (notes §7.3; needs `sft`): OUT/post/dpo, then OUT/final-instruct.")
})

export const ReportConfig = Schema.Struct({
  title: optional(Schema.String, "The report's heading (absent: the config file's name)."),
  html: withDefault(Schema.Boolean, true, "Write OUT/report.html besides OUT/report.json."),
  progress: withDefault(Schema.Literals(["auto", "bar", "lines", "none"]), "auto", "`auto`: a bar with rate and ETA on a terminal, periodic lines otherwise."),
  logEvery: withDefault(PositiveInt, 10, "Training steps between loss lines (and loss-curve points).")
})

/** An sbatch option as `#SBATCH --KEY=VALUE` writes it, without the dashes. */
const SBATCH_OPTION = /^[A-Za-z][A-Za-z0-9-]*$/
// Checked on the record: a record drops the keys its key schema refuses, rather than failing on them.
const SbatchArgs = Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Finite, Schema.Literal(true)])).pipe(
  Schema.check(Schema.makeFilter((args) =>
    Object.keys(args).filter((k) => !SBATCH_OPTION.test(k)).map((k) => ({ path: [k], issue: "an sbatch option without its dashes, e.g. constraint" }))
  ))
)

/** The sbatch settings of curation's job arrays: what `--executor slurm` takes on the stage programs' command lines. */
export const CurationSlurm = Schema.Struct({
  partition: optional(Schema.String, "Partition to submit to (absent: the cluster's default)."),
  time: optional(Schema.String, "Time limit of each task, e.g. `4:00:00` (absent: the partition's)."),
  cpusPerTask: withDefault(PositiveInt, 1, "CPUs of each task."),
  memPerCpu: optional(Schema.String, "Memory per CPU, e.g. `4G` (absent: the cluster's default)."),
  qos: optional(Schema.String, "Quality of service (absent: the cluster's default)."),
  account: optional(Schema.String, "Account charged (absent: yours)."),
  sbatchArgs: withDefault(
    SbatchArgs,
    {},
    "Any other sbatch options: `{ constraint: cpu, exclusive: true }` adds `#SBATCH --constraint=cpu` and `#SBATCH --exclusive`."
  ),
  envCommand: optional(Schema.String, "Shell command run before each task on its node, e.g. `module load nodejs/22` (absent: none; tasks get the submitting shell's environment).")
})

const slurmOnlyWithSlurm = Schema.makeFilter<{ readonly executor: "local" | "slurm"; readonly slurm?: unknown }>(
  (c) => c.executor !== "slurm" && c.slurm !== undefined ? { path: ["slurm"], issue: "only with `executor: slurm` (a local run would ignore it)" } : undefined,
  { expected: "Slurm settings only for a Slurm run" }
)

export const CurationConfig = Schema.Struct({
  executor: withDefault(
    Schema.Literals(["local", "slurm"]),
    "local",
    "Where the filter, dedup, classify and threshold tasks run: `local`, on this machine (`workers` processes at a time; with one worker, one task after another in the run's own process, as a worker process's start-up of about 2 s outweighs a small run's tasks), or `slurm`, a Slurm job array per stage, each after the one before (`afterok`), the run waiting for them. Completion markers let a resumed run skip finished tasks. The annotation sample and the classifier's training run in the run's process either way."
  ),
  tasks: withDefault(PositiveInt, 1, "Tasks each source's files are split into (`files[rank::tasks]`)."),
  workers: optional(PositiveInt, "Tasks running at once: local worker processes (absent or 1: the tasks run one after another in the run's process), or the job array's concurrency limit under Slurm (absent: no limit)."),
  slurm: optional(CurationSlurm, "sbatch settings of the job arrays, with `executor: slurm` (absent: the cluster's defaults).")
}).pipe(Schema.check(slurmOnlyWithSlurm))

// ── the classifier ablation ────────────────────────────────────────────────────────────────────────────────────

export const AblationConfig = Schema.Struct({
  source: required(Name, "The source whose quality classifier is put to the test: one model trains on its curated documents (after the classifier's threshold), an identical one on the same source without the classifier (after the filters and dedup only)."),
  tokens: required(TokenCount, "Tokens each of the two models trains on: equal, as FineWeb-Edu's ablations compare datasets at equal tokens ([P] §3.2)."),
  tasks: required(Schema.Array(Schema.String).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one task" }))), "Tasks both models are evaluated on (knowledge tasks show a classifier's effect: FineWeb-Edu measured MMLU and ARC)."),
  limits: withDefault(Schema.Record(Schema.String, PositiveInt), {}, "Examples per task at most (absent: all)."),
  heldOut: optional(Paths, "Documents both models are scored on, in bits per byte (lower is better): text of the kind the classifier is meant to keep, held out from training (the default world: its held-out educational pages). Each is cut to `training.seqLen` tokens.")
})

// ── the run ────────────────────────────────────────────────────────────────────────────────────────────────────

export const RunConfigFields = Schema.Struct({
  seed: withDefault(NonNegativeInt, 42, "Seeds every random choice of the run (sampling, initialization, data order); SmolLM2's general seed is 42 ([C1.7])."),
  out: withDefault(Schema.String, "runs/full-run", "The run folder: curated data, shards, checkpoints, OUT/final (an HF model), report.json and report.html."),
  sources: required(Schema.Record(Name, Source), "The named sources of documents and how each is curated. Stages mix them by these names."),
  curation: withDefault(CurationConfig, {}, "How curation runs (executor, tasks, workers, Slurm settings)."),
  tokenizer: withDefault(TokenizerConfig, { train: {} }, "The tokenizer: `{ file: PATH }`, or `{ train: … }` to train one on the curated sources."),
  model: withDefault(ModelConfig, { preset: "smollm2-135m" }, "The model: a preset shape or an `init` checkpoint, plus overrides."),
  training: withDefault(TrainingConfig, {}, "Batch, optimizer and the learning-rate schedule, one schedule across all stages."),
  stages: required(Schema.Array(Stage).pipe(Schema.check(Schema.isMinLength(1, { expected: "at least one stage" }))), "The curriculum, in order: each stage trains on its mixture until its token count, then is evaluated."),
  evaluation: withDefault(EvaluationConfig, {}, "Settings shared by every stage's evaluation."),
  policy: withDefault(Policy, { kind: "fixed" }, "How the next stage's mixture is chosen after an evaluation: `fixed`, `rule` or `manual`."),
  ablation: optional(AblationConfig, "A small ablation inside the run: the same model trained at equal tokens on a source with and without its quality classifier, evaluated side by side. Absent: none."),
  postTraining: optional(PostTrainingConfig, "SFT and DPO after pretraining. Absent: none."),
  report: withDefault(ReportConfig, {}, "What the run writes for people to read.")
})

/** The run config, decoded and checked across fields. */
export const RunConfig = RunConfigFields.pipe(Schema.check(runConfigChecks)).annotate({ title: "run config" })

export type RunConfig = typeof RunConfig.Type
export type RunConfigInput = typeof RunConfig.Encoded
export type SourceConfig = typeof Source.Type
export type StageConfig = typeof Stage.Type
export type PolicyConfig = typeof Policy.Type
export type AblationConfig = typeof AblationConfig.Type

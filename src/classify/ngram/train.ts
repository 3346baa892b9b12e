import { Schema } from "effect"
import { defaultRng } from "../../data/random/numpy-rng.ts"
import { hashNgrams } from "./features.ts"
import { type NgramConfig, type NgramMode, NgramClassifier, outputsOf, SCORE_CLASSES, softmaxInPlace } from "./NgramClassifier.ts"

/** The training data or options cannot produce a model (no examples, a softmax label outside 0–5, a bad size). */
export class NgramTrainError extends Schema.TaggedError<NgramTrainError>()("NgramTrainError", {
  message: Schema.String
}) {}

/** One annotated document: its text and its 0–5 score (an integer class in softmax mode). */
export interface LabeledText {
  readonly text: string
  readonly label: number
}

export interface NgramTrainOptions {
  readonly mode: NgramMode
  /** Default 2^20 (fastText: 2M); 2^20 × 16 f32 is a 64 MB embedding. */
  readonly buckets?: number
  /** Default 16. */
  readonly dim?: number
  /** Default 2 (unigrams and bigrams). */
  readonly wordNgrams?: 1 | 2
  /** Passes over the data (fastText's default: 5). */
  readonly epochs?: number
  /** Initial SGD step, decayed linearly to 0 over all steps (fastText's `-lr`, default 0.1). */
  readonly learningRate?: number
  /** Seeds the initialization and the per-epoch shuffles; the same seed and data give the same weights. */
  readonly seed?: number
  /** Called after each epoch with the epoch's mean training loss (MSE, or cross-entropy in nats). */
  readonly onEpoch?: (progress: { readonly epoch: number; readonly loss: number }) => void
}

export const NGRAM_DEFAULTS = {
  buckets: 1 << 20,
  dim: 16,
  wordNgrams: 2 as 1 | 2,
  epochs: 5,
  learningRate: 0.1,
  seed: 0
}

const check = (ok: boolean, message: string): void => {
  if (!ok) throw new NgramTrainError({ message })
}

/**
 * Trains an n-gram classifier by plain SGD, one example at a time, as fastText's supervised mode does
 * (`FastText::supervised`, single thread here so that a seed fixes the result):
 * - initialization: embedding ~ U(−1/dim, 1/dim) drawn as numpy's `default_rng(seed).uniform` would, output weights
 *   zero (both as fastText); fastText has no output bias, we add one, initialized at the label mean (regression) or
 *   the log class frequencies (softmax), so the model starts at the majority baseline rather than at 0;
 * - each epoch visits the examples in the order `default_rng(seed).permutation(n)` draws (one generator for the run);
 * - step t of T = epochs·n uses lr·(1 − t/T);
 * - the hidden vector is the mean of the feature rows; the gradient reaching each row is the hidden gradient divided
 *   by the feature count (fastText: `grad.mul(1.0 / input.size())`), computed before the output layer is updated.
 * Throws `NgramTrainError` on unusable data or options, or when the loss stops being finite (divergence).
 */
export const trainNgramClassifier = (examples: ReadonlyArray<LabeledText>, options: NgramTrainOptions): NgramClassifier => {
  const config: NgramConfig = {
    mode: options.mode,
    buckets: options.buckets ?? NGRAM_DEFAULTS.buckets,
    dim: options.dim ?? NGRAM_DEFAULTS.dim,
    wordNgrams: options.wordNgrams ?? NGRAM_DEFAULTS.wordNgrams
  }
  const epochs = options.epochs ?? NGRAM_DEFAULTS.epochs
  const lr0 = options.learningRate ?? NGRAM_DEFAULTS.learningRate
  const seed = options.seed ?? NGRAM_DEFAULTS.seed
  const { buckets, dim, mode } = config
  check(examples.length > 0, "no training examples")
  check(Number.isInteger(buckets) && buckets >= 1 && buckets <= 2 ** 31 - 1, `buckets must be an integer in [1, 2^31): ${buckets}`)
  check(Number.isInteger(dim) && dim >= 1 && buckets * dim <= 2 ** 31, `dim must be a positive integer with buckets·dim ≤ 2^31: ${dim}`)
  check(config.wordNgrams === 1 || config.wordNgrams === 2, `wordNgrams must be 1 or 2: ${config.wordNgrams}`)
  check(Number.isInteger(epochs) && epochs >= 1, `epochs must be a positive integer: ${epochs}`)
  check(Number.isFinite(lr0) && lr0 > 0, `learningRate must be positive: ${lr0}`)
  examples.forEach((e, i) => {
    if (mode === "softmax") {
      check(Number.isInteger(e.label) && e.label >= 0 && e.label < SCORE_CLASSES, `example ${i}: softmax label must be an integer 0–5, got ${e.label}`)
    } else check(Number.isFinite(e.label), `example ${i}: label must be a finite number, got ${e.label}`)
  })

  const outs = outputsOf(mode)
  const rng = defaultRng(seed)
  const embedding = new Float32Array(buckets * dim)
  const bound = 1 / dim
  for (let i = 0; i < embedding.length; i++) embedding[i] = rng.uniform(-bound, bound)
  const outputWeight = new Float32Array(outs * dim)
  const outputBias = new Float32Array(outs)
  if (mode === "regression") {
    outputBias[0] = examples.reduce((s, e) => s + e.label, 0) / examples.length
  } else {
    const counts = new Float64Array(outs)
    for (const e of examples) counts[e.label]!++
    // Add-one smoothing keeps an absent class at a finite logit.
    for (let k = 0; k < outs; k++) outputBias[k] = Math.log((counts[k]! + 1) / (examples.length + outs))
  }

  const hidden = new Float64Array(dim)
  const gradHidden = new Float64Array(dim)
  const out = new Float64Array(outs)
  const delta = new Float64Array(outs)
  let scratch: Int32Array = new Int32Array(4096)
  const totalSteps = epochs * examples.length
  let step = 0
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.permutation(examples.length)
    let lossSum = 0
    for (let o = 0; o < order.length; o++) {
      const example = examples[order[o]!]!
      const lr = lr0 * (1 - step / totalSteps)
      step++
      const hashed = hashNgrams(example.text, buckets, config.wordNgrams, scratch)
      scratch = hashed.ids
      const ids = hashed.ids
      const count = hashed.count
      hidden.fill(0)
      for (let i = 0; i < count; i++) {
        const row = ids[i]! * dim
        for (let j = 0; j < dim; j++) hidden[j] += embedding[row + j]!
      }
      if (count > 0) for (let j = 0; j < dim; j++) hidden[j] = hidden[j]! / count
      for (let k = 0; k < outs; k++) {
        let s = outputBias[k]!
        const w = k * dim
        for (let j = 0; j < dim; j++) s += outputWeight[w + j]! * hidden[j]!
        out[k] = s
      }
      if (mode === "regression") {
        // Loss ½(y − ŷ)², whose gradient is ŷ − y; the reported loss is the plain squared error (MSE).
        delta[0] = out[0]! - example.label
        lossSum += delta[0]! * delta[0]!
      } else {
        softmaxInPlace(out)
        lossSum += -Math.log(Math.max(out[example.label]!, 1e-300))
        for (let k = 0; k < outs; k++) delta[k] = out[k]! - (k === example.label ? 1 : 0)
      }
      gradHidden.fill(0)
      for (let k = 0; k < outs; k++) {
        const d = delta[k]!
        const w = k * dim
        for (let j = 0; j < dim; j++) {
          gradHidden[j] += d * outputWeight[w + j]!
          outputWeight[w + j] = outputWeight[w + j]! - lr * d * hidden[j]!
        }
        outputBias[k] = outputBias[k]! - lr * d
      }
      if (count === 0) continue
      const scale = lr / count
      for (let j = 0; j < dim; j++) gradHidden[j] = gradHidden[j]! * scale
      for (let i = 0; i < count; i++) {
        const row = ids[i]! * dim
        for (let j = 0; j < dim; j++) embedding[row + j] = embedding[row + j]! - gradHidden[j]!
      }
    }
    const loss = lossSum / examples.length
    // Plain SGD on a regression head diverges when the step is too large for the data (seen at lr 2 on 120 real
    // FineWeb-Edu pages); a model of NaNs would score every document 0, so stop and say so.
    check(Number.isFinite(loss), `training diverged in epoch ${epoch + 1} (mean loss ${loss}); lower learningRate (now ${lr0})`)
    options.onEpoch?.({ epoch: epoch + 1, loss })
  }
  return new NgramClassifier(config, { embedding, outputWeight, outputBias })
}

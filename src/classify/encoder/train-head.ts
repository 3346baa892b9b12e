/**
 * Training the pooler and the regression head on cached `[CLS]` states, as FineWeb-Edu's `train_edu_bert.py` runs
 * transformers' Trainer (recipe notes §4, §11): MSE, AdamW (β 0.9 / 0.999, ε 1e-8, weight decay 0), learning rate
 * 3e-4 decayed linearly to 0 over all steps with no warmup, gradient norm clipped at 1.0, 20 epochs of batches of
 * 256, and the best checkpoint by validation macro F1 (`round(score).clip(0, 5)` against the label).
 *
 * Differences, on purpose: the validation set is scored after every epoch (and once before training, as the script
 * does) rather than every 1000 steps — our runs are smaller; the shuffle is numpy's `default_rng(seed)` permutation
 * rather than torch's sampler, so the same seed does not visit documents in the Trainer's order.
 */
import { adamwCpu } from "../../gpu/kernels/adamw.cpu.ts"
import { defaultRng } from "../../data/random/numpy-rng.ts"
import { evaluateScores } from "../metrics.ts"
import { copyHead, gradientTensors, headForward, headLossAndGradients, headTensors, type HeadWeights } from "./head.ts"

/** The script's settings (transformers' defaults where it sets none). */
export const ENCODER_HEAD_DEFAULTS = {
  epochs: 20,
  batchSize: 256,
  learningRate: 3e-4,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1.0
} as const

export interface HeadTrainingOptions {
  readonly epochs?: number
  readonly batchSize?: number
  readonly learningRate?: number
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  readonly weightDecay?: number
  /** 0 disables clipping. */
  readonly maxGradNorm?: number
  /** Seeds the shuffle. */
  readonly seed: number
  readonly onEpoch?: (p: EpochRecord) => void
}

/** [CLS] states [count, hidden] and their labels. */
export interface CachedExamples {
  readonly states: Float32Array
  readonly labels: ArrayLike<number>
}

export interface EpochRecord {
  /** 0 is the evaluation before training. */
  readonly epoch: number
  /** Mean training loss over the epoch's batches (NaN for epoch 0). */
  readonly loss: number
  readonly validationMse: number
  readonly validationMacroF1: number
}

export interface HeadTrainingResult {
  /** The weights of the best epoch. */
  readonly head: HeadWeights
  readonly bestEpoch: number
  readonly history: ReadonlyArray<EpochRecord>
  /** The best epoch's validation scores, in validation order. */
  readonly validationScores: Float64Array
}

const indices = (n: number) => Uint32Array.from({ length: n }, (_, i) => i)

/** Trains `init` in place of a copy; `init` itself is not changed. */
export const trainHead = (
  train: CachedExamples,
  validation: CachedExamples,
  hidden: number,
  init: HeadWeights,
  options: HeadTrainingOptions
): HeadTrainingResult => {
  const o = { ...ENCODER_HEAD_DEFAULTS, ...options }
  const n = train.labels.length
  if (n === 0) throw new RangeError("no training examples")
  if (train.states.length !== n * hidden) throw new RangeError(`${train.states.length} state values for ${n} examples of width ${hidden}`)
  const head = copyHead(init)
  const tensors = headTensors(head)
  const moments = tensors.map(([, t]) => ({ m: new Float32Array(t.length), v: new Float32Array(t.length) }))
  const stepsPerEpoch = Math.ceil(n / o.batchSize)
  const totalSteps = o.epochs * stepsPerEpoch
  const settings = { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay }
  const rng = defaultRng(o.seed)
  const validationRows = indices(validation.labels.length)

  const evaluate = () => {
    const scores = headForward(head, validation.states, hidden, validationRows)
    if (scores.length === 0) return { scores, mse: NaN, macroF1: NaN }
    const m = evaluateScores(validation.labels, scores)
    return { scores, mse: m.mse, macroF1: m.macroF1 }
  }
  const history: Array<EpochRecord> = []
  const record = (epoch: number, loss: number) => {
    const e = evaluate()
    const r = { epoch, loss, validationMse: e.mse, validationMacroF1: e.macroF1 }
    history.push(r)
    o.onEpoch?.(r)
    return e
  }
  // Scored before training, as the script does, but not a candidate: the Trainer saves no checkpoint of step 0.
  record(0, NaN)
  let best: { epoch: number; macroF1: number; head: HeadWeights; scores: Float64Array } | undefined

  let step = 0
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const order = rng.permutation(n)
    let lossSum = 0
    for (let s = 0; s < stepsPerEpoch; s++) {
      const rows = order.subarray(s * o.batchSize, Math.min(n, (s + 1) * o.batchSize))
      const targets = Float64Array.from(rows, (r) => train.labels[r]!)
      const g = headLossAndGradients(head, train.states, hidden, rows, targets)
      lossSum += g.loss
      const grads = gradientTensors(g)
      let squares = 0
      for (const t of grads) for (let i = 0; i < t.length; i++) squares += t[i]! * t[i]!
      const norm = Math.sqrt(squares)
      // torch's clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is below 1.
      const clip = o.maxGradNorm > 0 ? Math.min(1, o.maxGradNorm / (norm + 1e-6)) : 1
      // transformers' get_linear_schedule_with_warmup without warmup: the k-th update (from 0) uses lr·(T − k)/T.
      const lr = (o.learningRate * (totalSteps - step)) / totalSteps
      step++
      tensors.forEach(([, p], k) => {
        const { m, v } = moments[k]!
        const next = adamwCpu(settings, p, Float32Array.from(grads[k]!), m, v, lr, step, clip)
        p.set(next.p)
        m.set(next.m)
        v.set(next.v)
      })
    }
    const e = record(epoch, lossSum / stepsPerEpoch)
    // Ties keep the earlier epoch, as the Trainer keeps its first best checkpoint; NaN (no validation) keeps the last.
    if (best === undefined || e.macroF1 > best.macroF1 || Number.isNaN(e.macroF1)) best = { epoch, macroF1: e.macroF1, head: copyHead(head), scores: e.scores }
  }
  if (best === undefined) throw new RangeError("epochs must be at least 1")
  return { head: best.head, bestEpoch: best.epoch, history, validationScores: best.scores }
}

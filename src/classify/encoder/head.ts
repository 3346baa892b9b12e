/**
 * The part of FineWeb-Edu's classifier that trains (recipe notes §11): BERT's pooler on the frozen encoder's
 * `[CLS]` state, then the regression head, with an MSE loss. Forward and backward side by side, in plain typed
 * arrays on the CPU — it is two small matrices; the encoder below it is what costs, and it is frozen and cached.
 *
 *   z = Wp·c + bp      pooled p = tanh(z)      score y = wc·p + bc      loss = mean_b (y_b − t_b)²
 *
 * Weights are f32 (what the saved folder holds); sums run in f64.
 */
import { classifierBias, classifierWeight, poolerBias, poolerWeight } from "../../model/bert-parameters.ts"
import { normalGenerator, type Weights } from "../../model/parameters.ts"

export interface HeadWeights {
  /** pooler.dense.weight, [H, H] (out, in). */
  readonly poolerWeight: Float32Array
  readonly poolerBias: Float32Array
  /** classifier.weight, [1, H]. */
  readonly classifierWeight: Float32Array
  readonly classifierBias: Float32Array
}

/** The head's tensors in the order the optimizer and the gradient check walk them, with their BERT names. */
export const headTensors = (w: HeadWeights): ReadonlyArray<readonly [string, Float32Array]> => [
  [poolerWeight, w.poolerWeight],
  [poolerBias, w.poolerBias],
  [classifierWeight, w.classifierWeight],
  [classifierBias, w.classifierBias]
]

export const copyHead = (w: HeadWeights): HeadWeights => ({
  poolerWeight: Float32Array.from(w.poolerWeight),
  poolerBias: Float32Array.from(w.poolerBias),
  classifierWeight: Float32Array.from(w.classifierWeight),
  classifierBias: Float32Array.from(w.classifierBias)
})

/**
 * The head to start from: the checkpoint's pooler when it has one (arctic-embed-m does; transformers keeps it and
 * trains it on), otherwise drawn as transformers initialises a missing Linear — N(0, initializer_range²), bias 0;
 * the regression head is always new.
 */
export const initHead = (hidden: number, initializerRange: number, seed: number, pretrained?: Weights): HeadWeights => {
  const normal = normalGenerator(seed)
  const draw = (n: number) => Float32Array.from({ length: n }, () => normal() * initializerRange)
  const pw = pretrained?.get(poolerWeight)
  const pb = pretrained?.get(poolerBias)
  return {
    poolerWeight: pw === undefined ? draw(hidden * hidden) : Float32Array.from(pw),
    poolerBias: pb === undefined ? new Float32Array(hidden) : Float32Array.from(pb),
    classifierWeight: draw(hidden),
    classifierBias: new Float32Array(1)
  }
}

/** Scores of the [CLS] rows `rows` of `states` ([N, H]); `pooled` ([rows, H]) receives tanh(z) when given. */
export const headForward = (
  w: HeadWeights,
  states: Float32Array,
  hidden: number,
  rows: ArrayLike<number>,
  pooled?: Float64Array
): Float64Array => {
  const H = hidden
  const scores = new Float64Array(rows.length)
  const p = new Float64Array(H)
  for (let b = 0; b < rows.length; b++) {
    const c = rows[b]! * H
    let y = w.classifierBias[0]!
    for (let j = 0; j < H; j++) {
      let z = w.poolerBias[j]!
      const wj = j * H
      for (let i = 0; i < H; i++) z += w.poolerWeight[wj + i]! * states[c + i]!
      p[j] = Math.tanh(z)
      y += w.classifierWeight[j]! * p[j]!
    }
    if (pooled !== undefined) pooled.set(p, b * H)
    scores[b] = y
  }
  return scores
}

export interface HeadGradients {
  readonly loss: number
  /** Same layout as the weights, f64. */
  readonly poolerWeight: Float64Array
  readonly poolerBias: Float64Array
  readonly classifierWeight: Float64Array
  readonly classifierBias: Float64Array
}

/** The MSE loss of the batch `rows` against `targets` and its gradient with respect to every head weight. */
export const headLossAndGradients = (
  w: HeadWeights,
  states: Float32Array,
  hidden: number,
  rows: ArrayLike<number>,
  targets: ArrayLike<number>
): HeadGradients => {
  const H = hidden
  const B = rows.length
  const pooled = new Float64Array(B * H)
  const scores = headForward(w, states, H, rows, pooled)
  const g = {
    poolerWeight: new Float64Array(H * H),
    poolerBias: new Float64Array(H),
    classifierWeight: new Float64Array(H),
    classifierBias: new Float64Array(1)
  }
  let loss = 0
  const dz = new Float64Array(H)
  for (let b = 0; b < B; b++) {
    const diff = scores[b]! - targets[b]!
    loss += diff * diff
    const dy = (2 * diff) / B
    g.classifierBias[0]! += dy
    const p = pooled.subarray(b * H, (b + 1) * H)
    for (let j = 0; j < H; j++) {
      g.classifierWeight[j]! += dy * p[j]!
      dz[j] = dy * w.classifierWeight[j]! * (1 - p[j]! * p[j]!)
      g.poolerBias[j]! += dz[j]!
    }
    const c = rows[b]! * H
    for (let j = 0; j < H; j++) {
      const d = dz[j]!
      if (d === 0) continue
      const wj = j * H
      for (let i = 0; i < H; i++) g.poolerWeight[wj + i]! += d * states[c + i]!
    }
  }
  return { loss: loss / B, ...g }
}

/** The gradients in `headTensors` order. */
export const gradientTensors = (g: HeadGradients): ReadonlyArray<Float64Array> =>
  [g.poolerWeight, g.poolerBias, g.classifierWeight, g.classifierBias]

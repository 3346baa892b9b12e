import { Effect } from "effect"
import { crossEntropy } from "./cross-entropy.ts"
import { crossEntropyCpu } from "./cross-entropy.cpu.ts"
import { type KernelCase, kernelCase, randomArray, randomInts, type Rng } from "./kernel-case.ts"
import { rowVariants } from "./reduce.cases.ts"
import type { RowVariant } from "./rows.ts"

const logitsAndTargets = (next: Rng, rows: number, vocab: number) => {
  const logits = randomArray(next, rows * vocab, -8, 8)
  const targets = randomInts(next, rows, vocab)
  // Every third row's target is its most likely token, so that `greedy` sees both answers.
  for (let r = 0; r < rows; r += 3) {
    let best = 0
    for (let j = 1; j < vocab; j++) if (logits[r * vocab + j]! > logits[r * vocab + best]!) best = j
    targets[r] = best
  }
  return { logits, targets }
}

const whole = (rows: number, vocab: number, gradScale: number, variant: RowVariant): KernelCase =>
  kernelCase({
    kernel: "cross-entropy (losses, gradient over the logits)",
    case: `${rows}×${vocab}, gradient scale ${gradScale.toPrecision(3)}`,
    variant,
    inputs: (next) => logitsAndTargets(next, rows, vocab),
    gpu: (gpu, { logits, targets }) =>
      Effect.gen(function*() {
        const [X, T] = [yield* gpu.upload(logits), yield* gpu.upload(targets)]
        const L = yield* gpu.buffer(rows * 4)
        yield* gpu.run([crossEntropy(gpu, X, T, L, rows, vocab, gradScale, variant)])
        return { losses: yield* gpu.readF32(L), gradient: yield* gpu.readF32(X) }
      }),
    cpu: ({ logits, targets }) => {
      const want = crossEntropyCpu(logits, targets, rows, vocab, gradScale)
      return { losses: want.losses, gradient: want.grad }
    }
  })

// The head runs in row chunks: each chunk's logits are their own buffer, and `rowBase` places its losses.
const chunked = (variant: RowVariant): KernelCase => {
  const [rows, vocab, split, gradScale] = [9, 130, 5, 1 / 9]
  return kernelCase({
    kernel: "cross-entropy (losses, gradient over the logits)",
    case: `${rows}×${vocab} in row chunks of ${split} and ${rows - split}, with the greedy flags`,
    variant,
    inputs: (next) => logitsAndTargets(next, rows, vocab),
    gpu: (gpu, { logits, targets }) =>
      Effect.gen(function*() {
        const first = yield* gpu.upload(logits.subarray(0, split * vocab))
        const second = yield* gpu.upload(logits.subarray(split * vocab))
        const T = yield* gpu.upload(targets)
        const [L, G] = [yield* gpu.buffer(rows * 4), yield* gpu.buffer(rows * 4)]
        yield* gpu.run([
          crossEntropy(gpu, first, T, L, split, vocab, gradScale, variant, 0, G),
          crossEntropy(gpu, second, T, L, rows - split, vocab, gradScale, variant, split, G)
        ])
        const gradient = new Float32Array(rows * vocab)
        gradient.set(yield* gpu.readF32(first))
        gradient.set(yield* gpu.readF32(second), split * vocab)
        return { losses: yield* gpu.readF32(L), gradient, greedy: yield* gpu.readF32(G) }
      }),
    cpu: ({ logits, targets }) => {
      const want = crossEntropyCpu(logits, targets, rows, vocab, gradScale)
      return { losses: want.losses, gradient: want.grad, greedy: want.greedy }
    },
    tolerances: { greedy: 0 }
  })
}

// SFT's loss masks: a 0/1 weight per target row, the head still in row chunks (so the weights are read at rowBase).
const weighted = (variant: RowVariant): KernelCase => {
  const [rows, vocab, split, gradScale] = [10, 97, 4, 1 / 6]
  return kernelCase({
    kernel: "cross-entropy with per-target weights (loss masks)",
    case: `${rows}×${vocab} in row chunks of ${split} and ${rows - split}, gradient scale ${gradScale.toPrecision(3)}`,
    variant,
    inputs: (next) => ({ ...logitsAndTargets(next, rows, vocab), weights: Float32Array.from({ length: rows }, () => (next() < 0.6 ? 1 : 0)) }),
    gpu: (gpu, { logits, targets, weights }) =>
      Effect.gen(function*() {
        const first = yield* gpu.upload(logits.subarray(0, split * vocab))
        const second = yield* gpu.upload(logits.subarray(split * vocab))
        const [T, W] = [yield* gpu.upload(targets), yield* gpu.upload(weights)]
        const L = yield* gpu.buffer(rows * 4)
        yield* gpu.run([
          crossEntropy(gpu, first, T, L, split, vocab, gradScale, variant, 0, undefined, W),
          crossEntropy(gpu, second, T, L, rows - split, vocab, gradScale, variant, split, undefined, W)
        ])
        const gradient = new Float32Array(rows * vocab)
        gradient.set(yield* gpu.readF32(first))
        gradient.set(yield* gpu.readF32(second), split * vocab)
        return { losses: yield* gpu.readF32(L), gradient }
      }),
    cpu: ({ logits, targets, weights }) => {
      const want = crossEntropyCpu(logits, targets, rows, vocab, gradScale, weights)
      return { losses: want.losses, gradient: want.grad }
    }
  })
}

export const crossEntropyCases: ReadonlyArray<KernelCase> = rowVariants.flatMap((variant) => [
  whole(9, 301, 1 / 7, variant),
  whole(8, 256, 1 / 8, variant),
  chunked(variant),
  weighted(variant)
])

import { Effect, Schema, type Scope } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { bufferView, type GpuBuffer, type GpuShape, type GpuStep } from "../gpu/Gpu.ts"
import { adamw } from "../gpu/kernels/adamw.ts"
import { CHUNK, clipCoefficient, partialsFor, sumSquaresPartials } from "../gpu/kernels/grad-norm.ts"
import type { TensorSpec } from "../model/parameters.ts"
import { elementCount } from "../model/parameters.ts"

/**
 * AdamW as SmolLM2 ran it (huggingface/smollm `text/pretraining/smollm2/config_smollm2_*.yaml`; arXiv 2502.02737
 * §4.1): β1 0.9, β2 0.95, ε 1e-8, decay 0.01, clip 1.0.
 */
export const AdamWOptions = Schema.Struct({
  beta1: Schema.Number,
  beta2: Schema.Number,
  eps: Schema.Number,
  weightDecay: Schema.Number,
  /** Global gradient-norm clipping threshold; 0 disables clipping. */
  clip: Schema.Number
})
export type AdamWOptions = typeof AdamWOptions.Type

export const smollm2AdamW: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, clip: 1.0 }

export interface GpuAdamW {
  readonly moments: ReadonlyMap<string, { readonly m: GpuBuffer; readonly v: GpuBuffer }>
  /** The moments read back, for a checkpoint. */
  readonly readMoments: Effect.Effect<Map<string, { m: Float32Array; v: Float32Array }>, GpuError>
  /** Moments from a checkpoint written to the device (the others stay as they are). */
  readonly writeMoments: (moments: Iterable<readonly [string, { readonly m: Float32Array; readonly v: Float32Array }]>) => Effect.Effect<void, GpuError>
  /** Writes this step's learning rate and bias corrections; `step` counts from 1. */
  readonly prepare: (step: number, lr: number) => Effect.Effect<void, GpuError>
  /** Norm, clip coefficient and the update of every tensor: one list of steps, no read-back. */
  readonly steps: ReadonlyArray<GpuStep>
  /** [global gradient norm (before clipping), clip coefficient, 1 if the gradient was not finite]. */
  readonly readClip: Effect.Effect<Float32Array, GpuError>
}

export const makeGpuAdamW = (
  gpu: GpuShape,
  specs: ReadonlyArray<TensorSpec>,
  params: ReadonlyMap<string, GpuBuffer>,
  grads: ReadonlyMap<string, GpuBuffer>,
  options: AdamWOptions,
  /** Tensors larger than one binding (default: the device's limit) are updated in element chunks. */
  maxBindingBytes?: number
): Effect.Effect<GpuAdamW, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    const moments = new Map<string, { m: GpuBuffer; v: GpuBuffer }>()
    for (const s of specs) {
      const bytes = elementCount(s.shape) * 4
      moments.set(s.name, { m: yield* gpu.buffer(bytes, `adam m ${s.name}`), v: yield* gpu.buffer(bytes, `adam v ${s.name}`) })
    }
    const partialCount = specs.reduce((sum, s) => sum + partialsFor(elementCount(s.shape)), 0)
    const partials = yield* gpu.buffer(partialCount * 4, "grad norm partials")
    const clip = yield* gpu.buffer(16, "grad norm and clip")
    const hyper = yield* gpu.buffer(16, "adamw lr and bias corrections")
    // Element chunks of a whole number of norm partials (256 values = 1 KiB), so views start aligned and each
    // chunk's partials land where the unchunked tensor's would.
    const maxBinding = Math.min(maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize)
    const perChunk = Math.max(CHUNK, Math.floor(maxBinding / 4 / CHUNK) * CHUNK)
    const chunksOf = (size: number): Array<readonly [number, number]> => {
      if (size * 4 <= maxBinding) return [[0, size]]
      const out: Array<readonly [number, number]> = []
      for (let e = 0; e < size; e += perChunk) out.push([e, Math.min(size, e + perChunk)])
      return out
    }
    const view = (b: GpuBuffer, [e0, e1]: readonly [number, number], size: number) =>
      e0 === 0 && e1 === size ? b : bufferView(b, e0 * 4, (e1 - e0) * 4, `${b.label} [${e0}, ${e1})`)
    const steps: Array<GpuStep> = []
    let offset = 0
    for (const s of specs) {
      const size = elementCount(s.shape)
      for (const chunk of chunksOf(size)) {
        steps.push(sumSquaresPartials(gpu, view(grads.get(s.name)!, chunk, size), partials, chunk[1] - chunk[0], offset + chunk[0] / CHUNK))
      }
      offset += partialsFor(size)
    }
    steps.push(clipCoefficient(gpu, partials, partialCount, options.clip, clip))
    for (const s of specs) {
      const { m, v } = moments.get(s.name)!
      const size = elementCount(s.shape)
      const settings = { beta1: options.beta1, beta2: options.beta2, eps: options.eps, weightDecay: s.decay ? options.weightDecay : 0 }
      for (const chunk of chunksOf(size)) {
        const [p, g, mv, vv] = [params.get(s.name)!, grads.get(s.name)!, m, v].map((b) => view(b, chunk, size))
        steps.push(adamw(gpu, settings, p!, g!, mv!, vv!, hyper, clip, chunk[1] - chunk[0]))
      }
    }
    return {
      moments,
      readMoments: Effect.gen(function*() {
        const out = new Map<string, { m: Float32Array; v: Float32Array }>()
        for (const [name, { m, v }] of moments) out.set(name, { m: yield* gpu.readF32(m), v: yield* gpu.readF32(v) })
        return out
      }),
      writeMoments: (saved) =>
        Effect.gen(function*() {
          for (const [name, { m, v }] of saved) {
            yield* gpu.write(moments.get(name)!.m, m)
            yield* gpu.write(moments.get(name)!.v, v)
          }
        }),
      prepare: (step, lr) =>
        gpu.write(hyper, Float32Array.of(lr, 1 - options.beta1 ** step, Math.sqrt(1 - options.beta2 ** step))),
      steps,
      readClip: gpu.readF32(clip)
    }
  })

import type { Effect, Scope } from "effect"
import type { GpuError } from "../errors.ts"
import type { GpuShape } from "../Gpu.ts"
import { mulberry32 } from "../../data/random/mulberry32.ts"

/**
 * A kernel test case: random inputs of one shape, the GPU kernel run on them, and the CPU reference run on the
 * same inputs. Each kernel file has its cases beside its `.cpu.ts` reference (`matmul.cases.ts`), and the one
 * list of them (`registry.ts`) feeds both the vitest suite and `programs/gpu.ts selftest`.
 */

/** Named output tensors. The GPU side and the reference side name the same tensors. */
export type Tensors = Readonly<Record<string, ArrayLike<number>>>

/** A seeded source of uniform numbers in [0, 1). */
export type Rng = () => number

/** DESIGN.md: f32 relative error ≤ 1e-4, measured as max |gpu − cpu| / max |cpu|. */
export const defaultTolerance = 1e-4

export interface PreparedCase {
  /** Uploads the inputs, runs the kernel(s) and reads the outputs back; buffers live in the given scope. */
  readonly gpu: (gpu: GpuShape) => Effect.Effect<Tensors, GpuError, Scope.Scope>
  readonly cpu: () => Tensors
}

export interface KernelCase {
  /** What runs, as a person calls it: "matmul A·Bᵀ", "row softmax", "decode attention". */
  readonly kernel: string
  /** The shape or situation: "129×67×33", "6 heads over 2 KV heads, 9 of 13 cached". */
  readonly case: string
  /** The variant the case forces ("register", "thread", …), or "per adapter" when the kernel chooses. */
  readonly variant: string
  /** Largest relative error accepted for a tensor. */
  readonly toleranceOf: (tensor: string) => number
  /** Draws the inputs from `next`; the returned closures share them. */
  readonly prepare: (next: Rng) => PreparedCase
}

export interface KernelCaseSpec<I> {
  readonly kernel: string
  readonly case: string
  readonly variant?: string
  /** For every tensor (default 1e-4)… */
  readonly tolerance?: number
  /** …except these (exact copies get 0, single-rounding elementwise ops 1e-6). */
  readonly tolerances?: Readonly<Record<string, number>>
  readonly inputs: (next: Rng) => I
  readonly gpu: (gpu: GpuShape, inputs: I) => Effect.Effect<Tensors, GpuError, Scope.Scope>
  readonly cpu: (inputs: I) => Tensors
}

/** Builds a case; the type of its inputs stays private to it, so cases of every kernel fit in one list. */
export const kernelCase = <I>(spec: KernelCaseSpec<I>): KernelCase => ({
  kernel: spec.kernel,
  case: spec.case,
  variant: spec.variant ?? "per adapter",
  toleranceOf: (tensor) => spec.tolerances?.[tensor] ?? spec.tolerance ?? defaultTolerance,
  prepare: (next) => {
    const inputs = spec.inputs(next)
    return { gpu: (gpu) => spec.gpu(gpu, inputs), cpu: () => spec.cpu(inputs) }
  }
})


/**
 * The generator of one case: the run's seed mixed with the case's name (FNV-1a), so that one seed replays any
 * case alike whether it runs alone (`vitest -t`), in the suite or in the self-test.
 */
export const caseRng = (seed: number, id: string): Rng => {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return mulberry32((seed ^ h) >>> 0)
}

export const randomArray = (next: Rng, size: number, lo = -1, hi = 1): Float32Array =>
  Float32Array.from({ length: size }, () => lo + (hi - lo) * next())

/** `size` integers in [0, below). */
export const randomInts = (next: Rng, size: number, below: number): Uint32Array =>
  Uint32Array.from({ length: size }, () => Math.floor(next() * below))

export interface TensorComparison {
  readonly maxAbsError: number
  /** max |actual − expected| / max |expected|: the normwise relative error. */
  readonly relativeError: number
  /** Where the largest error is (−1 for empty tensors). */
  readonly worstIndex: number
}

/**
 * NaN where the reference has NaN, and an infinity equal to the reference's, count as agreement (the non-finite
 * guards produce both); NaN anywhere else is an infinite error.
 */
export const compareTensor = (actual: ArrayLike<number>, expected: ArrayLike<number>): TensorComparison => {
  if (actual.length !== expected.length) return { maxAbsError: Infinity, relativeError: Infinity, worstIndex: -1 }
  let maxAbsError = 0
  let worstIndex = -1
  let scale = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    const err = a === e || (Number.isNaN(a) && Number.isNaN(e)) ? 0
      : Number.isNaN(a) || Number.isNaN(e) ? Infinity
      : Math.abs(a - e)
    if (err > maxAbsError || worstIndex < 0) {
      maxAbsError = Math.max(maxAbsError, err)
      worstIndex = i
    }
    if (Number.isFinite(e)) scale = Math.max(scale, Math.abs(e))
  }
  return { maxAbsError, relativeError: maxAbsError / Math.max(scale, 1e-30), worstIndex }
}

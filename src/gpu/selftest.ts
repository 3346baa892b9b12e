import { Cause, Effect, Exit, Schema } from "effect"
import type { GpuError } from "./errors.ts"
import { Gpu, type GpuShape } from "./Gpu.ts"
import { caseRng, compareTensor, type KernelCase, type Tensors } from "./kernels/kernel-case.ts"
import { caseId, kernelRegistry } from "./kernels/registry.ts"

/**
 * Runs every case of the kernel registry on the adapter at hand and compares each output tensor with the CPU
 * reference: the check to run on a new machine or driver before trusting it with a training run, and the same
 * cases the vitest suite runs.
 */
export interface TensorCheck {
  readonly tensor: string
  /** max |gpu − cpu| / max |cpu| */
  readonly relativeError: number
  readonly maxAbsError: number
  readonly tolerance: number
  readonly ok: boolean
  /** Where the two disagree most: "[12]: got 0.51, want 0.5". */
  readonly worst: string
}

export interface KernelCheck {
  /** The kernel file the case belongs to ("matmul.ts"). */
  readonly file: string
  readonly kernel: string
  readonly case: string
  readonly variant: string
  /** Replays the same inputs: `SMOL_TEST_SEED` in the tests, `--seed` in the self-test. */
  readonly seed: number
  readonly tensors: ReadonlyArray<TensorCheck>
  /** Of the tensor with the largest error relative to its tolerance. */
  readonly relativeError: number
  readonly maxAbsError: number
  readonly tolerance: number
  readonly ok: boolean
  /** Set when the case could not run at all (a kernel that failed to compile, a shape the kernel refused). */
  readonly error?: string
  /** GPU side only: upload, compile (first time), run, read back. */
  readonly millis: number
}

export class SelfTestFailed extends Schema.TaggedError<SelfTestFailed>()("SelfTestFailed", {
  message: Schema.String
}) {}

const compareAll = (got: Tensors, want: Tensors, c: KernelCase): ReadonlyArray<TensorCheck> =>
  Object.entries(want).map(([tensor, expected]): TensorCheck => {
    const tolerance = c.toleranceOf(tensor)
    const actual = got[tensor]
    if (actual === undefined) {
      return { tensor, relativeError: Infinity, maxAbsError: Infinity, tolerance, ok: false, worst: "the GPU side did not produce it" }
    }
    const d = compareTensor(actual, expected)
    const worst = actual.length !== expected.length
      ? `length ${actual.length}, want ${expected.length}`
      : d.worstIndex < 0 ? "empty" : `[${d.worstIndex}]: got ${actual[d.worstIndex]}, want ${expected[d.worstIndex]}`
    return { tensor, relativeError: d.relativeError, maxAbsError: d.maxAbsError, tolerance, ok: d.relativeError <= tolerance, worst }
  })

/** Runs one case on fresh inputs drawn from `seed` and the case's name; never fails: a failure is in the result. */
export const runKernelCase = (gpu: GpuShape, file: string, c: KernelCase, seed: number): Effect.Effect<KernelCheck> =>
  Effect.gen(function*() {
    const about = { file, kernel: c.kernel, case: c.case, variant: c.variant, seed }
    let millis = 0
    const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const prepared = c.prepare(caseRng(seed, caseId(file, c)))
      const start = performance.now()
      const got = yield* prepared.gpu(gpu)
      millis = performance.now() - start
      return compareAll(got, prepared.cpu(), c)
    })))
    if (Exit.isFailure(exit)) {
      return { ...about, tensors: [], relativeError: Infinity, maxAbsError: Infinity, tolerance: 0, ok: false, error: Cause.pretty(exit.cause), millis }
    }
    const tensors = exit.value
    const worst = tensors.reduce<TensorCheck | undefined>(
      (w, t) => w === undefined || t.relativeError / Math.max(t.tolerance, 1e-30) > w.relativeError / Math.max(w.tolerance, 1e-30) ? t : w,
      undefined
    )
    return {
      ...about,
      tensors,
      relativeError: worst?.relativeError ?? 0,
      maxAbsError: worst?.maxAbsError ?? 0,
      tolerance: worst?.tolerance ?? 0,
      ok: tensors.every((t) => t.ok),
      millis
    }
  })

/** Runs every registered case (or those `only` keeps); `onResult` sees each as it finishes (for progress output). */
export const kernelSelfTest = (
  options: {
    readonly seed?: number
    readonly onResult?: (r: KernelCheck) => void
    readonly only?: (file: string, c: KernelCase) => boolean
  } = {}
): Effect.Effect<ReadonlyArray<KernelCheck>, GpuError, Gpu> =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    const results: Array<KernelCheck> = []
    for (const { file, cases } of kernelRegistry) {
      for (const c of cases) {
        if (options.only !== undefined && !options.only(file, c)) continue
        const result = yield* runKernelCase(gpu, file, c, options.seed ?? 1)
        results.push(result)
        options.onResult?.(result)
      }
    }
    return results
  })

/** One line of progress: the case and each tensor's error. */
export const describeCheck = (r: KernelCheck): string =>
  `${r.ok ? "ok  " : "FAIL"} ${r.kernel}, ${r.case} (${r.variant}): ` +
  (r.error !== undefined
    ? r.error.split("\n")[0]!
    : r.tensors.map((t) => `${t.tensor} ${t.relativeError.toExponential(2)}${t.ok ? "" : ` > ${t.tolerance} at ${t.worst}`}`).join(", "))

const cell = (s: string) => s.replaceAll("|", "\\|")

export const selfTestReport = (gpu: Pick<GpuShape, "features">, results: ReadonlyArray<KernelCheck>, adapter: string): string => {
  const failed = results.filter((r) => !r.ok)
  const files = new Set(results.map((r) => r.file))
  const seeds = [...new Set(results.map((r) => r.seed))]
  return [
    "# Kernel self-test",
    "",
    `Adapter: ${adapter}`,
    `Features: shader-f16 ${gpu.features.shaderF16 ? "yes" : "no"}, timestamp-query ${gpu.features.timestampQuery ? "yes" : "no"}, subgroups ${gpu.features.subgroups ? "yes" : "no"}`,
    `Seed: ${seeds.join(", ")}; relative error = max |gpu − cpu| / max |cpu| per tensor`,
    "",
    `${results.length - failed.length} passed, ${failed.length} failed (${results.length} cases of ${files.size} kernel files)`,
    "",
    "| kernel | case | variant | tensor | relative error | max abs error | tolerance | result | ms (incl. compile) |",
    "|---|---|---|---|---:|---:|---:|---|---:|",
    ...results.flatMap((r) => {
      const head = `| ${cell(r.kernel)} | ${cell(r.case)} | ${r.variant}`
      if (r.error !== undefined) return [`${head} | — | — | — | — | **FAIL**: ${cell(r.error.split("\n")[0]!)} | ${r.millis.toFixed(0)} |`]
      return r.tensors.map((t) =>
        `${head} | ${cell(t.tensor)} | ${t.relativeError.toExponential(2)} | ${t.maxAbsError.toExponential(2)} | ${t.tolerance} | ${t.ok ? "ok" : `**FAIL** at ${cell(t.worst)}`} | ${r.millis.toFixed(0)} |`
      )
    }),
    ""
  ].join("\n")
}

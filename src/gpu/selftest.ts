import { Effect } from "effect"
import type { GpuError } from "./errors.ts"
import { type Dispatch, Gpu, type GpuBuffer, type GpuShape } from "./Gpu.ts"
import { binary, binaryOps, broadcastShapes, sizeOf, unary, unaryOps } from "./kernels/elementwise.ts"
import { binaryCpu, unaryCpu } from "./kernels/elementwise.cpu.ts"
import { matmul, type MatmulShape, type MatmulVariant } from "./kernels/matmul.ts"
import { matmulCpu } from "./kernels/matmul.cpu.ts"
import { rowReduce } from "./kernels/reduce.ts"
import { rowReduceCpu } from "./kernels/reduce.cpu.ts"
import type { RowVariant } from "./kernels/rows.ts"
import { rowSoftmax } from "./kernels/softmax.ts"
import { rowSoftmaxCpu } from "./kernels/softmax.cpu.ts"

/**
 * Runs every kernel on fresh random inputs and compares it with its CPU reference on the adapter at hand:
 * the check to run on a new machine or driver before trusting it with a training run.
 */
export interface KernelCheck {
  readonly kernel: string
  readonly case: string
  readonly variant: string
  readonly relativeError: number
  readonly maxAbsError: number
  readonly tolerance: number
  readonly ok: boolean
  readonly millis: number
}

interface Case {
  readonly kernel: string
  readonly name: string
  readonly variant: string
  readonly tolerance: number
  readonly inputs: ReadonlyArray<Float32Array>
  readonly outputSize: number
  readonly build: (gpu: GpuShape, inputs: ReadonlyArray<GpuBuffer>, out: GpuBuffer) => Dispatch
  readonly reference: () => Float32Array
}

const random = (next: () => number, n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next())

const seeded = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const cases = (seed: number): ReadonlyArray<Case> => {
  const next = seeded(seed)
  const out: Array<Case> = []
  const matmulShapes: ReadonlyArray<readonly [number, number, number]> = [[3, 5, 7], [129, 67, 33], [256, 256, 256]]
  const forms = [[false, false], [false, true], [true, false]] as const
  for (const variant of ["register", "workgroup"] as ReadonlyArray<MatmulVariant>) {
    for (const [transA, transB] of forms) {
      for (const [m, n, k] of matmulShapes) {
        const shape: MatmulShape = { m, n, k, transA, transB }
        const a = random(next, m * k)
        const b = random(next, k * n)
        out.push({
          kernel: `matmul ${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}`,
          name: `${m}×${n}×${k}`,
          variant,
          tolerance: 1e-4,
          inputs: [a, b],
          outputSize: m * n,
          build: (gpu, [A, B], C) => matmul(gpu, shape, A!, B!, C, variant),
          reference: () => matmulCpu(shape, a, b)
        })
      }
    }
  }
  const batched: MatmulShape = { m: 19, n: 23, k: 16, batch: 5, transB: true }
  const ba = random(next, 5 * 19 * 16)
  const bb = random(next, 5 * 23 * 16)
  out.push({
    kernel: "matmul batched A·Bᵀ",
    name: "5×19×23×16",
    variant: "default",
    tolerance: 1e-4,
    inputs: [ba, bb],
    outputSize: 5 * 19 * 23,
    build: (gpu, [A, B], C) => matmul(gpu, batched, A!, B!, C),
    reference: () => matmulCpu(batched, ba, bb)
  })
  for (const op of [unaryOps.exp, unaryOps.silu, unaryOps.rsqrt]) {
    const x = random(next, 100_003, op === unaryOps.rsqrt ? 0.01 : -4, 4)
    out.push({
      kernel: op.name,
      name: "100003",
      variant: "default",
      tolerance: 1e-5,
      inputs: [x],
      outputSize: x.length,
      build: (gpu, [X], Y) => unary(gpu, op, X!, Y, x.length),
      reference: () => unaryCpu(op, x)
    })
  }
  const broadcastCases: ReadonlyArray<readonly [ReadonlyArray<number>, ReadonlyArray<number>]> = [[[300, 577], [577]], [[3, 1, 5], [4, 1]]]
  for (const [as, bs] of broadcastCases) {
    const a = random(next, as.reduce((p, d) => p * d, 1))
    const b = random(next, bs.reduce((p, d) => p * d, 1))
    const outSize = sizeOf(broadcastShapes(as, bs))
    out.push({
      kernel: "mul (broadcast)",
      name: `[${as.join("×")}]·[${bs.join("×")}]`,
      variant: "default",
      tolerance: 1e-6,
      inputs: [a, b],
      outputSize: outSize,
      build: (gpu, [A, B], Y) => binary(gpu, binaryOps.mul, A!, as, B!, bs, Y),
      reference: () => binaryCpu(binaryOps.mul, a, as, b, bs)
    })
  }
  for (const variant of ["thread", "workgroup"] as ReadonlyArray<RowVariant>) {
    for (const [rows, cols] of [[37, 1025], [4, 49152]] as const) {
      const x = random(next, rows * cols, 0, 1)
      for (const combine of ["sum", "max"] as const) {
        out.push({
          kernel: `row ${combine}`,
          name: `${rows}×${cols}`,
          variant,
          tolerance: 1e-4,
          inputs: [x],
          outputSize: rows,
          build: (gpu, [X], Y) => rowReduce(gpu, combine, X!, Y, rows, cols, variant),
          reference: () => rowReduceCpu(combine, x, rows, cols)
        })
      }
      const logits = random(next, rows * cols, -30, 30)
      out.push({
        kernel: "row softmax",
        name: `${rows}×${cols}`,
        variant,
        tolerance: 1e-4,
        inputs: [logits],
        outputSize: rows * cols,
        build: (gpu, [X], Y) => rowSoftmax(gpu, X!, Y, rows, cols, variant),
        reference: () => rowSoftmaxCpu(logits, rows, cols)
      })
    }
  }
  return out
}

const compare = (got: Float32Array, want: Float32Array) => {
  let maxAbsError = 0
  let scale = 0
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!)
    maxAbsError = Number.isNaN(d) ? Infinity : Math.max(maxAbsError, d)
    scale = Math.max(scale, Math.abs(want[i]!))
  }
  return { maxAbsError, relativeError: maxAbsError / Math.max(scale, 1e-30) }
}

/** Runs all checks; `onResult` sees each as it finishes (for progress output). */
export const kernelSelfTest = (
  options: { readonly seed?: number; readonly onResult?: (r: KernelCheck) => void } = {}
): Effect.Effect<ReadonlyArray<KernelCheck>, GpuError, Gpu> =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    const results: Array<KernelCheck> = []
    for (const c of cases(options.seed ?? 1)) {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const start = performance.now()
        const inputs: Array<GpuBuffer> = []
        for (const x of c.inputs) inputs.push(yield* gpu.upload(x))
        const out = yield* gpu.buffer(c.outputSize * 4, "out")
        yield* gpu.run([c.build(gpu, inputs, out)])
        const got = yield* gpu.readF32(out)
        const millis = performance.now() - start
        const { maxAbsError, relativeError } = compare(got, c.reference())
        return {
          kernel: c.kernel,
          case: c.name,
          variant: c.variant,
          relativeError,
          maxAbsError,
          tolerance: c.tolerance,
          ok: relativeError <= c.tolerance,
          millis
        } satisfies KernelCheck
      }))
      results.push(result)
      options.onResult?.(result)
    }
    return results
  })

export const selfTestReport = (gpu: GpuShape, results: ReadonlyArray<KernelCheck>, adapter: string): string => {
  const failed = results.filter((r) => !r.ok)
  return [
    "# Kernel self-test",
    "",
    `Adapter: ${adapter}`,
    `Features: shader-f16 ${gpu.features.shaderF16 ? "yes" : "no"}, timestamp-query ${gpu.features.timestampQuery ? "yes" : "no"}, subgroups ${gpu.features.subgroups ? "yes" : "no"}`,
    "",
    `${results.length - failed.length} passed, ${failed.length} failed`,
    "",
    "| kernel | case | variant | relative error | max abs error | tolerance | result | ms (incl. compile) |",
    "|---|---|---|---:|---:|---:|---|---:|",
    ...results.map((r) =>
      `| ${r.kernel} | ${r.case} | ${r.variant} | ${r.relativeError.toExponential(2)} | ${r.maxAbsError.toExponential(2)} | ${r.tolerance} | ${r.ok ? "ok" : "**FAIL**"} | ${r.millis.toFixed(0)} |`
    ),
    ""
  ].join("\n")
}

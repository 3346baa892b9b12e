import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { rowReduce } from "../../src/gpu/kernels/reduce.ts"
import { rowReduceCpu } from "../../src/gpu/kernels/reduce.cpu.ts"
import { type RowVariant, rowVariantFor } from "../../src/gpu/kernels/rows.ts"
import { rowSoftmax } from "../../src/gpu/kernels/softmax.ts"
import { rowSoftmaxCpu } from "../../src/gpu/kernels/softmax.cpu.ts"
import { expectClose, randomArray, rng, testSeed } from "../support/compare.ts"

const seed = testSeed()
const next = rng(seed)

const shapes: ReadonlyArray<readonly [number, number]> = [[1, 1], [3, 7], [65, 1000], [37, 1025], [130, 64], [2, 49152]]
const variants: ReadonlyArray<RowVariant> = ["thread", "workgroup"]

layer(Gpu.layer)("row kernels", (it) => {
  for (const variant of variants) {
    describe(`${variant} variant`, () => {
      for (const combine of ["sum", "max"] as const) {
        it.effect(`row ${combine} matches the CPU reference`, () =>
          Effect.gen(function*() {
            const gpu = yield* Gpu
            for (const [rows, cols] of shapes) {
              // Positive inputs for sums: the tolerance then measures the kernel, not cancellation.
              const x = combine === "sum" ? randomArray(next, rows * cols, 0, 1) : randomArray(next, rows * cols, -5, 5)
              const X = yield* gpu.upload(x, "x")
              const Y = yield* gpu.buffer(rows * 4, "y")
              yield* gpu.run([rowReduce(gpu, combine, X, Y, rows, cols, variant)])
              expectClose(`${combine} ${rows}×${cols} ${variant} (seed ${seed})`, yield* gpu.readF32(Y), rowReduceCpu(combine, x, rows, cols))
            }
          }).pipe(Effect.scoped))
      }

      it.effect("row softmax matches the CPU reference, also in place and with large logits", () =>
        Effect.gen(function*() {
          const gpu = yield* Gpu
          for (const [rows, cols] of shapes) {
            // Logits around ±80 overflow a naive exp in f32: the max subtraction must be there.
            const x = randomArray(next, rows * cols, -80, 80)
            const X = yield* gpu.upload(x, "x")
            const Y = yield* gpu.buffer(rows * cols * 4, "y")
            yield* gpu.run([rowSoftmax(gpu, X, Y, rows, cols, variant), rowSoftmax(gpu, X, X, rows, cols, variant)])
            const want = rowSoftmaxCpu(x, rows, cols)
            expectClose(`softmax ${rows}×${cols} ${variant} (seed ${seed})`, yield* gpu.readF32(Y), want)
            expectClose(`softmax ${rows}×${cols} ${variant} in place (seed ${seed})`, yield* gpu.readF32(X), want)
          }
        }).pipe(Effect.scoped))
    })
  }

  it.effect("rows too long for one llvmpipe invocation (loop budget) switch to a shared row and stay exact", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const [rows, cols] = [2, 200_003]
      if (gpu.adapter.kind === "software") {
        expect(rowVariantFor(gpu, cols, 3)).toBe("workgroup")
        const X0 = yield* gpu.buffer(rows * cols * 4)
        expect(() => rowSoftmax(gpu, X0, X0, rows, cols, "thread")).toThrow(/loop budget|budget of 65535/)
      }
      const x = randomArray(next, rows * cols, -20, 20)
      const X = yield* gpu.upload(x, "x")
      const Y = yield* gpu.buffer(rows * cols * 4, "y")
      yield* gpu.run([rowSoftmax(gpu, X, Y, rows, cols)])
      expectClose(`softmax ${rows}×${cols} default (seed ${seed})`, yield* gpu.readF32(Y), rowSoftmaxCpu(x, rows, cols))
    }).pipe(Effect.scoped))
})

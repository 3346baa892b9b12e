import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { rowVariantFor } from "../../src/gpu/kernels/rows.ts"
import { rowSoftmax } from "../../src/gpu/kernels/softmax.ts"

// The comparisons with the CPU references (row sum, max, softmax and the skeleton itself, both variants, and the
// 2×200,003 softmax past the loop budget) are registry cases (reduce, softmax, rows .cases.ts), run by kernels.test.ts.
layer(Gpu.layer)("row kernels", (it) => {
  it.effect("rows too long for one llvmpipe invocation (loop budget) switch to a shared row; the thread variant refuses them", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const [rows, cols] = [2, 200_003]
      if (gpu.adapter.kind === "software") {
        expect(rowVariantFor(gpu, cols, 3)).toBe("workgroup")
        const X0 = yield* gpu.buffer(rows * cols * 4)
        expect(() => rowSoftmax(gpu, X0, X0, rows, cols, "thread")).toThrow(/loop budget|budget of 65535/)
      }
    }).pipe(Effect.scoped))
})

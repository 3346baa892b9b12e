import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { matmulVariantFor } from "../../src/gpu/kernels/matmul.ts"

// The comparisons with the CPU reference (every form, variant, odd and even shape, batches, strides, leading
// dimensions, accumulation) are the cases of src/gpu/kernels/matmul.cases.ts, run by kernels.test.ts.
layer(Gpu.layer)("matmul on the current adapter", (it) => {
  it.effect("picks register tiling on software adapters and workgroup tiling on GPUs", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      expect(matmulVariantFor(gpu)).toBe(gpu.adapter.kind === "software" ? "register" : "workgroup")
    }))
})

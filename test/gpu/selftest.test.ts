import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { describeAdapter } from "../../src/gpu/adapter.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { kernelSelfTest, selfTestReport } from "../../src/gpu/selftest.ts"

layer(Gpu.layer)("kernel self-test (programs/gpu.ts selftest)", (it) => {
  it.effect("passes every check on this adapter and reports them in a table", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const seen: Array<string> = []
      const results = yield* kernelSelfTest({ seed: 7, onResult: (r) => seen.push(r.kernel) })
      expect(seen.length).toBe(results.length)
      const failed = results.filter((r) => !r.ok)
      expect(failed, JSON.stringify(failed, null, 2)).toEqual([])
      const kernels = new Set(results.map((r) => r.kernel))
      for (const k of ["matmul A·B", "matmul A·Bᵀ", "matmul Aᵀ·B", "matmul batched A·Bᵀ", "row sum", "row max", "row softmax"]) {
        expect(kernels.has(k), k).toBe(true)
      }
      const report = selfTestReport(gpu, results, describeAdapter(gpu.adapter))
      expect(report).toContain(`${results.length} passed, 0 failed`)
      expect(report.split("\n").filter((l) => l.startsWith("| matmul")).length).toBeGreaterThanOrEqual(18)
    }))
})

import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { describeAdapter } from "../../src/gpu/adapter.ts"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { kernelCase } from "../../src/gpu/kernels/kernel-case.ts"
import { kernelRegistry } from "../../src/gpu/kernels/registry.ts"
import { describeCheck, kernelSelfTest, runKernelCase, selfTestReport } from "../../src/gpu/selftest.ts"

// kernels.test.ts runs the same cases one test each with a fresh seed; this runs them as the program does, with
// seed 7, so the suite sees two draws of inputs.
layer(Gpu.layer)("kernel self-test (programs/gpu.ts selftest)", (it) => {
  it.effect("passes every case of every kernel file on this adapter and reports each tensor in a table", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const seen: Array<string> = []
      const results = yield* kernelSelfTest({ seed: 7, onResult: (r) => seen.push(r.kernel) })
      expect(seen.length).toBe(results.length)
      const failed = results.filter((r) => !r.ok)
      expect(failed, JSON.stringify(failed, null, 2)).toEqual([])
      expect(results.length).toBe(kernelRegistry.reduce((n, k) => n + k.cases.length, 0))
      expect(new Set(results.map((r) => r.file))).toEqual(new Set(kernelRegistry.map((k) => k.file)))
      const kernels = new Set(results.map((r) => r.kernel))
      for (const k of ["matmul A·B", "matmul A·Bᵀ", "matmul Aᵀ·B", "matmul batched A·Bᵀ", "row sum", "row max", "row softmax"]) {
        expect(kernels.has(k), k).toBe(true)
      }
      const report = selfTestReport(gpu, results, describeAdapter(gpu.adapter))
      expect(report).toContain(`${results.length} passed, 0 failed`)
      expect(report).toContain("Seed: 7")
      expect(report.split("\n").filter((l) => l.startsWith("| matmul")).length).toBeGreaterThanOrEqual(18)
      const rows = report.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| kernel"))
      expect(rows.length).toBe(results.reduce((n, r) => n + r.tensors.length, 0))
    }))

  it.effect("only runs the cases asked for", () =>
    Effect.gen(function*() {
      const results = yield* kernelSelfTest({ seed: 7, only: (file, c) => file === "rows.ts" && c.case === "1×1" })
      expect(results.map((r) => `${r.file} ${r.case} ${r.variant} ${r.ok}`)).toEqual(["rows.ts 1×1 thread true", "rows.ts 1×1 workgroup true"])
    }))

  it.effect("a wrong tensor fails with where it disagrees, and a case that cannot run fails with the reason", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const wrong = kernelCase({
        kernel: "double",
        case: "off by one at [2]",
        inputs: () => Float32Array.of(1, 2, 3),
        gpu: (_, x) => Effect.succeed({ y: x.map((v, i) => 2 * v + (i === 2 ? 1 : 0)) }),
        cpu: (x) => ({ y: x.map((v) => 2 * v) })
      })
      const bad = yield* runKernelCase(gpu, "test", wrong, 1)
      expect(bad.ok).toBe(false)
      expect(bad.tensors[0]!.worst).toBe("[2]: got 7, want 6")
      expect(describeCheck(bad)).toMatch(/^FAIL double, off by one at \[2\] \(per adapter\): y 1\.67e-1 > 0\.0001 at \[2\]/)
      const broken = kernelCase({
        kernel: "broken",
        case: "does not compile",
        inputs: () => undefined,
        gpu: (g) => Effect.as(g.pipeline({ label: "broken", code: "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }" }), {}),
        cpu: () => ({ y: [0] })
      })
      const failed = yield* runKernelCase(gpu, "test", broken, 1)
      expect(failed.ok).toBe(false)
      expect(failed.error).toMatch(/kernel "broken" failed to compile/)
      expect(selfTestReport(gpu, [failed], "test adapter")).toMatch(/\| broken \| does not compile \| per adapter \| — .*\*\*FAIL\*\*/)
    }))
})

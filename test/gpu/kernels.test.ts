import { afterAll, describe, expect, it as plain, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { caseId, kernelHelperFiles, kernelRegistry } from "../../src/gpu/kernels/registry.ts"
import { describeCheck, type KernelCheck, runKernelCase } from "../../src/gpu/selftest.ts"
import { testSeed } from "../support/compare.ts"

const seed = testSeed()
const results: Array<KernelCheck> = []

// Every case of the registry as its own test: the same list `programs/gpu.ts selftest` runs.
layer(Gpu.layer)("every kernel against its CPU reference (src/gpu/kernels/registry.ts)", (it) => {
  for (const { file, cases } of kernelRegistry) {
    describe(file, () => {
      for (const c of cases) {
        it.effect(`${c.kernel}, ${c.case} (${c.variant})`, () =>
          Effect.gen(function*() {
            const gpu = yield* Gpu
            const r = yield* runKernelCase(gpu, file, c, seed)
            results.push(r)
            const replay = `seed ${seed}; SMOL_TEST_SEED=${seed} replays it`
            expect(r.error, `${describeCheck(r)} (${replay})`).toBeUndefined()
            for (const t of r.tensors) {
              expect(
                t.relativeError,
                `${caseId(file, c)}, ${t.tensor}: relative error ${t.relativeError.toExponential(2)} ` +
                  `(max abs ${t.maxAbsError.toExponential(2)}) at ${t.worst} (${replay})`
              ).toBeLessThanOrEqual(t.tolerance)
            }
          }))
      }
    })
  }
})

describe("kernel registry", () => {
  plain("lists every kernel file of src/gpu/kernels, each with a CPU reference and cases of its own", () => {
    const folder = fileURLToPath(new URL("../../src/gpu/kernels/", import.meta.url))
    const names = readdirSync(folder)
    const kernels = names.filter((n) => n.endsWith(".ts") && !/\.(cpu|cases)\.ts$/.test(n) && !kernelHelperFiles.includes(n))
    expect(kernelRegistry.map((k) => k.file).sort()).toEqual(kernels.sort())
    for (const { file, cases } of kernelRegistry) {
      expect(names, `${file} has a CPU reference`).toContain(file.replace(/\.ts$/, ".cpu.ts"))
      expect(names, `${file} has its cases beside it`).toContain(file.replace(/\.ts$/, ".cases.ts"))
      expect(cases.length, `${file} has cases`).toBeGreaterThan(0)
    }
    // A case's name seeds its inputs, so two cases with one name would draw the same numbers.
    const ids = kernelRegistry.flatMap(({ file, cases }) => cases.map((c) => caseId(file, c)))
    expect(new Set(ids).size).toBe(ids.length)
  })
})

// The largest error of each tensor of each kernel file over its cases, and the seed that drew the inputs.
afterAll(() => {
  const worst = new Map<string, { error: number; where: string }>()
  for (const r of results) {
    for (const t of r.tensors) {
      const key = `${r.file.padEnd(20)} ${r.kernel}: ${t.tensor}`
      const seen = worst.get(key)
      if (seen === undefined || t.relativeError > seen.error) worst.set(key, { error: t.relativeError, where: `${r.case} (${r.variant})` })
    }
  }
  const lines = [...worst].map(([key, { error, where }]) => `  ${error.toExponential(2).padStart(9)}  ${key}   [worst: ${where}]`)
  console.log(`kernel cases: ${results.length} run with seed ${seed} (SMOL_TEST_SEED=${seed} replays); max relative error per tensor:\n${lines.join("\n")}`)
})

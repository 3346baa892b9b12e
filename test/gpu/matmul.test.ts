import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { bufferView, Gpu } from "../../src/gpu/Gpu.ts"
import { matmul, type MatmulShape, type MatmulVariant, matmulVariantFor } from "../../src/gpu/kernels/matmul.ts"
import { matmulCpu } from "../../src/gpu/kernels/matmul.cpu.ts"
import { expectClose, randomArray, rng, testSeed } from "../support/compare.ts"

const seed = testSeed()
const next = rng(seed)

// Odd and even shapes, none of them multiples of the tiles (4×4 to 16×16 per invocation, 64×64 per workgroup).
const shapes: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 9, 130],
  [64, 64, 64],
  [129, 67, 33],
  [200, 131, 257],
  // Large enough for the 16×16 register tile (small products get smaller tiles).
  [300, 263, 37]
]
const forms = [
  { name: "A·B", transA: false, transB: false },
  { name: "A·Bᵀ", transA: false, transB: true },
  { name: "Aᵀ·B", transA: true, transB: false }
] as const
const variants: ReadonlyArray<MatmulVariant> = ["register", "workgroup"]

const check = (shape: MatmulShape, variant: MatmulVariant, label: string, initialC?: Float32Array) =>
  Effect.gen(function*() {
    const gpu = yield* Gpu
    const batch = shape.batch ?? 1
    const sizeA = (shape.strideA ?? shape.m * shape.k) * (batch - 1) + shape.m * shape.k
    const sizeB = (shape.strideB ?? shape.k * shape.n) * (batch - 1) + shape.k * shape.n
    const a = randomArray(next, sizeA)
    const b = randomArray(next, sizeB)
    const c0 = initialC ?? new Float32Array(batch * shape.m * shape.n)
    const [A, B, C] = [yield* gpu.upload(a, "A"), yield* gpu.upload(b, "B"), yield* gpu.upload(c0, "C")]
    yield* gpu.run([matmul(gpu, shape, A, B, C, variant)])
    const got = yield* gpu.readF32(C)
    expectClose(`${label} (seed ${seed})`, got, matmulCpu(shape, a, b, initialC))
  }).pipe(Effect.scoped)

layer(Gpu.layer)("matmul on the current adapter", (it) => {
  it.effect("picks register tiling on software adapters and workgroup tiling on GPUs", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      expect(matmulVariantFor(gpu)).toBe(gpu.adapter.kind === "software" ? "register" : "workgroup")
    }))

  for (const variant of variants) {
    describe(`${variant} tiling`, () => {
      for (const form of forms) {
        it.effect(`${form.name} matches the CPU reference on odd and even shapes`, () =>
          Effect.forEach(shapes, ([m, n, k]) =>
            check({ m, n, k, transA: form.transA, transB: form.transB }, variant, `${form.name} ${m}×${n}×${k} ${variant}`)))
      }

      it.effect("batched A·Bᵀ with a broadcast operand (stride 0), as attention uses", () =>
        Effect.gen(function*() {
          yield* check({ m: 19, n: 23, k: 16, batch: 5, transB: true }, variant, `batched ${variant}`)
          yield* check({ m: 19, n: 23, k: 16, batch: 5, strideB: 0 }, variant, `broadcast B ${variant}`)
          yield* check({ m: 7, n: 33, k: 12, batch: 3, transA: true, strideA: 0 }, variant, `broadcast Aᵀ ${variant}`)
        }))

      it.effect("works on column blocks of wider matrices through leading dimensions and aligned views", () =>
        Effect.gen(function*() {
          const gpu = yield* Gpu
          // C is the column block [64, 64 + 50) of a [37, 128] matrix; A uses the first 40 of 96 columns;
          // Bᵀ is stored as rows of 70 of which the first 40 count: all as a head split by vocabulary would be.
          const [m, n, k, lda, ldb, ldc, col0] = [37, 50, 40, 96, 70, 128, 64]
          const a = randomArray(next, m * lda)
          const b = randomArray(next, n * ldb)
          const c = randomArray(next, m * ldc)
          const [A, B, C] = [yield* gpu.upload(a, "A"), yield* gpu.upload(b, "B"), yield* gpu.upload(c, "C")]
          const block = bufferView(C, col0 * 4, ((m - 1) * ldc + n) * 4, "C block")
          const shape = { m, n, k, lda, ldb, ldc, transB: true, accumulate: true }
          yield* gpu.run([matmul(gpu, shape, A, B, block, variant)])
          const want = Float32Array.from(c)
          want.set(matmulCpu(shape, a, b, c.subarray(col0)).subarray(0, (m - 1) * ldc + n), col0)
          expectClose(`leading dimensions ${variant}`, yield* gpu.readF32(C), want)
        }).pipe(Effect.scoped))

      it.effect("accumulates alpha·A·B into C, as gradient accumulation does", () =>
        check(
          { m: 37, n: 29, k: 41, alpha: 0.5, accumulate: true, transA: true },
          variant,
          `accumulate ${variant}`,
          randomArray(next, 37 * 29)
        ))
    })
  }
})

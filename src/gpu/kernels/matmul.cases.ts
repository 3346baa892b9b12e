import { Effect } from "effect"
import { bufferView } from "../Gpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"
import { matmul, type MatmulShape, type MatmulVariant } from "./matmul.ts"
import { matmulCpu } from "./matmul.cpu.ts"

// Odd and even shapes, none of them multiples of the tiles (4×4 to 16×16 per invocation, 64×64 per workgroup).
const shapes: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 9, 130],
  [64, 64, 64],
  [129, 67, 33],
  [200, 131, 257],
  // Large enough for the 16×16 register tile (small products get smaller tiles).
  [300, 263, 37],
  [256, 256, 256]
]
const forms = [
  { name: "A·B", transA: false, transB: false },
  { name: "A·Bᵀ", transA: false, transB: true },
  { name: "Aᵀ·B", transA: true, transB: false }
] as const
const variants: ReadonlyArray<MatmulVariant> = ["register", "workgroup"]

/** C = op(A)·op(B) on random operands laid out for `shape` (strides included), optionally onto a random C. */
const product = (kernel: string, name: string, shape: MatmulShape, variant: MatmulVariant, onto = false): KernelCase =>
  kernelCase({
    kernel,
    case: name,
    variant,
    inputs: (next) => {
      const batch = shape.batch ?? 1
      const sizeA = (shape.strideA ?? shape.m * shape.k) * (batch - 1) + shape.m * shape.k
      const sizeB = (shape.strideB ?? shape.k * shape.n) * (batch - 1) + shape.k * shape.n
      return {
        a: randomArray(next, sizeA),
        b: randomArray(next, sizeB),
        c: onto ? randomArray(next, batch * shape.m * shape.n) : undefined
      }
    },
    gpu: (gpu, { a, b, c }) =>
      Effect.gen(function*() {
        const [A, B] = [yield* gpu.upload(a, "A"), yield* gpu.upload(b, "B")]
        const C = c === undefined ? yield* gpu.buffer((shape.batch ?? 1) * shape.m * shape.n * 4, "C") : yield* gpu.upload(c, "C")
        yield* gpu.run([matmul(gpu, shape, A, B, C, variant)])
        return { C: yield* gpu.readF32(C) }
      }),
    cpu: ({ a, b, c }) => ({ C: matmulCpu(shape, a, b, c) })
  })

// C is the column block [64, 64 + 50) of a [37, 128] matrix; A uses the first 40 of 96 columns; Bᵀ is stored as
// rows of 70 of which the first 40 count: all as a head split by vocabulary would be.
const leadingDimensions = (variant: MatmulVariant): KernelCase => {
  const [m, n, k, lda, ldb, ldc, col0] = [37, 50, 40, 96, 70, 128, 64] as const
  const shape: MatmulShape = { m, n, k, lda, ldb, ldc, transB: true, accumulate: true }
  return kernelCase({
    kernel: "matmul A·Bᵀ",
    case: "column blocks: lda 96, ldb 70, ldc 128, C a view at column 64, accumulated",
    variant,
    inputs: (next) => ({ a: randomArray(next, m * lda), b: randomArray(next, n * ldb), c: randomArray(next, m * ldc) }),
    gpu: (gpu, { a, b, c }) =>
      Effect.gen(function*() {
        const [A, B, C] = [yield* gpu.upload(a, "A"), yield* gpu.upload(b, "B"), yield* gpu.upload(c, "C")]
        const block = bufferView(C, col0 * 4, ((m - 1) * ldc + n) * 4, "C block")
        yield* gpu.run([matmul(gpu, shape, A, B, block, variant)])
        return { C: yield* gpu.readF32(C) }
      }),
    cpu: ({ a, b, c }) => {
      const want = Float32Array.from(c)
      want.set(matmulCpu(shape, a, b, c.subarray(col0)).subarray(0, (m - 1) * ldc + n), col0)
      return { C: want }
    }
  })
}

export const matmulCases: ReadonlyArray<KernelCase> = variants.flatMap((variant) => [
  ...forms.flatMap((form) =>
    shapes.map(([m, n, k]) =>
      product(`matmul ${form.name}`, `${m}×${n}×${k}`, { m, n, k, transA: form.transA, transB: form.transB }, variant)
    )
  ),
  // Attention's batched products, with an operand shared by every batch entry (stride 0).
  product("matmul batched A·Bᵀ", "5×19×23×16", { m: 19, n: 23, k: 16, batch: 5, transB: true }, variant),
  product("matmul batched A·B", "5×19×23×16, B broadcast (stride 0)", { m: 19, n: 23, k: 16, batch: 5, strideB: 0 }, variant),
  product("matmul batched Aᵀ·B", "3×7×33×12, Aᵀ broadcast (stride 0)", { m: 7, n: 33, k: 12, batch: 3, transA: true, strideA: 0 }, variant),
  leadingDimensions(variant),
  // Gradient accumulation: C += alpha·Aᵀ·B.
  product("matmul Aᵀ·B", "37×29×41, C += 0.5·Aᵀ·B", { m: 37, n: 29, k: 41, alpha: 0.5, accumulate: true, transA: true }, variant, true)
])

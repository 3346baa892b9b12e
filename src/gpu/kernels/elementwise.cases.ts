import { Effect } from "effect"
import { binary, type BinaryOp, binaryOps, broadcastShapes, scaleOp, type Shape, sizeOf, unary, type UnaryOp, unaryOps } from "./elementwise.ts"
import { binaryCpu, unaryCpu } from "./elementwise.cpu.ts"
import { type KernelCase, kernelCase, randomArray } from "./kernel-case.ts"

// Inputs inside each op's domain: log, sqrt and rsqrt get positive numbers.
const domain: Readonly<Record<string, readonly [number, number]>> = { log: [0.01, 10], sqrt: [0, 10], rsqrt: [0.01, 10] }

// One element, part of one workgroup, and an odd million (the last workgroup part full).
const unarySizes = [1, 63, 1_000_003]

const unaryCase = (op: UnaryOp, size: number): KernelCase =>
  kernelCase({
    kernel: op.name,
    case: `×${size}, into another buffer and in place`,
    // One rounding of a correctly rounded function; llvmpipe's exp and log are within a few ulp.
    tolerance: 1e-5,
    inputs: (next) => {
      const [lo, hi] = domain[op.name] ?? [-4, 4]
      return randomArray(next, size, lo, hi)
    },
    gpu: (gpu, x) =>
      Effect.gen(function*() {
        const X = yield* gpu.upload(x, "x")
        const Y = yield* gpu.buffer(size * 4, "y")
        yield* gpu.run([unary(gpu, op, X, Y, size), unary(gpu, op, X, X, size)])
        return { y: yield* gpu.readF32(Y), "in place": yield* gpu.readF32(X) }
      }),
    cpu: (x) => {
      const y = unaryCpu(op, x)
      return { y, "in place": y }
    }
  })

const broadcastCases: ReadonlyArray<readonly [Shape, Shape]> = [
  [[7, 9], [7, 9]],
  [[7, 9], [9]],
  [[7, 9], [7, 1]],
  [[3, 1, 5], [4, 1]],
  [[1], [2, 3, 4]],
  [[2, 1, 3, 1], [1, 5, 1, 6]],
  [[300, 577], [577]]
]

const binaryCase = (op: BinaryOp, as: Shape, bs: Shape): KernelCase =>
  kernelCase({
    kernel: op.name,
    case: `[${as.join("×")}]·[${bs.join("×")}]`,
    tolerance: 1e-6,
    inputs: (next) => ({
      a: randomArray(next, sizeOf(as), -3, 3),
      // Keep divisors away from zero so the comparison measures the kernel, not a pole.
      b: op.name === "div" ? randomArray(next, sizeOf(bs), 0.5, 3) : randomArray(next, sizeOf(bs), -3, 3)
    }),
    gpu: (gpu, { a, b }) =>
      Effect.gen(function*() {
        const [A, B] = [yield* gpu.upload(a, "a"), yield* gpu.upload(b, "b")]
        const Y = yield* gpu.buffer(sizeOf(broadcastShapes(as, bs)) * 4, "y")
        yield* gpu.run([binary(gpu, op, A, as, B, bs, Y)])
        return { y: yield* gpu.readF32(Y) }
      }),
    cpu: ({ a, b }) => ({ y: binaryCpu(op, a, as, b, bs) })
  })

export const elementwiseCases: ReadonlyArray<KernelCase> = [
  ...[...Object.values(unaryOps), scaleOp(-2.5)].flatMap((op) => unarySizes.map((size) => unaryCase(op, size))),
  ...Object.values(binaryOps).flatMap((op) => broadcastCases.map(([as, bs]) => binaryCase(op, as, bs)))
]

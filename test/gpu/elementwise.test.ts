import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { binary, binaryOps, broadcastShapes, scaleOp, type Shape, sizeOf, unary, unaryOps } from "../../src/gpu/kernels/elementwise.ts"
import { binaryCpu, unaryCpu } from "../../src/gpu/kernels/elementwise.cpu.ts"
import { expectClose, randomArray, rng, testSeed } from "../support/compare.ts"

const seed = testSeed()
const next = rng(seed)

// Inputs inside each op's domain: log, sqrt and rsqrt get positive numbers.
const domain: Record<string, readonly [number, number]> = { log: [0.01, 10], sqrt: [0, 10], rsqrt: [0.01, 10] }

layer(Gpu.layer)("elementwise kernels", (it) => {
  it.effect("every unary op matches its JavaScript twin, in place or not, on 1 to 1,000,003 elements", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      for (const op of [...Object.values(unaryOps), scaleOp(-2.5)]) {
        for (const size of [1, 63, 1_000_003]) {
          const [lo, hi] = domain[op.name] ?? [-4, 4]
          const x = randomArray(next, size, lo, hi)
          const X = yield* gpu.upload(x, "x")
          const Y = yield* gpu.buffer(size * 4, "y")
          yield* gpu.run([unary(gpu, op, X, Y, size), unary(gpu, op, X, X, size)])
          const want = unaryCpu(op, x)
          expectClose(`${op.name} ×${size} (seed ${seed})`, yield* gpu.readF32(Y), want, 1e-5)
          expectClose(`${op.name} ×${size} in place (seed ${seed})`, yield* gpu.readF32(X), want, 1e-5)
        }
      }
    }).pipe(Effect.scoped))

  const cases: ReadonlyArray<readonly [Shape, Shape]> = [
    [[7, 9], [7, 9]],
    [[7, 9], [9]],
    [[7, 9], [7, 1]],
    [[3, 1, 5], [4, 1]],
    [[1], [2, 3, 4]],
    [[2, 1, 3, 1], [1, 5, 1, 6]],
    [[300, 577], [577]]
  ]

  it.effect("binary ops broadcast like NumPy", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      for (const op of Object.values(binaryOps)) {
        for (const [as, bs] of cases) {
          const a = randomArray(next, sizeOf(as), -3, 3)
          // Keep divisors away from zero so the comparison measures the kernel, not a pole.
          const b = op.name === "div" ? randomArray(next, sizeOf(bs), 0.5, 3) : randomArray(next, sizeOf(bs), -3, 3)
          const A = yield* gpu.upload(a, "a")
          const B = yield* gpu.upload(b, "b")
          const Y = yield* gpu.buffer(sizeOf(broadcastShapes(as, bs)) * 4, "y")
          yield* gpu.run([binary(gpu, op, A, as, B, bs, Y)])
          expectClose(`${op.name} [${as}]·[${bs}] (seed ${seed})`, yield* gpu.readF32(Y), binaryCpu(op, a, as, b, bs), 1e-6)
        }
      }
    }).pipe(Effect.scoped))

  it.effect("refuses shapes that do not broadcast", () =>
    Effect.sync(() => expect(() => broadcastShapes([3, 4], [5])).toThrow(/cannot broadcast/)))
})

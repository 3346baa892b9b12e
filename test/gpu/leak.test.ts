import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import v8 from "node:v8"
import vm from "node:vm"
import { gpuResourceCounts } from "../../src/gpu/buffer-pool.ts"
import { makeGpu } from "../../src/gpu/Gpu.ts"
import { binary, binaryOps } from "../../src/gpu/kernels/elementwise.ts"
import { rowSoftmax } from "../../src/gpu/kernels/softmax.ts"

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const CYCLES = 200
const size = 64 * 1024

/** One cycle: a device, three buffers, two kernels; it succeeds, fails or is interrupted midway by `mode`. */
const cycle = (mode: number) =>
  Effect.gen(function*() {
    const submitted = yield* Deferred.make<void>()
    const work = Effect.scoped(Effect.gen(function*() {
      const gpu = yield* makeGpu()
      const a = yield* gpu.upload(new Float32Array(size).fill(1), "a")
      const b = yield* gpu.upload(new Float32Array(size).fill(2), "b")
      const c = yield* gpu.buffer(size * 4, "c")
      yield* gpu.run([binary(gpu, binaryOps.add, a, [size], b, [size], c), rowSoftmax(gpu, c, c, 64, 1024)])
      yield* Deferred.succeed(submitted, undefined)
      if (mode === 1) return yield* Effect.fail("failed midway" as const)
      const out = yield* gpu.readF32(c)
      expect(out[0]).toBeCloseTo(1 / 1024, 6)
    }))
    if (mode !== 2) return yield* Effect.exit(work)
    // Interrupted right after submitting, typically while the read-back is still mapping.
    const fiber = yield* Effect.forkChild(work)
    yield* Deferred.await(submitted)
    yield* Fiber.interrupt(fiber)
    return yield* Fiber.await(fiber)
  })

const memory = () => {
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
}

describe("GPU resources", () => {
  it.live(`${CYCLES} cycles of device + buffers + dispatch, some failing or interrupted midway, leak nothing`, () =>
    Effect.gen(function*() {
      const start = gpuResourceCounts()
      let baseline = memory()
      const outcomes = { success: 0, failure: 0, interrupted: 0 }
      for (let i = 0; i < CYCLES; i++) {
        const exit = yield* cycle(i % 3)
        if (Exit.isSuccess(exit)) outcomes.success++
        else if (exit.cause.reasons.some((r) => r._tag === "Interrupt")) outcomes.interrupted++
        else outcomes.failure++
        const now = gpuResourceCounts()
        expect(now.devicesDestroyed, `cycle ${i}: every device destroyed`).toBe(now.devicesCreated)
        expect(now.buffersDestroyed, `cycle ${i}: every buffer destroyed`).toBe(now.buffersCreated)
        // dawn.node frees a device's native memory (≈2 MiB on GL) only when its JS wrapper is collected, and
        // V8 does not see that weight, so the test collects every cycle: memory then stays flat only if
        // nothing of ours still references a dead device or buffer. (This caught a real leak: a device whose
        // onuncapturederror handler was still set was never collected.)
        const settled = memory()
        yield* Effect.sleep(1)
        // Allocators and driver caches settle during the first cycles; growth is measured after them.
        if (i === 39) baseline = settled
      }
      const end = memory()
      const counts = gpuResourceCounts()
      expect(counts.devicesCreated - start.devicesCreated).toBe(CYCLES)
      expect(counts.buffersCreated - start.buffersCreated).toBeGreaterThanOrEqual(CYCLES * 3)
      expect(outcomes.success).toBeGreaterThan(0)
      expect(outcomes.failure).toBeGreaterThan(0)
      expect(outcomes.interrupted).toBeGreaterThan(0)
      const mb = (x: number) => (x / 2 ** 20).toFixed(1)
      console.log(
        `leak test: ${JSON.stringify(outcomes)}; over the last ${CYCLES - 40} cycles RSS ${mb(baseline.rss)} → ${mb(end.rss)} MiB, ` +
          `JS heap ${mb(baseline.heap)} → ${mb(end.heap)} MiB`
      )
      // Each cycle allocates 768 KiB of buffers and a device of ≈2 MiB; leaking either would add > 120 MiB.
      expect(end.rss - baseline.rss, "RSS growth").toBeLessThan(32 * 2 ** 20)
      expect(end.heap - baseline.heap, "JS heap growth").toBeLessThan(8 * 2 ** 20)
    }))
})

import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Fiber, Layer } from "effect"
import { describeAdapter } from "../../src/gpu/adapter.ts"
import { gpuResourceCounts, sizeClass } from "../../src/gpu/buffer-pool.ts"
import { GpuError } from "../../src/gpu/errors.ts"
import { dispatch, Gpu, makeGpu } from "../../src/gpu/Gpu.ts"
import { binary, binaryOps } from "../../src/gpu/kernels/elementwise.ts"

const doubleInPlace = {
  label: "double",
  code: `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&X)) { X[g.x] = 2.0 * X[g.x]; }
}`
}

const failureOf = <A>(exit: Exit.Exit<A, unknown>): GpuError => {
  expect(Exit.isFailure(exit), "expected a failure").toBe(true)
  if (!Exit.isFailure(exit)) throw new Error("unreachable")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  expect(error, `expected a typed failure, got ${String(exit.cause)}`).toBeDefined()
  const failure = (error as { error: unknown }).error
  expect(failure).toBeInstanceOf(GpuError)
  return failure as GpuError
}

layer(Gpu.layer)("Gpu service", (it) => {
  it.effect("says which adapter it got, with real limits and features", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      expect(["hardware", "software"]).toContain(gpu.adapter.kind)
      expect(gpu.attempts.length).toBeGreaterThan(0)
      expect(describeAdapter(gpu.adapter)).toMatch(new RegExp(`^${gpu.adapter.kind} adapter`))
      // The device gets the adapter's limits, not WebGPU's low defaults (8 storage buffers, 256 invocations).
      expect(gpu.limits.maxStorageBuffersPerShaderStage).toBe(gpu.device.limits.maxStorageBuffersPerShaderStage)
      expect(gpu.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8)
      expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256)
      expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024)
      expect(typeof gpu.features.shaderF16).toBe("boolean")
      if (gpu.adapter.kind === "software") expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBe(1024)
    }))

  it.effect("records dispatches, copies and clears into one command buffer, in order", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const a = yield* gpu.upload(Float32Array.of(1, 2, 3), "a")
      const b = yield* gpu.upload(Float32Array.of(10, 20, 30), "b")
      const c = yield* gpu.buffer(12, "c")
      yield* gpu.run([
        dispatch(doubleInPlace, [a], [1]), // a = 2, 4, 6
        binary(gpu, binaryOps.add, a, [3], b, [3], c), // c = 12, 24, 36
        { _tag: "Copy", from: c, to: a, bytes: 12 }, // a = 12, 24, 36
        { _tag: "Clear", buffer: b }, // b = 0
        dispatch(doubleInPlace, [a], [1]) // a = 24, 48, 72
      ])
      expect([...(yield* gpu.readF32(a))]).toEqual([24, 48, 72])
      expect([...(yield* gpu.readF32(b))]).toEqual([0, 0, 0])
      expect([...(yield* gpu.readF32(c))]).toEqual([12, 24, 36])
    }).pipe(Effect.scoped))

  it.effect("reuses a freed buffer of the same size class instead of creating one", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      yield* Effect.scoped(gpu.buffer(10_000, "first"))
      const before = gpuResourceCounts().buffersCreated
      const again = yield* Effect.scoped(Effect.map(gpu.buffer(9_900, "second"), (b) => b.buffer.size))
      expect(gpuResourceCounts().buffersCreated).toBe(before)
      expect(again).toBe(sizeClass(10_000))
      // A reused buffer starts zeroed, like a new one.
      yield* Effect.scoped(Effect.andThen(gpu.buffer(4000, "dirty"), (b) => gpu.write(b, new Float32Array(1000).fill(7))))
      const reused = yield* Effect.scoped(Effect.flatMap(gpu.buffer(4000, "clean"), (b) => gpu.readF32(b)))
      expect(reused.every((v) => v === 0)).toBe(true)
      expect(sizeClass(10_000)).toBeLessThanOrEqual(10_000 * 1.125)
    }))

  it.effect("an invalid kernel is a typed Validation error that names the line", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const exit = yield* Effect.exit(gpu.pipeline({ label: "broken", code: "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }" }))
      const error = failureOf(exit)
      expect(error.reason).toBe("Validation")
      expect(error.message).toMatch(/kernel "broken" failed to compile/)
      expect(error.message).toMatch(/line 1:/)
    }))

  it.effect("requests beyond the device's limits are Limit errors, not crashes", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const tooBig = failureOf(yield* Effect.exit(Effect.scoped(gpu.buffer(gpu.limits.maxBufferSize + 4, "huge"))))
      expect(tooBig.reason).toBe("Limit")
      expect(tooBig.message).toMatch(/huge/)
      const x = yield* gpu.buffer(64, "x")
      const tooMany = failureOf(yield* Effect.exit(gpu.run([dispatch(doubleInPlace, [x], [gpu.limits.maxComputeWorkgroupsPerDimension + 1])])))
      expect(tooMany.reason).toBe("Limit")
      // A binding larger than maxStorageBufferBindingSize must be split; the error says so and names the tensor.
      if (gpu.limits.maxStorageBufferBindingSize + 4 <= gpu.limits.maxBufferSize) {
        const wide = yield* gpu.buffer(gpu.limits.maxStorageBufferBindingSize + 4, "embedding")
        const overBinding = failureOf(yield* Effect.exit(gpu.run([dispatch(doubleInPlace, [wide], [1])])))
        expect(overBinding.reason).toBe("Limit")
        expect(overBinding.message).toMatch(/"embedding".*binding limit.*split/)
      }
    }).pipe(Effect.scoped))

  it.effect("writes past the end of a buffer are refused", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const small = yield* gpu.buffer(8, "small")
      const error = failureOf(yield* Effect.exit(gpu.write(small, new Float32Array(4))))
      expect(error.reason).toBe("Limit")
    }).pipe(Effect.scoped))
})

describe("Gpu lifecycle", () => {
  it.effect("SMOL_GPU_BACKEND forces a backend", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      expect(gpu.adapter.backend).toBe("opengl")
      expect(gpu.attempts.map((a) => a.backend)).toEqual(["opengl"])
    }).pipe(
      Effect.provide(Gpu.layer),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { SMOL_GPU_BACKEND: "opengl" } })))
    ))

  it.effect("a bad SMOL_GPU_BACKEND is a configuration error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(Gpu.layer)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/SMOL_GPU_BACKEND/)
    }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { SMOL_GPU_BACKEND: "cuda" } })))))

  it.effect("no adapter is a NoAdapter error listing what was tried and how to install the fallback", () =>
    Effect.gen(function*() {
      // A backend this platform does not have stands in for a machine without any adapter.
      const missing = process.platform === "darwin" ? "d3d12" : "metal"
      const error = failureOf(yield* Effect.exit(Effect.scoped(makeGpu({ backend: missing, kind: "any", poolBytes: 0 }))))
      expect(error.reason).toBe("NoAdapter")
      expect(error.message).toContain(`${missing} (core): no adapter`)
      expect(error.message).toContain("apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri")
    }))

  it.live("destroys the device and every buffer when the scope closes: success, failure, interruption", () =>
    Effect.gen(function*() {
      const work = Effect.gen(function*() {
        const gpu = yield* makeGpu()
        const x = yield* gpu.upload(new Float32Array(1000).fill(1), "x")
        yield* gpu.buffer(4096, "y")
        yield* gpu.run([dispatch(doubleInPlace, [x], [16])])
        return gpu
      })
      const start = gpuResourceCounts()
      yield* Effect.scoped(work)
      yield* Effect.exit(Effect.scoped(Effect.andThen(work, Effect.fail("midway"))))
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.andThen(work, Effect.never)))
      yield* Effect.sleep(200)
      yield* Fiber.interrupt(fiber)
      const end = gpuResourceCounts()
      expect(end.devicesCreated - start.devicesCreated).toBe(3)
      expect(end.devicesDestroyed - start.devicesDestroyed).toBe(3)
      expect(end.buffersDestroyed - start.buffersDestroyed).toBe(end.buffersCreated - start.buffersCreated)
    }))

  it.live("a lost device fails the next operation with DeviceLost instead of hanging", () =>
    Effect.gen(function*() {
      const gpu = yield* makeGpu()
      const x = yield* gpu.upload(new Float32Array(16), "x")
      gpu.device.destroy()
      const error = failureOf(yield* Effect.exit(gpu.readF32(x)))
      expect(error.reason).toBe("DeviceLost")
      const again = failureOf(yield* Effect.exit(gpu.run([dispatch(doubleInPlace, [x], [1])])))
      expect(again.reason).toBe("DeviceLost")
    }).pipe(Effect.scoped))
})

import { Config, Context, Effect, Layer, type Scope } from "effect"
import {
  type AdapterKind,
  type AdapterPreference,
  type AdapterSummary,
  type ChosenAdapter,
  chooseAdapter,
  describeAdapter,
  type GpuBackend,
  gpuBackends
} from "./adapter.ts"
import { BufferPool, countDevice, type PoolStats } from "./buffer-pool.ts"
import { gpuError, GpuError } from "./errors.ts"

/** A WGSL compute kernel. Shapes are baked into the source by the generators, so the source is the cache key. */
export interface Kernel {
  readonly label: string
  readonly code: string
  readonly entryPoint?: string
  readonly constants?: Readonly<Record<string, number>>
}

/** A storage buffer holding `bytes` meaningful bytes (the GPU allocation may be larger: size classes). */
export interface GpuBuffer {
  readonly buffer: GPUBuffer
  readonly bytes: number
  readonly label: string
  /** Where this buffer starts inside `buffer`, for views (`bufferView`); 0 when absent. */
  readonly offset?: number
}

/**
 * A window of `bytes` bytes at `byteOffset` into another buffer, owned by that buffer's scope. A tensor larger
 * than the device's binding limit is bound as several views (offsets must be multiples of the device's
 * minStorageBufferOffsetAlignment, 256 bytes on most adapters).
 */
export const bufferView = (of: GpuBuffer, byteOffset: number, bytes: number, label = `${of.label}[${byteOffset}..]`): GpuBuffer => {
  if (byteOffset < 0 || bytes <= 0 || byteOffset + bytes > of.bytes) {
    throw new RangeError(`view [${byteOffset}, ${byteOffset + bytes}) lies outside buffer "${of.label}" of ${of.bytes} bytes`)
  }
  return { buffer: of.buffer, bytes, label, offset: (of.offset ?? 0) + byteOffset }
}

export interface Dispatch {
  readonly _tag: "Dispatch"
  readonly kernel: Kernel
  /** Bound in order as @group(0) @binding(0..n-1). */
  readonly bindings: ReadonlyArray<GpuBuffer>
  readonly workgroups: readonly [number, number?, number?]
}

export interface Copy {
  readonly _tag: "Copy"
  readonly from: GpuBuffer
  readonly to: GpuBuffer
  readonly bytes: number
  readonly fromOffset?: number
  readonly toOffset?: number
}

export interface Clear {
  readonly _tag: "Clear"
  readonly buffer: GpuBuffer
}

/** One step of a recorded sequence; a whole sequence becomes one command buffer. */
export type GpuStep = Dispatch | Copy | Clear

export const dispatch = (kernel: Kernel, bindings: ReadonlyArray<GpuBuffer>, workgroups: Dispatch["workgroups"]): Dispatch => ({
  _tag: "Dispatch",
  kernel,
  bindings,
  workgroups
})

export interface GpuLimits {
  readonly maxStorageBuffersPerShaderStage: number
  readonly maxComputeInvocationsPerWorkgroup: number
  readonly maxComputeWorkgroupSizeX: number
  readonly maxComputeWorkgroupSizeY: number
  readonly maxComputeWorkgroupSizeZ: number
  readonly maxComputeWorkgroupStorageSize: number
  readonly maxComputeWorkgroupsPerDimension: number
  readonly maxStorageBufferBindingSize: number
  readonly maxBufferSize: number
  readonly minStorageBufferOffsetAlignment: number
}

const requestedLimitNames = [
  "maxStorageBuffersPerShaderStage",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize"
] as const

export interface GpuFeatures {
  readonly shaderF16: boolean
  readonly timestampQuery: boolean
  readonly subgroups: boolean
}

export interface GpuStats extends PoolStats {
  readonly pipelines: number
}

export interface GpuOptions extends AdapterPreference {
  /** Bytes of freed buffers kept for reuse before further frees destroy them. */
  readonly poolBytes: number
}

export const defaultGpuOptions: GpuOptions = { backend: "auto", kind: "any", poolBytes: 1024 * 1024 * 1024 }

export type TypedArray = Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array

export interface GpuShape {
  readonly adapter: AdapterSummary
  /** Every adapter tried and what it was, for logs and error reports. */
  readonly attempts: ChosenAdapter["attempts"]
  readonly limits: GpuLimits
  readonly features: GpuFeatures
  readonly device: GPUDevice
  /** A zeroed storage buffer owned by the caller's scope: back to the pool when the scope closes successfully. */
  readonly buffer: (bytes: number, label?: string) => Effect.Effect<GpuBuffer, GpuError, Scope.Scope>
  /** A scoped storage buffer filled with `data`. */
  readonly upload: (data: TypedArray, label?: string) => Effect.Effect<GpuBuffer, GpuError, Scope.Scope>
  readonly write: (target: GpuBuffer, data: TypedArray, byteOffset?: number) => Effect.Effect<void, GpuError>
  /** Copies `bytes` (default: all) back to the CPU; waits for all work submitted before it. */
  readonly read: (source: GpuBuffer, bytes?: number) => Effect.Effect<ArrayBuffer, GpuError>
  readonly readF32: (source: GpuBuffer) => Effect.Effect<Float32Array, GpuError>
  readonly pipeline: (kernel: Kernel) => Effect.Effect<GPUComputePipeline, GpuError>
  /** Records the steps into one command buffer and submits it; does not wait for the GPU. */
  readonly run: (steps: ReadonlyArray<GpuStep>) => Effect.Effect<void, GpuError>
  /** Waits until the GPU has finished everything submitted so far. */
  readonly flush: Effect.Effect<void, GpuError>
  readonly stats: Effect.Effect<GpuStats>
}

const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST
const readbackUsage = () => GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST

const errorReason = (e: GPUError): "Validation" | "OutOfMemory" | "Internal" =>
  e.constructor.name === "GPUOutOfMemoryError" ? "OutOfMemory"
  : e.constructor.name === "GPUInternalError" ? "Internal"
  : "Validation"

/**
 * Builds the device for a chosen adapter inside the current scope. Everything it creates is released when
 * that scope closes, whether the program succeeded, failed or was interrupted.
 */
export const makeGpu = (options: GpuOptions = defaultGpuOptions): Effect.Effect<GpuShape, GpuError, Scope.Scope> =>
  Effect.gen(function*() {
    const chosen = yield* chooseAdapter(options)
    const { adapter } = chosen
    const requiredLimits: Record<string, number> = {}
    for (const name of requestedLimitNames) requiredLimits[name] = adapter.limits[name]
    const wanted: Array<GPUFeatureName> = ["shader-f16", "timestamp-query", "subgroups"]
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f))

    const device = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => adapter.requestDevice({ requiredLimits, requiredFeatures, label: "smol-pipeline" }),
        catch: (cause) =>
          gpuError("DeviceRequest", `${describeAdapter(chosen.summary)} refused a device: ${String(cause)}`, cause)
      }).pipe(Effect.tap(() => Effect.sync(() => countDevice("created")))),
      (device) =>
        Effect.sync(() => {
          pool.destroyAll()
          // dawn.node keeps a device with an error handler reachable, and it frees the device's native
          // memory only when the wrapper is collected: without this, every device would leak (≈2 MiB on GL).
          device.onuncapturederror = null
          device.destroy()
          countDevice("destroyed")
        })
    )
    const pool: BufferPool = new BufferPool(device, options.poolBytes)

    // Errors nobody captured and device loss are remembered and surface as typed failures of the next
    // operation; awaits are raced against loss so that nothing waits forever on a dead device.
    let lostMessage: string | undefined
    const uncaptured: Array<GPUError> = []
    device.onuncapturederror = (event) => {
      uncaptured.push(event.error)
    }
    const lost: Promise<never> = device.lost.then((info) => {
      lostMessage = `device lost (${info.reason}): ${info.message}`
      throw gpuError("DeviceLost", `${describeAdapter(chosen.summary)}: ${lostMessage}`)
    })
    lost.catch(() => {})

    const checkHealthy = Effect.suspend(() => {
      if (lostMessage !== undefined) {
        return Effect.fail(gpuError("DeviceLost", `${describeAdapter(chosen.summary)}: ${lostMessage}`))
      }
      const e = uncaptured.shift()
      if (e !== undefined) return Effect.fail(gpuError(errorReason(e), e.message))
      return Effect.void
    })

    const awaitGpu = <A>(what: string, reason: GpuError["reason"], thunk: () => Promise<A>) =>
      Effect.tryPromise({
        try: () => Promise.race([thunk(), lost]),
        catch: (cause) => cause instanceof GpuError ? cause : gpuError(reason, `${what}: ${String(cause)}`, cause)
      })

    /** Runs `f` under validation/OOM/internal error scopes and fails with the first error raised. */
    const guarded = <A>(what: string, f: () => A): Effect.Effect<A, GpuError> =>
      Effect.gen(function*() {
        yield* checkHealthy
        device.pushErrorScope("internal")
        device.pushErrorScope("out-of-memory")
        device.pushErrorScope("validation")
        let value: A
        try {
          value = f()
        } catch (cause) {
          for (let i = 0; i < 3; i++) device.popErrorScope().catch(() => {})
          return yield* Effect.fail(cause instanceof GpuError ? cause : gpuError("Validation", `${what}: ${String(cause)}`, cause))
        }
        const errors = yield* awaitGpu(what, "Internal", () =>
          Promise.all([device.popErrorScope(), device.popErrorScope(), device.popErrorScope()]))
        const first = errors.find((e) => e !== null)
        if (first != null) return yield* Effect.fail(gpuError(errorReason(first), `${what}: ${first.message}`))
        return value
      })

    const limits: GpuLimits = {
      ...(Object.fromEntries(requestedLimitNames.map((n) => [n, device.limits[n]])) as Record<typeof requestedLimitNames[number], number>),
      minStorageBufferOffsetAlignment: device.limits.minStorageBufferOffsetAlignment
    }

    const acquireRaw = (bytes: number, usage: number, label: string) =>
      Effect.gen(function*() {
        if (!(bytes > 0) || !Number.isInteger(bytes)) {
          return yield* Effect.fail(gpuError("Limit", `buffer "${label}": size must be a positive integer, got ${bytes}`))
        }
        if (bytes > limits.maxBufferSize) {
          return yield* Effect.fail(gpuError(
            "Limit",
            `buffer "${label}" needs ${bytes} bytes; this device allows at most ${limits.maxBufferSize} per buffer`
          ))
        }
        const reused = pool.take(bytes, usage, label)
        if (reused === null) return yield* guarded(`creating buffer "${label}" (${bytes} bytes)`, () => pool.create(bytes, usage, label))
        // WebGPU hands out new buffers zeroed; a reused one must look the same, or kernels that accumulate
        // (gradients, optimizer moments) would start from a previous owner's numbers.
        if ((usage & GPUBufferUsage.COPY_DST) !== 0 && (usage & GPUBufferUsage.MAP_READ) === 0) {
          const clear = guarded(`clearing reused buffer "${label}"`, () => {
            const encoder = device.createCommandEncoder()
            encoder.clearBuffer(reused)
            device.queue.submit([encoder.finish()])
          })
          yield* Effect.onError(clear, () => Effect.sync(() => pool.release(reused, false)))
        }
        return reused
      })

    // Returned to the pool only after success: after a failure or interruption the buffer may still be
    // mapped or hold half-written data, so it is destroyed instead.
    const scopedRaw = (bytes: number, usage: number, label: string) =>
      Effect.acquireRelease(
        acquireRaw(bytes, usage, label),
        (buffer, exit) => Effect.sync(() => pool.release(buffer, exit._tag === "Success"))
      )

    const buffer = (bytes: number, label = "buffer") =>
      scopedRaw(Math.ceil(bytes / 4) * 4, storageUsage(), label).pipe(
        Effect.map((b): GpuBuffer => ({ buffer: b, bytes: Math.ceil(bytes / 4) * 4, label }))
      )

    const write = (target: GpuBuffer, data: TypedArray, byteOffset = 0) =>
      Effect.suspend(() => {
        if (byteOffset + data.byteLength > target.bytes) {
          return Effect.fail(gpuError(
            "Limit",
            `writing ${data.byteLength} bytes at ${byteOffset} overflows buffer "${target.label}" of ${target.bytes}`
          ))
        }
        // writeBuffer needs a multiple of 4 bytes; pad odd-sized byte data.
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
          const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4)
          p.set(bytes)
          return p
        })()
        return guarded(`writing buffer "${target.label}"`, () =>
          device.queue.writeBuffer(target.buffer, (target.offset ?? 0) + byteOffset, padded.buffer, padded.byteOffset, padded.byteLength))
      })

    const upload = (data: TypedArray, label = "upload") =>
      Effect.tap(buffer(Math.max(4, data.byteLength), label), (b) => write(b, data))

    const read = (source: GpuBuffer, bytes = source.bytes) =>
      Effect.scoped(Effect.gen(function*() {
        const size = Math.ceil(bytes / 4) * 4
        if (size > source.bytes) {
          return yield* Effect.fail(gpuError("Limit", `reading ${bytes} bytes from buffer "${source.label}" of ${source.bytes}`))
        }
        const staging = yield* scopedRaw(size, readbackUsage(), `${source.label} (read-back)`)
        yield* guarded(`copying "${source.label}" for read-back`, () => {
          const encoder = device.createCommandEncoder()
          encoder.copyBufferToBuffer(source.buffer, source.offset ?? 0, staging, 0, size)
          device.queue.submit([encoder.finish()])
        })
        yield* awaitGpu(`mapping "${source.label}" for read-back`, "Map", () => staging.mapAsync(GPUMapMode.READ, 0, size))
        const out = staging.getMappedRange(0, size).slice(0, bytes)
        staging.unmap()
        return out
      }))

    const readF32 = (source: GpuBuffer) => Effect.map(read(source), (ab) => new Float32Array(ab))

    const pipelines = new Map<string, Promise<GPUComputePipeline>>()
    const pipeline = (kernel: Kernel) =>
      Effect.gen(function*() {
        const entryPoint = kernel.entryPoint ?? "main"
        const key = `${entryPoint}\u0000${JSON.stringify(kernel.constants ?? {})}\u0000${kernel.code}`
        const cached = pipelines.get(key)
        if (cached !== undefined) return yield* awaitGpu(`pipeline "${kernel.label}"`, "Validation", () => cached)
        yield* checkHealthy
        device.pushErrorScope("validation")
        const module = device.createShaderModule({ code: kernel.code, label: kernel.label })
        const compute: GPUProgrammableStage = kernel.constants === undefined
          ? { module, entryPoint }
          : { module, entryPoint, constants: { ...kernel.constants } }
        const created = device.createComputePipelineAsync({ layout: "auto", compute, label: kernel.label })
        const scopeError = device.popErrorScope()
        const result = yield* awaitGpu(`pipeline "${kernel.label}"`, "Validation", () =>
          Promise.allSettled([created, scopeError, module.getCompilationInfo()]))
        const [made, scoped, info] = result
        if (made.status === "fulfilled" && scoped.status === "fulfilled" && scoped.value === null) {
          pipelines.set(key, Promise.resolve(made.value))
          return made.value
        }
        const messages = info.status === "fulfilled"
          ? info.value.messages.filter((m) => m.type === "error").map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`)
          : []
        // The shader module's own error says what is wrong; the pipeline's only says it is invalid.
        const why = scoped.status === "fulfilled" && scoped.value !== null ? scoped.value.message
          : made.status === "rejected" ? String(made.reason)
          : "unknown error"
        return yield* Effect.fail(gpuError(
          "Validation",
          `kernel "${kernel.label}" failed to compile: ${why}${messages.length > 0 ? `\n${messages.join("\n")}` : ""}`
        ))
      })

    const checkDispatch = (d: Dispatch): GpuError | undefined => {
      const [x, y = 1, z = 1] = d.workgroups
      for (const n of [x, y, z]) {
        if (!Number.isInteger(n) || n < 0 || n > limits.maxComputeWorkgroupsPerDimension) {
          return gpuError("Limit", `kernel "${d.kernel.label}": workgroup count ${n} outside 0..${limits.maxComputeWorkgroupsPerDimension}`)
        }
      }
      for (const b of d.bindings) {
        if ((b.offset ?? 0) % limits.minStorageBufferOffsetAlignment !== 0) {
          return gpuError("Limit", `kernel "${d.kernel.label}": view "${b.label}" starts at byte ${b.offset}, not a multiple of ${limits.minStorageBufferOffsetAlignment}`)
        }
        if (b.bytes > limits.maxStorageBufferBindingSize) {
          return gpuError("Limit", `kernel "${d.kernel.label}": buffer "${b.label}" has ${b.bytes} bytes, over this device's binding limit of ${limits.maxStorageBufferBindingSize}; split the tensor`)
        }
      }
      return undefined
    }

    const run = (steps: ReadonlyArray<GpuStep>) =>
      Effect.gen(function*() {
        const resolved: Array<GPUComputePipeline | undefined> = []
        for (const step of steps) {
          if (step._tag !== "Dispatch") {
            resolved.push(undefined)
            continue
          }
          const bad = checkDispatch(step)
          if (bad !== undefined) return yield* Effect.fail(bad)
          resolved.push(yield* pipeline(step.kernel))
        }
        yield* guarded(`running ${steps.length} steps`, () => {
          const encoder = device.createCommandEncoder()
          let pass: GPUComputePassEncoder | undefined
          steps.forEach((step, i) => {
            if (step._tag === "Dispatch") {
              const p = resolved[i]!
              pass ??= encoder.beginComputePass()
              pass.setPipeline(p)
              pass.setBindGroup(0, device.createBindGroup({
                layout: p.getBindGroupLayout(0),
                entries: step.bindings.map((b, binding) => ({ binding, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.bytes } }))
              }))
              const [x, y = 1, z = 1] = step.workgroups
              pass.dispatchWorkgroups(x, y, z)
              return
            }
            pass?.end()
            pass = undefined
            if (step._tag === "Copy") {
              encoder.copyBufferToBuffer(
                step.from.buffer, (step.from.offset ?? 0) + (step.fromOffset ?? 0),
                step.to.buffer, (step.to.offset ?? 0) + (step.toOffset ?? 0), step.bytes
              )
            } else {
              encoder.clearBuffer(step.buffer.buffer, step.buffer.offset ?? 0, step.buffer.bytes)
            }
          })
          pass?.end()
          device.queue.submit([encoder.finish()])
        })
      })

    const flush = Effect.andThen(checkHealthy, awaitGpu("waiting for the queue", "Internal", () => device.queue.onSubmittedWorkDone()))

    const features: GpuFeatures = {
      shaderF16: device.features.has("shader-f16"),
      timestampQuery: device.features.has("timestamp-query"),
      subgroups: device.features.has("subgroups")
    }

    return {
      adapter: chosen.summary,
      attempts: chosen.attempts,
      limits,
      features,
      device,
      buffer,
      upload,
      write,
      read,
      readF32,
      pipeline,
      run,
      flush,
      stats: Effect.sync(() => ({ ...pool.stats(), pipelines: pipelines.size }))
    } satisfies GpuShape
  })

/** Options from the environment: SMOL_GPU_BACKEND, SMOL_GPU_KIND, SMOL_GPU_POOL_MB. */
export const gpuOptionsConfig: Config.Config<GpuOptions> = Config.all({
  backend: Config.Literals(["auto", ...gpuBackends], "SMOL_GPU_BACKEND").pipe(Config.withDefault("auto" as const)),
  kind: Config.Literals(["any", "hardware", "software"], "SMOL_GPU_KIND").pipe(Config.withDefault("any" as const)),
  poolBytes: Config.Int("SMOL_GPU_POOL_MB").pipe(Config.withDefault(1024), Config.map((mb) => mb * 1024 * 1024))
}) as Config.Config<GpuOptions>

/** The WebGPU device as a service: a hardware adapter first, Mesa's software rasterizer otherwise. */
export class Gpu extends Context.Service<Gpu, GpuShape>()("smol-pipeline/gpu/Gpu") {
  /** Reads SMOL_GPU_* from the environment. */
  static readonly layer: Layer.Layer<Gpu, GpuError | Config.ConfigError> = Layer.effect(
    Gpu,
    Effect.gen(function*() {
      const options = yield* gpuOptionsConfig
      return yield* makeGpu(options)
    })
  )

  static readonly layerWith = (options: Partial<GpuOptions>): Layer.Layer<Gpu, GpuError> =>
    Layer.effect(Gpu, makeGpu({ ...defaultGpuOptions, ...options }))
}

export type { AdapterKind, AdapterSummary, GpuBackend }

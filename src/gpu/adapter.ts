import { Effect } from "effect"
import { create, globals } from "webgpu"
import { gpuError, type GpuError } from "./errors.ts"

/** Dawn backends this toolkit knows how to ask for. `default` lets Dawn pick the platform's native one. */
export type GpuBackend = "default" | "vulkan" | "metal" | "d3d12" | "opengl" | "opengles"
export const gpuBackends: ReadonlyArray<GpuBackend> = ["default", "vulkan", "metal", "d3d12", "opengl", "opengles"]

export type AdapterKind = "hardware" | "software"

/** What a person needs to know about the adapter a run is on. */
export interface AdapterSummary {
  readonly backend: GpuBackend
  readonly kind: AdapterKind
  readonly featureLevel: "core" | "compatibility"
  readonly vendor: string
  readonly architecture: string
  readonly device: string
  readonly description: string
}

export interface AdapterAttempt {
  readonly backend: GpuBackend
  readonly featureLevel: "core" | "compatibility"
  readonly outcome: string
}

export interface ChosenAdapter {
  readonly adapter: GPUAdapter
  readonly summary: AdapterSummary
  readonly attempts: ReadonlyArray<AdapterAttempt>
}

export interface AdapterPreference {
  /** Only try this backend ("auto" tries all, hardware first). */
  readonly backend: GpuBackend | "auto"
  /** Refuse adapters of the other kind. */
  readonly kind: AdapterKind | "any"
}

interface Candidate {
  readonly backend: GpuBackend
  readonly featureLevel: "core" | "compatibility"
}

// Hardware GPUs are reached through the native backends at core level. Mesa's llvmpipe is only reachable
// through OpenGL at compatibility level, and it runs our WGSL about twice as fast per core as Vulkan lavapipe
// (measured with bench/matmul.ts on both), so among software adapters the GL ones are preferred.
const autoCandidates: ReadonlyArray<Candidate> = [
  { backend: "default", featureLevel: "core" },
  { backend: "vulkan", featureLevel: "core" },
  { backend: "opengl", featureLevel: "compatibility" },
  { backend: "opengles", featureLevel: "compatibility" }
]
const softwarePreference: ReadonlyArray<GpuBackend> = ["opengl", "opengles", "vulkan", "default", "metal", "d3d12"]

const softwarePattern = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|warp/i

export const classifyAdapter = (adapter: GPUAdapter): AdapterKind => {
  const info = adapter.info
  if (info.isFallbackAdapter || info.architecture === "software") return "software"
  const text = [info.vendor, info.architecture, info.device, info.description].join(" ")
  return softwarePattern.test(text) ? "software" : "hardware"
}

let globalsInstalled = false
const instances = new Map<GpuBackend, GPU>()

/**
 * One Dawn instance per backend for the whole process: instances are heavy and Dawn keeps them alive anyway.
 * The GL backend reaches Mesa through EGL; without a display it needs the surfaceless platform, which must
 * be in the environment before the first EGL call, so the code sets it rather than asking the user to.
 */
export const instanceFor = (backend: GpuBackend): GPU => {
  if (!globalsInstalled) {
    Object.assign(globalThis, globals)
    globalsInstalled = true
  }
  if ((backend === "opengl" || backend === "opengles") && process.env["EGL_PLATFORM"] === undefined) {
    process.env["EGL_PLATFORM"] = "surfaceless"
  }
  let gpu = instances.get(backend)
  if (gpu === undefined) {
    gpu = create(backend === "default" ? [] : [`backend=${backend}`])
    instances.set(backend, gpu)
  }
  return gpu
}

const summarize = (adapter: GPUAdapter, c: Candidate): AdapterSummary => ({
  backend: c.backend,
  kind: classifyAdapter(adapter),
  featureLevel: c.featureLevel,
  vendor: adapter.info.vendor,
  architecture: adapter.info.architecture,
  device: adapter.info.device,
  description: adapter.info.description
})

export const describeAdapter = (s: AdapterSummary): string =>
  `${s.kind} adapter "${s.device || s.description || s.vendor || "unknown"}" (${s.description || "no description"}) ` +
  `via Dawn ${s.backend} backend, ${s.featureLevel} feature level`

export const installHint = [
  "To run on the CPU, install Mesa's software OpenGL through EGL:",
  "  Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri",
  "A hardware GPU is used through Vulkan (Linux), Metal (macOS) or D3D12 (Windows) when its driver is installed.",
  "Force a backend with SMOL_GPU_BACKEND=vulkan|opengl|opengles|metal|d3d12|default."
].join("\n")

/**
 * Chooses an adapter: the first hardware adapter on any backend, else the preferred software one.
 * Every attempt is recorded so that a failure can say exactly what was tried.
 */
export const chooseAdapter = (pref: AdapterPreference): Effect.Effect<ChosenAdapter, GpuError> =>
  Effect.gen(function*() {
    const candidates: ReadonlyArray<Candidate> = pref.backend === "auto"
      ? autoCandidates
      : [{
        backend: pref.backend,
        featureLevel: pref.backend === "opengl" || pref.backend === "opengles" ? "compatibility" : "core"
      }]
    const attempts: Array<AdapterAttempt> = []
    const found: Array<{ adapter: GPUAdapter; candidate: Candidate; summary: AdapterSummary }> = []
    for (const candidate of candidates) {
      const result = yield* Effect.tryPromise(() =>
        instanceFor(candidate.backend).requestAdapter({
          featureLevel: candidate.featureLevel,
          powerPreference: "high-performance"
        })
      ).pipe(Effect.result)
      if (result._tag === "Failure") {
        attempts.push({ ...candidate, outcome: `error: ${String(result.failure)}` })
        continue
      }
      const adapter = result.success
      if (adapter === null) {
        attempts.push({ ...candidate, outcome: "no adapter" })
        continue
      }
      const summary = summarize(adapter, candidate)
      attempts.push({ ...candidate, outcome: describeAdapter(summary) })
      if (pref.kind !== "any" && summary.kind !== pref.kind) continue
      found.push({ adapter, candidate, summary })
      if (summary.kind === "hardware") return { adapter, summary, attempts }
    }
    const rank = (b: GpuBackend) => softwarePreference.indexOf(b)
    const best = found.sort((x, y) => rank(x.candidate.backend) - rank(y.candidate.backend))[0]
    if (best !== undefined) return { adapter: best.adapter, summary: best.summary, attempts }
    const tried = attempts.map((a) => `  - ${a.backend} (${a.featureLevel}): ${a.outcome}`).join("\n")
    const wanted = pref.kind === "any" ? "any" : `a ${pref.kind}`
    return yield* Effect.fail(
      gpuError("NoAdapter", `No WebGPU adapter (${wanted} kind) could be found. Tried:\n${tried}\n${installHint}`)
    )
  })

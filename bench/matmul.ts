/**
 * f32 matmul throughput: our WGSL kernel against jax-js on the same WebGPU adapter, and jax-js's Wasm backend.
 *
 *   npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--seconds 1.5] [--no-wasm]
 *
 * Every implementation is timed the same way: one product, then wait for its result (a read-back round trip
 * for jax-js, a queue flush for ours), repeated R times; R fills about `--seconds`, and the best of three such
 * blocks is kept so that a noisy neighbour costs a block, not the figure. Ends with one JSON line.
 */
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu } from "../src/gpu/Gpu.ts"
import { matmul, matmulVariantFor } from "../src/gpu/kernels/matmul.ts"
import { matmulCpu } from "../src/gpu/kernels/matmul.cpu.ts"
import { shareAdapterWithJax } from "./jax-adapter.ts"
import { bestSecondsPerCall } from "./timing.ts"

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "256,512,1024,2048" },
    seconds: { type: "string", default: "1.5" },
    "no-wasm": { type: "boolean", default: false }
  }
})
const sizes = args.sizes.split(",").map(Number)
const budget = Number(args.seconds)
const headline = 1024

const random = (n: number) => Float32Array.from({ length: n * n }, () => Math.random() * 2 - 1)

/** GFLOP/s of `step` (one n×n×n product, awaited). */
const measure = async (n: number, step: () => Promise<void>): Promise<number> =>
  (2 * n ** 3) / (await bestSecondsPerCall(step, budget)) / 1e9

const relativeError = (got: Float32Array, want: Float32Array) => {
  let err = 0
  let scale = 0
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!))
    scale = Math.max(scale, Math.abs(want[i]!))
  }
  return err / scale
}

const program = Effect.gen(function*() {
  const gpu = yield* Gpu
  const adapter = describeAdapter(gpu.adapter)
  const variant = matmulVariantFor(gpu)
  console.error(`adapter: ${adapter}; our kernel: ${variant} tiling`)

  shareAdapterWithJax(gpu)
  const jax = yield* Effect.promise(() => import("@jax-js/jax"))
  const np = jax.numpy
  const devices = yield* Effect.promise(() => jax.init("webgpu", "wasm"))
  const jaxDevices = (["webgpu", "wasm"] as const).filter((d) => devices.includes(d) && !(d === "wasm" && args["no-wasm"]))

  const rows: Array<{ n: number; ours: number; jax: Record<string, number>; error: number }> = []
  for (const n of sizes) {
    const a = random(n)
    const b = random(n)
    const ours = yield* Effect.scoped(Effect.gen(function*() {
      const A = yield* gpu.upload(a, "A")
      const B = yield* gpu.upload(b, "B")
      const C = yield* gpu.buffer(n * n * 4, "C")
      const product = matmul(gpu, { m: n, n, k: n }, A, B, C)
      const step = () => Effect.runPromise(Effect.andThen(gpu.run([product]), gpu.flush))
      const gflops = yield* Effect.promise(() => measure(n, step))
      // A figure for a wrong product is worthless: check it against the reference where that is cheap.
      const error = n <= 512 ? relativeError(yield* gpu.readF32(C), matmulCpu({ m: n, n, k: n }, a, b)) : NaN
      return { gflops, error }
    }))
    const jaxResults: Record<string, number> = {}
    for (const device of jaxDevices) {
      const x = np.array(a, { shape: [n, n], dtype: np.float32, device })
      const y = np.array(b, { shape: [n, n], dtype: np.float32, device })
      jaxResults[device] = yield* Effect.promise(() =>
        measure(n, async () => {
          const z = np.matmul(x.ref, y.ref)
          await z.blockUntilReady()
          z.dispose()
        })
      )
      x.dispose()
      y.dispose()
    }
    rows.push({ n, ours: ours.gflops, jax: jaxResults, error: ours.error })
    const cells = jaxDevices.map((d) => `jax-js ${d} ${jaxResults[d]!.toFixed(2)}`).join(" | ")
    console.error(`n=${n}: ours ${ours.gflops.toFixed(2)} | ${cells}${Number.isNaN(ours.error) ? "" : ` (our relative error ${ours.error.toExponential(1)})`}`)
  }

  const fmt = (x: number | undefined) => x === undefined ? "—" : x.toFixed(2)
  console.log(`\nf32 matmul, GFLOP/s (best of 3 blocks) on ${adapter}\n`)
  console.log(`| M=N=K | ours (${variant}) | jax-js webgpu | jax-js wasm | ours / jax-js webgpu |`)
  console.log("|---:|---:|---:|---:|---:|")
  for (const r of rows) {
    const ratio = r.jax["webgpu"] === undefined ? "—" : (r.ours / r.jax["webgpu"]).toFixed(2)
    console.log(`| ${r.n} | ${fmt(r.ours)} | ${fmt(r.jax["webgpu"])} | ${fmt(r.jax["wasm"])} | ${ratio} |`)
  }
  const main = rows.find((r) => r.n === headline) ?? rows[rows.length - 1]!
  const reference = main.jax["webgpu"] ?? NaN
  console.log(JSON.stringify({
    metric: `f32 matmul throughput at M=N=K=${main.n}`,
    unit: "GFLOP/s",
    ours: +main.ours.toFixed(3),
    reference: +reference.toFixed(3),
    reference_name: "jax-js (@jax-js/jax) np.matmul on the same WebGPU adapter",
    ratio: +(main.ours / reference).toFixed(3),
    adapter,
    wasm_reference: main.jax["wasm"] === undefined ? null : +main.jax["wasm"].toFixed(3)
  }))
})

Effect.runPromise(program.pipe(Effect.provide(Gpu.layer))).catch((error) => {
  console.error(String(error))
  process.exitCode = 1
})

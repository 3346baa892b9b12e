/**
 * Training-step throughput: one full step (forward, backward, global-norm clip, AdamW) of our WebGPU Llama
 * against jax-js (`@jax-js/jax`: `jit(valueAndGrad(loss))` plus AdamW written in jax-js, bench/jax-llama.ts)
 * running the same model, weights and tokens on the same WebGPU adapter.
 *
 *   npx tsx bench/train.ts [--sizes tiny,135m] [--steps N] [--no-jax]
 *
 * Sizes: `tiny` is the "tiny" preset (2 × 64, vocab 512) at batch 4 × seq 256; `135m` is the SmolLM2-135M
 * shape at batch 1 × seq 512. Each side runs 1 warm-up step and then N timed steps (default 10 for tiny, 2 for
 * 135m); a step is timed from uploading its tokens to reading back its loss and the optimizer's result. Both
 * models stay resident and their steps alternate, so the load of a shared machine falls on both alike. The
 * figure is the fastest timed step, as bench/matmul.ts keeps the best block, so that a noisy neighbour on a
 * shared machine costs a step and not the figure; the mean is printed beside it. Before jax-js is timed, both
 * implementations' loss of the initial weights is compared with the f64 CPU reference (`llamaReference`) on
 * the tiny shape, and jax-js's gradients too — a benchmark of a wrong model is worthless — and the per-step
 * losses and the first gradient norm of the two trajectories are printed side by side (for 135M, where the
 * reference is too slow, that agreement with our tested engine is the check).
 *
 * jax-js (0.1.25) on WebGPU needed two workarounds, both in bench/jax-llama.ts: `nn.oneHot` materializes
 * `eye(V)` (9.7 GB at vocab 49,152), so the cross-entropy uses an equality mask; and reductions over more
 * than 65,535 elements can silently drop elements (eager `sum` always, jitted `sum` for some sizes), so the
 * loss and the gradient norm are summed per row first.
 *
 * Achieved GFLOP/s counts matmul FLOPs (`flopsPerToken`: 6 per weight per token plus attention), the same
 * count for both sides, and is set against our own matmul kernel's GFLOP/s at M=N=K=1024 on this adapter
 * (timed as bench/matmul.ts times it, once before and once after the runs, the better kept). Ends with one
 * JSON line; its headline is the 135M shape when both sides ran it, else the tiny model.
 */
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { describeAdapter } from "../src/gpu/adapter.ts"
import { Gpu, type GpuShape } from "../src/gpu/Gpu.ts"
import { matmul } from "../src/gpu/kernels/matmul.ts"
import { type LlamaConfig, parameterCount, presets } from "../src/model/config.ts"
import { llamaReference } from "../src/model/llama.cpu.ts"
import { makeLlamaGpu } from "../src/model/llama.gpu.ts"
import { initWeights, parameterSpecs, type Weights } from "../src/model/parameters.ts"
import { makeGpuAdamW, smollm2AdamW } from "../src/train/optimizer.ts"
import { flopsPerToken, memoryEstimate } from "../src/train/cost.ts"
import { type JaxLlama, makeJaxLlama } from "./jax-llama.ts"
import { shareAdapterWithJax } from "./jax-adapter.ts"
import { bestSecondsPerCall } from "./timing.ts"

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "tiny,135m" },
    steps: { type: "string" },
    "no-jax": { type: "boolean", default: false }
  }
})

interface Size {
  readonly name: "tiny" | "135m"
  readonly label: string
  readonly config: LlamaConfig
  readonly batch: number
  readonly seq: number
  readonly steps: number
}

const sizeTable: Record<string, Omit<Size, "steps"> & { defaultSteps: number }> = {
  tiny: { name: "tiny", label: "tiny (2×64, vocab 512)", config: presets["tiny"], batch: 4, seq: 256, defaultSteps: 10 },
  "135m": { name: "135m", label: "SmolLM2-135M", config: presets["smollm2-135m"], batch: 1, seq: 512, defaultSteps: 2 }
}
const sizes: Array<Size> = args.sizes.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
  const entry = sizeTable[s]
  if (entry === undefined) throw new Error(`unknown size "${s}"; expected tiny or 135m`)
  const steps = args.steps === undefined ? entry.defaultSteps : Number(args.steps)
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${args.steps}`)
  return { ...entry, steps }
})

const LR = 3e-3
const SEED = 1234
const PARITY_TOLERANCE = 1e-4
const hyper = smollm2AdamW

/** Deterministic token ids for step `step`: inputs and their next-token targets, [batch·seq] each. */
const batchFor = (vocab: number, n: number, step: number) => {
  let s = (SEED * 2654435761 + step * 97531) >>> 0
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s
  }
  const stream = Int32Array.from({ length: n + 1 }, () => next() % vocab)
  return { inputs: stream.slice(0, n), targets: stream.slice(1) }
}

interface RunResult {
  readonly losses: Array<number>
  /** Global gradient norm (before clipping) of each step. */
  readonly gradNorms: Array<number>
  /** Seconds of each timed step. */
  readonly seconds: Array<number>
}

interface SideResult {
  readonly result?: RunResult
  readonly error?: string
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.abs(b)
const message = (e: unknown) => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e))

/** GFLOP/s of our matmul kernel on one 1024³ product, timed as bench/matmul.ts does (best of 3 blocks). */
const ourMatmulGflops = (gpu: GpuShape, n = 1024, budget = 1.5) =>
  Effect.scoped(Effect.gen(function*() {
    const random = () => Float32Array.from({ length: n * n }, () => Math.random() * 2 - 1)
    const A = yield* gpu.upload(random(), "A")
    const B = yield* gpu.upload(random(), "B")
    const Cb = yield* gpu.buffer(n * n * 4, "C")
    const product = matmul(gpu, { m: n, n, k: n }, A, B, Cb)
    const step = () => Effect.runPromise(Effect.andThen(gpu.run([product]), gpu.flush))
    return (2 * n ** 3) / (yield* Effect.promise(() => bestSecondsPerCall(step, budget))) / 1e9
  }))

interface StepOutcome {
  readonly loss: number
  readonly gradNorm: number
}

/**
 * Our engine, set up in the caller's scope; each call of the result is one step, the same calls as `train()`'s
 * step (src/train/trainer.ts) without the data file and checkpoints.
 */
const makeOurs = (gpu: GpuShape, size: Size, weights: Weights) =>
  Effect.gen(function*() {
    const { config, batch, seq } = size
    const n = batch * seq
    const model = yield* makeLlamaGpu(gpu, config, batch, seq)
    const optimizer = yield* makeGpuAdamW(gpu, parameterSpecs(config), model.params, model.grads, hyper)
    yield* model.setWeights(weights)
    const gradScale = 1 / n
    return (step: number, inputs: Int32Array, targets: Int32Array) =>
      Effect.gen(function*() {
        yield* model.setTokens(inputs, targets)
        yield* gpu.run([...model.zeroGrads, ...model.steps({ backward: true, gradScale })])
        const perPosition = yield* gpu.readF32(model.losses)
        yield* optimizer.prepare(step + 1, LR)
        yield* gpu.run(optimizer.steps)
        const [gradNorm, , nonFinite] = yield* optimizer.readClip
        let sum = 0
        for (const l of perPosition) sum += l
        return { loss: nonFinite !== 0 ? NaN : sum / n, gradNorm: gradNorm! } satisfies StepOutcome
      })
  })

/** Largest |a − b| over the largest |b|, over every tensor. */
const gradError = (got: ReadonlyMap<string, Float32Array>, want: ReadonlyMap<string, Float64Array>) => {
  let worst = 0
  let worstName = ""
  for (const [name, w] of want) {
    const g = got.get(name)!
    let err = 0
    let scale = 0
    for (let i = 0; i < w.length; i++) {
      err = Math.max(err, Math.abs(g[i]! - w[i]!))
      scale = Math.max(scale, Math.abs(w[i]!))
    }
    const rel = scale === 0 ? err : err / scale
    if (rel > worst) {
      worst = rel
      worstName = name
    }
  }
  return { worst, worstName }
}

const program = Effect.gen(function*() {
  const gpu = yield* Gpu
  const adapter = describeAdapter(gpu.adapter)
  console.error(`adapter: ${adapter}`)

  shareAdapterWithJax(gpu)
  const jax = args["no-jax"] ? undefined : yield* Effect.promise(() => import("@jax-js/jax"))
  const jaxReady = jax === undefined ? false : (yield* Effect.promise(() => jax.init("webgpu"))).includes("webgpu")
  if (jax !== undefined && !jaxReady) console.error("jax-js found no WebGPU device; its column stays empty")

  // Timed before and after the training runs, and the better kept: on a shared machine one measurement can
  // land on a busy moment, and a low peak would flatter the fraction.
  const matmulBefore = yield* ourMatmulGflops(gpu)
  console.error(`our matmul kernel at 1024³: ${matmulBefore.toFixed(2)} GFLOP/s`)

  interface Row {
    size: Size
    ours: SideResult
    jax: SideResult
    parity?: { reference: number; ours: number; jax?: number; jaxGrad?: { worst: number; worstName: string } }
  }
  const rows: Array<Row> = []

  for (const size of sizes) {
    const { config, batch, seq } = size
    const n = batch * seq
    console.error(
      `\n${size.label}: ${(parameterCount(config) / 1e6).toFixed(2)}M parameters, batch ${batch} × seq ${seq}, ` +
        `${(flopsPerToken(config, seq) * n / 1e9).toFixed(2)} GFLOP per step; our device memory ≈ ${(memoryEstimate(config, batch, seq) / 2 ** 20).toFixed(0)} MiB`
    )
    const weights = initWeights(config, SEED)
    const row: Row = { size, ours: {}, jax: {} }

    // Parity on the tiny shape, before anything is timed: the loss of the initial weights from both sides
    // against the f64 reference (ours: its first step's loss, taken before the update), and jax-js's gradients.
    const { inputs, targets } = batchFor(config.vocabSize, n, 0)
    const reference = size.name === "tiny" ? llamaReference(config, weights, inputs, targets, batch, seq, true) : undefined
    if (reference !== undefined) row.parity = { reference: reference.loss, ours: NaN }

    yield* Effect.scoped(Effect.gen(function*() {
      // Both models stay resident and their steps alternate, so that the load of a shared machine falls on
      // both sides alike.
      const oursStep = yield* makeOurs(gpu, size, weights).pipe(
        Effect.catch((e) => Effect.sync(() => {
          row.ours = { error: message(e) }
          console.error(`  ours failed to set up: ${row.ours.error}`)
          return undefined
        }))
      )
      let jaxModel: JaxLlama | undefined
      if (jax !== undefined && jaxReady) {
        jaxModel = yield* Effect.tryPromise(async () => {
          const model = makeJaxLlama(jax, config, weights, batch, seq, hyper)
          if (reference !== undefined && row.parity !== undefined) {
            try {
              const started = performance.now()
              const check = await model.lossAndGrads(inputs, targets)
              row.parity.jax = check.loss
              row.parity.jaxGrad = gradError(check.grads, reference.grads!)
              console.error(`  jax-js ${size.name} loss and gradients for the parity check (includes compiling): ${((performance.now() - started) / 1000).toFixed(2)} s`)
            } catch (e) {
              model.dispose()
              throw e
            }
          }
          return model
        }).pipe(
          Effect.tap((model) => Effect.addFinalizer(() => Effect.sync(() => {
            try {
              model.dispose()
            } catch {
              // Disposal after a failure may itself fail; the numbers are what matter here.
            }
          }))),
          Effect.catch((e) => Effect.sync(() => {
            row.jax = { error: message(e.cause) }
            console.error(`  jax-js failed to set up: ${row.jax.error}`)
            return undefined
          }))
        )
      }

      const runs = {
        ours: { losses: [] as Array<number>, gradNorms: [] as Array<number>, seconds: [] as Array<number>, alive: oursStep !== undefined },
        jax: { losses: [] as Array<number>, gradNorms: [] as Array<number>, seconds: [] as Array<number>, alive: jaxModel !== undefined }
      }
      for (let step = 0; step <= size.steps; step++) {
        const batchData = batchFor(config.vocabSize, n, step)
        const order: Array<"ours" | "jax"> = step % 2 === 0 ? ["ours", "jax"] : ["jax", "ours"]
        for (const side of order) {
          const run = runs[side]
          if (!run.alive) continue
          const started = performance.now()
          const outcome = side === "ours"
            ? yield* oursStep!(step, batchData.inputs, batchData.targets).pipe(Effect.result)
            : yield* Effect.tryPromise(() => jaxModel!.step(batchData.inputs, batchData.targets, LR)).pipe(
              Effect.mapError((e) => e.cause),
              Effect.result
            )
          const elapsed = (performance.now() - started) / 1000
          if (outcome._tag === "Failure") {
            run.alive = false
            row[side] = { error: message(outcome.failure) }
            console.error(`  ${side === "ours" ? "ours  " : "jax-js"} ${size.name} step ${step} failed: ${row[side].error}`)
            continue
          }
          run.losses.push(outcome.success.loss)
          run.gradNorms.push(outcome.success.gradNorm)
          if (step > 0) run.seconds.push(elapsed)
          console.error(
            `  ${side === "ours" ? "ours  " : "jax-js"} ${size.name} step ${step}${step === 0 ? " (warm-up)" : ""}: ` +
              `loss ${outcome.success.loss.toFixed(6)}, ${elapsed.toFixed(2)} s`
          )
        }
      }
      for (const side of ["ours", "jax"] as const) {
        const run = runs[side]
        if (run.alive) row[side] = { result: { losses: run.losses, gradNorms: run.gradNorms, seconds: run.seconds } }
      }
      if (row.parity !== undefined) row.parity.ours = runs.ours.losses[0] ?? NaN
    }))

    if (row.parity !== undefined) {
      const p = row.parity
      console.error(
        `  parity (tiny, loss of the initial weights): reference ${p.reference.toFixed(7)}, ours ${p.ours.toFixed(7)} (rel ${relDiff(p.ours, p.reference).toExponential(1)})` +
          (p.jax === undefined ? "" : `, jax-js ${p.jax.toFixed(7)} (rel ${relDiff(p.jax, p.reference).toExponential(1)}); jax-js gradients: worst relative error ${p.jaxGrad!.worst.toExponential(1)} (${p.jaxGrad!.worstName})`)
      )
    }
    rows.push(row)
  }

  const matmulAfter = yield* ourMatmulGflops(gpu)
  console.error(`our matmul kernel at 1024³, again: ${matmulAfter.toFixed(2)} GFLOP/s`)
  const matmulPeak = Math.max(matmulBefore, matmulAfter)

  // ── Report ──
  const tokensPerStep = (s: Size) => s.batch * s.seq
  const stats = (s: Size, side: SideResult) => {
    if (side.result === undefined) return undefined
    // The fastest timed step, as bench/matmul.ts keeps the best block: a noisy neighbour on this shared
    // machine then costs a step, not the figure.
    const secs = Math.min(...side.result.seconds)
    const tps = tokensPerStep(s) / secs
    const gflops = (flopsPerToken(s.config, s.seq) * tokensPerStep(s)) / secs / 1e9
    return { ms: secs * 1000, meanMs: mean(side.result.seconds) * 1000, tps, gflops }
  }
  const f = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits))
  console.log(`\nTraining step (forward + backward + clip + AdamW), f32, on ${adapter}`)
  console.log(`Our matmul kernel at M=N=K=1024: ${matmulPeak.toFixed(2)} GFLOP/s (best of a measurement before and one after the runs)\n`)
  console.log("| model | batch × seq | side | ms/step (best) | ms/step (mean) | tokens/s | GFLOP/s | of our matmul peak | ours / jax-js |")
  console.log("|---|---|---|---:|---:|---:|---:|---:|---:|")
  for (const r of rows) {
    const o = stats(r.size, r.ours)
    const j = stats(r.size, r.jax)
    const ratio = o !== undefined && j !== undefined ? (o.tps / j.tps).toFixed(2) : "—"
    const shape = `${r.size.batch} × ${r.size.seq}`
    const cell = (side: SideResult, st: ReturnType<typeof stats>) =>
      st === undefined
        ? `${side.error === undefined ? "not run" : `failed: ${side.error.replace(/\|/g, "/").replace(/\s+/g, " ").slice(0, 200)}`} | | | | |`
        : `${f(st.ms, 0)} | ${f(st.meanMs, 0)} | ${f(st.tps)} | ${f(st.gflops, 2)} | ${(100 * st.gflops / matmulPeak).toFixed(0)}% |`
    console.log(`| ${r.size.label} | ${shape} | ours | ${cell(r.ours, o)} ${ratio} |`)
    console.log(`| ${r.size.label} | ${shape} | jax-js | ${cell(r.jax, j)} |`)
  }
  for (const r of rows) {
    const ol = r.ours.result?.losses ?? []
    const jl = r.jax.result?.losses ?? []
    const steps = Math.max(ol.length, jl.length)
    if (steps === 0) continue
    const pairs = Array.from({ length: steps }, (_, i) => `${i + 1}: ${f(ol[i], 5)} / ${f(jl[i], 5)}`)
    console.log(`\n${r.size.label} losses, ours / jax-js (same weights, tokens and AdamW at lr ${LR}): ${pairs.join(", ")}`)
    const on = r.ours.result?.gradNorms[0]
    const jn = r.jax.result?.gradNorms[0]
    console.log(`${r.size.label} step-1 gradient norm, ours / jax-js: ${f(on, 6)} / ${f(jn, 6)}` +
      (on !== undefined && jn !== undefined ? ` (rel ${relDiff(jn, on).toExponential(1)})` : ""))
  }
  const parity = rows.find((r) => r.parity !== undefined)?.parity
  const referenceOk = (x: number | undefined) => parity !== undefined && x !== undefined && relDiff(x, parity.reference) < PARITY_TOLERANCE
  if (parity !== undefined) {
    console.log(
      `Parity with the f64 CPU reference (tiny, loss of the initial weights): reference ${parity.reference.toFixed(7)}; ` +
        `ours ${f(parity.ours, 7)} (${referenceOk(parity.ours) ? "ok" : "MISMATCH"}); ` +
        `jax-js ${f(parity.jax, 7)} (${referenceOk(parity.jax) ? "ok" : "MISMATCH"})` +
        (parity.jaxGrad === undefined ? "" : `; jax-js gradients' worst relative error ${parity.jaxGrad.worst.toExponential(1)}`)
    )
  }
  /** jax-js's first loss (of the initial weights) agrees with ours on this row: the check where there is no reference. */
  const agrees = (r: Row) => {
    const a = r.ours.result?.losses[0]
    const b = r.jax.result?.losses[0]
    return a !== undefined && b !== undefined && relDiff(b, a) < PARITY_TOLERANCE
  }
  for (const r of rows.filter((r) => r.parity === undefined && r.ours.result !== undefined && r.jax.result !== undefined)) {
    console.log(`${r.size.label}: jax-js's loss of the initial weights ${agrees(r) ? "agrees with" : "DIFFERS FROM"} ours (relative tolerance ${PARITY_TOLERANCE})`)
  }

  // Headline: 135M when both sides ran it, else the tiny model.
  const both = (r: Row) => r.ours.result !== undefined && r.jax.result !== undefined
  const main = rows.find((r) => r.size.name === "135m" && both(r)) ?? rows.find((r) => r.size.name === "tiny") ?? rows[0]!
  const o = stats(main.size, main.ours)
  const j = stats(main.size, main.jax)
  // The reference's numbers count only if it computed the same model: the f64 reference on the tiny shape, and
  // agreement with our engine's first loss on the 135M shape.
  const jaxValid = (parity === undefined || referenceOk(parity.jax)) && (main.size.name === "tiny" || agrees(main))
  const round = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : +x.toFixed(3))
  console.log(JSON.stringify({
    metric: `training step tokens/s (forward + backward + AdamW, f32), ${main.size.label} at batch ${main.size.batch} × seq ${main.size.seq}`,
    unit: "tokens/s",
    ours: round(o?.tps),
    reference: round(j?.tps),
    reference_name: "jax-js (@jax-js/jax) jit(valueAndGrad(loss)) + AdamW in jax-js on the same WebGPU adapter",
    ratio: o !== undefined && j !== undefined ? +(o.tps / j.tps).toFixed(3) : null,
    adapter,
    ours_gflops: round(o?.gflops),
    reference_gflops: round(j?.gflops),
    ours_fraction_of_matmul_peak: o === undefined ? null : +(o.gflops / matmulPeak).toFixed(3),
    matmul_peak_gflops: +matmulPeak.toFixed(3),
    reference_loss_parity: jaxValid
  }))
})

Effect.runPromise(program.pipe(Effect.provide(Gpu.layer))).catch((error) => {
  console.error(String(error))
  process.exitCode = 1
})

import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Gpu } from "../../src/gpu/Gpu.ts"
import { adamw } from "../../src/gpu/kernels/adamw.ts"
import { adamwCpu } from "../../src/gpu/kernels/adamw.cpu.ts"
import { causalSoftmax, causalSoftmaxBackward } from "../../src/gpu/kernels/causal-softmax.ts"
import { causalSoftmaxBackwardCpu, causalSoftmaxCpu } from "../../src/gpu/kernels/causal-softmax.cpu.ts"
import { crossEntropy } from "../../src/gpu/kernels/cross-entropy.ts"
import { crossEntropyCpu } from "../../src/gpu/kernels/cross-entropy.cpu.ts"
import { embeddingBackward, embeddingForward, embeddingSegments } from "../../src/gpu/kernels/embedding.ts"
import { embeddingBackwardCpu, embeddingForwardCpu } from "../../src/gpu/kernels/embedding.cpu.ts"
import { clipCoefficient, partialsFor, sumSquaresPartials } from "../../src/gpu/kernels/grad-norm.ts"
import { mergeHeads, splitHeads } from "../../src/gpu/kernels/heads.ts"
import { mergeHeadsCpu, splitHeadsCpu } from "../../src/gpu/kernels/heads.cpu.ts"
import { rmsNormBackward, rmsNormForward, rmsNormWeightGrad } from "../../src/gpu/kernels/rmsnorm.ts"
import { rmsNormBackwardCpu, rmsNormForwardCpu } from "../../src/gpu/kernels/rmsnorm.cpu.ts"
import { rope } from "../../src/gpu/kernels/rope.ts"
import { ropeCpu } from "../../src/gpu/kernels/rope.cpu.ts"
import type { RowVariant } from "../../src/gpu/kernels/rows.ts"
import { swigluBackward, swigluForward } from "../../src/gpu/kernels/swiglu.ts"
import { swigluBackwardCpu, swigluForwardCpu } from "../../src/gpu/kernels/swiglu.cpu.ts"
import { ropeTables } from "../../src/model/llama.cpu.ts"
import { expectClose, randomArray, rng, testSeed } from "../support/compare.ts"

const seed = testSeed()
const next = rng(seed)
const variants: ReadonlyArray<RowVariant> = ["thread", "workgroup"]

layer(Gpu.layer)("training kernels against their CPU references", (it) => {
  for (const variant of variants) {
    describe(`${variant} rows`, () => {
      it.effect("RMSNorm forward, backward (into and onto dx) and weight gradient", () =>
        Effect.gen(function*() {
          const gpu = yield* Gpu
          const [rows, cols] = [13, 67]
          const x = randomArray(next, rows * cols, -2, 2)
          const w = randomArray(next, cols, 0.5, 1.5)
          const dy = randomArray(next, rows * cols)
          const base = randomArray(next, rows * cols)
          const [X, W, DY] = [yield* gpu.upload(x), yield* gpu.upload(w), yield* gpu.upload(dy)]
          const Y = yield* gpu.buffer(rows * cols * 4)
          const R = yield* gpu.buffer(rows * 4)
          const DX = yield* gpu.upload(base)
          const DW = yield* gpu.buffer(cols * 4)
          yield* gpu.run([
            rmsNormForward(gpu, X, W, Y, R, rows, cols, 1e-5, variant),
            rmsNormBackward(gpu, DY, X, W, R, DX, rows, cols, true, variant),
            rmsNormWeightGrad(gpu, DY, X, R, DW, rows, cols)
          ])
          const want = rmsNormForwardCpu(x, w, rows, cols, 1e-5)
          expectClose(`rmsnorm y (seed ${seed})`, yield* gpu.readF32(Y), want.y)
          expectClose(`rmsnorm rstd (seed ${seed})`, yield* gpu.readF32(R), want.rstd)
          const back = rmsNormBackwardCpu(dy, x, w, want.rstd, rows, cols)
          expectClose(`rmsnorm dx accumulated (seed ${seed})`, yield* gpu.readF32(DX), back.dx.map((v, i) => v + base[i]!))
          expectClose(`rmsnorm dw (seed ${seed})`, yield* gpu.readF32(DW), back.dw)
        }).pipe(Effect.scoped))

      it.effect("causal softmax and its backward", () =>
        Effect.gen(function*() {
          const gpu = yield* Gpu
          const [blocks, seq, scale] = [6, 11, 0.35]
          const s = randomArray(next, blocks * seq * seq, -6, 6)
          const dp = randomArray(next, blocks * seq * seq)
          const S = yield* gpu.upload(s)
          const DP = yield* gpu.upload(dp)
          yield* gpu.run([causalSoftmax(gpu, S, blocks * seq, seq, scale, variant), causalSoftmaxBackward(gpu, S, DP, blocks * seq, seq, scale, variant)])
          const p = causalSoftmaxCpu(s, blocks * seq, seq, scale)
          expectClose(`causal softmax (seed ${seed})`, yield* gpu.readF32(S), p)
          expectClose(`causal softmax backward (seed ${seed})`, yield* gpu.readF32(DP), causalSoftmaxBackwardCpu(p, dp, blocks * seq, seq, scale))
        }).pipe(Effect.scoped))

      it.effect("cross-entropy: losses and the gradient written over the logits", () =>
        Effect.gen(function*() {
          const gpu = yield* Gpu
          const [rows, vocab] = [9, 301]
          const logits = randomArray(next, rows * vocab, -8, 8)
          const targets = Uint32Array.from({ length: rows }, () => Math.floor(next() * vocab))
          const X = yield* gpu.upload(logits)
          const T = yield* gpu.upload(targets)
          const L = yield* gpu.buffer(rows * 4)
          yield* gpu.run([crossEntropy(gpu, X, T, L, rows, vocab, 1 / 7, variant)])
          const want = crossEntropyCpu(logits, targets, rows, vocab, 1 / 7)
          expectClose(`cross-entropy losses (seed ${seed})`, yield* gpu.readF32(L), want.losses)
          expectClose(`cross-entropy gradient (seed ${seed})`, yield* gpu.readF32(X), want.grad)
        }).pipe(Effect.scoped))
    })
  }

  it.effect("embedding gather and its deterministic scatter-add backward", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const [vocab, c] = [23, 10]
      const ids = Array.from({ length: 40 }, () => Math.floor(next() * vocab))
      const table = randomArray(next, vocab * c)
      const dOut = randomArray(next, ids.length * c)
      const dTable0 = randomArray(next, vocab * c)
      const seg = embeddingSegments(ids)
      expect([...seg.starts].at(-1)).toBe(ids.length)
      const [I, TB, DO, DT] = [yield* gpu.upload(Uint32Array.from(ids)), yield* gpu.upload(table), yield* gpu.upload(dOut), yield* gpu.upload(dTable0)]
      const [SI, SS, SO] = [yield* gpu.upload(seg.ids), yield* gpu.upload(seg.starts), yield* gpu.upload(seg.order)]
      const OUT = yield* gpu.buffer(ids.length * c * 4)
      yield* gpu.run([embeddingForward(gpu, I, TB, OUT, ids.length, c), embeddingBackward(gpu, SI, SS, SO, DO, DT, seg.ids.length, c)])
      expectClose("embedding forward", yield* gpu.readF32(OUT), embeddingForwardCpu(ids, table, c), 0)
      expectClose(`embedding backward (seed ${seed})`, yield* gpu.readF32(DT), embeddingBackwardCpu(ids, dOut, dTable0, c), 1e-6)
    }).pipe(Effect.scoped))

  it.effect("RoPE forward and inverse, head split and merge with grouped KV heads, SwiGLU forward and backward", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const [batch, seq, heads, d, group] = [2, 7, 6, 8, 3]
      const { cos, sin } = ropeTables(d, 10000, seq)
      const x = randomArray(next, batch * seq * heads * d)
      const X = yield* gpu.upload(x)
      const [CS, SN] = [yield* gpu.upload(cos), yield* gpu.upload(sin)]
      yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, false)])
      const rotated = ropeCpu(x, cos, sin, batch * seq, seq, heads, d, false)
      expectClose(`rope (seed ${seed})`, yield* gpu.readF32(X), rotated)
      yield* gpu.run([rope(gpu, X, CS, SN, batch * seq, seq, heads, d, true)])
      expectClose(`rope inverse restores x (seed ${seed})`, yield* gpu.readF32(X), x)

      const kv = randomArray(next, batch * seq * (heads / group) * d)
      const KVB = yield* gpu.upload(kv)
      const SPLIT = yield* gpu.buffer(batch * heads * seq * d * 4)
      const MERGED = yield* gpu.buffer(kv.length * 4)
      yield* gpu.run([splitHeads(gpu, KVB, SPLIT, batch, seq, heads, d, group), mergeHeads(gpu, SPLIT, MERGED, batch, seq, heads, d, group)])
      const split = splitHeadsCpu(kv, batch, seq, heads, d, group)
      expectClose("split heads", yield* gpu.readF32(SPLIT), split, 0)
      expectClose("merge heads sums each group", yield* gpu.readF32(MERGED), mergeHeadsCpu(split, batch, seq, heads, d, group), 1e-6)

      const size = 1001
      const [g, u, dh] = [randomArray(next, size, -5, 5), randomArray(next, size), randomArray(next, size)]
      const [G, U, DH] = [yield* gpu.upload(g), yield* gpu.upload(u), yield* gpu.upload(dh)]
      const [Hb, DG, DU] = [yield* gpu.buffer(size * 4), yield* gpu.buffer(size * 4), yield* gpu.buffer(size * 4)]
      yield* gpu.run([swigluForward(gpu, G, U, Hb, size), swigluBackward(gpu, DH, G, U, DG, DU, size)])
      expectClose(`swiglu (seed ${seed})`, yield* gpu.readF32(Hb), swigluForwardCpu(g, u), 1e-5)
      const back = swigluBackwardCpu(dh, g, u)
      expectClose(`swiglu dgate (seed ${seed})`, yield* gpu.readF32(DG), back.dGate, 1e-5)
      expectClose(`swiglu dup (seed ${seed})`, yield* gpu.readF32(DU), back.dUp, 1e-5)
    }).pipe(Effect.scoped))

  it.effect("global gradient norm, clip coefficient and two AdamW steps, with the non-finite guard", () =>
    Effect.gen(function*() {
      const gpu = yield* Gpu
      const sizes = [1000, 257, 3]
      const grads = sizes.map((n) => randomArray(next, n, -2, 2))
      const partialCount = sizes.reduce((s, n) => s + partialsFor(n), 0)
      const PART = yield* gpu.buffer(partialCount * 4)
      const CLIP = yield* gpu.buffer(16)
      const G = yield* Effect.forEach(grads, (g) => gpu.upload(g))
      let offset = 0
      const steps = sizes.map((n, i) => {
        const step = sumSquaresPartials(gpu, G[i]!, PART, n, offset)
        offset += partialsFor(n)
        return step
      })
      yield* gpu.run([...steps, clipCoefficient(gpu, PART, partialCount, 1.0, CLIP)])
      const norm = Math.sqrt(grads.reduce((s, g) => s + g.reduce((t, v) => t + v * v, 0), 0))
      const clip = yield* gpu.readF32(CLIP)
      expectClose("global norm", [clip[0]!], [norm], 1e-5)
      expectClose("clip coefficient", [clip[1]!], [Math.min(1, 1 / (norm + 1e-6))], 1e-5)
      expect(clip[2]).toBe(0)

      const settings = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 }
      const n = sizes[0]!
      let p = randomArray(next, n)
      let m = new Float32Array(n)
      let v = new Float32Array(n)
      const [Pb, Mb, Vb] = [yield* gpu.upload(p), yield* gpu.buffer(n * 4), yield* gpu.buffer(n * 4)]
      const HYPER = yield* gpu.buffer(12)
      for (const [step, lr] of [[1, 3e-3], [2, 2e-3]] as const) {
        yield* gpu.write(HYPER, Float32Array.of(lr, 1 - 0.9 ** step, Math.sqrt(1 - 0.95 ** step)))
        yield* gpu.run([adamw(gpu, settings, Pb, G[0]!, Mb, Vb, HYPER, CLIP, n)])
        ;({ p, m, v } = adamwCpu(settings, p, grads[0]!, m, v, lr, step, clip[1]!))
      }
      expectClose(`adamw weights after 2 steps (seed ${seed})`, yield* gpu.readF32(Pb), p, 1e-5)
      expectClose(`adamw first moment (seed ${seed})`, yield* gpu.readF32(Mb), m, 1e-5)
      expectClose(`adamw second moment (seed ${seed})`, yield* gpu.readF32(Vb), v, 1e-5)

      // A NaN gradient: the flag is raised and AdamW leaves weights and moments untouched.
      const bad = Float32Array.from(grads[2]!)
      bad[1] = NaN
      yield* gpu.write(G[2]!, bad)
      yield* gpu.run([...steps, clipCoefficient(gpu, PART, partialCount, 1.0, CLIP), adamw(gpu, settings, Pb, G[0]!, Mb, Vb, HYPER, CLIP, n)])
      expect((yield* gpu.readF32(CLIP))[2]).toBe(1)
      expectClose("weights unchanged after a non-finite gradient", yield* gpu.readF32(Pb), p, 1e-5)
    }).pipe(Effect.scoped))
})

import { Effect } from "effect"
import { Gpu, dispatch } from "./src/gpu/Gpu.ts"
import { matmulKernel } from "./src/gpu/kernels/matmul.ts"
const n = Number(process.argv[2] ?? 1024)
const configs = (process.argv[3] ?? "8x8x8x4,16x8x8x4,8x16x8x4,16x16x8x4").split(",").map((c) => { const [tm,tn,wx,wy] = c.split("x").map(Number); return {tm:tm!,tn:tn!,wx:wx!,wy:wy!} })
const prog = Effect.gen(function*() {
  const gpu = yield* Gpu
  const a = new Float32Array(n*n).map(() => Math.random()-0.5)
  const A = yield* gpu.upload(a), B = yield* gpu.upload(a), C = yield* gpu.buffer(n*n*4)
  const res: Record<string, number[]> = {}
  for (let round = 0; round < 3; round++) for (const t of configs) {
    const { kernel, workgroups } = matmulKernel({m: n, n, k: n}, "register", t)
    const d = dispatch(kernel, [A, B, C], workgroups)
    yield* gpu.run([d]); yield* gpu.flush
    const reps = 5
    const t0 = performance.now(); for (let i = 0; i < reps; i++) yield* gpu.run([d]); yield* gpu.flush
    const s = (performance.now() - t0) / 1000 / reps
    ;(res[JSON.stringify(t)] ??= []).push(+(2*n**3/s/1e9).toFixed(2))
  }
  for (const [k, v] of Object.entries(res)) console.log(k, v.join(" "), "best", Math.max(...v))
})
await Effect.runPromise(prog.pipe(Effect.scoped, Effect.provide(Gpu.layer)))
